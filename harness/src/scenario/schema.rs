//! The scenario format's JSON Schema (draft-07, for editors such as VS Code's YAML extension),
//! derived from the raw types; only the step, whose shape depends on its kind key, is built
//! here by hand from the same kind table the loader uses.

use schemars::gen::{SchemaGenerator, SchemaSettings};
use schemars::schema::{InstanceType, RootSchema, Schema, SchemaObject};
use schemars::JsonSchema;

use super::raw::{
    DurationText, FaultBlock, HexText, RawCapture, RawCloudPublish, RawDropped, RawJoin, RawLink,
    RawMatcher, RawMqttExpect, RawMqttSend, RawOpen, RawRefused, RawScenario, RawSeen, RawStep,
    Text, STEP_EXTRAS, STEP_KINDS,
};

/// The JSON Schema of a scenario file.
pub fn schema() -> RootSchema {
    let gen = SchemaSettings::draft07().into_generator();
    let mut root = gen.into_root_schema_for::<RawScenario>();
    let required = &mut root.schema.object().required;
    for key in ["name", "device", "steps"] {
        required.insert(key.into());
    }
    root
}

/// [`schema`] as pretty JSON with a final newline, as `athil schema` writes it and
/// `scenarios/scenario.schema.json` holds it.
pub fn schema_json() -> String {
    // Serializing a schema built from plain values cannot fail.
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}

/// What each step kind's value is, and the sentence editors show for it.
fn kind_schema(gen: &mut SchemaGenerator, kind: &str) -> (Schema, &'static str) {
    match kind {
        "send" => (
            gen.subschema_for::<Text>(),
            "Send an AT line; CR LF is appended. May carry `expect`.",
        ),
        "write" => (
            gen.subschema_for::<HexText>(),
            "Write raw bytes, given as hex. May carry `expect`.",
        ),
        "expect" => (
            gen.subschema_for::<RawMatcher>(),
            "Wait (up to `timeout`) for serial text.",
        ),
        "expect_not" => (
            gen.subschema_for::<RawMatcher>(),
            "Serial text that must not appear during `for`.",
        ),
        "receive" => (
            gen.subschema_for::<HexText>(),
            "The bytes arriving from the socket (+IPD payloads reassembled) equal this hex.",
        ),
        "mqtt" => (
            gen.subschema_for::<RawMqttSend>(),
            "Send an MQTT packet described by its fields, through the module's send sequence.",
        ),
        "receive_mqtt" => (
            gen.subschema_for::<RawMqttExpect>(),
            "The next MQTT packet from the socket has these fields.",
        ),
        "join" => (
            gen.subschema_for::<RawJoin>(),
            "Bring the module onto its network as its dialect does: Wi-Fi with the run's \
             `{{wifi.*}}` (ESP), a cellular data context (Quectel). `{}` for the defaults.",
        ),
        "open" => (
            gen.subschema_for::<RawOpen>(),
            "Open a TCP link to a host and port as the module's dialect does (ESP \
             `AT+CIPSTART`, Quectel `AT+QIOPEN` in direct push), waiting for the outcome.",
        ),
        "close" => (
            gen.subschema_for::<RawLink>(),
            "Close a link with the module's close command (ESP `AT+CIPCLOSE`, Quectel \
             `AT+QICLOSE`).",
        ),
        "expect_closed" => (
            gen.subschema_for::<RawLink>(),
            "The module reports the link closed (ESP `CLOSED`, Quectel \
             `+QIURC: \"closed\",<id>`) within the timeout.",
        ),
        "broker_saw" => (
            gen.subschema_for::<RawSeen>(),
            "The broker received this packet from the device.",
        ),
        "broker_refused" => (
            gen.subschema_for::<RawRefused>(),
            "The broker refused the device's CONNECT.",
        ),
        "broker_fault" => (
            gen.subschema_for::<FaultBlock>(),
            "The broker misbehaves on purpose from now on: one fault, e.g. \
             `{delay: {packet: connack, by: 2s}}`. May carry `device` (a device fixture name, \
             or `all`; the scenario's device otherwise).",
        ),
        "broker_dropped" => (
            gen.subschema_for::<RawDropped>(),
            "The broker dropped a packet of the device (within the timeout).",
        ),
        "cloud_publish" => (
            gen.subschema_for::<RawCloudPublish>(),
            "The cloud publishes to a topic, as the console's property set does.",
        ),
        _ => (gen.subschema_for::<DurationText>(), "Wait this long."),
    }
}

/// A `broker_fault`'s `device`.
fn device_schema() -> Schema {
    let mut s = SchemaObject {
        instance_type: Some(InstanceType::String.into()),
        ..Default::default()
    };
    s.metadata().description = Some(
        "The device whose connections get the fault: a device fixture name such as \
         `aliyun/device3`, or `all` for every connection. The scenario's device when left out."
            .into(),
    );
    s.into()
}

fn link_schema() -> Schema {
    let mut s = SchemaObject {
        instance_type: Some(InstanceType::Integer.into()),
        ..Default::default()
    };
    s.number().minimum = Some(0.0);
    s.number().maximum = Some(255.0);
    s.metadata().description = Some(
        "The module link this socket step uses (`AT+CIPMUX=1`): a link number, written by \
         the module's dialect into its send command and read from its receive headers."
            .into(),
    );
    s.into()
}

impl JsonSchema for RawStep {
    fn schema_name() -> String {
        "Step".into()
    }

    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let shapes = STEP_KINDS
            .iter()
            .map(|kind| {
                let (value, about) = kind_schema(gen, kind);
                let mut o = SchemaObject {
                    instance_type: Some(InstanceType::Object.into()),
                    ..Default::default()
                };
                o.metadata().title = Some((*kind).into());
                o.metadata().description = Some(about.into());
                let obj = o.object();
                obj.properties.insert((*kind).into(), value);
                obj.required.insert((*kind).into());
                let mut name = SchemaObject {
                    instance_type: Some(InstanceType::String.into()),
                    ..Default::default()
                };
                name.metadata().description = Some("A name for reports.".into());
                obj.properties.insert("name".into(), name.into());
                let timeout = gen.subschema_for::<DurationText>();
                obj.properties.insert("timeout".into(), timeout);
                for (extra, kinds) in STEP_EXTRAS {
                    if kinds.contains(kind) {
                        let s = match *extra {
                            "expect" => gen.subschema_for::<RawMatcher>(),
                            "device" => device_schema(),
                            "link" => link_schema(),
                            "capture" => gen.subschema_for::<RawCapture>(),
                            _ => gen.subschema_for::<DurationText>(),
                        };
                        obj.properties.insert((*extra).into(), s);
                        if *extra == "for" {
                            obj.required.insert("for".into());
                        }
                    }
                }
                obj.additional_properties = Some(Box::new(Schema::Bool(false)));
                o.into()
            })
            .collect();
        let mut s = SchemaObject::default();
        s.metadata().description = Some(
            "One step: exactly one kind key, with optional \
                                          `name` and `timeout`."
                .into(),
        );
        s.subschemas().any_of = Some(shapes);
        s.into()
    }
}
