//! A slot: one module position of the rig (a serial port, or one built-in virtual module) with
//! what the executor needs to run scenarios there: the module target, its network, where its
//! broker scope listens, and what it offers scenarios.

use std::collections::BTreeSet;
use std::path::Path;

use crate::events::SlotId;
use crate::module::dialect::DialectKind;
use crate::sim::{FirmwareChoice, QuectelModel, SimConfig};

use super::requires::{NetworkKind, Provides};
use super::rig::{BrokerPlacement, Rig, RigError, Wifi};
use super::target::ModuleTarget;

/// One module position.
#[derive(Debug, Clone)]
pub struct Slot {
    pub id: SlotId,
    pub name: String,
    pub target: ModuleTarget,
    /// The network its module joins (`{{wifi.*}}`); none for a module without one.
    pub wifi: Option<Wifi>,
    /// Where its broker scope listens, and what host its module dials.
    pub broker: BrokerPlacement,
    pub provides: Provides,
}

impl Slot {
    /// The slot a rig's module makes; `rig_path` names the rig in errors.
    pub fn from_rig(
        id: SlotId,
        name: String,
        rig: &Rig,
        rig_path: &Path,
        sim: &SimConfig,
    ) -> Result<Slot, RigError> {
        let wifi = rig.wifi(rig_path)?;
        let (target, provides) = match &rig.port {
            Some(path) => (
                ModuleTarget::Serial {
                    path: path.clone(),
                    settings: rig.serial,
                    dialect: rig.module,
                },
                Provides {
                    dialect: rig.module,
                    network: rig
                        .network
                        .unwrap_or_else(|| NetworkKind::usual_for(rig.module)),
                    features: rig.features.iter().cloned().collect(),
                    clouds: rig.clouds.as_ref().map(|c| c.iter().copied().collect()),
                    is_virtual: false,
                },
            ),
            None => {
                // A rig slot without a port is a virtual module of the slot's dialect.
                let mut sim = sim.clone();
                match rig.firmware {
                    Some(choice @ FirmwareChoice::Esp(_)) => sim.choose_firmware(choice),
                    Some(FirmwareChoice::Quectel(model)) => {
                        if sim.quectel.is_none() {
                            make_quectel(&mut sim);
                        }
                        sim.choose_firmware(FirmwareChoice::Quectel(model));
                    }
                    None if rig.module == DialectKind::Quectel && sim.quectel.is_none() => {
                        make_quectel(&mut sim)
                    }
                    None => {}
                }
                let mut provides = Provides::of_virtual(&sim);
                if provides.dialect != rig.module {
                    return Err(RigError::Invalid {
                        path: rig_path.to_owned(),
                        message: format!(
                            "slot `{name}`: the virtual module's configuration speaks {}, \
                             the slot says {}",
                            provides.dialect.name(),
                            rig.module.name()
                        ),
                    });
                }
                provides.features.extend(rig.features.iter().cloned());
                (
                    ModuleTarget::Virtual {
                        base: Box::new(sim),
                    },
                    provides,
                )
            }
        };
        Ok(Slot {
            id,
            name,
            target,
            wifi,
            broker: rig.broker.clone(),
            provides,
        })
    }

    /// `n` virtual modules side by side (`--jobs n`), named `v1`…`vn` (`virtual` when one).
    pub fn virtual_modules(n: usize, sim: &SimConfig, broker: &BrokerPlacement) -> Vec<Slot> {
        (0..n)
            .map(|i| Slot {
                id: SlotId(i as u16),
                name: match n {
                    1 => "virtual".to_owned(),
                    _ => format!("v{}", i + 1),
                },
                target: ModuleTarget::Virtual {
                    base: Box::new(sim.clone()),
                },
                wifi: Some(Wifi::virtual_lab()),
                // One listen address cannot serve two slots' scopes: only a lone slot takes it.
                broker: match n {
                    1 => broker.clone(),
                    _ => BrokerPlacement::default(),
                },
                provides: Provides::of_virtual(sim),
            })
            .collect()
    }

    /// What the console, JUnit and transcripts call its module.
    pub fn describe(&self) -> String {
        self.target.describe()
    }

    /// The features it offers, for messages.
    pub fn features(&self) -> &BTreeSet<String> {
        &self.provides.features
    }
}

/// Turns the run's virtual module into the default Quectel (an EC20) that has been powered for
/// a while, as the virtual ESP8266 of a run is: registered on the network from the start, so a
/// scenario begins where a host's driver would after its registration poll. A `--sim-config`
/// with its own `quectel:` block keeps its registration delay (`registration_ms`).
pub fn make_quectel(sim: &mut SimConfig) {
    sim.choose_firmware(FirmwareChoice::Quectel(QuectelModel::default()));
    if let Some(q) = &mut sim.quectel {
        q.registration_ms = 0;
    }
}
