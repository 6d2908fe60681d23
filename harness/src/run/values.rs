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

/// The `et` of every OneNET token this process signs: a day after the first one was asked for
/// (long enough for any run, short enough to be realistic). One value per process, because
/// the token's sign depends on it: the sign the redactor learns before the run
/// (`secrets.rs`) must be the very one a step sends later, or a second ticking between the two
/// would let the sent one through to the reports.
fn token_expiry() -> u64 {
    static EXPIRY: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *EXPIRY.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            + 86_400
    })
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
                    let expiry = token_expiry();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::DeviceRegistry;

    /// The redactor learns a secret-backed device's password before the run and a step signs
    /// it later: a OneNET token signed across a second boundary must still be the same one.
    #[test]
    fn a_onenet_token_is_the_same_whenever_it_is_signed_in_one_run() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/devices");
        let registry = DeviceRegistry::load_dir(dir).expect("the shipped devices");
        let device = registry
            .get("onenet/mqtts-test-device")
            .expect("the token fixture");
        let secret = device.secret().expect("its secret");
        let first = credentials(device, &secret).unwrap().password;
        // Into the next second of the clock, whatever fraction of one this test started at.
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        let later = credentials(device, &secret).unwrap().password;
        assert!(first.contains("&et="), "{first}");
        assert_eq!(first, later);
    }
}
