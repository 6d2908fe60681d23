//! The YAML tree of a scenario file with a position on every node ([`Node`]).
//!
//! serde_yaml 0.9 keeps no positions in its `Value`, and stops at the first error; the
//! scenario loader needs both the exact place of every problem and every problem at once. So
//! the file is read once into this tree (from yaml-rust2's event parser, which marks every
//! event), and [`super::de`] deserializes the raw scenario structs from it.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::limits::{MAX_DEPTH, MAX_NODES, MAX_TEXT_BYTES};
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
/// that did not stop reading it (duplicate keys); `Err` a syntax error, or a tree past the
/// [limits](super::limits) (aliases counted as what they copy), which does.
pub(crate) fn parse(text: &str, source: &Source) -> Result<(Node, Vec<YamlProblem>), YamlProblem> {
    let mut builder = Builder {
        source,
        stack: Vec::new(),
        anchors: Vec::new(),
        root: None,
        documents: 0,
        problems: Vec::new(),
        nodes: 0,
        text: 0,
        over: None,
    };
    // The events are pulled one by one rather than through `Parser::load`, which recurses once
    // per nesting level (a file of a million `[` overflows the stack) and asserts on its input;
    // pulling them also stops reading at the first limit passed.
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_token() {
            Ok((ev, marker)) => {
                let end = ev == Event::StreamEnd;
                builder.on_event(ev, marker);
                if end || builder.over.is_some() {
                    break;
                }
            }
            Err(e) => {
                return Err(YamlProblem {
                    location: location_of(e.marker()),
                    message: format!("read YAML: {}", e.info()),
                })
            }
        }
    }
    if let Some(over) = builder.over {
        return Err(over);
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
    /// Anchored nodes by anchor id, for aliases, with the values and text bytes each holds.
    anchors: Vec<(usize, Node, Size)>,
    root: Option<Node>,
    documents: usize,
    problems: Vec<YamlProblem>,
    /// Values and text bytes built so far, each alias counted as what it copies.
    nodes: usize,
    text: usize,
    /// A limit was passed: the rest of the file is skipped and this is the one error.
    over: Option<YamlProblem>,
}

/// How much a tree holds: values and scalar bytes.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    nodes: usize,
    text: usize,
}

fn size_of(node: &Node) -> Size {
    match &node.kind {
        NodeKind::Scalar(s) => Size {
            nodes: 1,
            text: s.value.len(),
        },
        NodeKind::Seq(items) => items.iter().fold(Size { nodes: 1, text: 0 }, |acc, n| {
            let s = size_of(n);
            Size {
                nodes: acc.nodes + s.nodes,
                text: acc.text + s.text,
            }
        }),
        NodeKind::Map(entries) => entries
            .iter()
            .fold(Size { nodes: 1, text: 0 }, |acc, (k, v)| {
                let (k, v) = (size_of(k), size_of(v));
                Size {
                    nodes: acc.nodes + k.nodes + v.nodes,
                    text: acc.text + k.text + v.text,
                }
            }),
    }
}

impl Builder<'_> {
    fn mark(&self, m: &Marker) -> Mark {
        Mark {
            location: location_of(m),
            index: m.index(),
        }
    }

    /// Counts `size` more of the tree; false (and the error noted) once past a limit.
    fn grow(&mut self, size: Size, mark: Mark, alias: bool) -> bool {
        self.nodes = self.nodes.saturating_add(size.nodes);
        self.text = self.text.saturating_add(size.text);
        if self.nodes <= MAX_NODES && self.text <= MAX_TEXT_BYTES {
            return true;
        }
        let what = if alias {
            "this alias expands the file"
        } else {
            "the file grows"
        };
        self.over = Some(YamlProblem {
            location: mark.location,
            message: format!(
                "read YAML: {what} past {MAX_NODES} values or {} MiB of text, aliases counted \
                 as what they copy (an alias bomb?); a scenario file may hold no more",
                MAX_TEXT_BYTES / (1024 * 1024)
            ),
        });
        false
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            let size = size_of(&node);
            self.anchors.push((anchor, node.clone(), size));
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

impl Builder<'_> {
    /// Counts a sequence or mapping about to open; false (and the error noted) when it would
    /// nest too deep or the tree is too big.
    fn open(&mut self, mark: Mark) -> bool {
        if self.stack.len() >= MAX_DEPTH {
            self.over = Some(YamlProblem {
                location: mark.location,
                message: format!(
                    "read YAML: sequences and mappings nest deeper than {MAX_DEPTH} levels here; \
                     a scenario needs far fewer"
                ),
            });
            return false;
        }
        self.grow(Size { nodes: 1, text: 0 }, mark, false)
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, marker: Marker) {
        if self.over.is_some() {
            return;
        }
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
                let size = Size {
                    nodes: 1,
                    text: value.len(),
                };
                if !self.grow(size, mark, false) {
                    return;
                }
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
            Event::SequenceStart(anchor, _) => {
                if self.open(mark) {
                    self.stack.push(Frame::Seq {
                        mark,
                        anchor,
                        items: Vec::new(),
                    });
                }
            }
            Event::MappingStart(anchor, _) => {
                if self.open(mark) {
                    self.stack.push(Frame::Map {
                        mark,
                        flow: self.source.char_at(mark.index) == Some('{'),
                        anchor,
                        entries: Vec::new(),
                        key: None,
                    });
                }
            }
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
                // The size is checked before the copy is made: copying first is what let a
                // few hundred bytes of aliases grow to gigabytes.
                let found = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _, _)| *a == id)
                    .map(|(_, _, size)| *size);
                if let Some(size) = found {
                    if self.documents <= 1 && self.grow(size, mark, true) {
                        let node = self
                            .anchors
                            .iter()
                            .rev()
                            .find(|(a, _, _)| *a == id)
                            .map(|(_, n, _)| n.clone());
                        if let Some(node) = node {
                            self.finish(node, 0);
                        }
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
    fn an_alias_bomb_is_refused_at_the_alias_that_passes_the_limit() {
        // Was: each alias copied its anchor's tree before anything was counted, so nine
        // levels of nine aliases grew to gigabytes.
        let mut text = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        for w in names.windows(2) {
            let refs = vec![format!("*{}", w[0]); 9].join(", ");
            text.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
        }
        let err = parse(&text, &Source::new(&text)).unwrap_err();
        assert!(
            err.message.contains("this alias expands the file"),
            "{}",
            err.message
        );
        assert!(
            err.location.line > 1 && err.location.line < 10,
            "{:?}",
            err.location
        );
    }

    #[test]
    fn nesting_past_the_limit_is_refused_not_a_stack_overflow() {
        // (yaml-rust2's scanner refuses far deeper nesting itself.)
        let text = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let err = parse(&text, &Source::new(&text)).unwrap_err();
        assert!(
            err.message.contains("nest deeper than 64"),
            "{}",
            err.message
        );
        assert_eq!(err.location, Location::new(1, 65));
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
