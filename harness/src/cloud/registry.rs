//! The device registry: one YAML file per device under a directory (`fixtures/devices/`),
//! loaded into a [`DeviceRegistry`] the broker gateway authenticates against and scenarios
//! and `athil sign` take device triples from.
//!
//! ```yaml
//! platform: aliyun            # aliyun | onenet
//! product_key: a1ndPQHcX7f    # OneNET: the product id
//! device_name: device2        # OneNET: the device id (legacy) or device name (token)
//! device_secret: 1448e1…      # or device_secret_env: VAR, or device_secret_file: PATH
//! region: cn-shanghai         # optional; Alibaba Cloud public endpoint region
//! instance_id: iot-06z00…     # optional; Alibaba Cloud instance endpoint instead
//! client_id: "10001"          # optional; client id head (or full `<id>|…|`), default device_name
//! status: enabled             # optional; enabled | disabled
//! auth: legacy                # OneNET only: legacy (password = auth info) | token
//! ```

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::aliyun::{Endpoint, DEFAULT_REGION};
use super::client_id::{ClientIdError, ClientIdParams};
use super::onenet::OneNetAuth;
use super::secret::DeviceSecret;
use super::sign::SignMethod;

/// The cloud a device belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Aliyun,
    Onenet,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Platform::Aliyun => "aliyun",
            Platform::Onenet => "onenet",
        })
    }
}

/// Whether the impersonated cloud lets the device in (a disabled device gets CONNACK 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    #[default]
    Enabled,
    Disabled,
}

/// Where a device's secret lives. Real devices' secrets stay out of the repository through
/// `Env` and `File`; the seeds' made-up or revoked ones are `Inline`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Inline(DeviceSecret),
    /// The name of an environment variable, read when the secret is needed.
    Env(String),
    /// A file (relative paths already resolved against the YAML file's directory); its content
    /// with surrounding whitespace trimmed.
    File(PathBuf),
}

/// Why a device's secret could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "read the secret of device `{device}` from environment variable `{var}`: it is not set"
    )]
    EnvUnset { device: String, var: String },
    #[error(
        "read the secret of device `{device}` from environment variable `{var}`: it is not UTF-8"
    )]
    EnvNotUnicode { device: String, var: String },
    #[error("read the secret of device `{device}` from `{path}`: {source}")]
    ReadFile {
        device: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("read the secret of device `{device}`: {from} is empty")]
    Empty { device: String, from: String },
}

/// One device as its YAML file describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Path under the devices directory without extension: `aliyun/device2`.
    pub name: String,
    /// The YAML file it came from (empty for devices built in code).
    pub path: PathBuf,
    pub platform: Platform,
    /// Alibaba Cloud ProductKey, or the OneNET product id.
    pub product_key: String,
    /// Alibaba Cloud DeviceName, or the OneNET device id (legacy) / device name (token).
    pub device_name: String,
    pub secret: SecretSource,
    pub region: Option<String>,
    pub instance_id: Option<String>,
    /// Client id head or full `<id>|…|` to sign with; the device name when absent.
    pub client_id: Option<String>,
    pub status: DeviceStatus,
    /// Meaningful for OneNET only.
    pub onenet_auth: OneNetAuth,
}

impl Device {
    /// An enabled Alibaba Cloud device with an inline secret, for registries built in code.
    pub fn aliyun(
        name: impl Into<String>,
        product_key: impl Into<String>,
        device_name: impl Into<String>,
        secret: DeviceSecret,
    ) -> Device {
        Device {
            name: name.into(),
            path: PathBuf::new(),
            platform: Platform::Aliyun,
            product_key: product_key.into(),
            device_name: device_name.into(),
            secret: SecretSource::Inline(secret),
            region: None,
            instance_id: None,
            client_id: None,
            status: DeviceStatus::Enabled,
            onenet_auth: OneNetAuth::Legacy,
        }
    }

    /// The secret, read from its source now (so an unset variable is noticed only by the
    /// devices that need it).
    pub fn secret(&self) -> Result<DeviceSecret, SecretError> {
        let device = || self.name.clone();
        let (value, from) = match &self.secret {
            SecretSource::Inline(s) => (s.clone(), "device_secret".to_owned()),
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) => (
                    DeviceSecret::new(v),
                    format!("environment variable `{var}`"),
                ),
                Err(std::env::VarError::NotPresent) => {
                    return Err(SecretError::EnvUnset {
                        device: device(),
                        var: var.clone(),
                    })
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(SecretError::EnvNotUnicode {
                        device: device(),
                        var: var.clone(),
                    })
                }
            },
            SecretSource::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => (
                    DeviceSecret::new(text.trim()),
                    format!("`{}`", path.display()),
                ),
                Err(source) => {
                    return Err(SecretError::ReadFile {
                        device: device(),
                        path: path.clone(),
                        source,
                    })
                }
            },
        };
        if value.is_empty() {
            return Err(SecretError::Empty {
                device: device(),
                from,
            });
        }
        Ok(value)
    }

    /// The Alibaba Cloud endpoint: the instance one when `instance_id` is set, else the public
    /// one in `region` (cn-shanghai by default).
    pub fn endpoint(&self) -> Endpoint {
        match &self.instance_id {
            Some(id) => Endpoint::Instance {
                instance_id: id.clone(),
            },
            None => Endpoint::Public {
                product_key: self.product_key.clone(),
                region: self.region.as_deref().unwrap_or(DEFAULT_REGION).to_owned(),
            },
        }
    }

    /// The client id this device signs with: its `client_id` if that is a full `<id>|…|`,
    /// else `<client_id or device name>|securemode=3,signmethod=<method>|`.
    pub fn client_id_params(&self, method: SignMethod) -> Result<ClientIdParams, ClientIdError> {
        match &self.client_id {
            Some(full) if full.contains('|') => ClientIdParams::parse(full),
            Some(head) => Ok(ClientIdParams::new(head.clone(), method)),
            None => Ok(ClientIdParams::new(self.device_name.clone(), method)),
        }
    }
}

/// Why the registry could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("read device directory `{path}`: {source}")]
    ReadDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Every bad file at once, in path order.
    #[error("load the device registry:\n{}", list(.0))]
    Files(Vec<DeviceFileError>),
}

fn list(errors: &[DeviceFileError]) -> String {
    let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
    lines.join("\n")
}

/// What is wrong with one device file.
#[derive(Debug, thiserror::Error)]
pub enum DeviceFileError {
    #[error("read `{path}`: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("parse `{path}:{line}:{column}`: {message}")]
    Yaml {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("parse `{path}`: {message}")]
    YamlNoLocation { path: PathBuf, message: String },
    #[error("register `{path}` as `{name}`: `{other}` has that name too")]
    DuplicateName {
        path: PathBuf,
        name: String,
        other: PathBuf,
    },
    #[error(
        "register `{path}`: {platform} device {product_key}/{device_name} is already `{other}`"
    )]
    DuplicateDevice {
        path: PathBuf,
        platform: Platform,
        product_key: String,
        device_name: String,
        other: String,
    },
}

mod load;

/// Every device under a directory, by name.
#[derive(Debug, Clone, Default)]
pub struct DeviceRegistry {
    devices: BTreeMap<String, Device>,
}

impl DeviceRegistry {
    /// Loads every `*.yaml`/`*.yml` under `dir` (recursively; names starting with `.` are
    /// skipped), reporting every bad file at once.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<DeviceRegistry, RegistryError> {
        load::load_dir(dir.as_ref())
    }

    /// A registry of devices built in code; the same duplicate checks as [`Self::load_dir`].
    pub fn from_devices(
        devices: impl IntoIterator<Item = Device>,
    ) -> Result<DeviceRegistry, RegistryError> {
        let mut registry = DeviceRegistry::default();
        let errors: Vec<DeviceFileError> = devices
            .into_iter()
            .filter_map(|d| registry.insert(d).err())
            .collect();
        if errors.is_empty() {
            Ok(registry)
        } else {
            Err(RegistryError::Files(errors))
        }
    }

    fn insert(&mut self, device: Device) -> Result<(), DeviceFileError> {
        if let Some(other) = self.devices.get(&device.name) {
            return Err(DeviceFileError::DuplicateName {
                path: device.path.clone(),
                name: device.name.clone(),
                other: other.path.clone(),
            });
        }
        if let Some(other) = self.devices.values().find(|d| {
            d.platform == device.platform
                && d.product_key == device.product_key
                && d.device_name == device.device_name
        }) {
            return Err(DeviceFileError::DuplicateDevice {
                path: device.path.clone(),
                platform: device.platform,
                product_key: device.product_key.clone(),
                device_name: device.device_name.clone(),
                other: other.name.clone(),
            });
        }
        self.devices.insert(device.name.clone(), device);
        Ok(())
    }

    /// A device by name, e.g. `aliyun/device2`.
    pub fn get(&self, name: &str) -> Option<&Device> {
        self.devices.get(name)
    }

    /// The Alibaba Cloud device with this ProductKey and DeviceName.
    pub fn find_aliyun(&self, product_key: &str, device_name: &str) -> Option<&Device> {
        self.find(Platform::Aliyun, product_key, device_name)
    }

    /// The OneNET device with this product id and device id or device name.
    pub fn find_onenet(&self, product_id: &str, device: &str) -> Option<&Device> {
        self.find(Platform::Onenet, product_id, device)
    }

    fn find(&self, platform: Platform, product_key: &str, device_name: &str) -> Option<&Device> {
        self.devices.values().find(|d| {
            d.platform == platform && d.product_key == product_key && d.device_name == device_name
        })
    }

    /// Device names in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.devices.keys().map(String::as_str)
    }

    pub fn devices(&self) -> impl Iterator<Item = &Device> {
        self.devices.values()
    }

    pub fn len(&self) -> usize {
        self.devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }
}
