//! What a scenario needs of a slot, and what a slot offers: the plan runs a scenario only on a
//! slot that has everything it asks for, and reports the rest as skipped with the reason.
//!
//! A scenario says it in a `requires:` block (kept unread by the scenario layer, read here
//! with file:line:column on every problem). Without one it needs the ESP-AT dialect (today's
//! raw steps are ESP-AT commands) and the cloud of its device fixture.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;

use crate::cloud::Platform;
use crate::module::dialect::DialectKind;
use crate::scenario::{Opaque, Scenario, ScenarioError};

/// How a module reaches the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkKind {
    Wifi,
    Cellular,
}

impl fmt::Display for NetworkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkKind::Wifi => "wifi",
            NetworkKind::Cellular => "cellular",
        })
    }
}

impl NetworkKind {
    /// The network a module of `dialect` has unless its rig says otherwise.
    pub fn usual_for(dialect: DialectKind) -> NetworkKind {
        match dialect {
            DialectKind::EspAt => NetworkKind::Wifi,
            DialectKind::Quectel => NetworkKind::Cellular,
        }
    }
}

/// A scenario's `requires:` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requires {
    /// The AT dialect its steps speak [default: esp-at].
    pub dialect: Option<DialectKind>,
    pub network: Option<NetworkKind>,
    /// Firmware features the slot must list (`passthrough`, `udp`, `ssl`…).
    #[serde(default)]
    pub features: Vec<String>,
    /// The cloud it logs in to [default: its device fixture's].
    pub cloud: Option<Platform>,
    /// `true`: only the built-in virtual module can run it (it sets fault knobs a real module
    /// has not got).
    #[serde(default)]
    pub virtual_module: bool,
}

/// What a slot offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provides {
    pub dialect: DialectKind,
    pub network: NetworkKind,
    pub features: BTreeSet<String>,
    /// The clouds the module can reach; `None`: every cloud athil impersonates.
    pub clouds: Option<BTreeSet<Platform>>,
    pub is_virtual: bool,
}

/// What the built-in virtual ESP8266 emulates, as feature names a scenario can ask for.
pub const VIRTUAL_FEATURES: &[&str] = &[
    "passthrough",
    "udp",
    "server",
    "soft-ap",
    "ssl-config",
    "ping",
    "multiple-links",
];

/// What the virtual Quectel offers beyond the basics: several links at once (`AT+QIOPEN`
/// connect ids 0–11); no passthrough, UDP, server or soft-AP in the simulator yet.
pub const VIRTUAL_QUECTEL_FEATURES: &[&str] = &["multiple-links"];

impl Provides {
    /// The built-in virtual module `sim` configures: an ESP8266, or a Quectel when its
    /// `quectel:` block is set.
    pub fn of_virtual(sim: &crate::sim::SimConfig) -> Provides {
        match sim.quectel {
            None => Provides::virtual_esp(),
            Some(_) => Provides {
                dialect: DialectKind::Quectel,
                network: NetworkKind::Cellular,
                features: VIRTUAL_QUECTEL_FEATURES
                    .iter()
                    .map(|f| f.to_string())
                    .collect(),
                clouds: None,
                is_virtual: true,
            },
        }
    }

    /// The built-in virtual ESP8266.
    pub fn virtual_esp() -> Provides {
        Provides {
            dialect: DialectKind::EspAt,
            network: NetworkKind::Wifi,
            features: VIRTUAL_FEATURES.iter().map(|f| f.to_string()).collect(),
            clouds: None,
            is_virtual: true,
        }
    }
}

/// Reads `s`'s `requires:` block (the defaults when it has none).
///
/// Raw AT text (`send`, `write`, `expect`) is ESP-AT's unless the block names another
/// dialect; a scenario of dialect-neutral steps only (`join`, `open`, `mqtt`…) fits any.
pub fn requires(s: &Scenario) -> Result<Requires, Vec<ScenarioError>> {
    let mut need: Requires = s
        .requires
        .as_ref()
        .map(Opaque::read)
        .transpose()
        .map(Option::unwrap_or_default)?;
    if need.dialect.is_none() && !s.dialect_neutral() {
        need.dialect = Some(DialectKind::EspAt);
    }
    Ok(need)
}

/// Why `slot` cannot run a scenario needing `need` whose device is on `platform`; `Ok` if it
/// can.
pub fn fits(need: &Requires, platform: Option<Platform>, slot: &Provides) -> Result<(), Unfit> {
    if let Some(dialect) = need.dialect {
        if dialect != slot.dialect {
            return Err(Unfit(format!(
                "it speaks {} and the slot's module {}",
                dialect.name(),
                slot.dialect.name()
            )));
        }
    }
    if let Some(n) = need.network {
        if n != slot.network {
            return Err(Unfit(format!(
                "it needs a {n} module and the slot's is {}",
                slot.network
            )));
        }
    }
    let missing: Vec<&str> = need
        .features
        .iter()
        .filter(|f| !slot.features.contains(*f))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(Unfit(format!(
            "the slot's firmware lacks {}",
            missing.join(", ")
        )));
    }
    if let (Some(cloud), Some(clouds)) = (need.cloud.or(platform), &slot.clouds) {
        if !clouds.contains(&cloud) {
            return Err(Unfit(format!("the slot's module cannot reach {cloud}")));
        }
    }
    if need.virtual_module && !slot.is_virtual {
        return Err(Unfit(
            "it needs the virtual module (`requires: {virtual_module: true}`)".into(),
        ));
    }
    Ok(())
}

/// Why a slot cannot run a scenario, said after "cannot run it: ".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfit(pub String);

impl fmt::Display for Unfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quectel() -> Provides {
        Provides {
            dialect: DialectKind::Quectel,
            network: NetworkKind::Cellular,
            features: BTreeSet::new(),
            clouds: Some([Platform::Onenet].into()),
            is_virtual: false,
        }
    }

    #[test]
    fn a_dialect_fits_only_its_own_slots_and_none_fits_any() {
        let esp = Requires {
            dialect: Some(DialectKind::EspAt),
            ..Requires::default()
        };
        assert_eq!(fits(&esp, None, &Provides::virtual_esp()), Ok(()));
        let why = fits(&esp, None, &quectel()).unwrap_err();
        assert_eq!(why.0, "it speaks esp-at and the slot's module quectel");
        let neutral = Requires::default();
        assert_eq!(fits(&neutral, None, &Provides::virtual_esp()), Ok(()));
        assert_eq!(fits(&neutral, None, &quectel()), Ok(()));
    }

    #[test]
    fn features_cloud_and_virtual_are_each_named() {
        let need = Requires {
            dialect: Some(DialectKind::Quectel),
            features: vec!["ssl".into(), "ftp".into()],
            ..Requires::default()
        };
        let why = fits(&need, None, &quectel()).unwrap_err();
        assert_eq!(why.0, "the slot's firmware lacks ssl, ftp");
        let need = Requires {
            dialect: Some(DialectKind::Quectel),
            ..Requires::default()
        };
        let why = fits(&need, Some(Platform::Aliyun), &quectel()).unwrap_err();
        assert_eq!(why.0, "the slot's module cannot reach aliyun");
        let need = Requires {
            virtual_module: true,
            ..Requires::default()
        };
        let mut hw = Provides::virtual_esp();
        hw.is_virtual = false;
        assert!(fits(&need, None, &hw)
            .unwrap_err()
            .0
            .contains("virtual module"));
    }
}
