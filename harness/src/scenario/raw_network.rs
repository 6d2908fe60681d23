//! Stage one for the dialect-neutral link steps, as written: `join:`, `open:`, `close:` and
//! `expect_closed:`. They say what to do; the module's dialect says how (`AT+CWJAP` or
//! `AT+QIACT`, `AT+CIPSTART` or `AT+QIOPEN`), so one scenario runs on every module.

use std::fmt;

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject};
use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::Deserialize;

use super::de::Sp;
use super::raw::Text;

/// `join:` bring the module onto its network: Wi-Fi with the run's `{{wifi.*}}` on an ESP,
/// a cellular data context on a Quectel.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "join settings (`{}` for the defaults)"
)]
pub(crate) struct RawJoin {
    /// The APN a cellular module attaches with (e.g. `CMNET`); the network's own when left
    /// out. A Wi-Fi module has no APN and ignores it.
    pub apn: Option<Sp<Text>>,
}

/// `open:` open a TCP link to a host and port.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a host and a port")]
pub(crate) struct RawOpen {
    /// The host name or address, e.g. `{{device.product_key}}.iot-as-mqtt.cn-shanghai.aliyuncs.com`.
    pub host: Sp<Text>,
    /// The TCP port: a number such as `1883`, or text such as `"{{broker.port}}"`.
    pub port: Sp<RawPort>,
    /// The link id on a module with several links (ESP `AT+CIPMUX=1`, Quectel connect ids);
    /// the module's single or first link when left out.
    pub link: Option<Sp<u8>>,
}

/// `close:` and `expect_closed:` name a link, or the single/first one with `{}`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, expecting = "`{}` or `{link: <id>}`")]
pub(crate) struct RawLink {
    /// The link id; the module's single or first link when left out.
    pub link: Option<Sp<u8>>,
}

/// A port as written: a number, or text holding a template (`"{{broker.port}}"`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawPort {
    Number(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawPort {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<RawPort, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawPort;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port: a number from 1 to 65535, or text such as `{{broker.port}}`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawPort, E> {
                Ok(RawPort::Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawPort, E> {
                Ok(RawPort::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawPort {
    fn schema_name() -> String {
        "Port".into()
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let mut number = SchemaObject {
            instance_type: Some(InstanceType::Integer.into()),
            ..Default::default()
        };
        number.number().minimum = Some(1.0);
        number.number().maximum = Some(65535.0);
        let mut s = SchemaObject::default();
        s.metadata().description =
            Some("A TCP port: a number, or text such as `{{broker.port}}`.".into());
        s.subschemas().any_of = Some(vec![number.into(), gen.subschema_for::<Text>()]);
        s.into()
    }
}
