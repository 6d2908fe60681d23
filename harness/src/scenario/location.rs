//! Positions in a scenario file: [`Location`] (line and column, both 1-based, columns counted in
//! characters) and [`Source`], which turns a character offset *inside a YAML string value* back
//! into the place in the file where that character was written.
//!
//! The second part is what lets a bad hex digit or an unknown `{{variable}}` be reported at its
//! own column even when the string was quoted, escaped or folded over several lines.

use std::fmt;

/// A place in a scenario file: 1-based line and column, columns counted in characters, as
/// editors and `just` show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    pub fn new(line: usize, column: usize) -> Location {
        Location { line, column }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// How a YAML scalar was written; decides how its value maps back onto the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// Where a YAML node starts: its location and its offset in characters from the file's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Mark {
    pub location: Location,
    pub index: usize,
}

/// The text of one scenario file, indexed by character for position arithmetic.
#[derive(Debug)]
pub(crate) struct Source {
    chars: Vec<char>,
    /// Character index at which each line starts; `line_starts[0] == 0`.
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(text: &str) -> Source {
        let chars: Vec<char> = text.chars().collect();
        let mut line_starts = vec![0];
        line_starts.extend(
            chars
                .iter()
                .enumerate()
                .filter(|(_, c)| **c == '\n')
                .map(|(i, _)| i + 1),
        );
        Source { chars, line_starts }
    }

    /// The location of the character at `index` (clamped to the end of the file).
    pub fn location(&self, index: usize) -> Location {
        let index = index.min(self.chars.len());
        let line = self.line_starts.partition_point(|&s| s <= index);
        Location::new(line, index - self.line_starts[line - 1] + 1)
    }

    pub fn char_at(&self, index: usize) -> Option<char> {
        self.chars.get(index).copied()
    }

    /// Where the character at `offset` (counted in characters) of a scalar's *value* was
    /// written in the file. The scalar starts at `start` and was written in `style`.
    ///
    /// The value is walked alongside the source: quotes, escapes, indentation and line folding
    /// are stepped over the way YAML produced the value. Should the walk ever lose its way
    /// (it should not for anything a parser accepted), the scalar's own start is returned, so
    /// an error is never placed somewhere unrelated.
    pub fn locate_in_scalar(
        &self,
        start: Mark,
        style: ScalarStyle,
        value: &str,
        offset: usize,
    ) -> Location {
        self.index_in_scalar(start.index, style, value, offset)
            .map(|i| self.location(i))
            .unwrap_or(start.location)
    }

    fn index_in_scalar(
        &self,
        start: usize,
        style: ScalarStyle,
        value: &str,
        offset: usize,
    ) -> Option<usize> {
        let src = &self.chars;
        let mut p = match style {
            ScalarStyle::Plain => start,
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => start + 1,
            // Block scalars begin on the line after their `|`/`>` header, when the mark
            // points at the header rather than at the content.
            ScalarStyle::Literal | ScalarStyle::Folded
                if matches!(src.get(start), Some('|' | '>')) =>
            {
                start + src[start..].iter().position(|&c| c == '\n')? + 1
            }
            ScalarStyle::Literal | ScalarStyle::Folded => start,
        };
        for (i, c) in value.chars().enumerate().take(offset + 1) {
            loop {
                let s = *src.get(p)?;
                if style == ScalarStyle::DoubleQuoted && s == '\\' {
                    let next = *src.get(p + 1)?;
                    if next == '\n' || next == '\r' {
                        // An escaped line break produces nothing; skip it and the indentation.
                        p += 2;
                        continue;
                    }
                    if i == offset {
                        return Some(p);
                    }
                    p += match next {
                        'x' => 4,
                        'u' => 6,
                        'U' => 10,
                        _ => 2,
                    };
                    break;
                }
                if style == ScalarStyle::SingleQuoted && s == '\'' {
                    // Inside single quotes a quote is written twice.
                    if i == offset {
                        return Some(p);
                    }
                    p += 2;
                    break;
                }
                let folded_break = (c == ' ' || c == '\n') && s == '\n';
                if s == c || folded_break {
                    if i == offset {
                        return Some(p);
                    }
                    p += 1;
                    break;
                }
                if s.is_whitespace() {
                    p += 1;
                    continue;
                }
                return None;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Finds where `value[offset]` was written, for a scalar starting at the first `^` of
    /// the document (the `^` is removed).
    fn locate(doc: &str, style: ScalarStyle, value: &str, offset: usize) -> Location {
        let start = doc.chars().position(|c| c == '^').unwrap();
        let text: String = doc.chars().filter(|&c| c != '^').collect();
        let source = Source::new(&text);
        let mark = Mark {
            location: source.location(start),
            index: start,
        };
        source.locate_in_scalar(mark, style, value, offset)
    }

    #[test]
    fn locations_count_characters_from_one() {
        let s = Source::new("ab\n报文x\n");
        assert_eq!(s.location(0), Location::new(1, 1));
        assert_eq!(s.location(3), Location::new(2, 1));
        assert_eq!(s.location(5), Location::new(2, 3));
        assert_eq!(s.location(99), Location::new(3, 1));
    }

    #[rstest]
    #[case::plain("w: ^10 7G", ScalarStyle::Plain, "10 7G", 4, (1, 8))]
    #[case::plain_folded("w: ^10 74\n   00 0G\n", ScalarStyle::Plain, "10 74 00 0G", 10, (2, 8))]
    #[case::single("w: ^'it''s {{x'", ScalarStyle::SingleQuoted, "it's {{x", 5, (1, 11))]
    #[case::double_escapes("w: ^\"a\\tb\\x41{{\"", ScalarStyle::DoubleQuoted, "a\tbA{{", 4, (1, 13))]
    #[case::double_escape_itself("w: ^\"a\\tb\"", ScalarStyle::DoubleQuoted, "a\tb", 1, (1, 6))]
    #[case::double_line_continuation("w: ^\"ab\\\n   cd\"", ScalarStyle::DoubleQuoted, "abcd", 2, (2, 4))]
    #[case::literal("w: ^|\n  AT\n  {{y}}\n", ScalarStyle::Literal, "AT\n{{y}}\n", 3, (3, 3))]
    #[case::literal_marked_at_content("w: |\n  ^AT\n  {{y}}\n", ScalarStyle::Literal, "AT\n{{y}}\n", 3, (3, 3))]
    #[case::folded("w: ^>\n  10\n  ZZ\n", ScalarStyle::Folded, "10 ZZ\n", 3, (3, 3))]
    #[case::wide_chars("w: ^温度 {{z}}", ScalarStyle::Plain, "温度 {{z}}", 3, (1, 7))]
    fn maps_value_offsets_back_to_the_file(
        #[case] doc: &str,
        #[case] style: ScalarStyle,
        #[case] value: &str,
        #[case] offset: usize,
        #[case] want: (usize, usize),
    ) {
        assert_eq!(
            locate(doc, style, value, offset),
            Location::new(want.0, want.1)
        );
    }

    #[test]
    fn a_walk_that_loses_its_way_falls_back_to_the_scalar_start() {
        assert_eq!(
            locate("w: ^abc", ScalarStyle::Plain, "xyz", 2),
            Location::new(1, 4)
        );
    }
}
