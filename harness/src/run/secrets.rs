//! What a run must keep out of its reports, and what it may always show: [`RunSecrets`], worked
//! out from the scenarios, the device registry and the Wi-Fi network before anything starts, so
//! the report writers (`report::Redactor`) know both from the first event on.
//!
//! The sign of a device whose DeviceSecret is kept outside the registry file
//! (`device_secret_env`, `device_secret_file`) is a secret too: without a timestamp in the client
//! id it is a login that never expires. The seeds' public fixtures (secret inline in the YAML)
//! keep their signs readable, as the seeds print them.

use crate::cloud::{aliyun, Device, DeviceRegistry, DeviceSecret, Platform, SecretSource};
use crate::module::dialect::DialectKind;
use crate::scenario::{Action, ConnectSpec, MqttSend, Scenario};

use super::rig::Wifi;
use super::values::credentials;

/// The secret values of a run and the public identifiers that a piece of a secret must not
/// mask. `Debug` shows only how many of each there are.
#[derive(Clone, Default)]
pub struct RunSecrets {
    /// Wi-Fi password, DeviceSecrets, signs of secret-backed devices, `{{env.*}}` values.
    pub secrets: Vec<String>,
    /// ProductKeys, DeviceNames, client ids, usernames, endpoint hosts, the SSID.
    pub public: Vec<String>,
}

impl std::fmt::Debug for RunSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSecrets")
            .field("secrets", &self.secrets.len())
            .field("public", &self.public)
            .finish()
    }
}

impl RunSecrets {
    /// The secrets and public names of running `scenarios` over `registry` on `wifi`.
    /// A value that cannot be had now (an unset variable) is skipped: the step needing it fails
    /// anyway, and a value never computed is never written.
    pub fn of_run<'a>(
        scenarios: &[Scenario],
        registry: &DeviceRegistry,
        wifis: impl IntoIterator<Item = &'a Wifi>,
    ) -> Self {
        let mut out = RunSecrets::default();
        for w in wifis {
            out.secrets.push(w.password.clone());
            out.public.push(w.ssid.clone());
        }
        let env = |key: &str| key.strip_prefix("env.").and_then(|n| std::env::var(n).ok());
        for s in scenarios {
            if let Some(d) = registry.get(&s.device) {
                if let Ok(secret) = d.secret() {
                    out.secrets.push(secret.expose().to_owned());
                    if !matches!(d.secret, SecretSource::Inline(_)) {
                        out.secrets.extend(signs(s, d, &secret));
                    }
                }
            }
            out.secrets.extend(s.secret_values(&env));
        }
        out.public.extend(registry.devices().flat_map(public_names));
        // A secret typed between quotes goes out escaped (`p\,a\"ss`), a spelling that shares
        // no long run with the value itself: each dialect's spelling is a secret too.
        let spelled: Vec<String> = out
            .secrets
            .iter()
            .flat_map(|s| DialectKind::ALL.map(|k| k.dialect().escape_quoted(s)))
            .filter(|e| !out.secrets.contains(e))
            .collect();
        out.secrets.extend(spelled);
        out.secrets.retain(|v| !v.is_empty());
        out.secrets.sort();
        out.secrets.dedup();
        out.public.sort();
        out.public.dedup();
        out
    }
}

/// Every password a secret-backed device may send in `scenario`: the sign the harness computes
/// from its secret, the signs under a step's `secret:`, and whatever a step's `password:` says.
fn signs(scenario: &Scenario, device: &Device, secret: &DeviceSecret) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(own) = credentials(device, secret) else {
        return out;
    };
    let lookup = |key: &str| match key {
        "device.password" => Some(own.password.clone()),
        "device.client_id" => Some(own.client_id.clone()),
        "device.username" => Some(own.username.clone()),
        "device.product_key" => Some(device.product_key.clone()),
        "device.device_name" => Some(device.device_name.clone()),
        other => other
            .strip_prefix("env.")
            .and_then(|n| std::env::var(n).ok()),
    };
    for step in &scenario.steps {
        // A CONNECT written by hand (`write:` bytes) carries a password the harness did not
        // compute: another client id or timestamp signed elsewhere, a OneNET token. In a
        // scenario of a secret-backed device it is a login too.
        if let Action::Write { bytes, .. } = &step.action {
            if let Ok((crate::mqtt::Packet::Connect(c), _)) = crate::mqtt::decode(bytes) {
                out.extend(c.password.and_then(|p| String::from_utf8(p).ok()));
            }
            continue;
        }
        let Action::Mqtt(MqttSend::Connect(ConnectSpec {
            secret: other,
            password,
            ..
        })) = &step.action
        else {
            continue;
        };
        if let Some(other) = other.as_ref().and_then(|t| t.render(&lookup).ok()) {
            if let Ok(c) = credentials(device, &DeviceSecret::new(other)) {
                out.push(c.password);
            }
        }
        out.extend(password.as_ref().and_then(|t| t.render(&lookup).ok()));
    }
    out.push(own.password);
    out
}

/// The names of `device` anyone may see: its ProductKey, DeviceName, client id head, username
/// and endpoint host.
fn public_names(device: &Device) -> Vec<String> {
    let mut out = vec![device.product_key.clone(), device.device_name.clone()];
    out.extend(device.client_id.iter().cloned());
    out.extend(device.instance_id.iter().cloned());
    if device.platform == Platform::Aliyun {
        out.push(aliyun::username(&device.device_name, &device.product_key));
        out.push(device.endpoint().host());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(secret: SecretSource) -> Device {
        let mut d = Device::aliyun(
            "aliyun/lamp",
            "a1LampPk001",
            "lamp",
            DeviceSecret::new("unused"),
        );
        d.secret = secret;
        d
    }

    #[test]
    fn public_names_are_the_devices_identifiers() {
        let names = public_names(&device(SecretSource::Inline(DeviceSecret::new("x"))));
        for want in [
            "a1LampPk001",
            "lamp",
            "lamp&a1LampPk001",
            "a1LampPk001.iot-as-mqtt.cn-shanghai.aliyuncs.com",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let r = RunSecrets {
            secrets: vec!["hunter22".into()],
            public: vec!["lab".into()],
        };
        assert!(!format!("{r:?}").contains("hunter22"));
    }
}
