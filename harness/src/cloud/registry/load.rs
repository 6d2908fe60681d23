//! Reading a devices directory into a [`DeviceRegistry`]: the walk, the YAML parse with
//! file:line:column errors (checks run inside `Deserialize` so serde_yaml knows the position),
//! and the naming rule (path under the directory, no extension).

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::Deserialize;

use super::{
    Device, DeviceFileError, DeviceRegistry, DeviceStatus, Platform, RegistryError, SecretSource,
};
use crate::cloud::client_id::ClientIdParams;
use crate::cloud::onenet::OneNetAuth;
use crate::cloud::secret::DeviceSecret;

pub(super) fn load_dir(dir: &Path) -> Result<DeviceRegistry, RegistryError> {
    let mut files = Vec::new();
    walk(dir, &mut files).map_err(|(path, source)| RegistryError::ReadDir { path, source })?;
    files.sort();

    let mut registry = DeviceRegistry::default();
    let mut errors = Vec::new();
    for path in files {
        let name = device_name(dir, &path);
        match read_device(&path, name) {
            Ok(device) => {
                if let Err(e) = registry.insert(device) {
                    errors.push(e);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(registry)
    } else {
        Err(RegistryError::Files(errors))
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), (PathBuf, std::io::Error)> {
    let entries = std::fs::read_dir(dir).map_err(|e| (dir.to_owned(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| (dir.to_owned(), e))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // metadata() follows symlinks, so a linked-in directory of real devices works.
        let meta = std::fs::metadata(&path).map_err(|e| (path.clone(), e))?;
        if meta.is_dir() {
            walk(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// `<dir>/aliyun/device2.yaml` → `aliyun/device2`, with `/` on every OS.
fn device_name(dir: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(dir).unwrap_or(path).with_extension("");
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

fn read_device(path: &Path, name: String) -> Result<Device, DeviceFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| DeviceFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let spec: DeviceSpec = serde_yaml::from_str(&text).map_err(|e| yaml_error(path, &e))?;
    let mut device = spec.0;
    device.name = name;
    device.path = path.to_owned();
    if let SecretSource::File(file) = &mut device.secret {
        if file.is_relative() {
            let base = path.parent().unwrap_or(Path::new("."));
            *file = base.join(&*file);
        }
    }
    Ok(device)
}

/// serde_yaml appends " at line L column C" to its message; the position moves into the
/// `path:line:column` prefix instead so every error reads the same way.
fn yaml_error(path: &Path, e: &serde_yaml::Error) -> DeviceFileError {
    let message = e.to_string();
    match e.location() {
        Some(loc) => {
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            DeviceFileError::Yaml {
                path: path.to_owned(),
                line: loc.line(),
                column: loc.column(),
                message: message.strip_suffix(&suffix).unwrap_or(&message).to_owned(),
            }
        }
        None => DeviceFileError::YamlNoLocation {
            path: path.to_owned(),
            message,
        },
    }
}

/// The YAML of one device file. Field-level checks live in newtypes ([`Text`],
/// [`ClientIdText`]) so serde_yaml reports the field's own position; checks across fields run
/// in [`DeviceSpec`]'s visitor and are reported at the start of the mapping.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    platform: Platform,
    product_key: Text,
    device_name: Text,
    device_secret: Option<DeviceSecret>,
    device_secret_env: Option<Text>,
    device_secret_file: Option<PathBuf>,
    region: Option<Text>,
    instance_id: Option<Text>,
    client_id: Option<ClientIdText>,
    #[serde(default)]
    status: DeviceStatus,
    auth: Option<OneNetAuth>,
}

/// A string that must not be empty.
struct Text(String);

/// Checks a scalar inside `visit_str`, i.e. while serde_yaml still knows where the scalar is, so
/// the error carries the field's own line and column.
struct CheckedStr<F>(F, &'static str);

impl<'de, T, F: FnOnce(&str) -> Result<T, String>> serde::de::Visitor<'de> for CheckedStr<F> {
    type Value = T;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.1)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        (self.0)(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        d.deserialize_str(CheckedStr(check_text, "a non-empty string"))
    }
}

fn check_text(v: &str) -> Result<Text, String> {
    if v.is_empty() {
        return Err("the value must not be empty".into());
    }
    Ok(Text(v.to_owned()))
}

/// A client id head, or a full `<id>|…|` that must parse.
struct ClientIdText(String);

impl<'de> Deserialize<'de> for ClientIdText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ClientIdText, D::Error> {
        let check = |v: &str| {
            let Text(s) = check_text(v)?;
            if s.contains('|') {
                ClientIdParams::parse(&s).map_err(|e| e.to_string())?;
            }
            Ok(ClientIdText(s))
        };
        d.deserialize_str(CheckedStr(check, "a client id"))
    }
}

/// A device file's content before it has a name and a path.
struct DeviceSpec(Device);

impl<'de> Deserialize<'de> for DeviceSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<DeviceSpec, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = DeviceSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a device mapping (platform, product_key, device_name, a secret)")
            }
            // Validating inside visit_map, not after, is what gives the error a position.
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<DeviceSpec, A::Error> {
                let raw =
                    RawDevice::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                DeviceSpec::try_from(raw).map_err(serde::de::Error::custom)
            }
        }
        d.deserialize_map(Visitor)
    }
}

impl TryFrom<RawDevice> for DeviceSpec {
    type Error = String;
    fn try_from(raw: RawDevice) -> Result<DeviceSpec, String> {
        let secret = match (
            raw.device_secret.clone(),
            raw.device_secret_env.as_ref().map(|t| Text(t.0.clone())),
            raw.device_secret_file.clone(),
        ) {
            (Some(s), None, None) => SecretSource::Inline(s),
            (None, Some(Text(var)), None) => SecretSource::Env(var),
            (None, None, Some(path)) => SecretSource::File(path),
            _ => {
                return Err("give exactly one of device_secret, device_secret_env and \
                            device_secret_file"
                    .to_owned())
            }
        };
        if raw.platform == Platform::Aliyun && raw.auth.is_some() {
            return Err("`auth` applies to OneNET devices only".to_owned());
        }
        if raw.platform == Platform::Onenet {
            check_onenet(&raw, &secret)?;
        }
        Ok(DeviceSpec(Device {
            name: String::new(),
            path: PathBuf::new(),
            platform: raw.platform,
            product_key: raw.product_key.0,
            device_name: raw.device_name.0,
            secret,
            region: raw.region.map(|t| t.0),
            instance_id: raw.instance_id.map(|t| t.0),
            client_id: raw.client_id.map(|t| t.0),
            status: raw.status,
            onenet_auth: raw.auth.unwrap_or_default(),
        }))
    }
}

/// What a OneNET device file may not say: the Alibaba Cloud keys, a legacy product or device
/// id that is not the number OneNET assigns, a token key that is not base64 (OneNET decodes it
/// before signing).
fn check_onenet(raw: &RawDevice, secret: &SecretSource) -> Result<(), String> {
    for (key, given) in [
        ("region", raw.region.is_some()),
        ("instance_id", raw.instance_id.is_some()),
        ("client_id", raw.client_id.is_some()),
    ] {
        if given {
            return Err(format!(
                "`{key}` applies to Alibaba Cloud devices only; a OneNET client id is the \
                 device id (auth: legacy) or device name (auth: token)"
            ));
        }
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    match raw.auth.unwrap_or_default() {
        OneNetAuth::Legacy => {
            for (key, value) in [
                ("product_key", &raw.product_key.0),
                ("device_name", &raw.device_name.0),
            ] {
                if !digits(value) {
                    return Err(format!(
                        "{key} `{value}` is not a number: a legacy OneNET login (auth: legacy) \
                         uses the numeric product id and device id the platform assigns; a \
                         device name needs `auth: token`"
                    ));
                }
            }
        }
        OneNetAuth::Token => {
            if let SecretSource::Inline(key) = secret {
                if BASE64.decode(key.expose()).is_err() {
                    return Err(
                        "device_secret is not base64: a OneNET token device's key is \
                                the base64 text the console shows"
                            .to_owned(),
                    );
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_relative_paths_without_extension() {
        let dir = Path::new("/x/devices");
        assert_eq!(
            device_name(dir, Path::new("/x/devices/aliyun/device2.yaml")),
            "aliyun/device2"
        );
        assert_eq!(
            device_name(dir, Path::new("/x/devices/onenet/657077.yml")),
            "onenet/657077"
        );
    }
}
