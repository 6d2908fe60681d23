//! SUBSCRIBE, SUBACK, UNSUBSCRIBE and the bodies that are only a packet identifier (PUBACK,
//! PUBREC, PUBREL, PUBCOMP, UNSUBACK) or nothing (PINGREQ, PINGRESP, DISCONNECT):
//! MQTT 3.1.1 §3.4-§3.14.

use serde_json::{json, Value};

use super::reader::{ignore_nul, n_bytes, preview, Reader};
use crate::mqtt::packet::{
    Packet, PacketType, QoS, Suback, Subscribe, SubscribeFilter, Unsubscribe,
};
use crate::mqtt::topic::check_topic_filter;

pub(super) fn subscribe(r: &mut Reader) -> Option<Packet> {
    let packet_id = r.packet_id("SUBSCRIBE")?;
    let mut filters = Vec::new();
    let mut shown = Vec::new();
    while r.left() > 0 {
        let filter_at = r.pos;
        let filter = r.string("topic filter")?;
        check_filter(r, filter_at, &filter);
        if r.left() == 0 {
            r.set("filters", Value::Array(shown));
            r.error(
                r.pos,
                format!(
                    "the topic filter at offset {filter_at} has no requested QoS byte after it: \
                     every SUBSCRIBE filter is followed by 00, 01 or 02 (an UNSUBSCRIBE copied \
                     as a SUBSCRIBE?)"
                ),
            );
            return None;
        }
        let qos_at = r.pos;
        let requested = r.u8("requested QoS")?;
        r.note(qos_at, 1, "requested QoS", requested.to_string());
        if requested & 0xFC != 0 {
            r.error(
                qos_at,
                format!("requested QoS byte {requested:02X}: bits 7-2 are reserved and must be 0"),
            );
        } else if requested == 3 {
            r.error(
                qos_at,
                "requested QoS 3 is not a QoS (0, 1 or 2)".to_string(),
            );
        }
        shown.push(json!({ "filter": filter, "qos": requested }));
        let qos = QoS::try_from(requested & 0x03).unwrap_or(QoS::ExactlyOnce);
        filters.push(SubscribeFilter { filter, qos });
    }
    r.set("filters", Value::Array(shown));
    if filters.is_empty() {
        r.error(
            r.pos,
            "SUBSCRIBE carries no topic filter; it needs at least one (length, filter, QoS)"
                .to_string(),
        );
    }
    Some(Packet::Subscribe(Subscribe { packet_id, filters }))
}

pub(super) fn suback(r: &mut Reader) -> Option<Packet> {
    let packet_id = r.packet_id("SUBACK")?;
    let (at, codes) = r.rest();
    for (i, &code) in codes.iter().enumerate() {
        let meaning = match code {
            0..=2 => format!("{code:02X} (granted QoS {code})"),
            0x80 => "80 (failure)".to_string(),
            other => format!("{other:02X} (not a return code)"),
        };
        r.note(at + i, 1, "return code", meaning);
        match code {
            0..=2 | 0x80 => {}
            0x08 => r.error(
                at + i,
                "SUBACK return code 08 is not defined: failure is 80 (bit 7), not 08".to_string(),
            ),
            other => r.error(
                at + i,
                format!(
                    "SUBACK return code {other:02X} is not defined; only 00, 01, 02 and 80 are"
                ),
            ),
        }
    }
    r.set("return_codes", codes.to_vec());
    if codes.is_empty() {
        r.error(
            at,
            "SUBACK carries no return code; it needs one per filter of the SUBSCRIBE".to_string(),
        );
    }
    Some(Packet::Suback(Suback {
        packet_id,
        return_codes: codes.to_vec(),
    }))
}

pub(super) fn unsubscribe(r: &mut Reader) -> Option<Packet> {
    let packet_id = r.packet_id("UNSUBSCRIBE")?;
    let mut filters: Vec<String> = Vec::new();
    while r.left() > 0 {
        if r.left() == 1 {
            let at = r.pos;
            let stray = r.bytes(at, 1);
            r.set("filters", filters.clone());
            r.error(
                at,
                format!(
                    "1 byte ({}) at offset {at} after the last topic filter — a QoS byte left over \
                     from a SUBSCRIBE? UNSUBSCRIBE filters have no QoS byte",
                    preview(stray, 1)
                ),
            );
            r.pos = r.end();
            return None;
        }
        let filter_at = r.pos;
        let filter = r.string("topic filter")?;
        check_filter(r, filter_at, &filter);
        filters.push(filter);
    }
    r.set("filters", filters.clone());
    if filters.is_empty() {
        r.error(
            r.pos,
            "UNSUBSCRIBE carries no topic filter; it needs at least one".to_string(),
        );
    }
    Some(Packet::Unsubscribe(Unsubscribe { packet_id, filters }))
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP and UNSUBACK: a packet identifier and nothing else.
pub(super) fn ack(r: &mut Reader, t: PacketType) -> Option<Packet> {
    let packet_id = r.packet_id(t.name())?;
    r.expect_end(t.name());
    Some(match t {
        PacketType::Puback => Packet::Puback { packet_id },
        PacketType::Pubrec => Packet::Pubrec { packet_id },
        PacketType::Pubrel => Packet::Pubrel { packet_id },
        PacketType::Pubcomp => Packet::Pubcomp { packet_id },
        _ => Packet::Unsuback { packet_id },
    })
}

/// PINGREQ, PINGRESP and DISCONNECT: no body at all.
pub(super) fn empty(r: &mut Reader, t: PacketType) -> Option<Packet> {
    if r.left() > 0 {
        let at = r.pos;
        r.error(
            at,
            format!(
                "{t} has no body, but {} {} its fixed header ({}); its remaining length \
                 must be 00",
                n_bytes(r.left()),
                if r.left() == 1 { "follows" } else { "follow" },
                preview(r.bytes(at, r.left()), 8)
            ),
        );
        r.pos = r.end();
    }
    Some(match t {
        PacketType::Pingreq => Packet::Pingreq,
        PacketType::Pingresp => Packet::Pingresp,
        _ => Packet::Disconnect,
    })
}

fn check_filter(r: &mut Reader, at: usize, filter: &str) {
    if let Err(e) = check_topic_filter(filter).or_else(ignore_nul) {
        r.error(at, format!("the topic filter {filter:?} is not valid: {e}"));
    }
}
