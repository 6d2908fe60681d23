//! A serde `Deserializer` over the positioned YAML tree ([`NodeDe`]), so the raw scenario
//! structs are plain serde types while every error still names its line and column.
//!
//! Two wrapper types cooperate with it:
//! - [`Sp<T>`] ("spanned") keeps where a value was written, so the validation stage can place
//!   an error at a character *inside* a string (a bad hex digit, an unknown `{{name}}`);
//! - [`Field<T>`] is where reading recovers: an error inside it is recorded and reading goes
//!   on with the next field or step, which is how one pass reports every problem of a file.
//!
//! (Both live in `wrap`.) Unknown keys of a struct are all reported (with a suggestion) before serde sees the
//! mapping, rather than only the first one.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Unexpected, Visitor};

use super::error::{did_you_mean, quoted_list, ErrorKind};
use super::location::{Location, Mark, ScalarStyle};
use super::wrap::{CheckedAccess, SpannedAccess, CHECKED, SPANNED};
pub(crate) use super::wrap::{Field, Sp};
use super::yaml::{Node, NodeKind, Number, Scalar};

/// An error met while reading the tree into raw structs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeError {
    pub kind: ErrorKind,
    pub message: String,
    pub location: Option<Location>,
    /// Already recorded by a [`Field`]; only carries control back up.
    pub(super) reported: bool,
}

impl DeError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> DeError {
        DeError {
            kind,
            message: message.into(),
            location: None,
            reported: false,
        }
    }

    pub(super) fn at(mut self, mark: Mark) -> DeError {
        self.location.get_or_insert(mark.location);
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> DeError {
        DeError::new(ErrorKind::Value, msg.to_string())
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> DeError {
        DeError::new(
            ErrorKind::Type,
            format!("expected {}, found {}", expected(exp), found(&unexp)),
        )
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> DeError {
        DeError::new(
            ErrorKind::Value,
            format!("expected {}, found {}", expected(exp), found(&unexp)),
        )
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> DeError {
        DeError::new(
            ErrorKind::UnknownKey,
            format!(
                "unknown `{variant}`; expected one of {}{}",
                quoted_list(expected),
                did_you_mean(variant, expected)
            ),
        )
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> DeError {
        DeError::new(ErrorKind::UnknownKey, unknown_key_message(field, expected))
    }

    fn missing_field(field: &'static str) -> DeError {
        DeError::new(ErrorKind::MissingKey, format!("missing `{field}`"))
    }
}

fn unknown_key_message(key: &str, expected: &[&str]) -> String {
    format!(
        "unknown key `{key}`; expected one of {}{}",
        quoted_list(expected),
        did_you_mean(key, expected)
    )
}

/// serde's names for what it wanted, in the words of a scenario author.
fn expected(exp: &dyn de::Expected) -> String {
    let e = exp.to_string();
    match e.as_str() {
        "u8" => "a number from 0 to 255".into(),
        "u16" => "a number from 0 to 65535".into(),
        "u32" | "u64" | "usize" | "i32" | "i64" => "a whole number".into(),
        "a boolean" => "`true` or `false`".into(),
        "a sequence" => "a list".into(),
        "a map" | "map" => "a mapping".into(),
        _ if e.starts_with("struct ") => "a mapping".into(),
        _ => e,
    }
}

fn found(unexp: &Unexpected<'_>) -> String {
    match unexp {
        Unexpected::Bool(b) => format!("`{b}`"),
        Unexpected::Unsigned(n) => format!("the number {n}"),
        Unexpected::Signed(n) => format!("the number {n}"),
        Unexpected::Float(n) => format!("the number {n}"),
        Unexpected::Str(s) => format!("the text `{s}`"),
        Unexpected::Unit => "nothing".into(),
        Unexpected::Seq => "a list".into(),
        Unexpected::Map => "a mapping".into(),
        other => other.to_string(),
    }
}

/// Errors recorded by [`Field`] values while reading goes on.
pub(crate) type Sink = RefCell<Vec<DeError>>;

/// Reads `T` from a node; errors (including those recovered inside) land in `sink`.
pub(crate) fn read<T: de::DeserializeOwned>(node: &Node, sink: &Sink) -> Option<T> {
    match T::deserialize(NodeDe { node, sink }) {
        Ok(v) => Some(v),
        Err(e) => {
            if !e.reported {
                sink.borrow_mut().push(e);
            }
            None
        }
    }
}

/// The deserializer over one node of the tree.
pub(crate) struct NodeDe<'a> {
    pub(super) node: &'a Node,
    pub(super) sink: &'a Sink,
}

impl<'a> NodeDe<'a> {
    fn unexpected(&self) -> Unexpected<'a> {
        match &self.node.kind {
            NodeKind::Scalar(s) if s.is_null() => Unexpected::Unit,
            NodeKind::Scalar(s) => match (s.as_bool(), s.as_number()) {
                (Some(b), _) => Unexpected::Bool(b),
                (_, Some(Number::U(n))) => Unexpected::Unsigned(n),
                (_, Some(Number::I(n))) => Unexpected::Signed(n),
                (_, Some(Number::F(n))) => Unexpected::Float(n),
                _ => Unexpected::Str(&s.value),
            },
            NodeKind::Seq(_) => Unexpected::Seq,
            NodeKind::Map(_) => Unexpected::Map,
        }
    }

    fn scalar(&self) -> Option<&'a Scalar> {
        match &self.node.kind {
            NodeKind::Scalar(s) if !s.is_null() => Some(s),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(&self.node.kind, NodeKind::Scalar(s) if s.is_null())
    }

    fn number<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.scalar().and_then(Scalar::as_number) {
            Some(Number::U(n)) => v.visit_u64(n),
            Some(Number::I(n)) => v.visit_i64(n),
            Some(Number::F(n)) => v.visit_f64(n),
            None => Err(de::Error::invalid_type(self.unexpected(), &v)),
        }
    }

    fn map<'de, V: Visitor<'de>>(
        self,
        entries: Vec<&'a (Node, Node)>,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_map(MapDe {
            entries: entries.into_iter(),
            value: None,
            sink: self.sink,
        })
    }
}

macro_rules! numbers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            let mark = self.node.mark;
            self.number(v).map_err(|e| e.at(mark))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let mark = self.node.mark;
        let r = match &self.node.kind {
            NodeKind::Scalar(s) if s.is_null() => v.visit_unit(),
            NodeKind::Scalar(s) => match (s.as_bool(), s.as_number()) {
                (Some(b), _) => v.visit_bool(b),
                (_, Some(Number::U(n))) => v.visit_u64(n),
                (_, Some(Number::I(n))) => v.visit_i64(n),
                (_, Some(Number::F(n))) => v.visit_f64(n),
                _ => v.visit_str(&s.value),
            },
            NodeKind::Seq(items) => v.visit_seq(SeqDe {
                items: items.iter(),
                sink: self.sink,
            }),
            NodeKind::Map(entries) => self.map(entries.iter().collect(), v),
        };
        r.map_err(|e| e.at(mark))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let r = match self.scalar().and_then(Scalar::as_bool) {
            Some(b) => v.visit_bool(b),
            None => Err(de::Error::invalid_type(self.unexpected(), &v)),
        };
        r.map_err(|e: DeError| e.at(self.node.mark))
    }

    numbers!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_u8
        deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32 deserialize_f64);

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let r = match self.scalar() {
            Some(s) => v.visit_str(&s.value),
            None => Err(de::Error::invalid_type(self.unexpected(), &v)),
        };
        r.map_err(|e: DeError| e.at(self.node.mark))
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let mark = self.node.mark;
        if self.is_null() {
            v.visit_none().map_err(|e: DeError| e.at(mark))
        } else {
            v.visit_some(self).map_err(|e| e.at(mark))
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let r = if self.is_null() {
            v.visit_unit()
        } else {
            Err(de::Error::invalid_type(self.unexpected(), &v))
        };
        r.map_err(|e: DeError| e.at(self.node.mark))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        let mark = self.node.mark;
        let r = match name {
            SPANNED => v.visit_seq(SpannedAccess {
                node: self.node,
                sink: self.sink,
                step: 0,
            }),
            CHECKED => v.visit_seq(CheckedAccess {
                node: self.node,
                sink: self.sink,
                done: false,
            }),
            _ => v.visit_newtype_struct(self),
        };
        r.map_err(|e| e.at(mark))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            NodeKind::Seq(items) => v.visit_seq(SeqDe {
                items: items.iter(),
                sink: self.sink,
            }),
            _ => Err(de::Error::invalid_type(self.unexpected(), &v)),
        };
        r.map_err(|e: DeError| e.at(self.node.mark))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let mark = self.node.mark;
        let r = match &self.node.kind {
            NodeKind::Map(entries) => self.map(entries.iter().collect(), v),
            _ => Err(de::Error::invalid_type(self.unexpected(), &v)),
        };
        r.map_err(|e| e.at(mark))
    }

    /// Reports every unknown key (with a suggestion) and hands serde only the known ones, so
    /// one misspelt key does not hide the rest of the mapping's problems. Nothing written
    /// (`connect:`) reads as an empty mapping, so packets whose fields are all optional can be
    /// written bare.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let mark = self.node.mark;
        let r = match &self.node.kind {
            NodeKind::Map(entries) => {
                let mut known = Vec::with_capacity(entries.len());
                for entry in entries {
                    match entry.0.scalar() {
                        Some(k) if fields.contains(&k.value.as_str()) => known.push(entry),
                        other => {
                            let key = other.map(|k| k.value.as_str()).unwrap_or("");
                            let message = match super::raw::unknown_key_message(name, key) {
                                Some(m) => m,
                                None => unknown_key_message(key, fields),
                            };
                            self.sink.borrow_mut().push(
                                DeError::new(ErrorKind::UnknownKey, message).at(entry.0.mark),
                            );
                        }
                    }
                }
                self.map(known, v)
            }
            _ if self.is_null() => self.map(Vec::new(), v),
            _ => Err(de::Error::invalid_type(self.unexpected(), &v)),
        };
        r.map_err(|e| e.at(mark))
    }

    /// An enum is written as its variant's name alone (`pingreq`) or as a mapping with that
    /// name as its only key (`publish: {topic: ...}`).
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let mark = self.node.mark;
        let r = match &self.node.kind {
            NodeKind::Scalar(s) if !s.is_null() => v.visit_enum(EnumDe {
                key: self.node,
                value: None,
                sink: self.sink,
            }),
            NodeKind::Map(entries) if entries.len() == 1 => v.visit_enum(EnumDe {
                key: &entries[0].0,
                value: Some(&entries[0].1),
                sink: self.sink,
            }),
            NodeKind::Map(entries) if entries.len() > 1 => Err(DeError::new(
                ErrorKind::Value,
                format!(
                    "expected exactly one of {} here, found {} keys",
                    quoted_list(variants),
                    entries.len()
                ),
            )),
            _ => Err(DeError::new(
                ErrorKind::Type,
                format!(
                    "expected one of {}, found {}",
                    quoted_list(variants),
                    found(&self.unexpected())
                ),
            )),
        };
        r.map_err(|e| e.at(mark))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_unit()
    }
}

struct SeqDe<'a> {
    items: std::slice::Iter<'a, Node>,
    sink: &'a Sink,
}

impl<'de> de::SeqAccess<'de> for SeqDe<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(node) => seed
                .deserialize(NodeDe {
                    node,
                    sink: self.sink,
                })
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapDe<'a> {
    entries: std::vec::IntoIter<&'a (Node, Node)>,
    value: Option<&'a Node>,
    sink: &'a Sink,
}

impl<'de> de::MapAccess<'de> for MapDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(NodeDe {
                    node: key,
                    sink: self.sink,
                })
                .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, DeError> {
        match self.value.take() {
            Some(node) => seed.deserialize(NodeDe {
                node,
                sink: self.sink,
            }),
            None => Err(DeError::new(ErrorKind::Yaml, "mapping value read twice")),
        }
    }
}

struct EnumDe<'a> {
    key: &'a Node,
    value: Option<&'a Node>,
    sink: &'a Sink,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumDe<'a> {
    type Error = DeError;
    type Variant = VariantDe<'a>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, VariantDe<'a>), DeError> {
        let name = seed.deserialize(NodeDe {
            node: self.key,
            sink: self.sink,
        })?;
        let variant = VariantDe {
            key: self.key,
            value: self.value,
            sink: self.sink,
        };
        Ok((name, variant))
    }
}

struct VariantDe<'a> {
    key: &'a Node,
    value: Option<&'a Node>,
    sink: &'a Sink,
}

impl VariantDe<'_> {
    /// The variant's content, or an empty value placed at its name when it was written bare.
    fn content(&self) -> Node {
        match self.value {
            Some(v) => v.clone(),
            None => Node {
                mark: self.key.mark,
                kind: NodeKind::Scalar(Scalar {
                    value: String::new(),
                    style: ScalarStyle::Plain,
                    forced_str: false,
                    empty: true,
                }),
            },
        }
    }
}

impl<'de> de::VariantAccess<'de> for VariantDe<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        let content = self.content();
        let empty = match &content.kind {
            NodeKind::Scalar(s) => s.is_null(),
            NodeKind::Map(entries) => entries.is_empty(),
            NodeKind::Seq(_) => false,
        };
        if empty {
            Ok(())
        } else {
            let name = self.key.scalar().map(|s| s.value.as_str()).unwrap_or("");
            Err(DeError::new(
                ErrorKind::Value,
                format!("`{name}` takes no fields; write it alone or as `{name}: {{}}`"),
            )
            .at(content.mark))
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        let content = self.content();
        seed.deserialize(NodeDe {
            node: &content,
            sink: self.sink,
        })
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, DeError> {
        let content = self.content();
        de::Deserializer::deserialize_seq(
            NodeDe {
                node: &content,
                sink: self.sink,
            },
            v,
        )
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let content = self.content();
        de::Deserializer::deserialize_struct(
            NodeDe {
                node: &content,
                sink: self.sink,
            },
            "",
            fields,
            v,
        )
    }
}
