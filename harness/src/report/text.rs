//! Small renderings every report shares: seed-style hex, escaped serial text, durations, and the
//! file-name slug of a scenario.

use std::fmt::Write as _;
use std::time::Duration;

/// Bytes as the seeds print them: upper case, space separated (`20 02 00 00`).
pub use crate::mqtt::to_hex as hex;

/// Reads back hex a report wrote, with the codec's reader; `None` if it is not hex, so callers
/// can fall back to showing text. Empty text is zero bytes (nothing arrived), not an error.
pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    if text.trim().is_empty() {
        return Some(Vec::new());
    }
    crate::mqtt::parse_hex(text).ok()
}

/// Bytes as readable text: printable ASCII as is, `\r` `\n` `\t` `\\` escaped, anything else
/// (NUL included: `\0` before a digit would read as octal) as `\xNN`, so a control character
/// never reaches a terminal or a report raw.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7E => s.push(b as char),
            other => {
                let _ = write!(s, "\\x{other:02X}");
            }
        }
    }
    s
}

/// A duration for people: `0.120s`, `12.345s`, `2m03.500s`.
pub fn secs(d: Duration) -> String {
    let total = d.as_secs_f64();
    if total < 60.0 {
        format!("{total:.3}s")
    } else {
        let m = d.as_secs() / 60;
        let rest = total - (m * 60) as f64;
        format!("{m}m{rest:06.3}s")
    }
}

/// A scenario name as a file name: lower case letters, digits and `-`, at most 64 characters.
pub fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    let s: String = s.trim_matches('-').chars().take(64).collect();
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() {
        "scenario".to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn hex_is_seed_style() {
        assert_eq!(hex(&[0x20, 0x02, 0x00, 0x04]), "20 02 00 04");
        assert_eq!(parse_hex("20 02 00 04"), Some(vec![0x20, 2, 0, 4]));
        assert_eq!(parse_hex("2002"), Some(vec![0x20, 2]));
        assert_eq!(parse_hex("OK"), None);
        assert_eq!(parse_hex("2"), None);
    }

    #[test]
    fn escape_shows_control_characters() {
        assert_eq!(
            escape(b"\r\n+IPD,4: \x02\x00\x00\r\n"),
            "\\r\\n+IPD,4: \\x02\\x00\\x00\\r\\n"
        );
    }

    #[rstest]
    #[case(Duration::from_millis(120), "0.120s")]
    #[case(Duration::from_millis(12_345), "12.345s")]
    #[case(Duration::from_millis(123_500), "2m03.500s")]
    fn durations(#[case] d: Duration, #[case] want: &str) {
        assert_eq!(secs(d), want);
    }

    #[rstest]
    #[case("Connect OK (Aliyun)", "connect-ok-aliyun")]
    #[case("连接", "scenario")]
    #[case("--a__b--", "a-b")]
    fn slugs(#[case] name: &str, #[case] want: &str) {
        assert_eq!(slug(name), want);
    }
}
