//! Where a scenario's module comes from: the built-in virtual module (a fresh one per scenario,
//! on its own pseudo-terminal) or a real module on a serial port. Either way the executor gets a
//! [`ModuleDriver`] over a serial line and nothing else.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::module::dialect::DialectKind;
use crate::module::{DriverOptions, ModuleDriver, SerialSettings, SerialTransport};
use crate::run::EventSink;
use crate::scenario::{Scenario, ScenarioError};
use crate::sim::{
    self, AccessPoint, Faults, FirmwareChoice, Flavour, Quirks, SimConfig, SimHandle, Timing,
};

use super::rig::Wifi;

/// The module under test.
#[derive(Debug, Clone)]
pub enum ModuleTarget {
    /// The virtual ESP8266; `base` is its configuration before the scenario's overrides.
    Virtual { base: Box<SimConfig> },
    /// A real module.
    Serial {
        path: String,
        settings: SerialSettings,
        dialect: DialectKind,
    },
}

/// A scenario's `virtual_module:` block: what a scenario may change of the virtual module.
/// Everything else (the name map pointing at the broker, the lab's access point) is the
/// runner's to set.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualOverrides {
    /// `nonos`, `esp-at`, `quectel-ec20`, `quectel-bg96`: within the slot's personality only
    /// (an ESP8266 slot cannot become a Quectel; `requires: { dialect: … }` picks the slot).
    pub firmware: Option<FirmwareChoice>,
    pub echo: Option<bool>,
    pub baud: Option<u32>,
    pub pace: Option<bool>,
    /// Extra access points in the air, besides the lab's.
    #[serde(default)]
    pub access_points: Vec<AccessPoint>,
    pub timing: Option<Timing>,
    pub quirks: Option<Quirks>,
    pub faults: Option<Faults>,
}

/// Reads a scenario's `virtual_module:` block, with file:line:column on every problem.
pub fn virtual_overrides(s: &Scenario) -> Result<VirtualOverrides, Vec<ScenarioError>> {
    match &s.virtual_module {
        Some(block) => block.read::<VirtualOverrides>(),
        None => Ok(VirtualOverrides::default()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("start the virtual module: {0}")]
    Sim(#[from] sim::SimError),
    #[error("open the module's serial line: {0}")]
    Open(#[from] crate::module::TransportError),
    #[error("read the scenario's virtual_module block: {0}")]
    Overrides(String),
}

/// A module ready for one scenario.
pub struct Attached {
    pub driver: ModuleDriver,
    sim: Option<SimHandle>,
}

impl ModuleTarget {
    /// A short description for the console and logs.
    pub fn describe(&self) -> String {
        match self {
            ModuleTarget::Virtual { base } => match &base.quectel {
                Some(q) => format!("virtual {} ({} baud)", q.model.name(), base.baud),
                None => format!(
                    "virtual ESP8266 ({}, {} baud)",
                    match base.firmware {
                        Flavour::Nonos => "NonOS AT 1.7",
                        Flavour::EspAt => "ESP-AT 2.x",
                    },
                    base.baud
                ),
            },
            ModuleTarget::Serial {
                path,
                settings,
                dialect,
            } => format!("{dialect} module on {path} ({} baud)", settings.baud),
        }
    }

    /// Brings up the module for `scenario`: a fresh virtual module whose DNS sends the cloud's
    /// host names to `broker`, or the serial port opened anew.
    pub fn attach(
        &self,
        scenario: &Scenario,
        broker: SocketAddr,
        wifi: Option<&Wifi>,
        events: EventSink,
    ) -> Result<Attached, TargetError> {
        match self {
            ModuleTarget::Virtual { base } => {
                let overrides = virtual_overrides(scenario).map_err(|errs| {
                    TargetError::Overrides(
                        errs.iter()
                            .map(|e| e.to_string())
                            .collect::<Vec<_>>()
                            .join("; "),
                    )
                })?;
                if let Some(choice) = overrides.firmware {
                    if choice.speaks_quectel() != base.quectel.is_some() {
                        return Err(TargetError::Overrides(format!(
                            "virtual_module.firmware asks for {}, but this slot's virtual \
                             module is {}: a scenario picks the module's dialect with \
                             `requires: {{ dialect: … }}`, not by changing the module",
                            if choice.speaks_quectel() {
                                "a Quectel"
                            } else {
                                "an ESP8266"
                            },
                            if base.quectel.is_some() {
                                "a Quectel"
                            } else {
                                "an ESP8266"
                            },
                        )));
                    }
                }
                let config = virtual_config(base, &overrides, broker, wifi);
                // The host speaks the dialect of the personality that is started.
                let dialect = match config.quectel {
                    Some(_) => DialectKind::Quectel,
                    None => DialectKind::EspAt,
                };
                let handle = sim::spawn(config)?;
                let settings = SerialSettings {
                    baud: handle.baud(),
                    ..SerialSettings::default()
                };
                let path = handle.device_path().to_string_lossy().into_owned();
                let transport = SerialTransport::open(&path, &settings, events)?;
                Ok(Attached {
                    driver: ModuleDriver::new(
                        transport,
                        dialect.dialect(),
                        DriverOptions::default(),
                    ),
                    sim: Some(handle),
                })
            }
            ModuleTarget::Serial {
                path,
                settings,
                dialect,
            } => {
                let transport = SerialTransport::open(path, settings, events)?;
                Ok(Attached {
                    driver: ModuleDriver::new(
                        transport,
                        dialect.dialect(),
                        DriverOptions::default(),
                    ),
                    sim: None,
                })
            }
        }
    }
}

/// The virtual module's configuration for one scenario.
pub fn virtual_config(
    base: &SimConfig,
    o: &VirtualOverrides,
    broker: SocketAddr,
    wifi: Option<&Wifi>,
) -> SimConfig {
    let mut c = base.clone();
    // Every cloud host name the seeds and SDKs use resolves to the gateway, ahead of any
    // rule the base configuration brings.
    for host in sim::CLOUD_HOSTS.iter().rev() {
        c.names.prepend(host, sim::Target::Socket(broker));
    }
    if let Some(w) = wifi {
        // The rig's network is in the air with the rig's password, whatever the base said.
        c.access_points.retain(|ap| ap.ssid != w.ssid);
        c.access_points
            .insert(0, AccessPoint::new(&w.ssid, &w.password));
    }
    c.access_points.extend(o.access_points.iter().cloned());
    // A personality switch is refused by `attach` (`switches_personality`).
    match o.firmware {
        Some(FirmwareChoice::Esp(f)) if c.quectel.is_none() => c.firmware = f,
        Some(choice @ FirmwareChoice::Quectel(_)) if c.quectel.is_some() => {
            c.choose_firmware(choice)
        }
        _ => {}
    }
    if let Some(v) = o.echo {
        c.echo = v;
    }
    if let Some(v) = o.baud {
        c.baud = v;
    }
    if let Some(v) = o.pace {
        c.pace = v;
    }
    if let Some(v) = &o.timing {
        c.timing = v.clone();
    }
    if let Some(v) = &o.quirks {
        c.quirks = v.clone();
    }
    if let Some(v) = &o.faults {
        c.faults = v.clone();
    }
    c
}

impl Attached {
    /// Closes the serial line and stops the virtual module, waiting a bounded time for its
    /// threads.
    pub async fn detach(self) {
        // Both block: closing the serial line joins its reader thread (up to its read poll),
        // stopping the virtual module joins its threads. On the async threads that stalled
        // every other slot: 64 slots ran 2.3 x slower than one.
        let stop = tokio::task::spawn_blocking(move || {
            let Attached { driver, sim } = self;
            drop(driver);
            if let Some(handle) = sim {
                handle.shutdown();
            }
        });
        let _ = tokio::time::timeout(Duration::from_secs(5), stop).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rig_network_replaces_a_base_access_point_of_the_same_name() {
        let wifi = Wifi {
            ssid: "athil-lab".into(),
            password: "wpa2-bench-key".into(),
        };
        let c = virtual_config(
            &SimConfig::default(),
            &VirtualOverrides::default(),
            "127.0.0.9:1883".parse().unwrap(),
            Some(&wifi),
        );
        let labs: Vec<_> = c
            .access_points
            .iter()
            .filter(|a| a.ssid == "athil-lab")
            .collect();
        assert_eq!(labs.len(), 1);
        assert_eq!(labs[0].password.0, "wpa2-bench-key");
    }
}
