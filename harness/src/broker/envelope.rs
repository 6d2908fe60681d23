//! The envelope every message carries through rumqttd: who published it, at what QoS, and a
//! number of its own. Main items: [`Sealed`] (a payload going in), [`Sealer`] (a link's way to
//! seal many), [`Stamp`] (what comes out with it), [`open`].
//!
//! Why: rumqttd forwards every message at the *subscription's* QoS and drops the publisher's,
//! yet a downlink must reach a device at the publisher's QoS, as Alibaba Cloud delivers ("不支持
//! SUB QoS, 消息QoS以发送方(PUB)指定为准"). And rumqttd sends one copy per matching filter,
//! which a receiver must fold back into one delivery. Only athil's own links publish into the
//! embedded rumqttd (it has no listener), so each payload goes in behind a small header and
//! comes out with it; the header is cut off (no copy) before anything else sees the payload.
//!
//! Before this, a side table keyed by a hash of topic and payload held the publisher's QoS for
//! the last 4,096 messages: the same topic and payload published twice at different QoS were
//! confused, two real copies of one message were folded into one, and the table's lock and
//! hashing were a twentieth of the broker's CPU under a flood.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};

use crate::events::ConnId;
use crate::mqtt::QoS;

/// Who put a message into rumqttd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publisher {
    /// A device through the gateway.
    Device { conn: ConnId },
    /// The cloud (a downlink a test or a cloud-side client published, or a reply to a post).
    Cloud,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub publisher: Publisher,
    pub qos: QoS,
}

/// What a message that came out of rumqttd was sealed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub origin: Origin,
    /// Unique per message in this process: every copy rumqttd makes of one message has it.
    pub message: u64,
}

/// The header: a mark, QoS, publisher kind, connection id and message number.
const MARK: u8 = 0xA7;
const HEADER: usize = 1 + 1 + 1 + 8 + 8;
const CLOUD: u8 = 0;
const DEVICE: u8 = 1;

/// A payload with its envelope, ready for rumqttd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed(Bytes);

impl Sealed {
    /// Seals `payload` (one copy, into a buffer of its own) under a new message number.
    pub fn new(origin: Origin, payload: &[u8]) -> Sealed {
        let mut b = BytesMut::with_capacity(HEADER + payload.len());
        put(&mut b, origin, payload);
        Sealed(b.freeze())
    }

    /// The bytes rumqttd carries.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

/// Writes the header and `payload` at the end of `b`, under a new message number.
fn put(b: &mut BytesMut, origin: Origin, payload: &[u8]) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let message = NEXT.fetch_add(1, Ordering::Relaxed);
    let (kind, conn) = match origin.publisher {
        Publisher::Cloud => (CLOUD, 0),
        Publisher::Device { conn } => (DEVICE, conn),
    };
    // The header assembled whole, then one copy each: a put per field was a capacity check
    // and an advance each, for every message.
    let mut header = [0u8; HEADER];
    header[0] = MARK;
    header[1] = origin.qos as u8;
    header[2] = kind;
    header[3..11].copy_from_slice(&conn.to_be_bytes());
    header[11..19].copy_from_slice(&message.to_be_bytes());
    b.reserve(HEADER + payload.len());
    b.extend_from_slice(&header);
    b.extend_from_slice(payload);
}

/// One link's sealing: small messages go into slices of a shared slab, so a flood costs no
/// allocation per message. A buffer of its own per message was two (the buffer, then the
/// shared header `bytes` adds at rumqttd's first clone), a measurable share of the broker's
/// work per PUBLISH.
///
/// Memory stays bounded: a slab is freed once rumqttd has let go of every message in it, and
/// a link holds one slab at a time. The slab is small, so the worst case (every link's last
/// message kept alive in rumqttd's log) costs about 1 KB per link that published, 10 MB for
/// 10,000 devices; a payload above a quarter of a slab gets a buffer of its own rather than
/// pinning one.
#[derive(Debug, Default)]
pub struct Sealer {
    slab: BytesMut,
}

impl Sealer {
    const SLAB: usize = 1024;
    /// Payloads above this get a buffer of their own.
    const SHARED_UP_TO: usize = 256;

    /// Seals `payload` (one copy) under a new message number.
    pub fn seal(&mut self, origin: Origin, payload: &[u8]) -> Sealed {
        if payload.len() > Self::SHARED_UP_TO {
            return Sealed::new(origin, payload);
        }
        if self.slab.capacity() - self.slab.len() < HEADER + payload.len() {
            self.slab = BytesMut::with_capacity(Self::SLAB);
        }
        put(&mut self.slab, origin, payload);
        Sealed(self.slab.split().freeze())
    }
}

/// The stamp and the payload of what rumqttd forwarded; `None` for bytes no athil link sealed
/// (nothing else publishes into the embedded rumqttd, so this means a bug, not a peer).
pub fn open(mut sealed: Bytes) -> Option<(Stamp, Bytes)> {
    let h = sealed.get(..HEADER)?;
    if h[0] != MARK {
        return None;
    }
    let qos = QoS::try_from(h[1]).ok()?;
    let conn = u64::from_be_bytes(h[3..11].try_into().ok()?);
    let message = u64::from_be_bytes(h[11..19].try_into().ok()?);
    let publisher = match h[2] {
        CLOUD => Publisher::Cloud,
        DEVICE => Publisher::Device { conn },
        _ => return None,
    };
    let payload = sealed.split_off(HEADER);
    let stamp = Stamp {
        origin: Origin { publisher, qos },
        message,
    };
    Some((stamp, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_sealed_opens_to_the_same_origin_and_payload() {
        for origin in [
            Origin {
                publisher: Publisher::Cloud,
                qos: QoS::AtLeastOnce,
            },
            Origin {
                publisher: Publisher::Device { conn: u64::MAX },
                qos: QoS::AtMostOnce,
            },
        ] {
            for payload in [&b""[..], b"{\"id\":\"1\"}", &[0xA7; 40]] {
                let (stamp, out) = open(Sealed::new(origin, payload).into_bytes()).unwrap();
                assert_eq!(stamp.origin, origin);
                assert_eq!(&out[..], payload);
            }
        }
    }

    #[test]
    fn a_sealer_s_messages_share_a_slab_yet_each_opens_to_its_own() {
        let origin = Origin {
            publisher: Publisher::Device { conn: 7 },
            qos: QoS::AtLeastOnce,
        };
        let mut sealer = Sealer::default();
        let big = vec![b'b'; Sealer::SHARED_UP_TO + 1];
        // Enough small ones to fill several slabs, a large one among them.
        let payloads: Vec<Vec<u8>> = (0..600u32)
            .map(|n| match n {
                300 => big.clone(),
                n => n.to_string().repeat(1 + n as usize % 7).into_bytes(),
            })
            .collect();
        let sealed: Vec<Sealed> = payloads.iter().map(|p| sealer.seal(origin, p)).collect();
        let mut numbers = std::collections::HashSet::new();
        for (payload, sealed) in payloads.iter().zip(sealed) {
            let (stamp, out) = open(sealed.into_bytes()).unwrap();
            assert_eq!(stamp.origin, origin);
            assert_eq!(&out[..], &payload[..]);
            assert!(
                numbers.insert(stamp.message),
                "every message has its own number"
            );
        }
    }

    #[test]
    fn each_message_gets_its_own_number_so_equal_messages_stay_two() {
        let origin = Origin {
            publisher: Publisher::Cloud,
            qos: QoS::AtMostOnce,
        };
        let a = open(Sealed::new(origin, b"x").into_bytes()).unwrap().0;
        let b = open(Sealed::new(origin, b"x").into_bytes()).unwrap().0;
        assert_ne!(a.message, b.message);
    }

    #[test]
    fn bytes_nobody_sealed_do_not_open() {
        assert_eq!(
            open(Bytes::from_static(b"plain payload, no envelope")),
            None
        );
        assert_eq!(open(Bytes::from_static(&[MARK, 1, 0])), None);
        let mut bad_kind = Sealed::new(
            Origin {
                publisher: Publisher::Cloud,
                qos: QoS::AtMostOnce,
            },
            b"p",
        )
        .into_bytes()
        .to_vec();
        bad_kind[2] = 9;
        assert_eq!(open(Bytes::from(bad_kind)), None);
    }
}
