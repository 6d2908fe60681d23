//! Stage one for the dialect-neutral link steps, as written: `join:`, `open:`, `close:` and
//! `expect_closed:`. They say what to do; the module's dialect says how (`AT+CWJAP` or
//! `AT+QIACT`, `AT+CIPSTART` or `AT+QIOPEN`), so one scenario runs on every module.

use schemars::JsonSchema;
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
    /// The TCP port, e.g. `1883`.
    pub port: Sp<u16>,
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
