//! Raw IP frames for the pcap report: one [`Segment`] becomes an IPv4 (or IPv6) packet carrying a
//! TCP segment, with correct IP and TCP checksums, as LINKTYPE_RAW wants it (the frame starts at
//! the IP header).

use std::net::{IpAddr, SocketAddr};

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

const TCP_HEADER: usize = 20;
const IPV4_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
/// The largest frame the pcap holds (its snaplen), so no frame is ever cut.
pub const MAX_FRAME: usize = 65535;

/// The most payload one segment carries so the frame fits in [`MAX_FRAME`]:
/// 65495 bytes over IPv4, 65475 over IPv6.
pub fn max_payload(addr: &SocketAddr) -> usize {
    let ip = match addr {
        SocketAddr::V4(_) => IPV4_HEADER,
        SocketAddr::V6(_) => IPV6_HEADER,
    };
    MAX_FRAME - ip - TCP_HEADER
}

/// One TCP segment to put on the wire.
#[derive(Debug, Clone)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    /// IPv4 identification field (ignored for IPv6).
    pub ip_id: u16,
    pub payload: &'a [u8],
}

/// Both addresses in one family: an IPv4 address beside an IPv6 one becomes IPv4-mapped IPv6.
pub fn same_family(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    fn v6(s: SocketAddr) -> SocketAddr {
        match s.ip() {
            IpAddr::V4(ip) => SocketAddr::new(IpAddr::V6(ip.to_ipv6_mapped()), s.port()),
            IpAddr::V6(_) => s,
        }
    }
    if a.is_ipv4() == b.is_ipv4() {
        (a, b)
    } else {
        (v6(a), v6(b))
    }
}

/// The Internet checksum (RFC 1071) of `data`, continuing from a partial `sum`.
fn sum16(data: &[u8], mut sum: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// The frame for `seg`, starting at the IP header. Addresses must be of one family
/// (see [`same_family`]); the payload must fit (see [`max_payload`]).
pub fn frame(seg: &Segment<'_>) -> Vec<u8> {
    let tcp_len = TCP_HEADER + seg.payload.len();
    let mut tcp = Vec::with_capacity(tcp_len);
    tcp.extend_from_slice(&seg.src.port().to_be_bytes());
    tcp.extend_from_slice(&seg.dst.port().to_be_bytes());
    tcp.extend_from_slice(&seg.seq.to_be_bytes());
    tcp.extend_from_slice(&seg.ack.to_be_bytes());
    tcp.push((TCP_HEADER as u8 / 4) << 4);
    tcp.push(seg.flags);
    tcp.extend_from_slice(&0xFFFFu16.to_be_bytes()); // window
    tcp.extend_from_slice(&[0, 0]); // checksum, filled below
    tcp.extend_from_slice(&[0, 0]); // urgent pointer
    tcp.extend_from_slice(seg.payload);

    match (seg.src.ip(), seg.dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut pseudo = Vec::with_capacity(12);
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&[0, 6]);
            pseudo.extend_from_slice(&(tcp_len as u16).to_be_bytes());
            let c = fold(sum16(&tcp, sum16(&pseudo, 0)));
            tcp[16..18].copy_from_slice(&c.to_be_bytes());

            let mut ip = Vec::with_capacity(IPV4_HEADER + tcp_len);
            ip.push(0x45); // version 4, 5 words of header
            ip.push(0); // DSCP/ECN
            ip.extend_from_slice(&((IPV4_HEADER + tcp_len) as u16).to_be_bytes());
            ip.extend_from_slice(&seg.ip_id.to_be_bytes());
            ip.extend_from_slice(&0x4000u16.to_be_bytes()); // don't fragment
            ip.push(64); // TTL
            ip.push(6); // TCP
            ip.extend_from_slice(&[0, 0]); // header checksum, filled below
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            let c = fold(sum16(&ip, 0));
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            ip.extend_from_slice(&tcp);
            ip
        }
        (s, d) => {
            let (s, d) = match (s, d) {
                (IpAddr::V6(s), IpAddr::V6(d)) => (s, d),
                (IpAddr::V4(s), IpAddr::V6(d)) => (s.to_ipv6_mapped(), d),
                (IpAddr::V6(s), IpAddr::V4(d)) => (s, d.to_ipv6_mapped()),
                (IpAddr::V4(s), IpAddr::V4(d)) => (s.to_ipv6_mapped(), d.to_ipv6_mapped()),
            };
            let mut pseudo = Vec::with_capacity(40);
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&(tcp_len as u32).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, 6]);
            let c = fold(sum16(&tcp, sum16(&pseudo, 0)));
            tcp[16..18].copy_from_slice(&c.to_be_bytes());

            let mut ip = Vec::with_capacity(IPV6_HEADER + tcp_len);
            ip.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, no class or flow label
            ip.extend_from_slice(&(tcp_len as u16).to_be_bytes());
            ip.push(6); // next header: TCP
            ip.push(64); // hop limit
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            ip.extend_from_slice(&tcp);
            ip
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checksum over a packet that includes its own checksum folds to zero.
    fn verifies(data: &[u8], pseudo: &[u8]) -> bool {
        fold(sum16(data, sum16(pseudo, 0))) == 0
    }

    #[test]
    fn ipv4_connack_frame_has_good_checksums() {
        let seg = Segment {
            src: "127.0.0.1:1883".parse().unwrap(),
            dst: "127.0.0.1:50000".parse().unwrap(),
            seq: 1000,
            ack: 2000,
            flags: PSH | ACK,
            ip_id: 7,
            payload: &[0x20, 0x02, 0x00, 0x00],
        };
        let f = frame(&seg);
        assert_eq!(f.len(), 20 + 20 + 4);
        assert_eq!(&f[0..4], &[0x45, 0x00, 0x00, 0x2C]);
        assert!(verifies(&f[..20], &[]));
        let pseudo = [127, 0, 0, 1, 127, 0, 0, 1, 0, 6, 0, 24];
        assert!(verifies(&f[20..], &pseudo));
        assert_eq!(&f[20..24], &[0x07, 0x5B, 0xC3, 0x50]); // ports 1883 → 50000
        assert_eq!(f[33], PSH | ACK);
        assert_eq!(&f[40..], &[0x20, 0x02, 0x00, 0x00]);
    }

    #[test]
    fn odd_payload_checksum_pads_with_zero() {
        let seg = Segment {
            src: "127.0.0.2:50001".parse().unwrap(),
            dst: "127.0.0.2:1883".parse().unwrap(),
            seq: u32::MAX,
            ack: 0,
            flags: PSH | ACK,
            ip_id: 0,
            payload: &[0xE0],
        };
        let f = frame(&seg);
        let pseudo = [127, 0, 0, 2, 127, 0, 0, 2, 0, 6, 0, 21];
        assert!(verifies(&f[20..], &pseudo));
    }

    #[test]
    fn ipv6_frame_has_good_tcp_checksum() {
        let seg = Segment {
            src: "[::1]:50000".parse().unwrap(),
            dst: "[::1]:1883".parse().unwrap(),
            seq: 1,
            ack: 1,
            flags: SYN,
            ip_id: 0,
            payload: &[],
        };
        let f = frame(&seg);
        assert_eq!(f.len(), 60);
        assert_eq!(f[0] >> 4, 6);
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&f[8..40]);
        pseudo.extend_from_slice(&[0, 0, 0, 20, 0, 0, 0, 6]);
        assert!(verifies(&f[40..], &pseudo));
    }

    #[test]
    fn mixed_families_become_v6() {
        let (a, b) = same_family("127.0.0.1:1".parse().unwrap(), "[::1]:2".parse().unwrap());
        assert!(a.is_ipv6() && b.is_ipv6());
        assert_eq!(max_payload(&"127.0.0.1:1883".parse().unwrap()), 65495);
    }
}
