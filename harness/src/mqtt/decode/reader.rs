//! The annotating cursor every packet decoder reads through ([`Reader`]): each read records a
//! [`Field`] (where, how long, what it means) and every problem a [`Diagnostic`] with the byte
//! offset and the likely human mistake behind it.
//!
//! Hand-built packets go wrong in a few typical ways (seed 002: a length prefix written as
//! `2A` instead of `00 2A`, a line feed copied into the client id), so string reads try the
//! obvious repair, say so, and carry on: one broken field should not hide the rest.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::mqtt::hex::to_hex;
use crate::mqtt::topic::TopicError;

/// One decoded field: `offset`/`len` locate its bytes in the dissected input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub offset: usize,
    pub len: usize,
    /// What the bytes are, in words: `client identifier length`.
    pub name: String,
    /// What they mean: `41`, `"device2|securemode=3,signmethod=hmacsha1|"`.
    pub value: String,
    /// Further lines: flag bits one by one, how a length was worked out, pretty JSON.
    pub details: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Not wrong by the specification, but likely a mistake or likely to be refused.
    Warning,
    /// The packet breaks MQTT 3.1.1; a broker may drop the connection.
    Error,
}

/// A problem found while decoding, at a byte offset of the dissected input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub offset: usize,
    pub severity: Severity,
    /// Plain language, with the likely cause when there is one.
    pub message: String,
}

/// Reads one packet's body from `data[pos..end]` while annotating.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pub(crate) pos: usize,
    /// End of the bytes that are really there (declared end clipped to the input).
    end: usize,
    /// Where the remaining length says the packet ends.
    declared_end: usize,
    pub(crate) fields: Vec<Field>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// The packet's fields in the `athil decode --format json` shape, filled as they are read.
    pub(crate) json: Map<String, Value>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], body_start: usize, declared_end: usize) -> Reader<'a> {
        Reader {
            data,
            pos: body_start,
            end: declared_end.min(data.len()),
            declared_end,
            fields: Vec::new(),
            diagnostics: Vec::new(),
            json: Map::new(),
        }
    }

    /// Bytes of the packet not read yet (that are present in the input).
    pub(crate) fn left(&self) -> usize {
        self.end - self.pos
    }

    pub(crate) fn end(&self) -> usize {
        self.end
    }

    pub(crate) fn bytes(&self, offset: usize, len: usize) -> &'a [u8] {
        &self.data[offset..offset + len]
    }

    pub(crate) fn note(&mut self, offset: usize, len: usize, name: &str, value: String) {
        self.fields.push(Field {
            offset,
            len,
            name: name.to_string(),
            value,
            details: Vec::new(),
        });
    }

    /// Adds detail lines to the field noted last.
    pub(crate) fn detail(&mut self, line: String) {
        if let Some(f) = self.fields.last_mut() {
            f.details.push(line);
        }
    }

    pub(crate) fn error(&mut self, offset: usize, message: String) {
        self.diagnostics.push(Diagnostic {
            offset,
            severity: Severity::Error,
            message,
        });
    }

    pub(crate) fn warning(&mut self, offset: usize, message: String) {
        self.diagnostics.push(Diagnostic {
            offset,
            severity: Severity::Warning,
            message,
        });
    }

    pub(crate) fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.json.insert(key.to_string(), value.into());
    }

    /// Reports that `what` (needing `need` bytes) does not fit, and gives up on the body.
    pub(crate) fn ran_out(&mut self, what: &str, need: usize) {
        let (pos, left) = (self.pos, self.left());
        let message = if self.end < self.declared_end && pos + need <= self.declared_end {
            format!("the input ends inside the {what}: it needs {need} bytes, {left} are there")
        } else {
            format!(
                "the packet ends inside the {what}: it needs {need} bytes but the remaining \
                 length leaves {left}"
            )
        };
        self.error(pos, message);
        self.pos = self.end;
    }

    pub(crate) fn u8(&mut self, what: &str) -> Option<u8> {
        if self.left() < 1 {
            self.ran_out(what, 1);
            return None;
        }
        let b = self.data[self.pos];
        self.pos += 1;
        Some(b)
    }

    pub(crate) fn u16(&mut self, what: &str) -> Option<u16> {
        if self.left() < 2 {
            self.ran_out(what, 2);
            return None;
        }
        let v = u16::from_be_bytes([self.data[self.pos], self.data[self.pos + 1]]);
        self.pos += 2;
        Some(v)
    }

    /// A packet identifier, which must not be 0 (§2.3.1).
    pub(crate) fn packet_id(&mut self, packet: &str) -> Option<u16> {
        let at = self.pos;
        let id = self.u16("packet identifier")?;
        self.note(at, 2, "packet identifier", id.to_string());
        self.set("packet_id", id);
        if id == 0 {
            self.error(
                at,
                format!("the {packet} packet identifier is 0; identifiers run from 1 to 65535"),
            );
        }
        Some(id)
    }

    /// A length-prefixed byte field (§1.5.3 without the UTF-8 rule), with `(offset, bytes)`.
    ///
    /// When the 2-byte length cannot be right but its first byte alone fits, the author most
    /// likely dropped the `00` of the prefix; the field is read that way, with an error saying
    /// so, so the rest of the packet can still be shown.
    pub(crate) fn prefixed(&mut self, what: &str) -> Option<(usize, &'a [u8])> {
        let at = self.pos;
        if self.left() < 2 {
            self.ran_out(&format!("{what} length"), 2);
            return None;
        }
        let (hi, lo) = (self.data[at], self.data[at + 1]);
        let len = u16::from_be_bytes([hi, lo]) as usize;
        let fits_declared = at + 2 + len <= self.declared_end;
        if at + 2 + len <= self.end || (fits_declared && self.end < self.declared_end) {
            self.note(at, 2, &format!("{what} length"), len.to_string());
            self.pos += 2;
            if self.left() < len {
                self.ran_out(what, len);
                return None;
            }
            let content = &self.data[self.pos..self.pos + len];
            self.pos += len;
            return Some((at + 2, content));
        }
        let left_after = self.declared_end.saturating_sub(at + 2);
        let short = hi as usize;
        if hi != 0 && at + 1 + short <= self.end {
            self.error(
                at,
                format!(
                    "{what} length 0x{len:04X} = {len} exceeds the {left_after} bytes left — \
                     is the 00 of the length prefix missing? Read as {hi:02X} = {short} it fits, \
                     so it is shown that way"
                ),
            );
            self.note(
                at,
                1,
                &format!("{what} length (00 missing)"),
                short.to_string(),
            );
            let content = &self.data[at + 1..at + 1 + short];
            self.pos = at + 1 + short;
            return Some((at + 1, content));
        }
        self.error(
            at,
            format!(
                "{what} length 0x{len:04X} = {len} exceeds the {left_after} bytes left in the \
                 packet"
            ),
        );
        self.pos = self.end;
        None
    }

    /// A length-prefixed UTF-8 string (§1.5.3), checked for what MQTT forbids and for the stray
    /// characters hex converters leave behind.
    pub(crate) fn string(&mut self, what: &str) -> Option<String> {
        let (at, raw) = self.prefixed(what)?;
        let text = self.check_text(what, at, raw);
        self.note(at, raw.len(), what, format!("{text:?}"));
        Some(text)
    }

    /// Validates `raw` (at `at`) as an MQTT string; returns it, lossily if it is not UTF-8.
    pub(crate) fn check_text(&mut self, what: &str, at: usize, raw: &[u8]) -> String {
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t.to_string(),
            Err(e) => {
                let bad = at + e.valid_up_to();
                self.error(
                    bad,
                    format!(
                        "the {what} is not valid UTF-8: byte {:02X} cannot start or continue a \
                         character",
                        self.data[bad]
                    ),
                );
                return String::from_utf8_lossy(raw).into_owned();
            }
        };
        self.check_stray(what, at, &text);
        text
    }

    /// Warnings for control characters and stray whitespace in a valid string (§1.5.3: U+0000
    /// is forbidden, other control characters SHOULD NOT appear).
    pub(crate) fn check_stray(&mut self, what: &str, at: usize, text: &str) {
        if let Some(i) = text.find('\0') {
            self.error(
                at + i,
                format!("the {what} contains U+0000, which MQTT strings must not"),
            );
        }
        let last = text.char_indices().last();
        match last {
            Some((i, '\n')) => self.warning(
                at + i,
                format!("the {what} ends with 0x0A (line feed) — a stray newline?"),
            ),
            Some((i, '\r')) => self.warning(
                at + i,
                format!("the {what} ends with 0x0D (carriage return) — a stray carriage return?"),
            ),
            Some((i, ' ')) => self.warning(
                at + i,
                format!(
                    "the {what} ends with a space (0x20) — a stray space from the hex conversion?"
                ),
            ),
            _ => {}
        }
        if text.starts_with(' ') {
            self.warning(
                at,
                format!("the {what} starts with a space (0x20) — a stray space?"),
            );
        }
        let last_index = last.map(|(i, _)| i);
        for (i, c) in text.char_indices() {
            let ends_line = Some(i) == last_index && matches!(c, '\n' | '\r');
            if c.is_control() && c != '\0' && !ends_line {
                self.warning(
                    at + i,
                    format!(
                        "the {what} contains the control character U+{:04X}",
                        c as u32
                    ),
                );
                break;
            }
        }
    }

    /// Reports bytes the packet's fields leave unread before the remaining length runs out.
    pub(crate) fn expect_end(&mut self, packet: &str) {
        if self.left() > 0 {
            self.error(
                self.pos,
                format!(
                    "{} left over after the last field of the {packet}: the remaining length \
                     runs past its fields",
                    n_bytes(self.left())
                ),
            );
            self.pos = self.end;
        }
    }

    /// Everything up to the end of the packet: `(offset, bytes)`.
    pub(crate) fn rest(&mut self) -> (usize, &'a [u8]) {
        let at = self.pos;
        self.pos = self.end;
        (at, &self.data[at..self.end])
    }
}

/// Topic checks after [`Reader::check_stray`], which has already reported any U+0000.
pub(crate) fn ignore_nul(e: TopicError) -> Result<(), TopicError> {
    match e {
        TopicError::Nul { .. } => Ok(()),
        other => Err(other),
    }
}

/// "1 byte", "4 bytes".
pub(crate) fn n_bytes(n: usize) -> String {
    if n == 1 {
        "1 byte".to_string()
    } else {
        format!("{n} bytes")
    }
}

/// A short hex preview for messages: the first `max` bytes, then `…`.
pub(crate) fn preview(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        to_hex(bytes)
    } else {
        format!("{} …", to_hex(&bytes[..max]))
    }
}
