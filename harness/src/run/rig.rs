//! A rig file (`fixtures/rigs/*.yaml`): where the lab's pieces are. Passive data only — the
//! module driver and the executor decide what to do with it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cloud::Platform;
use crate::module::dialect::DialectKind;
use crate::module::SerialSettings;
use crate::sim::FirmwareChoice;

use super::requires::NetworkKind;

/// The access point the virtual module offers when no rig names one.
pub const VIRTUAL_SSID: &str = "athil-lab";
/// Its password. Not a real secret, but treated as one so every run exercises redaction; it
/// shares no run of characters with the SSID, so masking it leaves the SSID readable.
pub const VIRTUAL_WIFI_PASSWORD: &str = "wpa2-bench-key";

/// One lab set-up: a module on a serial port, the Wi-Fi it joins, where the broker listens;
/// or, with `slots:`, several modules, each of which may set any of those itself (the
/// top-level settings are then every slot's defaults).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rig {
    /// The AT dialect the module speaks (`esp-at`, `quectel`).
    #[serde(default = "default_dialect")]
    pub module: DialectKind,
    /// The serial device (`/dev/ttyUSB0`); absent means the built-in virtual module.
    #[serde(default)]
    pub port: Option<String>,
    #[serde(default)]
    pub serial: SerialSettings,
    #[serde(default)]
    pub wifi: Option<WifiSource>,
    #[serde(default)]
    pub broker: BrokerPlacement,
    /// How the module reaches the network [default: wifi for esp-at, cellular for quectel].
    #[serde(default)]
    pub network: Option<NetworkKind>,
    /// Firmware features the module has, for scenarios that `require:` them.
    #[serde(default)]
    pub features: Vec<String>,
    /// The clouds the module can reach [default: all].
    #[serde(default)]
    pub clouds: Option<Vec<Platform>>,
    /// A virtual module's firmware, as `athil sim --firmware` names it (`nonos`, `esp-at`,
    /// `quectel-ec20`, `quectel-bg96`) [default: the run's sim config, or the one `module:`
    /// implies]. Only for slots without `port:`.
    #[serde(default)]
    pub firmware: Option<FirmwareChoice>,
    /// Several modules: each a slot of its own.
    #[serde(default)]
    pub slots: Vec<SlotSpec>,
}

/// One module of a rig with several: a name, and what it sets over the rig's defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotSpec {
    /// Shown in the console, JUnit suites and report folders (`bench-a`, `air601`).
    pub name: String,
    pub module: Option<DialectKind>,
    /// The serial device; absent means a built-in virtual module.
    pub port: Option<String>,
    pub serial: Option<SerialSettings>,
    pub wifi: Option<WifiSource>,
    pub broker: Option<BrokerPlacement>,
    pub network: Option<NetworkKind>,
    pub features: Option<Vec<String>>,
    pub clouds: Option<Vec<Platform>>,
    pub firmware: Option<FirmwareChoice>,
}

fn default_dialect() -> DialectKind {
    DialectKind::EspAt
}

/// The Wi-Fi network the module joins. The password never lives in the rig file itself.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WifiSource {
    pub ssid: String,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File (outside the repository) holding the password on its first line.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// Where the impersonating broker listens and how the module reaches it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerPlacement {
    /// The gateway's listen address; default a random loopback address on port 1883.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// The host or IP the module must dial (`{{broker.host}}`) when it differs from the listen
    /// address, e.g. the lab PC's address on the module's Wi-Fi.
    #[serde(default)]
    pub host: Option<String>,
}

/// Wi-Fi credentials resolved for one run.
#[derive(Clone, PartialEq, Eq)]
pub struct Wifi {
    pub ssid: String,
    pub password: String,
}

impl std::fmt::Debug for Wifi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wifi")
            .field("ssid", &self.ssid)
            .field("password", &"***")
            .finish()
    }
}

impl Wifi {
    /// The virtual module's access point.
    pub fn virtual_lab() -> Wifi {
        Wifi {
            ssid: VIRTUAL_SSID.into(),
            password: VIRTUAL_WIFI_PASSWORD.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RigError {
    #[error("read rig file `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("read the Wi-Fi password of rig `{path}`: {message}")]
    WifiPassword { path: PathBuf, message: String },
}

impl Rig {
    /// The rig used when none is given: the virtual module on its pseudo-terminal.
    pub fn virtual_module() -> Rig {
        Rig {
            module: DialectKind::EspAt,
            port: None,
            serial: SerialSettings::default(),
            wifi: None,
            broker: BrokerPlacement::default(),
            network: None,
            features: Vec::new(),
            clouds: None,
            firmware: None,
            slots: Vec::new(),
        }
    }

    /// The rig's modules, each as a one-module rig named after its slot: the `slots:` with
    /// the top level's settings as defaults, or the top level itself (named after its port's
    /// file name, or `virtual`).
    pub fn slots(&self) -> Vec<(String, Rig)> {
        if self.slots.is_empty() {
            let name = match &self.port {
                Some(p) => Path::new(p)
                    .file_name()
                    .map_or_else(|| p.clone(), |n| n.to_string_lossy().into_owned()),
                None => "virtual".to_owned(),
            };
            return vec![(
                name,
                Rig {
                    slots: Vec::new(),
                    ..self.clone()
                },
            )];
        }
        self.slots
            .iter()
            .map(|s| {
                let rig = Rig {
                    module: s.module.unwrap_or(self.module),
                    port: s.port.clone(),
                    serial: s.serial.unwrap_or(self.serial),
                    wifi: s.wifi.clone().or_else(|| self.wifi.clone()),
                    broker: s.broker.clone().unwrap_or_else(|| self.broker.clone()),
                    network: s.network.or(self.network),
                    features: s.features.clone().unwrap_or_else(|| self.features.clone()),
                    clouds: s.clouds.clone().or_else(|| self.clouds.clone()),
                    firmware: s.firmware.or(self.firmware),
                    slots: Vec::new(),
                };
                (s.name.clone(), rig)
            })
            .collect()
    }

    pub fn load(path: &Path) -> Result<Rig, RigError> {
        let text = std::fs::read_to_string(path).map_err(|source| RigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Rig::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Rig, RigError> {
        let rig: Rig = serde_yaml::from_str(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            // serde_yaml ends its message with the position, which leads the line already.
            let message = e.to_string();
            let suffix = format!(" at line {line} column {column}");
            RigError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: message.strip_suffix(&suffix).unwrap_or(&message).to_owned(),
            }
        })?;
        let invalid = |message: String| RigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let wifis = rig
            .wifi
            .iter()
            .chain(rig.slots.iter().filter_map(|s| s.wifi.as_ref()));
        for w in wifis {
            if w.password_env.is_some() && w.password_file.is_some() {
                return Err(invalid(
                    "wifi: give `password_env` or `password_file`, not both".into(),
                ));
            }
        }
        if !rig.slots.is_empty() && rig.port.is_some() {
            return Err(invalid(
                "`port:` belongs in each slot when the rig lists `slots:`".into(),
            ));
        }
        for (name, slot) in rig.slots() {
            if slot.port.is_some() && slot.firmware.is_some() {
                return Err(invalid(format!(
                    "slot `{name}`: `firmware:` chooses a virtual module's firmware; a module \
                     on `port:` has its own"
                )));
            }
            let quectel = slot.firmware.map(FirmwareChoice::speaks_quectel);
            if quectel.is_some_and(|q| q != (slot.module == DialectKind::Quectel)) {
                return Err(invalid(format!(
                    "slot `{name}`: its firmware speaks {}, but its `module:` is {}",
                    if quectel == Some(true) {
                        "quectel"
                    } else {
                        "esp-at"
                    },
                    slot.module.name()
                )));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for s in &rig.slots {
            if s.name.is_empty() || !names.insert(s.name.as_str()) {
                return Err(invalid(format!(
                    "slots: every slot needs a name of its own (`{}` is empty or repeated)",
                    s.name
                )));
            }
        }
        Ok(rig)
    }

    /// The Wi-Fi credentials, reading the password from where the rig says. A hardware rig
    /// without `wifi:` gets none; the virtual module always has its own lab network.
    pub fn wifi(&self, path: &Path) -> Result<Option<Wifi>, RigError> {
        let Some(src) = &self.wifi else {
            return Ok(self.port.is_none().then(Wifi::virtual_lab));
        };
        let err = |message: String| RigError::WifiPassword {
            path: path.to_owned(),
            message,
        };
        let password = match (&src.password_env, &src.password_file) {
            (Some(var), _) => std::env::var(var)
                .map_err(|_| err(format!("environment variable `{var}` is not set")))?,
            (None, Some(file)) => std::fs::read_to_string(file)
                .map_err(|e| err(format!("`{}`: {e}", file.display())))?
                .lines()
                .next()
                .unwrap_or("")
                .to_owned(),
            (None, None) if self.port.is_none() => VIRTUAL_WIFI_PASSWORD.to_owned(),
            (None, None) => String::new(),
        };
        Ok(Some(Wifi {
            ssid: src.ssid.clone(),
            password,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hardware_rig_reads_with_every_setting() {
        let rig = Rig::parse(
            "module: esp-at\nport: /dev/ttyUSB0\nserial: { baud: 74880 }\n\
             wifi: { ssid: lab-2g, password_env: ATHIL_TEST_NO_SUCH_VAR }\n\
             broker: { listen: 192.168.4.1:1883, host: 192.168.4.1 }\n",
            Path::new("rig.yaml"),
        )
        .unwrap();
        assert_eq!(rig.port.as_deref(), Some("/dev/ttyUSB0"));
        assert_eq!(rig.serial.baud, 74880);
        assert_eq!(rig.broker.host.as_deref(), Some("192.168.4.1"));
        let err = rig.wifi(Path::new("rig.yaml")).unwrap_err().to_string();
        assert!(err.contains("ATHIL_TEST_NO_SUCH_VAR"), "{err}");
    }

    #[test]
    fn an_unknown_key_names_its_line_and_column() {
        let err = Rig::parse("module: esp-at\nbaud: 9600\n", Path::new("r.yaml")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("r.yaml:2:1: unknown field `baud`"),
            "{text}"
        );
    }

    #[test]
    fn the_virtual_rig_has_the_lab_network() {
        let wifi = Rig::virtual_module().wifi(Path::new("-")).unwrap().unwrap();
        assert_eq!(wifi, Wifi::virtual_lab());
        assert!(!format!("{wifi:?}").contains(VIRTUAL_WIFI_PASSWORD));
    }
}

#[cfg(test)]
mod shipped {
    use super::*;

    /// The rig files shipped as examples must stay loadable as the format changes.
    #[test]
    fn every_shipped_rig_file_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/rigs");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let rig = Rig::load(&path).unwrap_or_else(|e| panic!("{e}"));
                for (name, slot) in rig.slots() {
                    // A hardware slot names its port; a virtual one says which firmware.
                    assert!(
                        slot.port.is_some() || slot.firmware.is_some(),
                        "{}: slot `{name}` of a shipped rig names its port or its firmware",
                        path.display()
                    );
                }
                n += 1;
            }
        }
        assert!(
            n >= 2,
            "expected the shipped rig examples in {}",
            dir.display()
        );
    }
}
