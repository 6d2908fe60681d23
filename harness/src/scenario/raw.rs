//! Stage one: serde structs that mirror a scenario file key for key ([`RawScenario`],
//! [`RawStep`], the packet field sets). They check shape only (a mapping here, a number
//! there); meaning (hex, durations, templates, devices) is checked by `validate`. The JSON
//! Schema (`athil schema`) is derived from these same types, so editor checks and the loader
//! cannot disagree about which keys exist.

use std::collections::BTreeMap;
use std::fmt;

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject, StringValidation};
use schemars::JsonSchema;
use serde::de::{self, value::MapAccessDeserializer, Visitor};
use serde::Deserialize;

use super::de::{Field, Sp};
use super::error::{did_you_mean, quoted_list};

/// The step kinds: exactly one of these keys makes a mapping a step.
pub(crate) const STEP_KINDS: &[&str] = &[
    "send",
    "write",
    "expect",
    "expect_not",
    "receive",
    "mqtt",
    "receive_mqtt",
    "join",
    "open",
    "close",
    "expect_closed",
    "broker_saw",
    "broker_refused",
    "broker_fault",
    "broker_dropped",
    "cloud_publish",
    "wait",
];

/// Keys every step may carry besides its kind.
pub(crate) const STEP_COMMON: &[&str] = &["name", "timeout"];

/// Keys only some kinds take, with the kinds that take them.
pub(crate) const STEP_EXTRAS: &[(&str, &[&str])] = &[
    ("expect", &["send", "write"]),
    ("for", &["expect_not"]),
    ("device", &["broker_fault"]),
    ("link", &["mqtt", "receive", "receive_mqtt"]),
    ("capture", &["receive_mqtt"]),
];

/// A better message than serde's for unknown keys where the context is known.
pub(crate) fn unknown_key_message(struct_name: &str, key: &str) -> Option<String> {
    match struct_name {
        "RawStep" => {
            let mut all: Vec<&str> = STEP_KINDS.to_vec();
            all.extend(STEP_COMMON);
            all.extend(
                STEP_EXTRAS
                    .iter()
                    .map(|(k, _)| *k)
                    .filter(|k| *k != "expect"),
            );
            Some(format!(
                "unknown step kind `{key}`; a step is one of {} (with optional {}){}",
                quoted_list(STEP_KINDS),
                quoted_list(STEP_COMMON),
                did_you_mean(key, &all)
            ))
        }
        "RawScenario" => Some(format!(
            "unknown key `{key}` in the scenario; expected one of {}{}",
            quoted_list(SCENARIO_KEYS),
            did_you_mean(key, SCENARIO_KEYS)
        )),
        _ => None,
    }
}

const SCENARIO_KEYS: &[&str] = &[
    "name",
    "description",
    "device",
    "vars",
    "timeout",
    "virtual_module",
    "cloud",
    "requires",
    "estimate",
    "tags",
    "steps",
];

/// A scenario file as written. Every field reads on its own, so one bad field does not hide
/// another's problems; `name`, `device` and `steps` are required (checked in validation, and
/// marked required in the schema).
#[derive(Debug, Deserialize, JsonSchema, Default)]
#[serde(default, deny_unknown_fields)]
#[schemars(
    title = "athil scenario",
    description = "A hardware-in-the-loop test: a device \
    fixture, variables and steps run against an AT-command module and the local broker."
)]
pub(crate) struct RawScenario {
    /// Shown in reports and JUnit; unique across the files of a run.
    pub name: Field<Sp<String>>,
    /// What the scenario shows, in a sentence or two.
    pub description: Field<String>,
    /// Device fixture name, `fixtures/devices/<name>.yaml` without the extension, e.g.
    /// `aliyun/device2`. Its credentials fill `{{device.*}}` and default CONNECT fields.
    pub device: Field<Sp<String>>,
    /// Scenario variables, used as `{{vars.NAME}}`. Values may use `{{env.*}}`,
    /// `{{broker.*}}` and `{{device.*}}` themselves.
    pub vars: Field<BTreeMap<String, Sp<Text>>>,
    /// Default timeout of every step that waits for something, e.g. `5s` (athil's default).
    pub timeout: Field<Sp<DurationText>>,
    /// Settings of the built-in virtual module for this scenario (fault knobs and the like).
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub virtual_module: Field<Sp<serde_yaml::Value>>,
    /// This scenario's changes to the run's cloud profile.
    pub cloud: Field<Sp<CloudBlock>>,
    /// What a slot must offer to run it: `dialect` (esp-at, quectel), `network` (wifi,
    /// cellular), `features` (firmware features), `cloud` (aliyun, onenet), `virtual_module`.
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub requires: Field<Sp<serde_yaml::Value>>,
    /// How long it is expected to take, e.g. `12s`, so a parallel run starts it early; by
    /// default the previous run's time, else its waits and windows added up.
    pub estimate: Field<Sp<DurationText>>,
    /// Free-form labels to select scenarios by.
    pub tags: Field<Vec<String>>,
    /// The steps, run in order.
    pub steps: Field<Vec<Field<Sp<RawStep>>>>,
}

/// One step as written: one key naming its kind, plus `name`, `timeout` and the extras its
/// kind takes. The schema shows it as one object shape per kind.
#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawStep {
    pub name: Field<String>,
    pub timeout: Field<Sp<DurationText>>,
    pub send: Field<Sp<Text>>,
    pub write: Field<Sp<HexText>>,
    pub expect: Field<Sp<RawMatcher>>,
    pub expect_not: Field<Sp<RawMatcher>>,
    #[serde(rename = "for")]
    pub window: Field<Sp<DurationText>>,
    pub receive: Field<Sp<HexText>>,
    pub mqtt: Field<Sp<RawMqttSend>>,
    pub receive_mqtt: Field<Sp<RawMqttExpect>>,
    pub join: Field<Sp<RawJoin>>,
    pub open: Field<Sp<RawOpen>>,
    pub close: Field<Sp<RawLink>>,
    pub expect_closed: Field<Sp<RawLink>>,
    pub broker_saw: Field<Sp<RawSeen>>,
    pub broker_refused: Field<Sp<RawRefused>>,
    pub cloud_publish: Field<Sp<RawCloudPublish>>,
    pub broker_fault: Field<Sp<FaultBlock>>,
    /// Which device a `broker_fault` applies to: a fixture name, or `all`.
    pub device: Field<Sp<String>>,
    pub broker_dropped: Field<Sp<RawDropped>>,
    pub wait: Field<Sp<DurationText>>,
    /// Which of the module's links a socket step uses (`AT+CIPMUX=1`): a link number.
    pub link: Field<Sp<u8>>,
    /// What a `receive_mqtt` keeps of the packet for later steps.
    pub capture: Field<Sp<RawCapture>>,
}

impl RawStep {
    /// The kind keys present, in the order of [`STEP_KINDS`].
    pub fn kinds_present(&self) -> Vec<&'static str> {
        let present = [
            !self.send.is_absent(),
            !self.write.is_absent(),
            !self.expect.is_absent(),
            !self.expect_not.is_absent(),
            !self.receive.is_absent(),
            !self.mqtt.is_absent(),
            !self.receive_mqtt.is_absent(),
            !self.join.is_absent(),
            !self.open.is_absent(),
            !self.close.is_absent(),
            !self.expect_closed.is_absent(),
            !self.broker_saw.is_absent(),
            !self.broker_refused.is_absent(),
            !self.broker_fault.is_absent(),
            !self.broker_dropped.is_absent(),
            !self.cloud_publish.is_absent(),
            !self.wait.is_absent(),
        ];
        STEP_KINDS
            .iter()
            .zip(present)
            .filter(|(_, p)| *p)
            .map(|(k, _)| *k)
            .collect()
    }
}

/// Text that may hold `{{namespace.name}}` templates.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub(crate) struct Text(pub String);

/// Bytes as hex, as the seeds print them: `10 74 00 04`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub(crate) struct HexText(pub String);

/// A duration with its unit: `500ms`, `2s`, `1m`, `1m 30s`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub(crate) struct DurationText(pub String);

fn string_schema(description: &str, pattern: Option<&str>) -> Schema {
    let mut s = SchemaObject {
        instance_type: Some(InstanceType::String.into()),
        ..Default::default()
    };
    s.metadata().description = Some(description.into());
    if let Some(p) = pattern {
        s.string = Some(Box::new(StringValidation {
            pattern: Some(p.into()),
            ..Default::default()
        }));
    }
    s.into()
}

impl JsonSchema for Text {
    fn schema_name() -> String {
        "Text".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema(
            "Text; may use {{broker.host}}, {{broker.port}}, {{device.product_key}}, \
             {{device.device_name}}, {{device.client_id}}, {{device.username}}, \
             {{device.password}}, {{wifi.ssid}}, {{wifi.password}} (a secret), \
             {{vars.NAME}} and {{env.NAME}} (a secret).",
            None,
        )
    }
}

impl JsonSchema for HexText {
    fn schema_name() -> String {
        "Hex".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema(
            "Bytes in hex, two digits each, as the seeds print them: `20 02 00 00`.",
            Some(r"^[\s,0-9A-Fa-fxX]+$"),
        )
    }
}

impl JsonSchema for DurationText {
    fn schema_name() -> String {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema(
            "A duration with its unit: `500ms`, `2s`, `1m`, `1m 30s`; at most `24h`.",
            Some(r"^\s*[0-9]+(\.[0-9]+)?\s*[a-zµ]+(\s*[0-9]+(\.[0-9]+)?\s*[a-zµ]+)*\s*$"),
        )
    }
}

/// Serial text to look for: a string (contained), a list (each in order), or a mapping with
/// one of `contains`, `line`, `regex`, `any_of`, `all_of`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawMatcher {
    /// The bare-string form; its position is that of the enclosing `Sp`.
    Text(String),
    InOrder(Vec<Sp<RawMatcher>>),
    Contains(Sp<Text>),
    Line(Sp<Text>),
    Regex(Sp<String>),
    AnyOf(Vec<Sp<RawMatcher>>),
    AllOf(Vec<Sp<RawMatcher>>),
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum MatcherKey {
    Contains,
    Line,
    Regex,
    AnyOf,
    AllOf,
}

impl<'de> Deserialize<'de> for RawMatcher {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<RawMatcher, D::Error> {
        d.deserialize_any(MatcherVisitor)
    }
}

struct MatcherVisitor;

impl<'de> Visitor<'de> for MatcherVisitor {
    type Value = RawMatcher;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "serial text: a string, a list, or a mapping with `contains`, `line`, `regex`, \
             `any_of` or `all_of`",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawMatcher, E> {
        Ok(RawMatcher::Text(v.to_string()))
    }

    // `expect: 200` or `expect: true` mean the text `200`, `true`.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawMatcher, E> {
        Ok(RawMatcher::Text(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawMatcher, E> {
        Ok(RawMatcher::Text(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawMatcher, E> {
        Ok(RawMatcher::Text(v.to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawMatcher, E> {
        Ok(RawMatcher::Text(v.to_string()))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawMatcher, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawMatcher::InOrder(items))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<RawMatcher, A::Error> {
        let Some(key) = map.next_key::<MatcherKey>()? else {
            return Err(de::Error::custom(
                "expected one of `contains`, `line`, `regex`, `any_of`, `all_of`, found an \
                 empty mapping",
            ));
        };
        let m = match key {
            MatcherKey::Contains => RawMatcher::Contains(map.next_value()?),
            MatcherKey::Line => RawMatcher::Line(map.next_value()?),
            MatcherKey::Regex => RawMatcher::Regex(map.next_value()?),
            MatcherKey::AnyOf => RawMatcher::AnyOf(map.next_value()?),
            MatcherKey::AllOf => RawMatcher::AllOf(map.next_value()?),
        };
        if map.next_key::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(
                "a text matcher mapping has exactly one key; use `all_of` or `any_of` to combine",
            ));
        }
        Ok(m)
    }
}

impl JsonSchema for RawMatcher {
    fn schema_name() -> String {
        "Matcher".into()
    }

    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let me = gen.subschema_for::<RawMatcher>();
        let text = gen.subschema_for::<Text>();
        let list = || -> Schema {
            SchemaObject {
                instance_type: Some(InstanceType::Array.into()),
                array: Some(Box::new(schemars::schema::ArrayValidation {
                    items: Some(me.clone().into()),
                    ..Default::default()
                })),
                ..Default::default()
            }
            .into()
        };
        let one_key = |key: &str, value: Schema, what: &str| -> Schema {
            let mut o = SchemaObject {
                instance_type: Some(InstanceType::Object.into()),
                ..Default::default()
            };
            o.metadata().description = Some(what.into());
            let obj = o.object();
            obj.properties.insert(key.into(), value);
            obj.required.insert(key.into());
            obj.additional_properties = Some(Box::new(Schema::Bool(false)));
            o.into()
        };
        let mut s = SchemaObject::default();
        s.metadata().description = Some(
            "Serial text to look for: a string (contained), a list (each in order), or one of \
             contains/line/regex/any_of/all_of."
                .into(),
        );
        s.subschemas().any_of = Some(vec![
            text.clone(),
            list(),
            one_key("contains", text.clone(), "The text appears anywhere."),
            one_key("line", text, "A whole line equals this text."),
            one_key(
                "regex",
                string_schema(
                    "A regular expression (Rust regex syntax, multi-line).",
                    None,
                ),
                "The regular expression matches.",
            ),
            one_key("any_of", list(), "At least one of these matches."),
            one_key("all_of", list(), "All of these match, in any order."),
        ]);
        s.into()
    }
}

/// A subscription filter: a string (QoS 0 when sent, QoS not checked when expected) or
/// `{filter, qos}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawFilter {
    Plain(String),
    Full(RawFilterFields),
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a filter and its QoS")]
pub(crate) struct RawFilterFields {
    pub filter: Sp<Text>,
    pub qos: Option<Sp<u8>>,
}

impl<'de> Deserialize<'de> for RawFilter {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<RawFilter, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawFilter;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a topic filter, or a mapping with `filter` and `qos`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawFilter, E> {
                Ok(RawFilter::Plain(v.to_string()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<RawFilter, A::Error> {
                RawFilterFields::deserialize(MapAccessDeserializer::new(map)).map(RawFilter::Full)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawFilter {
    fn schema_name() -> String {
        "Filter".into()
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let mut s = SchemaObject::default();
        s.subschemas().any_of = Some(vec![
            gen.subschema_for::<Text>(),
            gen.subschema_for::<RawFilterFields>(),
        ]);
        s.into()
    }
}

pub(crate) use super::raw_broker::*;
pub(crate) use super::raw_network::*;
pub(crate) use super::raw_packets::*;
