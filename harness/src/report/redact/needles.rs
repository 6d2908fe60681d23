//! The matching under the [`super::Redactor`]: [`Needles`] (secret pieces and whole secrets,
//! grouped by length) mark the bytes to mask, and [`Public`] (identifiers the run knows to be
//! public) finds the spans a mere piece of a secret may not mask.

use std::collections::{HashMap, HashSet};

/// Hex spellings of `bytes` as reports print them: spaced upper and lower case (`6B 73`,
/// `6b 73`) and unspaced (`6B73`, `6b73`).
pub(super) fn hex_forms(bytes: &[u8]) -> [Vec<u8>; 4] {
    let upper: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
    let lower: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    [
        upper.join(" ").into_bytes(),
        lower.join(" ").into_bytes(),
        upper.concat().into_bytes(),
        lower.concat().into_bytes(),
    ]
}

/// Byte strings to look for, grouped by length so a scan hashes each window once per length.
/// Each knows whether it is a whole secret (always masked) or only a piece of one (masked
/// unless it lies inside a public identifier).
#[derive(Debug, Default)]
pub(super) struct Needles(HashMap<usize, HashMap<Vec<u8>, bool>>);

impl Needles {
    /// Adds `n`; `whole` says it is a secret in full, which no public identifier shields.
    pub(super) fn add(&mut self, n: Vec<u8>, whole: bool) {
        if n.is_empty() {
            return;
        }
        let entry = self.0.entry(n.len()).or_default().entry(n).or_insert(false);
        *entry |= whole;
    }

    /// Marks every byte of `hay` covered by a needle, except pieces lying entirely inside one
    /// of `public` (spans of public identifiers in `hay`).
    pub(super) fn mark(&self, hay: &[u8], marks: &mut [bool], public: &Spans) {
        for (&len, set) in &self.0 {
            if len > hay.len() {
                continue;
            }
            for i in 0..=hay.len() - len {
                if let Some(&whole) = set.get(&hay[i..i + len]) {
                    if whole || !public.covers(i, i + len) {
                        marks[i..i + len].iter_mut().for_each(|m| *m = true);
                    }
                }
            }
        }
    }
}

/// Where public identifiers occur in one haystack: half-open byte ranges.
#[derive(Debug, Default)]
pub(super) struct Spans(Vec<(usize, usize)>);

impl Spans {
    /// Whether `start..end` lies inside one public occurrence.
    pub(super) fn covers(&self, start: usize, end: usize) -> bool {
        self.0.iter().any(|&(s, e)| s <= start && end <= e)
    }
}

/// Public identifiers of the run (ProductKeys, DeviceNames, client ids, SSIDs, host names).
#[derive(Debug, Default)]
pub(super) struct Public {
    by_len: HashMap<usize, HashSet<Vec<u8>>>,
    longest: usize,
}

impl Public {
    pub(super) fn add(&mut self, n: Vec<u8>) {
        if n.is_empty() {
            return;
        }
        self.longest = self.longest.max(n.len());
        self.by_len.entry(n.len()).or_default().insert(n);
    }

    /// The longest identifier, so a stream keeps enough context to see one split by a chunk.
    pub(super) fn longest(&self) -> usize {
        self.longest
    }

    /// Every occurrence of an identifier in `hay`.
    pub(super) fn spans(&self, hay: &[u8]) -> Spans {
        let mut out = Vec::new();
        for (&len, set) in &self.by_len {
            if len > hay.len() {
                continue;
            }
            for i in 0..=hay.len() - len {
                if set.contains(&hay[i..i + len]) {
                    out.push((i, i + len));
                }
            }
        }
        Spans(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_forms_are_the_four_report_spellings() {
        let [a, b, c, d] = hex_forms(b"ks");
        assert_eq!(
            [a, b, c, d].map(|v| String::from_utf8(v).unwrap()),
            ["6B 73", "6b 73", "6B73", "6b73"].map(String::from)
        );
    }

    #[test]
    fn a_piece_inside_a_public_span_is_left_but_a_whole_secret_is_not() {
        let mut n = Needles::default();
        n.add(b"abc".to_vec(), false);
        n.add(b"abcd".to_vec(), true);
        let mut p = Public::default();
        p.add(b"xabcdx".to_vec());
        let hay = b"xabcdx abc";
        let spans = p.spans(hay);
        let mut marks = vec![false; hay.len()];
        n.mark(hay, &mut marks, &spans);
        let shown: String = hay
            .iter()
            .zip(&marks)
            .map(|(&b, &m)| if m { '*' } else { b as char })
            .collect();
        assert_eq!(shown, "x****x ***");
    }
}
