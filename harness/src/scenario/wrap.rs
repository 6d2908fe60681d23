//! The two wrappers that cooperate with [`NodeDe`]: [`Sp<T>`] (a value with the place it was
//! written) and [`Field<T>`] (a value whose failure is recorded while reading goes on). Each
//! asks the deserializer for a newtype struct of a reserved name; [`NodeDe`] answers with a
//! sequence (position then value, or a value whose error it records). Any other deserializer
//! answers with the plain value, so these types still read from serde_yaml or serde_json.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Visitor};
use serde::Deserialize;

use super::de::{DeError, NodeDe, Sink};
use super::error::ErrorKind;
use super::location::{Location, Mark, ScalarStyle};
use super::yaml::{Node, NodeKind};

pub(super) const SPANNED: &str = "$athil::scenario::Sp";
pub(super) const CHECKED: &str = "$athil::scenario::Checked";

/// Hands [`Sp`] its node's position, then its value.
pub(super) struct SpannedAccess<'a> {
    pub node: &'a Node,
    pub sink: &'a Sink,
    pub step: u8,
}

impl<'de> de::SeqAccess<'de> for SpannedAccess<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        self.step += 1;
        match self.step {
            1 => {
                let m = self.node.mark;
                let style = match &self.node.kind {
                    NodeKind::Scalar(s) => style_code(Some(s.style)),
                    _ => style_code(None),
                };
                let wire = [
                    m.location.line as u64,
                    m.location.column as u64,
                    m.index as u64,
                    style,
                ];
                let d: de::value::SeqDeserializer<_, DeError> =
                    de::value::SeqDeserializer::new(wire.into_iter());
                seed.deserialize(d).map(Some)
            }
            2 => seed
                .deserialize(NodeDe {
                    node: self.node,
                    sink: self.sink,
                })
                .map(Some),
            _ => Ok(None),
        }
    }
}

fn style_code(style: Option<ScalarStyle>) -> u64 {
    match style {
        None => 0,
        Some(ScalarStyle::Plain) => 1,
        Some(ScalarStyle::SingleQuoted) => 2,
        Some(ScalarStyle::DoubleQuoted) => 3,
        Some(ScalarStyle::Literal) => 4,
        Some(ScalarStyle::Folded) => 5,
    }
}

fn style_from_code(code: u64) -> Option<ScalarStyle> {
    Some(match code {
        1 => ScalarStyle::Plain,
        2 => ScalarStyle::SingleQuoted,
        3 => ScalarStyle::DoubleQuoted,
        4 => ScalarStyle::Literal,
        5 => ScalarStyle::Folded,
        _ => return None,
    })
}

/// Reads a [`Field`] value, recording its error instead of passing it up.
pub(super) struct CheckedAccess<'a> {
    pub node: &'a Node,
    pub sink: &'a Sink,
    pub done: bool,
}

impl<'de> de::SeqAccess<'de> for CheckedAccess<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        if std::mem::replace(&mut self.done, true) {
            return Ok(None);
        }
        match seed.deserialize(NodeDe {
            node: self.node,
            sink: self.sink,
        }) {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                if !e.reported {
                    self.sink.borrow_mut().push(e.at(self.node.mark));
                }
                Err(DeError {
                    reported: true,
                    ..DeError::new(ErrorKind::Value, "already reported")
                })
            }
        }
    }
}

/// A value with the place it was written: `mark` is where the node starts, `style` how a
/// scalar was quoted (`None` for lists and mappings).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sp<T> {
    pub value: T,
    pub mark: Mark,
    pub style: Option<ScalarStyle>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Sp<T>, D::Error> {
        d.deserialize_newtype_struct(SPANNED, SpVisitor(PhantomData))
    }
}

struct SpVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for SpVisitor<T> {
    type Value = Sp<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Sp<T>, A::Error> {
        let [line, column, index, style]: [u64; 4] = seq
            .next_element()?
            .ok_or_else(|| de::Error::custom("position missing"))?;
        let value = seq
            .next_element()?
            .ok_or_else(|| de::Error::custom("value missing"))?;
        Ok(Sp {
            value,
            mark: Mark {
                location: Location::new(line as usize, column as usize),
                index: index as usize,
            },
            style: style_from_code(style),
        })
    }

    /// Any other deserializer (serde_yaml, serde_json) has no positions to give.
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<Sp<T>, D::Error> {
        Ok(Sp {
            value: T::deserialize(d)?,
            mark: Mark::default(),
            style: None,
        })
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Sp<T> {
    fn schema_name() -> String {
        T::schema_name()
    }

    fn is_referenceable() -> bool {
        T::is_referenceable()
    }

    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        T::json_schema(gen)
    }
}

/// A value whose reading may fail without stopping the rest of the file. Used with
/// `#[serde(default)]`: a key not written stays [`Field::Absent`]; one whose value did not read
/// is [`Field::Failed`] (the problem is recorded); nothing written after the key (`send:`) is
/// *not* absent, it is read and reported like any other wrong value.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) enum Field<T> {
    #[default]
    Absent,
    Failed,
    Ok(T),
}

impl<T> Field<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    pub fn ok(&self) -> Option<&T> {
        match self {
            Field::Ok(v) => Some(v),
            Field::Absent | Field::Failed => None,
        }
    }

    pub fn into_ok(self) -> Option<T> {
        match self {
            Field::Ok(v) => Some(v),
            Field::Absent | Field::Failed => None,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Field<T>, D::Error> {
        d.deserialize_newtype_struct(CHECKED, FieldVisitor(PhantomData))
    }
}

struct FieldVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Field<T>, A::Error> {
        // Only `CheckedAccess` takes this path, and it has recorded any error already.
        Ok(match seq.next_element() {
            Ok(Some(v)) => Field::Ok(v),
            Ok(None) | Err(_) => Field::Failed,
        })
    }

    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<Field<T>, D::Error> {
        T::deserialize(d).map(Field::Ok)
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Field<T> {
    fn schema_name() -> String {
        T::schema_name()
    }

    fn is_referenceable() -> bool {
        T::is_referenceable()
    }

    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        T::json_schema(gen)
    }
}
