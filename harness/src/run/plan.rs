//! The plan: which scenario runs on which slot, all checked before anything starts. Built from
//! what the user asked ([`PlanInput`], the CLI's flags resolved) by [`Plan::prepare`], which
//! reports every problem at once, each typed ([`PlanError`]).
//!
//! By default each scenario runs once, on the first free slot that can run it, longest first
//! when there are several slots (so the run's wall time is not the longest scenario started
//! last); `each_slot` runs every
//! scenario on every slot, the basis of a compatibility matrix. A scenario no slot can run is
//! a job of its own, reported skipped with the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::broker::{BrokerError, CloudProfile};
use crate::cloud::{DeviceRegistry, RegistryError};
use crate::events::{JobId, SlotId};
use crate::module::dialect::DialectKind;
use crate::scenario::{load_paths, Scenario, ScenarioError, Var};
use crate::sim::{SimConfig, SimError};

use super::blocks::block_problems;
use super::estimate::{estimate, History};
use super::requires::{fits, requires};
use super::rig::{BrokerPlacement, Rig, RigError, WifiSource};
use super::slot::{make_quectel, Slot};

/// What the user asked for, flags resolved to values.
#[derive(Debug, Clone)]
pub struct PlanInput {
    /// Scenario files or directories.
    pub paths: Vec<PathBuf>,
    /// Only scenarios whose name or file path contains this.
    pub filter: Option<String>,
    /// The device registry's folder.
    pub devices: PathBuf,
    pub rig: Option<PathBuf>,
    /// A real module's serial device (a one-slot rig).
    pub port: Option<String>,
    pub baud: Option<u32>,
    /// The dialect of the module on `port`.
    pub module: DialectKind,
    pub sim_config: Option<PathBuf>,
    /// The gateway's listen address (a one-slot run).
    pub listen: Option<SocketAddr>,
    pub profile: Option<PathBuf>,
    pub wifi_ssid: Option<String>,
    pub wifi_password_env: String,
    /// Virtual modules side by side (`--jobs`).
    pub jobs: usize,
    /// Every scenario on every slot.
    pub each_slot: bool,
    /// Earlier runs' times, for the order.
    pub history: History,
}

/// One scenario run on one slot (or on the first free slot that can run it).
#[derive(Debug, Clone)]
pub struct Job {
    pub id: JobId,
    /// Index into [`Plan::scenarios`].
    pub scenario: usize,
    /// The slot it is bound to; `None`: any of `eligible`, whichever is free first.
    pub slot: Option<SlotId>,
    pub eligible: Vec<SlotId>,
    /// Set when no slot can run it: reported skipped with this reason.
    pub skip: Option<String>,
    pub estimate: Duration,
}

/// A checked run: the registry, the cloud's rules, the slots, the scenarios and the jobs in
/// the order they start.
#[derive(Debug, Clone)]
pub struct Plan {
    pub registry: Arc<DeviceRegistry>,
    pub profile: CloudProfile,
    pub slots: Vec<Slot>,
    pub scenarios: Vec<Scenario>,
    pub jobs: Vec<Job>,
}

/// Why a run cannot start. Every one is found before anything starts, and all are reported.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Devices(#[from] RegistryError),
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    #[error("{0}")]
    Rig(#[from] RigError),
    #[error("{0}")]
    Profile(BrokerError),
    #[error("{0}")]
    SimConfig(SimError),
    #[error("open serial port `{port}`: {reason}")]
    Port { port: String, reason: String },
    #[error("no scenario matches --filter `{0}`")]
    NoMatch(String),
    #[error("no scenario found under the given paths")]
    NoScenarios,
    #[error("{}: the scenario reads {{{{env.{name}}}}}, but ${name} is not set", file.display())]
    EnvUnset { file: PathBuf, name: String },
    #[error(
        "{}: the scenario joins Wi-Fi ({{{{wifi.*}}}}) but the run has no network: give \
         --wifi-ssid (password in ${env}) or a rig file with `wifi:`",
        file.display()
    )]
    NoNetwork { file: PathBuf, env: String },
    #[error("--jobs {0}: {1}")]
    Jobs(usize, &'static str),
    #[error("{0}")]
    ModuleMismatch(String),
    #[error(
        "slots `{first}` and `{second}` both listen on {addr}: two slots cannot share a \
         gateway address (a device logged in from both would kick itself out); give each its \
         own `broker: {{ listen: … }}`"
    )]
    SharedGateway {
        first: String,
        second: String,
        addr: SocketAddr,
    },
}

impl Plan {
    /// Checks everything `input` names and plans the run, or says every problem found.
    pub fn prepare(input: &PlanInput) -> Result<Plan, Vec<PlanError>> {
        let registry = DeviceRegistry::load_dir(&input.devices).map_err(|e| vec![e.into()])?;
        let known: BTreeSet<String> = registry.names().map(str::to_owned).collect();
        let (mut scenarios, errors) = load_paths(&input.paths, &known);
        let mut problems: Vec<PlanError> = errors.into_iter().map(PlanError::from).collect();

        let profile = match &input.profile {
            Some(p) => CloudProfile::load(p).unwrap_or_else(|e| {
                problems.push(PlanError::Profile(e));
                CloudProfile::default()
            }),
            None => CloudProfile::default(),
        };
        // A real module ignores `virtual_module:`, but a typo in it is still a typo; a
        // `cloud:` block is checked over the run's profile.
        for s in &scenarios {
            problems.extend(block_problems(s, &profile).into_iter().map(PlanError::from));
        }
        let slots = match slots(input) {
            Ok(s) => s,
            Err(mut e) => {
                problems.append(&mut e);
                Vec::new()
            }
        };
        if let Some(f) = &input.filter {
            scenarios.retain(|s| {
                s.name.contains(f.as_str()) || s.file.to_string_lossy().contains(f.as_str())
            });
            if scenarios.is_empty() && problems.is_empty() {
                problems.push(PlanError::NoMatch(f.clone()));
            }
        } else if scenarios.is_empty() && problems.is_empty() {
            problems.push(PlanError::NoScenarios);
        }
        // Every environment variable a scenario reads must be set before anything starts.
        for s in &scenarios {
            for name in s.env_names() {
                if std::env::var_os(&name).is_none() {
                    problems.push(PlanError::EnvUnset {
                        file: s.file.clone(),
                        name,
                    });
                }
            }
        }
        let no_network = !slots.is_empty() && slots.iter().all(|s| s.wifi.is_none());
        let wifi_unreadable = problems
            .iter()
            .any(|p| matches!(p, PlanError::Rig(RigError::WifiPassword { .. })));
        if no_network && !wifi_unreadable {
            // Found now, not at the CWJAP step of every scenario.
            for s in scenarios.iter().filter(|s| joins_wifi(s)) {
                problems.push(PlanError::NoNetwork {
                    file: s.file.clone(),
                    env: input.wifi_password_env.clone(),
                });
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let jobs = jobs(&scenarios, &slots, &registry, input);
        Ok(Plan {
            registry: Arc::new(registry),
            profile,
            slots,
            scenarios,
            jobs,
        })
    }

    pub fn scenario(&self, job: &Job) -> &Scenario {
        &self.scenarios[job.scenario]
    }
}

/// Whether `s` uses `{{wifi.*}}`.
fn joins_wifi(s: &Scenario) -> bool {
    s.templates()
        .iter()
        .flat_map(|t| t.vars())
        .any(|v| matches!(v, Var::WifiSsid | Var::WifiPassword))
}

/// The run's slots: the rig's, `--port`'s, or `--jobs` virtual modules.
fn slots(input: &PlanInput) -> Result<Vec<Slot>, Vec<PlanError>> {
    let mut sim = match &input.sim_config {
        Some(p) => SimConfig::load(p).map_err(|e| vec![PlanError::SimConfig(e)])?,
        None => SimConfig::default(),
    };
    if let Some(b) = input.baud {
        sim.baud = b;
    }
    if input.jobs == 0 {
        return Err(vec![PlanError::Jobs(0, "a run needs at least one slot")]);
    }
    let placement = BrokerPlacement {
        listen: input.listen,
        host: None,
    };
    if input.rig.is_none() && input.port.is_none() {
        // `--module` picks the virtual module's personality; a sim config that makes the other
        // one is a contradiction, not something to fall back from.
        match (input.module, sim.quectel.is_some()) {
            (DialectKind::Quectel, false) => make_quectel(&mut sim),
            (DialectKind::EspAt, true) => {
                return Err(vec![PlanError::ModuleMismatch(
                    "the --sim-config makes a virtual Quectel (its `quectel:` block), but \
                     --module is esp-at: give --module quectel"
                        .to_owned(),
                )])
            }
            _ => {}
        }
        return Ok(Slot::virtual_modules(input.jobs, &sim, &placement));
    }
    if input.jobs > 1 {
        return Err(vec![PlanError::Jobs(
            input.jobs,
            "runs that many virtual modules; a rig's slots are its modules (list them under \
             `slots:` in the rig file)",
        )]);
    }
    let (mut rig, rig_path) = match &input.rig {
        Some(p) => (Rig::load(p).map_err(|e| vec![e.into()])?, p.clone()),
        None => (
            Rig::virtual_module(),
            PathBuf::from(format!("--port {}", input.port.as_deref().unwrap_or(""))),
        ),
    };
    if let Some(port) = &input.port {
        rig.port = Some(port.clone());
        rig.module = input.module;
        if let Some(ssid) = &input.wifi_ssid {
            rig.wifi = Some(WifiSource {
                ssid: ssid.clone(),
                password_env: Some(input.wifi_password_env.clone()),
                password_file: None,
            });
        }
    }
    if let Some(b) = input.baud {
        rig.serial.baud = b;
    }
    if let Some(l) = input.listen {
        rig.broker.listen = Some(l);
    }
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for (i, (name, slot_rig)) in rig.slots().into_iter().enumerate() {
        let mut slot_rig = slot_rig;
        if let Some(b) = input.baud {
            slot_rig.serial.baud = b;
        }
        if let Some(port) = &slot_rig.port {
            // An unplugged adapter, or a path that is no serial port, is one message before
            // the run, not a failure per scenario.
            if let Err(reason) = check_port(port) {
                problems.push(PlanError::Port {
                    port: port.clone(),
                    reason,
                });
            }
        }
        match Slot::from_rig(SlotId(i as u16), name, &slot_rig, &rig_path, &sim) {
            Ok(s) => out.push(s),
            Err(e) => problems.push(e.into()),
        }
    }
    let mut seen: BTreeMap<SocketAddr, &str> = BTreeMap::new();
    for s in &out {
        if let Some(addr) = s.broker.listen {
            if let Some(first) = seen.insert(addr, &s.name) {
                problems.push(PlanError::SharedGateway {
                    first: first.to_owned(),
                    second: s.name.clone(),
                    addr,
                });
            }
        }
    }
    match problems.is_empty() {
        true => Ok(out),
        false => Err(problems),
    }
}

/// The jobs, in the order they start.
fn jobs(
    scenarios: &[Scenario],
    slots: &[Slot],
    registry: &DeviceRegistry,
    input: &PlanInput,
) -> Vec<Job> {
    let mut order: Vec<(usize, Duration)> = scenarios
        .iter()
        .enumerate()
        .map(|(i, s)| (i, estimate(s, &input.history)))
        .collect();
    // Several slots: longest first (equal ones in file order), so the longest does not start
    // last. One slot: file order, which is what a reader of the console expects, and the
    // wall time is the same either way.
    if slots.len() > 1 {
        order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    }
    let mut jobs = Vec::new();
    let mut push = |scenario: usize,
                    slot: Option<SlotId>,
                    eligible: Vec<SlotId>,
                    skip: Option<String>,
                    estimate: Duration| {
        jobs.push(Job {
            id: JobId(jobs.len() as u32),
            scenario,
            slot,
            eligible,
            skip,
            estimate,
        })
    };
    for (i, est) in order {
        let s = &scenarios[i];
        let platform = registry.get(&s.device).map(|d| d.platform);
        let need = requires(s).unwrap_or_default();
        let fit: Vec<(SlotId, Result<(), String>)> = slots
            .iter()
            .map(|slot| {
                let mut fit = fits(&need, platform, &slot.provides).map_err(|u| u.0);
                if fit.is_ok() && slot.wifi.is_none() && joins_wifi(s) {
                    fit = Err("it joins Wi-Fi and the slot has no network".into());
                }
                (slot.id, fit)
            })
            .collect();
        let name = |id: SlotId| slots[id.0 as usize].name.as_str();
        if input.each_slot {
            for (id, f) in fit {
                match f {
                    Ok(()) => push(i, Some(id), vec![id], None, est),
                    Err(why) => push(
                        i,
                        Some(id),
                        vec![id],
                        Some(format!("slot `{}` cannot run it: {why}", name(id))),
                        est,
                    ),
                }
            }
            continue;
        }
        let eligible: Vec<SlotId> = fit
            .iter()
            .filter(|(_, f)| f.is_ok())
            .map(|(id, _)| *id)
            .collect();
        if eligible.is_empty() {
            // Slots that fail for the same reason are named together: eight virtual modules
            // of one kind give one reason, not eight copies of it.
            let mut by_reason: Vec<(String, Vec<String>)> = Vec::new();
            for (id, f) in &fit {
                let Err(w) = f else { continue };
                let w = w.to_string();
                match by_reason.iter_mut().find(|(r, _)| *r == w) {
                    Some((_, names)) => names.push(format!("`{}`", name(*id))),
                    None => by_reason.push((w, vec![format!("`{}`", name(*id))])),
                }
            }
            let why: Vec<String> = by_reason
                .iter()
                .map(|(w, names)| format!("{}: {w}", names.join(", ")))
                .collect();
            let reason = format!("no slot can run it ({})", why.join("; "));
            push(i, None, Vec::new(), Some(reason), est);
        } else {
            push(i, None, eligible, None, est);
        }
    }
    jobs
}

/// Whether `port` can be the module's serial line: it exists and is a terminal. Opened without
/// becoming the controlling terminal and without waiting for a carrier, then closed again; the
/// run opens it anew for each scenario.
fn check_port(port: &str) -> Result<(), String> {
    use std::io::IsTerminal;
    use std::os::unix::fs::OpenOptionsExt;
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(port);
    match opened {
        Ok(f) if f.is_terminal() => Ok(()),
        Ok(_) => Err("not a terminal (a serial port is a tty such as /dev/ttyUSB0)".to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err("no such device (is the adapter plugged in?)".to_owned())
        }
        Err(e) => Err(e.to_string()),
    }
}
