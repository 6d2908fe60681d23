//! What the matchers of the format *mean*, as pure functions the executor calls: searching
//! serial text ([`TextMatch`]), comparing payloads ([`PayloadMatch::check`]) and the JSON
//! subset rule ([`json_subset`]). Kept beside the format so its documentation and its
//! behaviour are tested together.

use serde_json::Value;

use super::model::{Matcher, PayloadMatch};
use super::template::TemplateError;
use crate::mqtt::hex::to_hex;

/// A [`Matcher`] with its templates filled in, ready to search serial text.
#[derive(Debug, Clone)]
pub enum TextMatch {
    Contains(String),
    Line(String),
    Regex(regex::Regex),
    InOrder(Vec<TextMatch>),
    AllOf(Vec<TextMatch>),
    AnyOf(Vec<TextMatch>),
}

impl Matcher {
    /// Fills in the templates; do it once when the step starts.
    pub fn render(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<TextMatch, TemplateError> {
        let list = |ms: &[Matcher]| -> Result<Vec<TextMatch>, TemplateError> {
            ms.iter().map(|m| m.render(lookup)).collect()
        };
        Ok(match self {
            Matcher::Contains(t) => TextMatch::Contains(t.render(lookup)?),
            Matcher::Line(t) => TextMatch::Line(t.render(lookup)?),
            Matcher::Regex(p) => TextMatch::Regex(p.0.clone()),
            Matcher::InOrder(ms) => TextMatch::InOrder(list(ms)?),
            Matcher::AllOf(ms) => TextMatch::AllOf(list(ms)?),
            Matcher::AnyOf(ms) => TextMatch::AnyOf(list(ms)?),
        })
    }
}

impl TextMatch {
    /// Searches serial text (what arrived since the step started). Returns the byte offset
    /// just past the match, so the caller can drop what was consumed; `None` while it does
    /// not match yet. A `Line` only matches a line whose end (`\n`) has arrived.
    pub fn find(&self, text: &str) -> Option<usize> {
        self.find_from(text, 0)
    }

    /// Searches only the text from `start` on, for `expect_not`'s window: what lies before
    /// `start` arrived earlier and is there for context alone (a regex's `^` looks at it). A
    /// `Line` needs its whole line inside the window, so a line that began before it (the
    /// `OK` of `SEND OK` whose `SEND ` came earlier) is not the line `OK`.
    pub fn find_after(&self, text: &str, start: usize) -> Option<usize> {
        self.find_in(text, start, true)
    }

    fn find_from(&self, text: &str, start: usize) -> Option<usize> {
        self.find_in(text, start, false)
    }

    /// `whole_lines`: a `Line` skips the line `start` falls inside of, unless `start` begins
    /// it. Off for `expect`, where `start` is the read position and the text there is a line's
    /// start as far as the step can know.
    fn find_in(&self, text: &str, start: usize, whole_lines: bool) -> Option<usize> {
        let rest = text.get(start..)?;
        match self {
            TextMatch::Contains(s) => rest.find(s.as_str()).map(|i| start + i + s.len()),
            TextMatch::Line(s) => {
                let mid_line = whole_lines && start > 0 && !text[..start].ends_with('\n');
                let mut line_start = if mid_line {
                    start + rest.find('\n')? + 1
                } else {
                    start
                };
                while let Some(nl) = text[line_start..].find('\n') {
                    let end = line_start + nl;
                    let line = text[line_start..end].trim_end_matches('\r');
                    if line == s {
                        return Some(end + 1);
                    }
                    line_start = end + 1;
                }
                None
            }
            TextMatch::Regex(r) => r.find_at(text, start).map(|m| m.end()),
            // Only the first item starts at the window's edge; the rest follow a match.
            TextMatch::InOrder(ms) => ms.iter().enumerate().try_fold(start, |at, (i, m)| {
                m.find_in(text, at, whole_lines && i == 0)
            }),
            TextMatch::AllOf(ms) => ms
                .iter()
                .map(|m| m.find_in(text, start, whole_lines))
                .collect::<Option<Vec<usize>>>()
                .map(|ends| ends.into_iter().max().unwrap_or(start)),
            TextMatch::AnyOf(ms) => ms
                .iter()
                .filter_map(|m| m.find_in(text, start, whole_lines))
                .min(),
        }
    }
}

/// A field that did not match: what was expected and what was there, rendered for a
/// side-by-side report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {field} {expected}, got {actual}")]
pub struct Mismatch {
    pub field: String,
    pub expected: String,
    pub actual: String,
}

impl PayloadMatch {
    /// Checks a received payload. Text and bytes compare exactly; JSON by [`json_subset`].
    pub fn check(
        &self,
        payload: &[u8],
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Result<(), Mismatch>, TemplateError> {
        let actual_text = || String::from_utf8_lossy(payload).into_owned();
        Ok(match self {
            PayloadMatch::Text(t) => {
                let want = t.render(lookup)?;
                if want.as_bytes() == payload {
                    Ok(())
                } else {
                    Err(Mismatch {
                        field: "payload".into(),
                        expected: want,
                        actual: actual_text(),
                    })
                }
            }
            PayloadMatch::Bytes(b) => {
                if b == payload {
                    Ok(())
                } else {
                    Err(Mismatch {
                        field: "payload".into(),
                        expected: to_hex(b),
                        actual: to_hex(payload),
                    })
                }
            }
            PayloadMatch::JsonSubset(want) => match serde_json::from_slice::<Value>(payload) {
                Ok(got) => json_subset(want, &got),
                Err(e) => Err(Mismatch {
                    field: "payload".into(),
                    expected: format!("JSON holding {want}"),
                    actual: format!("{} (not JSON: {e})", actual_text()),
                }),
            },
        })
    }
}

/// Whether `actual` holds `expected`: every key of an expected object must be present with a
/// matching value (recursively; extra keys are fine); arrays must have the same length and
/// matching elements in order; numbers compare by value (1 equals 1.0); the rest exactly.
/// The error names the first path that differs, e.g. `payload.params.LightSwitch`.
pub fn json_subset(expected: &Value, actual: &Value) -> Result<(), Mismatch> {
    subset_at("payload", expected, actual)
}

fn subset_at(path: &str, expected: &Value, actual: &Value) -> Result<(), Mismatch> {
    let differ = || Mismatch {
        field: path.to_string(),
        expected: expected.to_string(),
        actual: actual.to_string(),
    };
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, w) in want {
                let p = format!("{path}.{key}");
                match got.get(key) {
                    Some(g) => subset_at(&p, w, g)?,
                    None => {
                        return Err(Mismatch {
                            field: p,
                            expected: w.to_string(),
                            actual: "nothing (the key is missing)".into(),
                        })
                    }
                }
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                return Err(differ());
            }
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                subset_at(&format!("{path}[{i}]"), w, g)?;
            }
            Ok(())
        }
        (Value::Number(w), Value::Number(g)) => {
            if w == g || w.as_f64().is_some_and(|w| g.as_f64() == Some(w)) {
                Ok(())
            } else {
                Err(differ())
            }
        }
        (w, g) if w == g => Ok(()),
        _ => Err(differ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(t: TextMatch, text: &str) -> Option<usize> {
        t.find(text)
    }

    #[test]
    fn contains_and_in_order_consume_up_to_the_match() {
        let text = "AT+CIPSTART=\"TCP\",\"x\",1883\r\nCONNECT\r\n\r\nOK\r\n";
        let c = TextMatch::Contains("OK".into());
        assert_eq!(m(c, text), Some(text.len() - 2));
        let seq = TextMatch::InOrder(vec![
            TextMatch::Contains("CONNECT".into()),
            TextMatch::Contains("OK".into()),
        ]);
        assert_eq!(seq.find(text), Some(text.len() - 2));
        let wrong_order = TextMatch::InOrder(vec![
            TextMatch::Contains("OK".into()),
            TextMatch::Contains("CONNECT".into()),
        ]);
        assert_eq!(wrong_order.find(text), None);
    }

    #[test]
    fn a_window_sees_only_what_follows_its_start() {
        // An unread reply's header came before the window opened; `expect_not: +IPD` once
        // failed at 0.000 s on it.
        let text = "\r\nSEND OK\r\n\r\n+IPD,4:";
        let start = text.len();
        let ipd = TextMatch::Contains("+IPD".into());
        assert_eq!(ipd.find_after(text, start), None);
        let later = format!("{text}\r\n+IPD,2:");
        assert_eq!(ipd.find_after(&later, start), Some(later.len() - 3));
        // A line that began before the window is not a line of the window.
        let ok = TextMatch::Line("OK".into());
        assert_eq!(ok.find_after("SEND OK\r\n", 5), None);
        assert_eq!(ok.find_after("SEND OK\r\nOK\r\n", 5), Some(13));
        assert_eq!(ok.find_after("x\r\nOK\r\n", 3), Some(7), "at a line start");
        // A regex keeps its context: `^` does not match in the middle of an old line.
        let re = TextMatch::Regex(
            regex::RegexBuilder::new("^OK")
                .multi_line(true)
                .build()
                .unwrap(),
        );
        assert_eq!(re.find_after("SEND OK\r\n", 5), None);
        let any = TextMatch::AnyOf(vec![ok, ipd]);
        assert_eq!(any.find_after("SEND OK\r\n", 5), None);
    }

    #[test]
    fn a_line_must_be_whole_and_ended() {
        let line = TextMatch::Line("OK".into());
        assert_eq!(line.find("SEND OK\r\n"), None);
        assert_eq!(line.find("busy\r\nOK"), None, "not ended yet");
        assert_eq!(line.find("busy\r\nOK\r\n"), Some(10));
    }

    #[test]
    fn any_of_takes_the_earliest_and_all_of_needs_every_one() {
        let text = "ERROR\r\nOK\r\n";
        let any = TextMatch::AnyOf(vec![
            TextMatch::Contains("OK".into()),
            TextMatch::Contains("ERROR".into()),
        ]);
        assert_eq!(any.find(text), Some(5));
        let all = TextMatch::AllOf(vec![
            TextMatch::Contains("OK".into()),
            TextMatch::Contains("ERROR".into()),
        ]);
        assert_eq!(all.find(text), Some(9));
        let all_missing = TextMatch::AllOf(vec![
            TextMatch::Contains("OK".into()),
            TextMatch::Contains("FAIL".into()),
        ]);
        assert_eq!(all_missing.find(text), None);
    }

    #[test]
    fn regex_is_multi_line() {
        let r = regex::RegexBuilder::new(r"^\+IPD,\d+:$")
            .multi_line(true)
            .build()
            .unwrap();
        assert_eq!(TextMatch::Regex(r).find("x\n+IPD,4:\n"), Some(9));
    }

    #[test]
    fn json_subset_checks_given_keys_only() {
        let got = json!({"method": "thing.service.property.set", "id": "1",
                         "params": {"LightSwitch": 1, "Temp": 25.0}, "version": "1.0.0"});
        assert_eq!(
            json_subset(&json!({"params": {"LightSwitch": 1}}), &got),
            Ok(())
        );
        assert_eq!(json_subset(&json!({"params": {"Temp": 25}}), &got), Ok(()));
        let e = json_subset(&json!({"params": {"LightSwitch": 0}}), &got).unwrap_err();
        assert_eq!(e.field, "payload.params.LightSwitch");
        assert_eq!((e.expected.as_str(), e.actual.as_str()), ("0", "1"));
        let e = json_subset(&json!({"code": 200}), &got).unwrap_err();
        assert_eq!(e.actual, "nothing (the key is missing)");
    }

    #[test]
    fn json_arrays_compare_whole() {
        let got = json!({"a": [1, 2, 3]});
        assert!(json_subset(&json!({"a": [1, 2, 3]}), &got).is_ok());
        assert!(json_subset(&json!({"a": [1, 2]}), &got).is_err());
    }

    #[test]
    fn payload_bytes_mismatch_shows_hex() {
        let want = PayloadMatch::Bytes(vec![0x20, 0x02, 0x00, 0x00]);
        let e = want
            .check(&[0x20, 0x02, 0x00, 0x04], &|_| None)
            .unwrap()
            .unwrap_err();
        assert_eq!(
            (e.expected.as_str(), e.actual.as_str()),
            ("20 02 00 00", "20 02 00 04")
        );
    }
}
