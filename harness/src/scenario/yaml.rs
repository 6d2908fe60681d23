//! The YAML tree of a scenario file with a position on every node ([`Node`]).
//!
//! serde_yaml 0.9 keeps no positions in its `Value`, and stops at the first error; the
//! scenario loader needs both the exact place of every problem and every problem at once. So
//! the file is read once into this tree (from yaml-rust2's event parser, which marks every
//! event), and [`super::de`] deserializes the raw scenario structs from it.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::location::{Location, Mark, ScalarStyle, Source};

/// One YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub mark: Mark,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    /// Entries in file order; duplicate keys were reported and dropped.
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scalar {
    pub value: String,
    pub style: ScalarStyle,
    /// Tagged `!!str`: a string whatever it looks like.
    pub forced_str: bool,
    /// Nothing was written (`key:` with no value).
    pub empty: bool,
}

impl Scalar {
    /// Plain `~`, `null`, or nothing at all: YAML's null.
    pub fn is_null(&self) -> bool {
        self.empty
            || (self.style == ScalarStyle::Plain
                && !self.forced_str
                && matches!(self.value.as_str(), "~" | "null" | "Null" | "NULL"))
    }

    /// Plain `true`/`false` in the spellings YAML 1.2's core schema allows.
    pub fn as_bool(&self) -> Option<bool> {
        if self.style != ScalarStyle::Plain || self.forced_str {
            return None;
        }
        match self.value.as_str() {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        }
    }

    /// A plain scalar read as a number, the way YAML's core schema resolves it.
    pub fn as_number(&self) -> Option<Number> {
        if self.style != ScalarStyle::Plain || self.forced_str {
            return None;
        }
        let v = self.value.as_str();
        let unsigned = v.strip_prefix('+').unwrap_or(v);
        if let Some(hex) = unsigned.strip_prefix("0x") {
            return u64::from_str_radix(hex, 16).ok().map(Number::U);
        }
        if let Some(oct) = unsigned.strip_prefix("0o") {
            return u64::from_str_radix(oct, 8).ok().map(Number::U);
        }
        if !v.is_empty()
            && v.trim_start_matches(['-', '+'])
                .chars()
                .all(|c| c.is_ascii_digit())
        {
            if let Ok(u) = unsigned.parse::<u64>() {
                return Some(Number::U(u));
            }
            return v.parse::<i64>().ok().map(Number::I);
        }
        match v {
            ".inf" | ".Inf" | ".INF" | "+.inf" => return Some(Number::F(f64::INFINITY)),
            "-.inf" | "-.Inf" | "-.INF" => return Some(Number::F(f64::NEG_INFINITY)),
            ".nan" | ".NaN" | ".NAN" => return Some(Number::F(f64::NAN)),
            _ => {}
        }
        let looks_numeric = v
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
            && v.chars().any(|c| c.is_ascii_digit());
        if looks_numeric {
            return v.parse::<f64>().ok().map(Number::F);
        }
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    U(u64),
    I(i64),
    F(f64),
}

impl Node {
    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.scalar().is_some_and(|s| s.value == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A problem in the YAML itself, before any scenario meaning is given to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlProblem {
    pub location: Location,
    pub message: String,
}

/// Reads the one YAML document of a scenario file. `Ok` carries the tree and the problems
/// that did not stop reading it (duplicate keys); `Err` a syntax error, which does.
pub(crate) fn parse(text: &str, source: &Source) -> Result<(Node, Vec<YamlProblem>), YamlProblem> {
    let mut builder = Builder {
        source,
        stack: Vec::new(),
        anchors: Vec::new(),
        root: None,
        documents: 0,
        problems: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        return Err(YamlProblem {
            location: location_of(e.marker()),
            message: format!("read YAML: {}", e.info()),
        });
    }
    match builder.root {
        Some(root) => Ok((root, builder.problems)),
        None => Err(YamlProblem {
            location: Location::new(1, 1),
            message: "read the scenario: the file holds no YAML document; expected a mapping \
                      with `name`, `device` and `steps`"
                .into(),
        }),
    }
}

fn location_of(m: &Marker) -> Location {
    // yaml-rust2 counts lines from 1 and columns from 0.
    Location::new(m.line(), m.col() + 1)
}

enum Frame {
    Seq {
        mark: Mark,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        mark: Mark,
        flow: bool,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

struct Builder<'s> {
    source: &'s Source,
    stack: Vec<Frame>,
    /// Anchored nodes by anchor id, for aliases.
    anchors: Vec<(usize, Node)>,
    root: Option<Node>,
    documents: usize,
    problems: Vec<YamlProblem>,
}

impl Builder<'_> {
    fn mark(&self, m: &Marker) -> Mark {
        Mark {
            location: location_of(m),
            index: m.index(),
        }
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                mark,
                flow,
                entries,
                key,
                ..
            }) => match key.take() {
                None => {
                    // A block mapping's own event points past its first key; the first key is
                    // where a reader sees the mapping start.
                    if entries.is_empty() && !*flow {
                        *mark = node.mark;
                    }
                    *key = Some(node);
                }
                Some(k) => {
                    let node = match node.scalar() {
                        // `key:` with nothing after it: point at the key, not the next line.
                        Some(s) if s.empty => Node {
                            mark: k.mark,
                            ..node
                        },
                        _ => node,
                    };
                    let duplicate = entries
                        .iter()
                        .find(|(old, _)| old.kind == k.kind && k.scalar().is_some())
                        .map(|(old, _)| old.mark.location);
                    match duplicate {
                        Some(first) => self.problems.push(YamlProblem {
                            location: k.mark.location,
                            message: format!(
                                "read the mapping: key `{}` appears twice (first at line {}); \
                                 remove one",
                                k.scalar().map(|s| s.value.as_str()).unwrap_or(""),
                                first.line
                            ),
                        }),
                        None => entries.push((k, node)),
                    }
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, marker: Marker) {
        let mark = self.mark(&marker);
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents == 2 {
                    self.problems.push(YamlProblem {
                        location: mark.location,
                        message: "read the scenario: a scenario file holds one YAML document; \
                                  put the next scenario in a file of its own"
                            .into(),
                    });
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let style = match style {
                    TScalarStyle::Plain => ScalarStyle::Plain,
                    TScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
                    TScalarStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
                    TScalarStyle::Literal => ScalarStyle::Literal,
                    TScalarStyle::Folded => ScalarStyle::Folded,
                };
                // yaml-rust2 reports an absent value as a plain `~` placed at the next token.
                let empty = style == ScalarStyle::Plain
                    && value == "~"
                    && self.source.char_at(mark.index) != Some('~');
                let forced_str = tag.is_some_and(|t| t.suffix == "str");
                let value = if empty { String::new() } else { value };
                let node = Node {
                    mark,
                    kind: NodeKind::Scalar(Scalar {
                        value,
                        style,
                        forced_str,
                        empty,
                    }),
                };
                if self.documents <= 1 {
                    self.finish(node, anchor);
                }
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq {
                mark,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                mark,
                flow: self.source.char_at(mark.index) == Some('{'),
                anchor,
                entries: Vec::new(),
                key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq {
                        mark,
                        anchor,
                        items,
                    }) => (
                        Node {
                            mark,
                            kind: NodeKind::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        mark,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            mark,
                            kind: NodeKind::Map(entries),
                        },
                        anchor,
                    ),
                    None => return,
                };
                if self.documents <= 1 {
                    self.finish(node, anchor);
                }
            }
            Event::Alias(id) => {
                let found = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone());
                if let Some(node) = found {
                    if self.documents <= 1 {
                        self.finish(node, 0);
                    }
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Node {
        parse(text, &Source::new(text)).unwrap().0
    }

    fn at(node: &Node) -> (usize, usize) {
        (node.mark.location.line, node.mark.location.column)
    }

    #[test]
    fn every_node_knows_where_it_starts() {
        let root = tree("name: x\nsteps:\n  - send: \"AT\"\n    expect: [CONNECT, OK]\n");
        assert_eq!(at(&root), (1, 1));
        let steps = root.get("steps").unwrap();
        assert_eq!(at(steps), (3, 3));
        let NodeKind::Seq(items) = &steps.kind else {
            panic!("steps is a sequence")
        };
        assert_eq!(at(&items[0]), (3, 5));
        assert_eq!(at(items[0].get("send").unwrap()), (3, 11));
        let expect = items[0].get("expect").unwrap();
        assert_eq!(at(expect), (4, 13));
        let NodeKind::Seq(words) = &expect.kind else {
            panic!("expect is a sequence")
        };
        assert_eq!(at(&words[1]), (4, 23));
    }

    #[test]
    fn an_empty_value_points_at_its_key() {
        let root = tree("a: 1\nsend:\n");
        let v = root.get("send").unwrap();
        assert!(v.scalar().unwrap().is_null());
        assert_eq!(at(v), (2, 1));
    }

    #[test]
    fn flow_mappings_start_at_their_brace() {
        let root = tree("- {mqtt: {pingreq: }}\n");
        let NodeKind::Seq(items) = &root.kind else {
            panic!()
        };
        assert_eq!(at(&items[0]), (1, 3));
        assert_eq!(at(items[0].get("mqtt").unwrap()), (1, 10));
    }

    #[test]
    fn duplicate_keys_are_reported_and_the_first_kept() {
        let text = "a: 1\nb: 2\na: 3\n";
        let (root, problems) = parse(text, &Source::new(text)).unwrap();
        assert_eq!(root.get("a").unwrap().scalar().unwrap().value, "1");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].location, Location::new(3, 1));
        assert!(problems[0]
            .message
            .contains("key `a` appears twice (first at line 1)"));
    }

    #[test]
    fn syntax_errors_carry_the_parser_position() {
        let text = "name: x\nsteps:\n  - send: \"AT\n";
        let err = parse(text, &Source::new(text)).unwrap_err();
        // yaml-rust2 places an unterminated quote's error at the quote.
        assert_eq!(err.location, Location::new(3, 11));
        assert!(err.message.starts_with("read YAML: "), "{}", err.message);
    }

    #[test]
    fn aliases_copy_their_anchor() {
        let root = tree("a: &ok [CONNECT, OK]\nb: *ok\n");
        assert_eq!(root.get("a").unwrap().kind, root.get("b").unwrap().kind);
    }

    #[test]
    fn plain_scalars_resolve_like_yaml_core() {
        let s = |v: &str| Scalar {
            value: v.into(),
            style: ScalarStyle::Plain,
            forced_str: false,
            empty: false,
        };
        assert_eq!(s("10").as_number(), Some(Number::U(10)));
        assert_eq!(s("-3").as_number(), Some(Number::I(-3)));
        assert_eq!(s("0x1F").as_number(), Some(Number::U(31)));
        assert_eq!(s("1.5").as_number(), Some(Number::F(1.5)));
        assert_eq!(s("2s").as_number(), None);
        assert_eq!(s("10 74").as_number(), None);
        assert_eq!(s("True").as_bool(), Some(true));
        assert!(s("~").is_null());
    }
}
