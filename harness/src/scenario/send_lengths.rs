//! A check across steps: a `send: AT+CIPSEND=<n>` (or `AT+QISEND=<id>,<n>`) whose next `write:`
//! carries another number of bytes. At run time that shows only as "nothing within 5s" (the
//! module waits for a byte that never comes) or as a byte cut and read as a command; here it is
//! an error at the number, naming both lengths and the byte concerned.
//!
//! Only the case known before the run is checked: a send command written as literal text (no
//! template holes), followed by a `write:` with nothing but waits for text (`expect`,
//! `expect_not`, `wait`) or broker-side steps between them. Any other step that writes to the
//! module (`send`, `mqtt`) ends the search: the write is no longer the announced data.

use super::de::Sp;
use super::error::ErrorKind;
use super::model::{Action, Step};
use super::raw::RawStep;
use super::validate::Ctx;

/// Checks every send command against the write that follows it. `raw` holds each of `steps`'
/// raw form, in the same order, for the position of the number.
pub(crate) fn check(ctx: &mut Ctx<'_>, steps: &[Step], raw: &[&Sp<RawStep>]) {
    for (i, step) in steps.iter().enumerate() {
        let Action::Send { line, .. } = &step.action else {
            continue;
        };
        let Some(text) = line.as_literal() else {
            continue;
        };
        let Some(announced) = announced_len(&text) else {
            continue;
        };
        let Some(write) = steps[i + 1..].iter().find_map(|s| match &s.action {
            Action::Write { bytes, .. } => Some(Some((s, bytes))),
            Action::Send { .. } | Action::Mqtt(_) => Some(None),
            _ => None,
        }) else {
            continue;
        };
        let Some((write_step, bytes)) = write else {
            continue;
        };
        if bytes.len() == announced.len {
            continue;
        }
        let at = match raw.get(i).and_then(|r| r.value.send.ok()) {
            // A variable filled in the number: its offset is not one of the source text.
            Some(sp) if sp.value.0 == text => ctx.inside(sp, &sp.value.0, announced.offset),
            Some(sp) => sp.mark.location,
            None => step.location,
        };
        let message = mismatch(&text, announced.len, write_step.location.line, bytes);
        ctx.error(at, ErrorKind::Value, message);
    }
}

/// The length a send command announces, and the character offset of its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Announced {
    len: usize,
    offset: usize,
}

/// `AT+CIPSEND=<n>`, `AT+CIPSEND=<link>,<n>` (ESP-AT) and `AT+QISEND=<id>,<n>` (Quectel); any
/// other form (`AT+CIPSEND` alone starts transparent mode, `AT+QISEND=<id>` ends with Ctrl-Z)
/// announces no length.
fn announced_len(line: &str) -> Option<Announced> {
    let trimmed = line.trim_start();
    let lead = line.len() - trimmed.len();
    let upper = trimmed.to_ascii_uppercase();
    let (args_at, min_args) = if upper.starts_with("AT+CIPSEND=") {
        ("AT+CIPSEND=".len(), 1)
    } else if upper.starts_with("AT+QISEND=") {
        ("AT+QISEND=".len(), 2)
    } else {
        return None;
    };
    let args = trimmed[args_at..].trim_end();
    let parts: Vec<&str> = args.split(',').collect();
    if parts.len() < min_args || parts.len() > 2 {
        return None;
    }
    let number = parts[parts.len() - 1];
    if number.is_empty() || number.len() > 6 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if parts.len() == 2 && !parts[0].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let byte_offset = lead + args_at + args.len() - number.len();
    Some(Announced {
        len: number.parse().ok()?,
        offset: line[..byte_offset].chars().count(),
    })
}

/// "AT+CIPSEND=117 announces 117 bytes but the write at line 14 carries 118; byte 118 (0x63)
/// would be cut".
fn mismatch(command: &str, announced: usize, write_line: usize, bytes: &[u8]) -> String {
    let carried = bytes.len();
    let unit = if announced == 1 { "byte" } else { "bytes" };
    let head = format!(
        "{} announces {announced} {unit} but the write at line {write_line} carries {carried}",
        command.trim()
    );
    if carried > announced {
        let first = bytes[announced];
        let extra = carried - announced;
        if extra == 1 {
            format!("{head}; byte {carried} (0x{first:02X}) would be cut")
        } else {
            format!(
                "{head}; bytes {} to {carried} (from 0x{first:02X}) would be cut",
                announced + 1
            )
        }
    } else {
        let missing = announced - carried;
        let which = if missing == 1 {
            format!("byte {announced} is missing: the module would wait for it")
        } else {
            format!(
                "bytes {} to {announced} are missing: the module would wait for them",
                carried + 1
            )
        };
        format!("{head}; {which} until the step times out")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_announced_length_and_where_it_is_written() {
        let at = |line: &str| announced_len(line).map(|a| (a.len, a.offset));
        assert_eq!(at("AT+CIPSEND=117"), Some((117, 11)));
        assert_eq!(at("AT+CIPSEND=1,118"), Some((118, 13)));
        assert_eq!(at("at+cipsend=4"), Some((4, 11)));
        assert_eq!(at("AT+QISEND=0,20"), Some((20, 12)));
        assert_eq!(at("AT+QISEND=0"), None, "ends with Ctrl-Z, no length");
        assert_eq!(at("AT+CIPSEND"), None, "transparent mode");
        assert_eq!(at("AT+CIPSEND=x"), None);
        assert_eq!(at("AT+CIPSEND=1,2,3"), None);
        assert_eq!(at("AT+CIPSTART=0"), None);
    }

    #[test]
    fn names_both_lengths_and_the_byte_concerned() {
        let bytes: Vec<u8> = (0..118).map(|i| if i == 117 { 0x63 } else { 0 }).collect();
        assert_eq!(
            mismatch("AT+CIPSEND=117", 117, 14, &bytes),
            "AT+CIPSEND=117 announces 117 bytes but the write at line 14 carries 118; \
             byte 118 (0x63) would be cut"
        );
        assert_eq!(
            mismatch("AT+CIPSEND=4", 4, 9, &[1, 2]),
            "AT+CIPSEND=4 announces 4 bytes but the write at line 9 carries 2; bytes 3 to 4 \
             are missing: the module would wait for them until the step times out"
        );
        assert_eq!(
            mismatch("AT+CIPSEND=3", 3, 9, &[1, 2]),
            "AT+CIPSEND=3 announces 3 bytes but the write at line 9 carries 2; byte 3 is \
             missing: the module would wait for it until the step times out"
        );
        assert_eq!(
            mismatch("AT+CIPSEND=1", 1, 9, &[1, 2, 0xAB]),
            "AT+CIPSEND=1 announces 1 byte but the write at line 9 carries 3; bytes 2 to 3 \
             (from 0x02) would be cut"
        );
    }
}
