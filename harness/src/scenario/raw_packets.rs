//! Stage one, continued: the MQTT packet field sets of the `mqtt`, `receive_mqtt`,
//! `broker_saw`, `broker_refused` and `cloud_publish` steps, as written. Fields to *send* say
//! what goes on the wire; fields to *expect* are all optional, and a field left out is not
//! checked.

use schemars::JsonSchema;
use serde::Deserialize;

use super::de::Sp;
use super::raw::{HexText, RawFilter, Text};

/// `mqtt:` the packet the device sends, as `{<packet>: {fields}}` (or a bare `pingreq`,
/// `disconnect`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawMqttSend {
    /// CONNECT with the device fixture's credentials unless overridden.
    Connect(RawConnect),
    Publish(Sp<RawPublish>),
    Subscribe(RawSubscribe),
    Unsubscribe(RawUnsubscribe),
    Puback(RawPacketId),
    Pubrec(RawPacketId),
    Pubrel(RawPacketId),
    Pubcomp(RawPacketId),
    Pingreq,
    Disconnect,
}

/// CONNECT fields; each one left out comes from the device fixture.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, expecting = "CONNECT fields")]
pub(crate) struct RawConnect {
    pub client_id: Option<Sp<Text>>,
    pub username: Option<Sp<Text>>,
    pub password: Option<Sp<Text>>,
    /// Sign with this DeviceSecret instead of the fixture's (for negative tests). A secret:
    /// it is redacted from reports.
    pub secret: Option<Sp<Text>>,
    /// Seconds; the fixture's or 60 when left out.
    pub keepalive: Option<u16>,
    /// Defaults to true.
    pub clean_session: Option<bool>,
    /// Defaults to 4 (MQTT 3.1.1); set another to test the refusal.
    pub protocol_level: Option<u8>,
}

/// PUBLISH fields: a topic, one payload form, QoS (0 by default) and its packet id.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "PUBLISH fields")]
pub(crate) struct RawPublish {
    pub topic: Sp<Text>,
    /// The payload as text.
    pub payload: Option<Sp<Text>>,
    /// The payload as hex bytes.
    pub payload_hex: Option<Sp<HexText>>,
    /// The payload as JSON, written as YAML; sent compact.
    pub payload_json: Option<serde_json::Value>,
    /// 0, 1 or 2; 0 when left out.
    pub qos: Option<Sp<u8>>,
    pub retain: Option<bool>,
    pub dup: Option<bool>,
    /// Required for QoS 1 and 2.
    pub packet_id: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "SUBSCRIBE fields")]
pub(crate) struct RawSubscribe {
    pub packet_id: u16,
    /// Topic filters: a string (QoS 0) or `{filter, qos}`.
    pub filters: Vec<Sp<RawFilter>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "UNSUBSCRIBE fields")]
pub(crate) struct RawUnsubscribe {
    pub packet_id: u16,
    pub filters: Vec<Sp<Text>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a packet id")]
pub(crate) struct RawPacketId {
    /// A number, or `"{{vars.NAME}}"` for an id an earlier `receive_mqtt` captured.
    pub packet_id: Sp<RawIdValue>,
}

/// A packet id to send: a number, or text naming a captured id (`"{{vars.set_id}}"`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "a packet id: a number from 1 to 65535, or \"{{vars.NAME}}\""
)]
pub(crate) enum RawIdValue {
    Number(u16),
    Captured(String),
}

/// `capture:` beside a `receive_mqtt`: the names its packet's values are kept under.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "what to capture, e.g. `{packet_id: set_id}`"
)]
pub(crate) struct RawCapture {
    /// The received packet's packet id, kept as `{{vars.NAME}}` for the `packet_id` of a later
    /// `mqtt` step.
    pub packet_id: Sp<String>,
}

/// `receive_mqtt:` the next packet from the socket, as `{<packet>: {fields}}`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawMqttExpect {
    Connack(RawConnack),
    Publish(Box<Sp<RawPublishMatch>>),
    Puback(RawPacketIdMatch),
    Pubrec(RawPacketIdMatch),
    Pubrel(RawPacketIdMatch),
    Pubcomp(RawPacketIdMatch),
    Suback(RawSuback),
    Unsuback(RawPacketIdMatch),
    Pingresp,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, expecting = "CONNACK fields")]
pub(crate) struct RawConnack {
    pub session_present: Option<bool>,
    /// 0 accepted, 1 protocol level, 2 identifier, 3 unavailable, 4 credentials, 5 not
    /// authorised.
    pub return_code: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, expecting = "SUBACK fields")]
pub(crate) struct RawSuback {
    pub packet_id: Option<u16>,
    /// Granted QoS per filter (0, 1, 2) or 128 for a refusal.
    pub return_codes: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, expecting = "a packet id")]
pub(crate) struct RawPacketIdMatch {
    pub packet_id: Option<u16>,
}

/// PUBLISH fields to check; all optional.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, expecting = "PUBLISH fields")]
pub(crate) struct RawPublishMatch {
    pub topic: Option<Sp<Text>>,
    /// The payload equals this text exactly.
    pub payload: Option<Sp<Text>>,
    /// The payload equals these bytes exactly.
    pub payload_hex: Option<Sp<HexText>>,
    /// The payload is JSON holding at least these keys with these values (arrays compared
    /// whole).
    pub payload_json: Option<serde_json::Value>,
    pub qos: Option<Sp<u8>>,
    pub retain: Option<bool>,
    pub dup: Option<bool>,
    pub packet_id: Option<u16>,
}

/// `broker_saw:` a packet the broker received from the device, as `{<packet>: {fields}}`;
/// `client_id` picks the connection (the scenario's device when left out).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawSeen {
    Connect(RawSeenConnect),
    Publish(Box<Sp<RawSeenPublish>>),
    Subscribe(RawSeenSubscribe),
    Unsubscribe(RawSeenUnsubscribe),
    Puback(RawSeenPacketId),
    Pingreq(RawSeenBare),
    Disconnect(RawSeenBare),
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, expecting = "CONNECT fields")]
pub(crate) struct RawSeenConnect {
    pub client_id: Option<Sp<Text>>,
    pub username: Option<Sp<Text>>,
    pub keepalive: Option<u16>,
    pub clean_session: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, expecting = "PUBLISH fields")]
pub(crate) struct RawSeenPublish {
    pub client_id: Option<Sp<Text>>,
    pub topic: Option<Sp<Text>>,
    pub payload: Option<Sp<Text>>,
    pub payload_hex: Option<Sp<HexText>>,
    pub payload_json: Option<serde_json::Value>,
    pub qos: Option<Sp<u8>>,
    pub retain: Option<bool>,
    pub dup: Option<bool>,
    pub packet_id: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, expecting = "SUBSCRIBE fields")]
pub(crate) struct RawSeenSubscribe {
    pub client_id: Option<Sp<Text>>,
    pub packet_id: Option<u16>,
    /// The whole list of filters, in order; a string form does not check the QoS.
    pub filters: Option<Vec<Sp<RawFilter>>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, expecting = "UNSUBSCRIBE fields")]
pub(crate) struct RawSeenUnsubscribe {
    pub client_id: Option<Sp<Text>>,
    pub packet_id: Option<u16>,
    pub filters: Option<Vec<Sp<Text>>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, expecting = "a packet id")]
pub(crate) struct RawSeenPacketId {
    pub client_id: Option<Sp<Text>>,
    pub packet_id: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, expecting = "a client id")]
pub(crate) struct RawSeenBare {
    pub client_id: Option<Sp<Text>>,
}

/// `broker_refused:` the broker refused a CONNECT of the device.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, expecting = "the refusal's code and reason")]
pub(crate) struct RawRefused {
    pub client_id: Option<Sp<Text>>,
    /// The CONNACK return code sent, e.g. 4 (bad credentials) or 5 (not authorised).
    pub code: Option<u8>,
    /// Text the broker's reason must contain, e.g. `sign`.
    pub reason: Option<String>,
}

/// `cloud_publish:` the cloud publishes to a topic, as the console's property set does.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "PUBLISH fields")]
pub(crate) struct RawCloudPublish {
    pub topic: Sp<Text>,
    pub payload: Option<Sp<Text>>,
    pub payload_hex: Option<Sp<HexText>>,
    pub payload_json: Option<serde_json::Value>,
    /// 0 or 1 (the cloud has no QoS 2); 0 when left out.
    pub qos: Option<Sp<u8>>,
    pub retain: Option<bool>,
}
