//! Hex as people write it in write-ups, terminals and scenario files ([`parse_hex`]), and hex as
//! athil prints it ([`to_hex`]: upper case, space separated, like the seeds: `20 02 00 00`).
//!
//! The parser is forgiving about layout (spaces or none, `0x` prefixes, commas, line breaks,
//! `#` comments) and strict about content: a placeholder such as `??` left in a hand-built
//! packet, a stray character or an odd digit count is an error that names where it is, because
//! a silently dropped byte is exactly the mistake the seeds' authors spent evenings finding.

use std::fmt;

/// What went wrong in a piece of hex text, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("read hex: {kind} at line {line}, column {column} (byte {byte_index} of the data)")]
pub struct HexError {
    /// Byte offset of the offending token in the text (0-based, usable to slice the text).
    pub offset: usize,
    /// 1-based line of the offending token.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// How many bytes had been read before the offending token: the index the token would
    /// have had in the data.
    pub byte_index: usize,
    pub kind: HexErrorKind,
}

/// The kinds of mistake [`parse_hex`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HexErrorKind {
    /// `??`, `XX`, `xx`: a value the author meant to fill in later.
    Placeholder(String),
    /// A token with an odd number of hex digits (`7`, `0x123`): half a byte is ambiguous.
    OddDigits(String),
    /// A character that is not a hex digit, separator or comment.
    NotHex { token: String, found: char },
    /// The text holds no bytes at all.
    Empty,
}

impl fmt::Display for HexErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HexErrorKind::Placeholder(t) => {
                write!(f, "`{t}` is a placeholder, not hex: fill in the real value")
            }
            HexErrorKind::OddDigits(t) => write!(
                f,
                "`{t}` has an odd number of hex digits: write every byte as two digits (07, not 7)"
            ),
            HexErrorKind::NotHex { token, found } => {
                write!(f, "`{token}` is not hex: {found:?} is not a hex digit")
            }
            HexErrorKind::Empty => f.write_str("no hex bytes found"),
        }
    }
}

/// Reads hex bytes from text written the way the seeds and tools write it: `10 70 00 04`,
/// `10700004`, `0x10, 0x70`, spread over lines, with `#` comments to the end of a line.
///
/// Every token (a run between whitespace or commas) must be an even number of hex digits,
/// optionally prefixed `0x`. The error names the token's position in the text and the index
/// of the byte it would have been.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, HexError> {
    let mut out = Vec::with_capacity(text.len() / 3 + 1);
    let mut line = 1;
    let mut line_start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c == '\n' {
            line += 1;
            line_start = start + 1;
            chars.next();
            continue;
        }
        if c.is_whitespace() || c == ',' {
            chars.next();
            continue;
        }
        if c == '#' {
            while chars.peek().is_some_and(|&(_, c)| c != '\n') {
                chars.next();
            }
            continue;
        }
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() || c == ',' || c == '#' {
                break;
            }
            end = i + c.len_utf8();
            chars.next();
        }
        let token = &text[start..end];
        let error = |kind| HexError {
            offset: start,
            line,
            column: text[line_start..start].chars().count() + 1,
            byte_index: out.len(),
            kind,
        };
        let digits = token
            .strip_prefix("0x")
            .or_else(|| token.strip_prefix("0X"))
            .unwrap_or(token);
        if is_placeholder(digits) {
            return Err(error(HexErrorKind::Placeholder(token.to_string())));
        }
        if let Some(found) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(error(HexErrorKind::NotHex {
                token: token.to_string(),
                found,
            }));
        }
        if digits.is_empty() || digits.len() % 2 != 0 {
            return Err(error(HexErrorKind::OddDigits(token.to_string())));
        }
        for pair in digits.as_bytes().chunks(2) {
            out.push(nibble(pair[0]) << 4 | nibble(pair[1]));
        }
    }
    if out.is_empty() {
        return Err(HexError {
            offset: 0,
            line: 1,
            column: 1,
            byte_index: 0,
            kind: HexErrorKind::Empty,
        });
    }
    Ok(out)
}

/// Upper-case, space-separated hex, as the seeds print bytes: `20 02 00 00`.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push(HEX_DIGITS[(b >> 4) as usize] as char);
        s.push(HEX_DIGITS[(b & 0x0F) as usize] as char);
    }
    s
}

const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

/// `??`, `XX`, `xx`, `…`: what hand-built packets in the seeds hold until the length is known.
fn is_placeholder(token: &str) -> bool {
    !token.is_empty()
        && (token.chars().all(|c| c == '?')
            || token.chars().all(|c| c == 'x' || c == 'X')
            || token.chars().all(|c| c == '.' || c == '…'))
}

fn nibble(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        // Only called on ASCII hex digits, so this arm is 'A'..='F'.
        _ => d - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::seed_spaced("20 02 00 00", &[0x20, 0x02, 0x00, 0x00])]
    #[case::no_spaces("20020000", &[0x20, 0x02, 0x00, 0x00])]
    #[case::lower_case("c0 00", &[0xC0, 0x00])]
    #[case::c_style("0x20, 0x02,0x00 ,0X00", &[0x20, 0x02, 0x00, 0x00])]
    #[case::across_lines("30 92 01 \n\n00 31\r\n2F", &[0x30, 0x92, 0x01, 0x00, 0x31, 0x2F])]
    #[case::comments("# CONNACK\n20 02 # fixed header\n00 00", &[0x20, 0x02, 0x00, 0x00])]
    #[case::prefixed_run("0x2002", &[0x20, 0x02])]
    fn reads_hex_as_written(#[case] text: &str, #[case] want: &[u8]) {
        assert_eq!(parse_hex(text).unwrap(), want);
    }

    #[test]
    fn placeholder_of_seed_000_names_its_position() {
        // Seed 000 writes the CONNECT fixed header as `10 ??` until the length is counted.
        let err = parse_hex("10 ?? 00 04 4D 51 54 54").unwrap_err();
        assert_eq!(err.kind, HexErrorKind::Placeholder("??".into()));
        assert_eq!(
            (err.offset, err.line, err.column, err.byte_index),
            (3, 1, 4, 1)
        );
        assert_eq!(
            err.to_string(),
            "read hex: `??` is a placeholder, not hex: fill in the real value at line 1, \
             column 4 (byte 1 of the data)"
        );
    }

    #[test]
    fn seed_003_truncated_example_is_not_hex() {
        // Seed 003 ends its QoS 1 PUBLISH example with `+CONTENT`.
        let err = parse_hex("32 29 00 1C 2F 61\n74 65 6D 70+CONTENT").unwrap_err();
        assert_eq!(
            err.kind,
            HexErrorKind::NotHex {
                token: "70+CONTENT".into(),
                found: '+'
            }
        );
        assert_eq!((err.line, err.column, err.byte_index), (2, 10, 9));
    }

    #[rstest]
    #[case("10 7 00", "7", 1)]
    #[case("0x123", "0x123", 0)]
    #[case("20 0x", "0x", 1)]
    fn odd_digit_counts_are_errors(#[case] text: &str, #[case] token: &str, #[case] at: usize) {
        let err = parse_hex(text).unwrap_err();
        assert_eq!(err.kind, HexErrorKind::OddDigits(token.into()));
        assert_eq!(err.byte_index, at);
    }

    #[test]
    fn column_counts_characters_not_bytes() {
        let err = parse_hex("# 报文\n20 02 00 0G").unwrap_err();
        assert_eq!((err.line, err.column), (2, 10));
        let err = parse_hex("“20” 02").unwrap_err();
        assert_eq!((err.offset, err.column), (0, 1));
    }

    #[rstest]
    #[case("")]
    #[case("  \n # only a comment\n")]
    fn empty_input_is_an_error(#[case] text: &str) {
        assert_eq!(parse_hex(text).unwrap_err().kind, HexErrorKind::Empty);
    }

    #[test]
    fn prints_like_the_seeds() {
        assert_eq!(to_hex(&[0x20, 0x02, 0x00, 0x0a]), "20 02 00 0A");
        assert_eq!(to_hex(&[]), "");
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(parse_hex(&to_hex(&bytes)).unwrap(), bytes);
    }
}
