//! The matching under the [`super::Redactor`]: [`Needles`] (secret pieces and whole secrets,
//! grouped by length) mark the bytes to mask, and [`Public`] (identifiers the run knows to be
//! public) finds the spans a mere piece of a secret may not mask.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};

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

/// Byte strings to look for, all found in one pass by an Aho-Corasick automaton (built on the
/// first search, after every needle is in). Each knows whether it is a whole secret (always
/// masked) or only a piece of one (masked unless it lies inside a public identifier).
///
/// Was: a hash lookup of every window of the haystack for each needle length, O(lengths ×
/// haystack); with the hex pieces of every secret that is hundreds of lengths, and redacting a
/// parallel run's transcripts cost more CPU than the run itself.
#[derive(Debug, Default)]
pub(super) struct Needles {
    needles: Vec<Vec<u8>>,
    whole: Vec<bool>,
    index: HashMap<Vec<u8>, usize>,
    automaton: OnceLock<Option<AhoCorasick>>,
}

impl Needles {
    /// Adds `n`; `whole` says it is a secret in full, which no public identifier shields.
    pub(super) fn add(&mut self, n: Vec<u8>, whole: bool) {
        if n.is_empty() {
            return;
        }
        self.automaton = OnceLock::new();
        match self.index.get(&n) {
            Some(&i) => self.whole[i] |= whole,
            None => {
                self.index.insert(n.clone(), self.needles.len());
                self.needles.push(n);
                self.whole.push(whole);
            }
        }
    }

    /// Marks every byte of `hay` covered by a needle, except pieces lying entirely inside one
    /// of `public` (spans of public identifiers in `hay`).
    pub(super) fn mark(&self, hay: &[u8], marks: &mut [bool], public: &Spans) {
        if self.needles.is_empty() {
            return;
        }
        let Some(ac) = automaton(&self.automaton, &self.needles) else {
            // Fail closed: an automaton that could not be built must not let a secret out.
            marks.iter_mut().for_each(|m| *m = true);
            return;
        };
        for m in ac.find_overlapping_iter(hay) {
            let (i, end) = (m.start(), m.end());
            if self.whole[m.pattern().as_usize()] || !public.covers(i, end) {
                marks[i..end].iter_mut().for_each(|m| *m = true);
            }
        }
    }
}

/// The automaton over `patterns`, built once; `None` when there are none.
fn automaton<'a>(
    cell: &'a OnceLock<Option<AhoCorasick>>,
    patterns: &[Vec<u8>],
) -> Option<&'a AhoCorasick> {
    cell.get_or_init(|| {
        if patterns.is_empty() {
            return None;
        }
        // Standard semantics: overlapping search reports every occurrence of every pattern,
        // as the window-by-window scan did. Building fails only past the crate's size limits,
        // far beyond a run's few hundred identifiers and secret pieces.
        AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(patterns)
            .ok()
    })
    .as_ref()
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
    ids: Vec<Vec<u8>>,
    known: HashSet<Vec<u8>>,
    longest: usize,
    automaton: OnceLock<Option<AhoCorasick>>,
}

impl Public {
    pub(super) fn add(&mut self, n: Vec<u8>) {
        if n.is_empty() || !self.known.insert(n.clone()) {
            return;
        }
        self.automaton = OnceLock::new();
        self.longest = self.longest.max(n.len());
        self.ids.push(n);
    }

    /// The longest identifier, so a stream keeps enough context to see one split by a chunk.
    pub(super) fn longest(&self) -> usize {
        self.longest
    }

    /// Every occurrence of an identifier in `hay`.
    pub(super) fn spans(&self, hay: &[u8]) -> Spans {
        Spans(self.find(hay, |_, _| true))
    }

    /// The occurrences `keep(start, end)` accepts.
    fn find(&self, hay: &[u8], keep: impl Fn(usize, usize) -> bool) -> Vec<(usize, usize)> {
        let Some(ac) = automaton(&self.automaton, &self.ids) else {
            return Vec::new();
        };
        ac.find_overlapping_iter(hay)
            .map(|m| (m.start(), m.end()))
            .filter(|&(s, e)| keep(s, e))
            .collect()
    }
}

/// The hex of public identifiers cut by a hex dump's line break: a head of one (as hex) ending a
/// line, and a tail of one starting a line (after its offset label, `0040: `). A dump of 16
/// bytes a row cuts `Air601&ksf114514` as often as not, and the half left on each row would
/// otherwise be a mere piece of Air601's secret, which starts with `ksf114514`.
#[derive(Debug, Default)]
pub(super) struct CutHex {
    heads: Public,
    tails: Public,
}

impl CutHex {
    /// Adds the hex spellings of every head and tail of `id` at least `min` bytes long.
    pub(super) fn add(&mut self, id: &[u8], min: usize) {
        for k in min..id.len() {
            for form in hex_forms(&id[..k]) {
                self.heads.add(form);
            }
            for form in hex_forms(&id[id.len() - k..]) {
                self.tails.add(form);
            }
        }
    }

    /// Adds to `spans` the heads that end a line and the tails that start one in `hay`.
    pub(super) fn extend(&self, hay: &[u8], spans: &mut Spans) {
        let ends_line = |end: usize| {
            let rest = &hay[end..];
            let rest = &rest[rest.iter().take_while(|&&b| b == b' ').count()..];
            rest.is_empty() || rest[0] == b'\n' || rest[0] == b'\r'
        };
        let starts_line = |start: usize| {
            let before = &hay[..start];
            let n = before.iter().rev().take_while(|&&b| b == b' ').count();
            let before = &before[..before.len() - n];
            before.is_empty() || matches!(before[before.len() - 1], b'\n' | b':')
        };
        spans
            .0
            .extend(self.heads.find(hay, |_, end| ends_line(end)));
        spans
            .0
            .extend(self.tails.find(hay, |start, _| starts_line(start)));
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

    #[test]
    fn a_public_name_cut_by_a_hex_dumps_line_break_is_still_public() {
        let mut cut = CutHex::default();
        cut.add(b"factory-lab", 6);
        // `factor` ends row 0000, `y-lab` starts row 0010.
        let hay = b"0000: 22 66 61 63 74 6F 72\n      0010: 79 2D 6C 61 62 22";
        let mut spans = Spans::default();
        cut.extend(hay, &mut spans);
        let head = hay
            .windows(17)
            .position(|w| w == b"66 61 63 74 6F 72")
            .unwrap();
        assert!(spans.covers(head, head + 17), "{spans:?}");
        // In the middle of a line a head of the name is just bytes.
        let mut spans = Spans::default();
        cut.extend(b"66 61 63 74 6F 72 2D 32", &mut spans);
        assert!(!spans.covers(0, 17), "{spans:?}");
    }
}
