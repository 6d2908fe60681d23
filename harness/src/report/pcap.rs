//! The pcap report ([`PcapBuilder`]): the module↔broker TCP traffic of a scenario as a classic
//! pcap file that Wireshark and tshark dissect as MQTT with no options.
//!
//! The gateway sees byte streams, not packets, so the frames are synthesized: SYN, SYN-ACK, ACK
//! when a connection opens, a PSH-ACK per data chunk (split at 65495 bytes so a frame never
//! exceeds the 65535-byte snaplen) answered by an ACK, and a FIN exchange when it closes, with
//! sequence numbers that add up per direction and correct checksums. Addresses and ports are the
//! real ones, so the broker side is port 1883 and tshark's MQTT heuristics apply; a gateway on
//! another port needs `-d tcp.port==N,mqtt`.
//!
//! The link type is RAW (101: frames start at the IP header), which tshark reads as IPv4 or IPv6.
//! A connection opened in an earlier scenario continues with its sequence numbers (tshark
//! dissects a stream picked up midway). Data on a connection never seen opening cannot be placed
//! and is left out; the transcript still shows it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

use crate::events::{ConnId, RunEvent, Stamped, TcpDirection};

use super::frame::{frame, max_payload, same_family, Segment, ACK, FIN, MAX_FRAME, PSH, SYN};

#[derive(Debug, Clone)]
struct Conn {
    client: SocketAddr,
    server: SocketAddr,
    /// Next sequence number each side sends.
    client_seq: u32,
    server_seq: u32,
    client_ip_id: u16,
    server_ip_id: u16,
}

/// Turns TCP events into frames, keeping per-connection state across scenarios.
#[derive(Debug, Default)]
pub struct PcapBuilder {
    conns: HashMap<ConnId, Conn>,
    /// Data events on connections never seen opening (left out of the pcap).
    pub unplaced: usize,
}

/// Deterministic initial sequence numbers, different per connection and side, so two captures
/// of one run compare equal.
fn isn(conn: ConnId, server: bool) -> u32 {
    let base = (conn as u32).wrapping_mul(0x9E37_79B9);
    if server {
        base ^ 0x5A5A_0000
    } else {
        base ^ 0x0000_A5A5
    }
}

fn timestamp(at: SystemTime) -> Duration {
    at.duration_since(UNIX_EPOCH).unwrap_or_default()
}

impl PcapBuilder {
    pub fn new() -> PcapBuilder {
        PcapBuilder::default()
    }

    /// The frames for `events` (already redacted, in emitted order) with their timestamps.
    pub fn frames(&mut self, events: &[Stamped]) -> Vec<(Duration, Vec<u8>)> {
        let mut out = Vec::new();
        for ev in events {
            let ts = timestamp(ev.at);
            match &ev.event {
                RunEvent::TcpOpened {
                    conn,
                    client,
                    server,
                } => {
                    let (client, server) = same_family(*client, *server);
                    let mut c = Conn {
                        client,
                        server,
                        client_seq: isn(*conn, false),
                        server_seq: isn(*conn, true),
                        client_ip_id: 1,
                        server_ip_id: 1,
                    };
                    out.push((ts, c.send(true, SYN, &[])));
                    out.push((ts, c.send(false, SYN | ACK, &[])));
                    out.push((ts, c.send(true, ACK, &[])));
                    self.conns.insert(*conn, c);
                }
                RunEvent::TcpData {
                    conn,
                    direction,
                    bytes,
                } => {
                    let Some(c) = self.conns.get_mut(conn) else {
                        self.unplaced += 1;
                        continue;
                    };
                    let up = *direction == TcpDirection::Uplink;
                    let limit = max_payload(&c.client);
                    for piece in bytes.chunks(limit) {
                        out.push((ts, c.send(up, PSH | ACK, piece)));
                        out.push((ts, c.send(!up, ACK, &[])));
                    }
                }
                RunEvent::TcpClosed { conn, by_broker } => {
                    if let Some(mut c) = self.conns.remove(conn) {
                        let closer_is_client = !*by_broker;
                        out.push((ts, c.send(closer_is_client, FIN | ACK, &[])));
                        out.push((ts, c.send(!closer_is_client, FIN | ACK, &[])));
                        out.push((ts, c.send(closer_is_client, ACK, &[])));
                    }
                }
                RunEvent::RunStarted { .. }
                | RunEvent::ScenarioStarted { .. }
                | RunEvent::StepStarted { .. }
                | RunEvent::SerialOut { .. }
                | RunEvent::SerialIn { .. }
                | RunEvent::MqttPacket { .. }
                | RunEvent::BrokerNote { .. }
                | RunEvent::PacketsNotShown { .. }
                | RunEvent::StepFinished { .. }
                | RunEvent::ScenarioFinished { .. }
                | RunEvent::RunFinished { .. } => {}
            }
        }
        out
    }

    /// A whole pcap file holding the frames for `events`.
    pub fn pcap_file(&mut self, events: &[Stamped]) -> std::io::Result<Vec<u8>> {
        let header = PcapHeader {
            snaplen: MAX_FRAME as u32,
            datalink: DataLink::RAW,
            ts_resolution: TsResolution::MicroSecond,
            endianness: Endianness::native(),
            ..PcapHeader::default()
        };
        let mut w = PcapWriter::with_header(Vec::new(), header).map_err(std::io::Error::other)?;
        for (ts, data) in self.frames(events) {
            let packet = PcapPacket::new(ts, data.len() as u32, &data);
            w.write_packet(&packet).map_err(std::io::Error::other)?;
        }
        Ok(w.into_writer())
    }
}

impl Conn {
    /// One segment from the client (`from_client`) or the server, advancing that side's
    /// sequence number by what the segment occupies (payload, plus one for SYN or FIN).
    fn send(&mut self, from_client: bool, flags: u8, payload: &[u8]) -> Vec<u8> {
        let (src, dst, seq, ack, id) = if from_client {
            (
                self.client,
                self.server,
                &mut self.client_seq,
                self.server_seq,
                &mut self.client_ip_id,
            )
        } else {
            (
                self.server,
                self.client,
                &mut self.server_seq,
                self.client_seq,
                &mut self.server_ip_id,
            )
        };
        let ack = if flags & ACK != 0 { ack } else { 0 };
        let f = frame(&Segment {
            src,
            dst,
            seq: *seq,
            ack,
            flags,
            ip_id: *id,
            payload,
        });
        let used = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        *seq = seq.wrapping_add(used);
        *id = id.wrapping_add(1);
        f
    }
}
