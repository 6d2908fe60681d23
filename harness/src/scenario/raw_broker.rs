//! Stage one for the broker-side keys, as written: the scenario's `cloud:` block, a step's
//! `broker_fault:` and `broker_dropped:`. The first two belong to the broker layer and are
//! only shaped here ([`CloudBlock`], [`FaultBlock`]); their schemas are generic objects that
//! point at `docs/cloud-fidelity.md`.

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Metadata, ObjectValidation, Schema, SchemaObject};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::mqtt::PacketType;

use super::de::Sp;
use super::raw::Text;

/// The faults the broker knows, for the schema's and the docs' description only: the
/// broker layer reads and checks a fault's name and fields.
const FAULT_HELP: &str = "One broker fault, written as a mapping with exactly one key, the \
    fault's name: `refuse_next_connect: {code}`, `delay: {packet, by, count}`, \
    `drop_link: {after_next_packet}`, `black_hole: {direction, for}`, \
    `split_next: {segments, gap}`, `send_raw: {hex}`. Fields are checked by the broker layer \
    (`athil check`); see docs/cloud-fidelity.md.";

const CLOUD_HELP: &str = "This scenario's changes to the run's cloud profile (login rules, \
    keepalive, topics, limits, thing-model replies), applied over it for this scenario only. \
    Checked by the broker layer (`athil check`); the keys are listed in \
    docs/cloud-fidelity.md.";

/// `cloud:` kept as YAML; the runner reads it as the broker's profile override.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub(crate) struct CloudBlock(pub serde_yaml::Value);

/// `broker_fault:` kept as YAML; the runner reads it as the broker's fault type.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub(crate) struct FaultBlock(pub serde_yaml::Value);

fn object(description: &str, one_key: bool) -> Schema {
    let mut s = SchemaObject {
        instance_type: Some(InstanceType::Object.into()),
        metadata: Some(Box::new(Metadata {
            description: Some(description.into()),
            ..Default::default()
        })),
        ..Default::default()
    };
    if one_key {
        s.object = Some(Box::new(ObjectValidation {
            min_properties: Some(1),
            max_properties: Some(1),
            // A fault's fields are a mapping, or nothing for a fault with none (`drop_link:`).
            additional_properties: Some(Box::new(
                SchemaObject {
                    instance_type: Some(vec![InstanceType::Object, InstanceType::Null].into()),
                    ..Default::default()
                }
                .into(),
            )),
            ..Default::default()
        }));
    }
    s.into()
}

impl JsonSchema for CloudBlock {
    fn schema_name() -> String {
        "CloudProfileOverride".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        object(CLOUD_HELP, false)
    }
}

impl JsonSchema for FaultBlock {
    fn schema_name() -> String {
        "BrokerFault".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        object(FAULT_HELP, true)
    }
}

/// `broker_dropped:` the broker dropped a packet of the device. All optional.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "the dropped packet's type and reason"
)]
pub(crate) struct RawDropped {
    /// The connection, by the client id of its CONNECT; the scenario's device when left out.
    pub client_id: Option<Sp<Text>>,
    /// The dropped packet's type, e.g. `publish`.
    pub packet: Option<Sp<PacketName>>,
    /// Text the broker's stated reason must contain, e.g. `topic`.
    pub reason: Option<String>,
}

/// An MQTT packet type in lower case, as the step keys write them: `publish`, `subscribe`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub(crate) struct PacketName(pub String);

/// Every packet type with its name as written in scenarios.
pub(crate) fn packet_names() -> Vec<(String, PacketType)> {
    (1..=14)
        .filter_map(PacketType::from_nibble)
        .map(|t| (t.name().to_ascii_lowercase(), t))
        .collect()
}

impl JsonSchema for PacketName {
    fn schema_name() -> String {
        "PacketType".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            enum_values: Some(
                packet_names()
                    .into_iter()
                    .map(|(n, _)| serde_json::Value::String(n))
                    .collect(),
            ),
            metadata: Some(Box::new(Metadata {
                description: Some("An MQTT packet type: `publish`, `subscribe`, ...".into()),
                ..Default::default()
            })),
            ..Default::default()
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_packet_type_has_its_lower_case_name() {
        let names = packet_names();
        assert_eq!(names.len(), 14);
        assert_eq!(names[0], ("connect".to_string(), PacketType::Connect));
        assert_eq!(names[2], ("publish".to_string(), PacketType::Publish));
        assert_eq!(
            names[13],
            ("disconnect".to_string(), PacketType::Disconnect)
        );
    }
}
