//! PUBLISH bodies (MQTT 3.1.1 §3.3): topic, packet identifier when QoS > 0, payload. The
//! payload is opaque to MQTT, but the cloud platforms expect JSON, so a payload that looks
//! like JSON and is not (seed 002's Chinese quotes) earns a warning.

use serde_json::Value;

use super::reader::{ignore_nul, Reader};
use crate::mqtt::hex::to_hex;
use crate::mqtt::packet::{Packet, Publish, QoS};
use crate::mqtt::topic::check_topic_name;

/// Decodes the body; `flags` is the low nibble of the first byte (already checked there).
pub(super) fn publish(r: &mut Reader, flags: u8) -> Option<Packet> {
    let dup = flags & 0x08 != 0;
    let qos_bits = (flags >> 1) & 0x03;
    let retain = flags & 0x01 != 0;
    r.set("dup", dup);
    r.set("qos", qos_bits);
    r.set("retain", retain);

    let topic_at = r.pos;
    let topic = r.string("topic name")?;
    r.set("topic", topic.clone());
    if let Err(e) = check_topic_name(&topic).or_else(ignore_nul) {
        r.error(
            topic_at,
            format!("the PUBLISH topic {topic:?} is not a valid topic name: {e}"),
        );
    }
    r.set("packet_id", Value::Null);
    let packet_id = if qos_bits > 0 {
        Some(r.packet_id("PUBLISH")?)
    } else {
        None
    };

    let (at, payload) = r.rest();
    r.set("payload_hex", to_hex(payload));
    match std::str::from_utf8(payload) {
        Ok(text) => {
            r.set("payload_text", text);
            r.note(at, payload.len(), "payload", format!("{text:?}"));
            check_json(r, at, text);
        }
        Err(_) => {
            r.set("payload_text", Value::Null);
            r.note(
                at,
                payload.len(),
                "payload",
                format!("{} bytes of binary", payload.len()),
            );
        }
    }
    let qos = QoS::try_from(qos_bits).ok()?;
    Some(Packet::Publish(Publish {
        dup,
        qos,
        retain,
        topic,
        packet_id,
        payload: payload.to_vec(),
    }))
}

/// Pretty-prints a JSON payload under the payload field, or warns when a payload that starts
/// like JSON does not parse, pointing at look-alike punctuation typed by an input method.
fn check_json(r: &mut Reader, at: usize, text: &str) {
    let trimmed = text.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value) => {
            let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
            for line in pretty.lines() {
                r.detail(line.to_string());
            }
        }
        Err(e) => {
            if let Some((i, c)) = text.char_indices().find(|(_, c)| LOOKALIKES.contains(c)) {
                let mut utf8 = [0u8; 4];
                let bytes = c.encode_utf8(&mut utf8).as_bytes();
                let want = match c {
                    '“' | '”' | '‘' | '’' => "a straight quote \" (22)",
                    '，' => "a comma , (2C)",
                    _ => "a colon : (3A)",
                };
                r.warning(
                    at + i,
                    format!(
                        "the payload looks like JSON but does not parse: it has {c} (U+{:04X}, \
                         bytes {}) where JSON needs {want} — typed with a Chinese input method?",
                        c as u32,
                        to_hex(bytes)
                    ),
                );
            } else {
                r.warning(
                    at,
                    format!("the payload looks like JSON but does not parse: {e}"),
                );
            }
        }
    }
}

/// Full-width punctuation that looks like JSON's but is not.
const LOOKALIKES: [char; 6] = ['“', '”', '‘', '’', '，', '：'];
