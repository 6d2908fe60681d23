//! The strict, annotating MQTT 3.1.1 decoder. One implementation, two faces:
//! [`decode`] (strict: the first error fails, for the broker gateway and the runner) and
//! [`dissect_packet`] (every field and every problem, for `athil decode` and failure reports).
//! Main types: [`PacketDissection`], [`DecodeError`].

mod connect;
mod lean;
mod publish;
pub(crate) mod reader;
mod subscribe;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

use crate::mqtt::packet::{Packet, PacketType};
use crate::mqtt::remaining_length::{decode_remaining_length, encode_remaining_length, explain};
use reader::Reader;
pub use reader::{Diagnostic, Field, Severity};

/// Why [`decode`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ends before the packet does; framing should have waited for more bytes.
    #[error("decode MQTT packet: the input ends at least {needed} bytes before the packet does")]
    Incomplete { needed: usize },
    /// The packet breaks MQTT 3.1.1; `offset` is the byte the problem is at.
    #[error("decode MQTT packet: at byte {offset}: {message}")]
    Invalid { offset: usize, message: String },
}

impl DecodeError {
    /// The byte offset of the problem (for `Incomplete`, the end of the input).
    pub fn offset(&self, input_len: usize) -> usize {
        match self {
            DecodeError::Incomplete { .. } => input_len,
            DecodeError::Invalid { offset, .. } => *offset,
        }
    }
}

/// The PUBLISH at the front of `buf` with its fields borrowed, when it takes the fast path
/// (see [`decode`]); `None` says nothing about validity: [`decode`] it then. For a broker
/// that only passes the message on, building a [`Packet`] was two allocations thrown away.
pub fn decode_publish_ref(buf: &[u8]) -> Option<crate::mqtt::PublishRef<'_>> {
    lean::publish_ref(buf)
}

/// Strictly decodes the packet at the front of `buf`: the packet and how many bytes it took.
/// Bytes after it are left alone. Warnings (such as a padded remaining length) do not fail.
/// The common simple packets take a fast path that builds no annotations (`lean.rs`).
pub fn decode(buf: &[u8]) -> Result<(Packet, usize), DecodeError> {
    if let Some(simple) = lean::decode(buf) {
        return Ok(simple);
    }
    match crate::mqtt::framer::header(buf) {
        Ok(Some((header_len, remaining))) if buf.len() < header_len + remaining => {
            return Err(DecodeError::Incomplete {
                needed: header_len + remaining - buf.len(),
            })
        }
        Ok(None) => {
            return Err(DecodeError::Incomplete {
                needed: 2usize.saturating_sub(buf.len()).max(1),
            })
        }
        _ => {}
    }
    let p = dissect_packet(buf).map_err(|d| DecodeError::Invalid {
        offset: d.offset,
        message: d.message,
    })?;
    if let Some(d) = p.errors().next() {
        return Err(DecodeError::Invalid {
            offset: d.offset,
            message: d.message.clone(),
        });
    }
    match p.packet {
        Some(packet) => Ok((packet, p.length)),
        None => Err(DecodeError::Invalid {
            offset: 0,
            message: format!("the {} could not be decoded", p.packet_type),
        }),
    }
}

/// Everything known about one packet in an input: its fields, problems, and (when the body
/// could be read) the packet itself. Offsets count from the start of the dissected input.
#[derive(Debug, Clone, PartialEq)]
pub struct PacketDissection {
    pub offset: usize,
    /// Bytes of this packet present in the input.
    pub length: usize,
    /// Header plus remaining length; `None` when the input ends inside the remaining length.
    pub declared_length: Option<usize>,
    pub packet_type: PacketType,
    /// The packet, when its body could be read (possibly with errors: see `diagnostics`).
    pub packet: Option<Packet>,
    pub fields: Vec<Field>,
    pub diagnostics: Vec<Diagnostic>,
    /// The fields in the `athil decode --format json` shape (snake_case keys).
    pub json_fields: Map<String, Value>,
}

impl PacketDissection {
    /// Whether every byte the remaining length announces is in the input.
    pub fn is_complete(&self) -> bool {
        self.declared_length == Some(self.length)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    /// Complete, decoded and without errors.
    pub fn is_valid(&self) -> bool {
        self.is_complete() && self.packet.is_some() && self.errors().next().is_none()
    }
}

/// Dissects the packet at the front of `buf`. `Err` when no packet starts there at all
/// (reserved packet type, or a remaining length longer than 4 bytes).
pub fn dissect_packet(buf: &[u8]) -> Result<PacketDissection, Diagnostic> {
    dissect_at(buf, 0)
}

/// Dissects the packet starting at `data[offset]` (`offset < data.len()`).
pub(crate) fn dissect_at(data: &[u8], offset: usize) -> Result<PacketDissection, Diagnostic> {
    let Some(&first) = data.get(offset) else {
        return Err(Diagnostic {
            offset,
            severity: Severity::Error,
            message: "no bytes to decode".to_string(),
        });
    };
    let Some(t) = PacketType::from_nibble(first >> 4) else {
        return Err(Diagnostic {
            offset,
            severity: Severity::Error,
            message: not_a_packet(first, offset),
        });
    };
    let rl = match decode_remaining_length(&data[offset + 1..]) {
        Ok(rl) => rl,
        Err(_) => {
            return Err(Diagnostic {
                offset: offset + 4,
                severity: Severity::Error,
                message: format!(
                    "the remaining length at offset {} still has the continuation bit (0x80) set \
                     on its 4th byte; MQTT allows at most 4 length bytes",
                    offset + 1
                ),
            })
        }
    };
    let Some(rl) = rl else {
        // The input ends inside the fixed header.
        let mut r = Reader::new(data, data.len(), data.len());
        note_type(&mut r, offset, first, t);
        r.error(
            data.len(),
            format!(
                "the input ends inside the {t}'s fixed header: its remaining length (from \
                 offset {}) is missing or incomplete",
                offset + 1
            ),
        );
        return Ok(PacketDissection {
            offset,
            length: data.len() - offset,
            declared_length: None,
            packet_type: t,
            packet: None,
            fields: r.fields,
            diagnostics: r.diagnostics,
            json_fields: r.json,
        });
    };
    let header_len = 1 + rl.encoded_len;
    let declared_end = offset + header_len + rl.value;
    let mut r = Reader::new(data, offset + header_len, declared_end);
    note_type(&mut r, offset, first, t);
    let rl_bytes = &data[offset + 1..offset + header_len];
    r.note(
        offset + 1,
        rl.encoded_len,
        "remaining length",
        format!("{} bytes", rl.value),
    );
    r.detail(explain(rl_bytes));
    if !rl.is_minimal() {
        r.warning(
            offset + 1,
            format!(
                "remaining length {} is encoded in {} bytes ({}); the shortest form is {}",
                rl.value,
                rl.encoded_len,
                crate::mqtt::hex::to_hex(rl_bytes),
                hex_len(rl.value)
            ),
        );
    }
    check_fixed_flags(&mut r, offset, first, t);
    if declared_end > data.len() {
        let present = data.len() - offset - header_len;
        r.error(
            offset + 1,
            format!(
                "remaining length says {} but only {} {}: {} missing (if nothing is \
                 missing, the remaining length is {present}, encoded {})",
                rl.value,
                reader::n_bytes(present),
                if present == 1 { "follows" } else { "follow" },
                rl.value - present,
                hex_len(present)
            ),
        );
    }
    let flags = first & 0x0F;
    let packet = match t {
        PacketType::Connect => connect::connect(&mut r),
        PacketType::Connack => connect::connack(&mut r),
        PacketType::Publish => publish::publish(&mut r, flags),
        PacketType::Subscribe => subscribe::subscribe(&mut r),
        PacketType::Suback => subscribe::suback(&mut r),
        PacketType::Unsubscribe => subscribe::unsubscribe(&mut r),
        PacketType::Puback
        | PacketType::Pubrec
        | PacketType::Pubrel
        | PacketType::Pubcomp
        | PacketType::Unsuback => subscribe::ack(&mut r, t),
        PacketType::Pingreq | PacketType::Pingresp | PacketType::Disconnect => {
            subscribe::empty(&mut r, t)
        }
    };
    let mut diagnostics = r.diagnostics;
    diagnostics.sort_by_key(|d| d.offset);
    Ok(PacketDissection {
        offset,
        length: declared_end.min(data.len()) - offset,
        declared_length: Some(declared_end - offset),
        packet_type: t,
        packet,
        fields: r.fields,
        diagnostics,
        json_fields: r.json,
    })
}

/// The fixed header's first byte, with PUBLISH's flag bits spelled out.
fn note_type(r: &mut Reader, offset: usize, first: u8, t: PacketType) {
    let flags = first & 0x0F;
    r.note(
        offset,
        1,
        "packet type and flags",
        format!("{t} (type {}), flags {flags:04b}", first >> 4),
    );
    if t == PacketType::Publish {
        r.detail(format!("bit 3   DUP     {}", (flags >> 3) & 1));
        let qos = (flags >> 1) & 3;
        r.detail(format!("bit 2-1 QoS     {qos:02b} = {qos}"));
        r.detail(format!("bit 0   RETAIN  {}", flags & 1));
    }
}

/// Flag rules of §2.2.2: fixed flags for every type but PUBLISH, whose QoS must not be 3 and
/// whose DUP must be 0 at QoS 0.
fn check_fixed_flags(r: &mut Reader, offset: usize, first: u8, t: PacketType) {
    let flags = first & 0x0F;
    if t == PacketType::Publish {
        let qos = (flags >> 1) & 3;
        if qos == 3 {
            r.error(
                offset,
                format!(
                    "PUBLISH first byte {first:02X}: QoS bits 11 (3) are not a QoS; use 30 \
                     (QoS 0), 32 (QoS 1) or 34 (QoS 2), plus 08 for DUP and 01 for RETAIN"
                ),
            );
        } else if qos == 0 && flags & 0x08 != 0 {
            r.error(
                offset,
                format!("PUBLISH first byte {first:02X}: DUP must be 0 for a QoS 0 message"),
            );
        }
        return;
    }
    let expected = match t {
        PacketType::Subscribe | PacketType::Unsubscribe | PacketType::Pubrel => 0b0010,
        _ => 0,
    };
    if flags != expected {
        let why = if expected == 0b0010 {
            " — SUBSCRIBE, UNSUBSCRIBE and PUBREL have their reserved flags fixed at 0010"
        } else {
            ""
        };
        r.error(
            offset,
            format!(
                "{t}'s first byte must be {:02X} (flags {expected:04b}), not {first:02X}{why}",
                first & 0xF0 | expected
            ),
        );
    }
}

fn not_a_packet(byte: u8, offset: usize) -> String {
    let hint = match byte {
        0x0D | 0x0A => " — a CR/LF from the serial line or the terminal?",
        _ => "",
    };
    format!(
        "byte {byte:02X} at offset {offset} starts no MQTT packet: packet type {} is reserved{hint}",
        byte >> 4
    )
}

fn hex_len(value: usize) -> String {
    encode_remaining_length(value)
        .map(|b| crate::mqtt::hex::to_hex(&b))
        .unwrap_or_else(|_| "(too large)".to_string())
}
