//! The strict decoder's fast path for the packets a flood is made of: a PUBLISH whose topic is
//! plain printable ASCII, a PUBACK and a PINGREQ. The annotating reader builds every field's
//! description, the payload as hex and text and a pretty-printed JSON copy; for a broker that
//! forwards thousands of messages a second that was most of its work.
//!
//! It accepts only packets the annotating decoder accepts, and decodes them to the same value
//! (pinned by a proptest in `tests.rs`); anything else, or anything it is unsure of, returns
//! `None` and goes the annotating way, which says precisely what is wrong.

use crate::mqtt::framer::header;
use crate::mqtt::packet::{Packet, PublishRef, QoS};

/// The packet at the front of `buf` and its length, when it is one of the simple kinds.
pub(super) fn decode(buf: &[u8]) -> Option<(Packet, usize)> {
    let (header_len, remaining) = header(buf).ok()??;
    let len = header_len + remaining;
    let body = buf.get(header_len..len)?;
    let packet = match buf[0] {
        0x30..=0x3F => Packet::Publish(publish(buf[0] & 0x0F, body)?.to_publish()),
        0x40 if body.len() == 2 => Packet::Puback {
            packet_id: nonzero_id(body)?,
        },
        0xC0 if body.is_empty() => Packet::Pingreq,
        _ => return None,
    };
    Some((packet, len))
}

/// The PUBLISH at the front of `buf`, its fields borrowed from it, when it is a simple one.
pub(super) fn publish_ref(buf: &[u8]) -> Option<PublishRef<'_>> {
    let (header_len, remaining) = header(buf).ok()??;
    let body = buf.get(header_len..header_len + remaining)?;
    match buf[0] {
        0x30..=0x3F => publish(buf[0] & 0x0F, body),
        _ => None,
    }
}

/// The bytes a topic may hold on this path: printable ASCII but the wildcards. A table, one
/// load per byte: every PUBLISH's topic goes through it.
const PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x20;
    while b < 0x7F {
        table[b] = b != b'+' as usize && b != b'#' as usize;
        b += 1;
    }
    table
};

fn publish(flags: u8, body: &[u8]) -> Option<PublishRef<'_>> {
    let dup = flags & 0x08 != 0;
    let retain = flags & 0x01 != 0;
    let qos = match (flags >> 1) & 0x03 {
        0 if !dup => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        2 => QoS::ExactlyOnce,
        _ => return None,
    };
    let topic_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let topic = body.get(2..2 + topic_len)?;
    // Printable ASCII and no wildcard: valid UTF-8, no control character, a valid topic name.
    if topic.is_empty() || !topic.iter().all(|&b| PLAIN[usize::from(b)]) {
        return None;
    }
    let mut rest = &body[2 + topic_len..];
    let packet_id = match qos {
        QoS::AtMostOnce => None,
        _ => {
            let id = nonzero_id(rest.get(..2)?)?;
            rest = &rest[2..];
            Some(id)
        }
    };
    Some(PublishRef {
        dup,
        qos,
        retain,
        topic: std::str::from_utf8(topic).ok()?,
        packet_id,
        payload: rest,
    })
}

fn nonzero_id(two: &[u8]) -> Option<u16> {
    let id = u16::from_be_bytes([*two.first()?, *two.get(1)?]);
    (id != 0).then_some(id)
}
