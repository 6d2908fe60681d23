//! Expected against actual, side by side: [`failure_lines`] renders a [`Failure`] as lines for the
//! console and the JUnit failure text: a byte-aligned hex diff, a line-aligned field diff, or
//! escaped serial text, then the last serial bytes seen.
//!
//! Pure text, no colour: each [`Line`] carries a [`Tone`] the console may colour.

use crate::events::{Failure, FailureKind, SerialWindow};

use super::text::{escape, hex, parse_hex};

/// Bytes per row of the hex diff.
const ROW: usize = 16;
/// Rows of hex diff shown before the rest is summarised.
const MAX_ROWS: usize = 64;
/// Differing bytes spelled out one by one (`byte 3: expected 00, got 04`).
const MAX_SPELLED: usize = 8;

/// How a line should stand out, if the writer can show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Expected,
    Actual,
    /// `^^` markers and lines that differ.
    Marker,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub tone: Tone,
    pub text: String,
}

fn line(tone: Tone, text: impl Into<String>) -> Line {
    Line {
        tone,
        text: text.into(),
    }
}

/// The failure, ready to print: message, the diff its kind calls for, the last serial bytes.
/// The caller redacts the failure first.
pub fn failure_lines(f: &Failure) -> Vec<Line> {
    let mut out = vec![line(Tone::Plain, f.message.clone())];
    match f.kind {
        FailureKind::Bytes => match (parse_hex(&f.expected), parse_hex(&f.actual)) {
            (Some(e), Some(a)) => bytes_diff(&e, &a, &mut out),
            (Some(_), None) | (None, Some(_)) | (None, None) => text_diff(f, &mut out),
        },
        FailureKind::Fields => fields_diff(&f.expected, &f.actual, &mut out),
        FailureKind::Text => text_diff(f, &mut out),
        FailureKind::Timeout => {
            out.push(line(
                Tone::Expected,
                format!("waited for: {}", shown(&f.expected)),
            ));
            out.push(line(
                Tone::Actual,
                format!("arrived:    {}", shown(&f.actual)),
            ));
        }
        FailureKind::Other => {
            if !f.expected.is_empty() || !f.actual.is_empty() {
                text_diff(f, &mut out);
            }
        }
    }
    let shown = f.last_serial.len();
    let heading = match f.last_serial_window {
        SerialWindow::SinceStep { total } if total > shown as u64 => {
            format!("last serial bytes since the step started (the last {shown} of {total}):")
        }
        SerialWindow::SinceStep { .. } if shown == 0 => {
            "serial bytes since the step started: none".to_owned()
        }
        SerialWindow::SinceStep { .. } => {
            format!("serial bytes since the step started ({shown}):")
        }
        SerialWindow::Sync => format!("last serial bytes of the reset and sync ({shown}):"),
    };
    if f.last_serial.is_empty() {
        // A step that failed with the line silent says so; a set-up failure has no window.
        if matches!(f.last_serial_window, SerialWindow::SinceStep { .. }) {
            out.push(line(Tone::Plain, heading));
        }
    } else {
        out.push(line(Tone::Plain, heading));
        out.push(line(
            Tone::Plain,
            format!("  text: {}", escape(&f.last_serial)),
        ));
        for (i, chunk) in f.last_serial.chunks(2 * ROW).enumerate() {
            let head = if i == 0 { "  hex:  " } else { "        " };
            out.push(line(Tone::Plain, format!("{head}{}", hex(chunk))));
        }
    }
    out
}

fn shown(s: &str) -> String {
    if s.is_empty() {
        "(nothing)".to_string()
    } else {
        escape(s.as_bytes())
    }
}

fn cell(b: Option<&u8>) -> String {
    b.map_or("--".to_string(), |b| format!("{b:02X}"))
}

/// Rows of 16 bytes, expected above actual, `^^` under each byte that differs.
fn bytes_diff(e: &[u8], a: &[u8], out: &mut Vec<Line>) {
    if a.is_empty() {
        out.push(line(Tone::Expected, format!("expected  {}", hex(e))));
        out.push(line(Tone::Actual, "actual    (nothing arrived)"));
        return;
    }
    let n = e.len().max(a.len());
    let differs: Vec<usize> = (0..n).filter(|&i| e.get(i) != a.get(i)).collect();
    out.push(line(
        Tone::Plain,
        format!(
            "bytes: expected {} byte(s), got {}; {} differ (^^)",
            e.len(),
            a.len(),
            differs.len()
        ),
    ));
    let rows = n.div_ceil(ROW);
    for r in 0..rows.min(MAX_ROWS) {
        let range = r * ROW..((r + 1) * ROW).min(n);
        let exp: Vec<String> = range.clone().map(|i| cell(e.get(i))).collect();
        let act: Vec<String> = range.clone().map(|i| cell(a.get(i))).collect();
        out.push(line(
            Tone::Expected,
            format!("{:04X}  expected  {}", r * ROW, exp.join(" ")),
        ));
        out.push(line(
            Tone::Actual,
            format!("      actual    {}", act.join(" ")),
        ));
        if range.clone().any(|i| e.get(i) != a.get(i)) {
            let marks: Vec<&str> = range
                .map(|i| if e.get(i) != a.get(i) { "^^" } else { "  " })
                .collect();
            out.push(line(
                Tone::Marker,
                format!("                {}", marks.join(" "))
                    .trim_end()
                    .to_string(),
            ));
        }
    }
    if rows > MAX_ROWS {
        out.push(line(
            Tone::Plain,
            format!("... {} more byte(s) not shown", n - MAX_ROWS * ROW),
        ));
    }
    for &i in differs.iter().take(MAX_SPELLED) {
        let text = match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) => format!("byte {i}: expected {x:02X}, got {y:02X}"),
            (Some(x), None) => format!("byte {i}: expected {x:02X}, got nothing"),
            (None, Some(y)) => format!("byte {i}: expected nothing, got {y:02X}"),
            (None, None) => continue,
        };
        out.push(line(Tone::Marker, text));
    }
    if differs.len() > MAX_SPELLED {
        out.push(line(
            Tone::Marker,
            format!(
                "... and {} more differing byte(s)",
                differs.len() - MAX_SPELLED
            ),
        ));
    }
}

/// Serial text, escaped, expected above actual, with a caret at the first difference.
fn text_diff(f: &Failure, out: &mut Vec<Line>) {
    let e = escape(f.expected.as_bytes());
    let a = escape(f.actual.as_bytes());
    out.push(line(
        Tone::Expected,
        format!("expected: {}", shown(&f.expected)),
    ));
    out.push(line(
        Tone::Actual,
        format!("actual:   {}", shown(&f.actual)),
    ));
    if !f.actual.is_empty() && e != a {
        let at = e.chars().zip(a.chars()).take_while(|(x, y)| x == y).count();
        out.push(line(
            Tone::Marker,
            format!(
                "          {}^ first difference at character {at}",
                " ".repeat(at)
            ),
        ));
    }
}

/// `field: value` lines aligned by a longest-common-subsequence match; `!` marks a line that
/// differs, `-` one missing from actual, `+` one only in actual.
fn fields_diff(expected: &str, actual: &str, out: &mut Vec<Line>) {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let pairs = align(&e, &a);
    let width = e
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(8, 48);
    out.push(line(
        Tone::Plain,
        format!("  {:<width$} | actual", "expected"),
    ));
    for (x, y) in pairs {
        let (mark, tone) = match (x, y) {
            (Some(x), Some(y)) if x == y => (' ', Tone::Plain),
            (Some(_), Some(_)) => ('!', Tone::Marker),
            (Some(_), None) => ('-', Tone::Marker),
            (None, Some(_)) => ('+', Tone::Marker),
            (None, None) => continue,
        };
        let text = format!(
            "{mark} {:<width$} | {}",
            escape(x.unwrap_or("").as_bytes()),
            escape(y.unwrap_or("").as_bytes())
        );
        out.push(line(tone, text.trim_end().to_string()));
    }
}

/// Pairs lines of `e` and `a`: equal lines matched by LCS, the unequal runs between them paired
/// index by index.
fn align<'a>(e: &[&'a str], a: &[&'a str]) -> Vec<(Option<&'a str>, Option<&'a str>)> {
    let (n, m) = (e.len(), a.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if e[i] == a[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    let (mut run_e, mut run_a) = (Vec::new(), Vec::new());
    let flush = |out: &mut Vec<_>, re: &mut Vec<&'a str>, ra: &mut Vec<&'a str>| {
        for k in 0..re.len().max(ra.len()) {
            out.push((re.get(k).copied(), ra.get(k).copied()));
        }
        re.clear();
        ra.clear();
    };
    while i < n || j < m {
        if i < n && j < m && e[i] == a[j] {
            flush(&mut out, &mut run_e, &mut run_a);
            out.push((Some(e[i]), Some(a[j])));
            i += 1;
            j += 1;
        } else if j >= m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1]) {
            run_e.push(e[i]);
            i += 1;
        } else {
            run_a.push(a[j]);
            j += 1;
        }
    }
    flush(&mut out, &mut run_e, &mut run_a);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(kind: FailureKind, expected: &str, actual: &str) -> Failure {
        Failure {
            step: "receive: 20 02 00 00 (line 14)".into(),
            message: "expected CONNACK return code 0, got 4".into(),
            kind,
            expected: expected.into(),
            actual: actual.into(),
            last_serial: b"\r\n+IPD,4: \x02\x00\x04\r\n".to_vec(),
            last_serial_window: SerialWindow::SinceStep { total: 15 },
        }
    }

    fn texts(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.text.clone()).collect()
    }

    #[test]
    fn connack_refused_points_at_byte_3() {
        let lines = failure_lines(&failure(FailureKind::Bytes, "20 02 00 00", "20 02 00 04"));
        let t = texts(&lines);
        assert!(
            t.contains(&"0000  expected  20 02 00 00".to_string()),
            "{t:#?}"
        );
        assert!(
            t.contains(&"      actual    20 02 00 04".to_string()),
            "{t:#?}"
        );
        assert!(
            t.contains(&"                         ^^".to_string()),
            "{t:#?}"
        );
        assert!(
            t.contains(&"byte 3: expected 00, got 04".to_string()),
            "{t:#?}"
        );
        assert!(t.contains(&"  text: \\r\\n+IPD,4: \\x02\\x00\\x04\\r\\n".to_string()));
        assert!(t.contains(&"  hex:  0D 0A 2B 49 50 44 2C 34 3A 20 02 00 04 0D 0A".to_string()));
    }

    #[test]
    fn a_short_answer_shows_missing_bytes() {
        let t = texts(&failure_lines(&failure(
            FailureKind::Bytes,
            "90 03 00 0A 01",
            "90 03 00",
        )));
        assert!(
            t.contains(&"      actual    90 03 00 -- --".to_string()),
            "{t:#?}"
        );
        assert!(
            t.contains(&"byte 4: expected 01, got nothing".to_string()),
            "{t:#?}"
        );
    }

    #[test]
    fn fields_mark_the_line_that_differs() {
        let t = texts(&failure_lines(&failure(
            FailureKind::Fields,
            "type: CONNACK\nsession_present: 0\nreturn_code: 0",
            "type: CONNACK\nsession_present: 0\nreturn_code: 4",
        )));
        assert!(
            t.contains(&"  type: CONNACK      | type: CONNACK".to_string()),
            "{t:#?}"
        );
        assert!(
            t.contains(&"! return_code: 0     | return_code: 4".to_string()),
            "{t:#?}"
        );
    }

    #[test]
    fn fields_missing_and_extra_lines() {
        let t = texts(&failure_lines(&failure(
            FailureKind::Fields,
            "topic: a\nqos: 1\npacket_id: 10",
            "topic: a\npacket_id: 10\nretain: 1",
        )));
        assert!(t.contains(&"- qos: 1        |".to_string()), "{t:#?}");
        assert!(
            t.contains(&"+               | retain: 1".to_string()),
            "{t:#?}"
        );
    }

    #[test]
    fn text_is_escaped_with_a_caret() {
        let t = texts(&failure_lines(&failure(
            FailureKind::Text,
            "OK\r\n",
            "ERROR\r\n",
        )));
        assert!(t.contains(&"expected: OK\\r\\n".to_string()), "{t:#?}");
        assert!(t.contains(&"actual:   ERROR\\r\\n".to_string()), "{t:#?}");
        assert!(t.contains(&"          ^ first difference at character 0".to_string()));
    }

    #[test]
    fn nothing_arrived() {
        let t = texts(&failure_lines(&failure(
            FailureKind::Bytes,
            "20 02 00 00",
            "",
        )));
        assert!(
            t.contains(&"actual    (nothing arrived)".to_string()),
            "{t:#?}"
        );
    }
}
