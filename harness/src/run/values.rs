//! The run-time values scenario templates are filled with (`{{broker.host}}`,
//! `{{device.password}}`, `{{wifi.password}}`, `{{env.NAME}}`), and the secrets among them.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::cloud::{
    AliyunCredentials, Device, DeviceSecret, OneNetAuth, OneNetCredentials, Platform, SignMethod,
};
use crate::mqtt::Connect;

use super::rig::Wifi;

/// Keepalive of a CONNECT built from a device fixture when the step names none: 100 s, as the
/// seeds' hand-built CONNECTs use.
pub const DEFAULT_KEEPALIVE: u16 = crate::cloud::aliyun::DEFAULT_KEEPALIVE;

/// The credentials a device sends in its CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCredentials {
    pub client_id: String,
    pub username: String,
    pub password: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ValuesError {
    #[error("prepare the credentials of device `{device}`: {message}")]
    Credentials { device: String, message: String },
}

/// Template values of one scenario.
#[derive(Debug, Clone)]
pub struct Values {
    map: BTreeMap<String, String>,
}

impl Values {
    /// `broker` is what the module dials (host and port); `device` the scenario's fixture.
    pub fn new(
        broker_host: &str,
        broker: SocketAddr,
        device: Option<&Device>,
        wifi: Option<&Wifi>,
    ) -> Result<Values, ValuesError> {
        let mut map = BTreeMap::new();
        map.insert("broker.host".into(), broker_host.to_owned());
        map.insert("broker.port".into(), broker.port().to_string());
        if let Some(w) = wifi {
            map.insert("wifi.ssid".into(), w.ssid.clone());
            map.insert("wifi.password".into(), w.password.clone());
        }
        if let Some(d) = device {
            let secret = d.secret().map_err(|e| ValuesError::Credentials {
                device: d.name.clone(),
                message: e.to_string(),
            })?;
            let c = credentials(d, &secret)?;
            map.insert("device.product_key".into(), d.product_key.clone());
            map.insert("device.device_name".into(), d.device_name.clone());
            map.insert("device.client_id".into(), c.client_id);
            map.insert("device.username".into(), c.username);
            map.insert("device.password".into(), c.password);
        }
        Ok(Values { map })
    }

    /// What a template hole `key` stands for; `env.NAME` reads the environment now.
    pub fn lookup(&self, key: &str) -> Option<String> {
        if let Some(name) = key.strip_prefix("env.") {
            return std::env::var(name).ok();
        }
        self.map.get(key).cloned()
    }

    /// The device's client id, for matching what the broker saw.
    pub fn client_id(&self) -> Option<&str> {
        self.map.get("device.client_id").map(String::as_str)
    }
}

/// Credentials for `device` signed with `secret` (the fixture's, or a scenario's wrong one).
pub fn credentials(
    device: &Device,
    secret: &DeviceSecret,
) -> Result<DeviceCredentials, ValuesError> {
    let fail = |message: String| ValuesError::Credentials {
        device: device.name.clone(),
        message,
    };
    match device.platform {
        Platform::Aliyun => {
            let params = device
                .client_id_params(SignMethod::HmacSha1)
                .map_err(|e| fail(e.to_string()))?;
            let c = AliyunCredentials::compute(
                &device.product_key,
                &device.device_name,
                secret,
                params,
            );
            Ok(DeviceCredentials {
                client_id: c.client_id,
                username: c.username,
                password: c.password,
            })
        }
        Platform::Onenet => {
            let c = match device.onenet_auth {
                OneNetAuth::Legacy => {
                    OneNetCredentials::legacy(&device.product_key, &device.device_name, secret)
                }
                OneNetAuth::Token => {
                    // A day ahead: long enough for any run, short enough to be realistic.
                    let expiry = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0)
                        + 86_400;
                    OneNetCredentials::token(
                        &device.product_key,
                        &device.device_name,
                        secret,
                        expiry,
                        SignMethod::HmacSha1,
                    )
                    .map_err(|e| fail(e.to_string()))?
                }
            };
            Ok(DeviceCredentials {
                client_id: c.client_id,
                username: c.username,
                password: c.password,
            })
        }
    }
}

impl DeviceCredentials {
    pub fn to_connect(&self, keepalive: u16) -> Connect {
        let mut c = Connect::new(self.client_id.clone(), keepalive);
        c.username = Some(self.username.clone());
        c.password = Some(self.password.clone().into_bytes());
        c
    }
}
