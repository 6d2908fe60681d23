//! `athil run`: load scenarios, start the impersonating broker, run every scenario against the
//! module (the virtual module unless a port or rig says otherwise) and write the reports.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::broker::{Broker, BrokerConfig, CloudProfile, Listen};
use crate::cloud::DeviceRegistry;
use crate::exit::ExitCode;
use crate::module::dialect::DialectKind;
use crate::report::{Console, Redactor, Reporter};
use crate::run::rig::WifiSource;
use crate::run::{block_problems, EventSink, Executor, ModuleTarget, Rig, Totals, Wifi};
use crate::scenario::{load_paths, Scenario, Var};
use crate::sim::SimConfig;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files or directories (searched recursively for *.yaml).
    #[arg(default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
    /// Run only scenarios whose name or file path contains this text.
    #[arg(long)]
    pub filter: Option<String>,
    /// Where transcripts, pcaps and (by default) the JUnit file go.
    #[arg(long, default_value = "athil-out")]
    pub out: PathBuf,
    /// JUnit XML file [default: <OUT>/junit.xml].
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// The device registry.
    #[arg(long, default_value = "fixtures/devices")]
    pub devices: PathBuf,
    /// A rig file (fixtures/rigs/*.yaml): port, serial settings, module dialect, Wi-Fi, broker.
    #[arg(long, conflicts_with = "port")]
    pub rig: Option<PathBuf>,
    /// A real module's serial device instead of the virtual module.
    #[arg(long)]
    pub port: Option<String>,
    /// Baud rate of --port (or of the virtual module's line).
    #[arg(long)]
    pub baud: Option<u32>,
    /// The AT dialect of the module on --port.
    #[arg(long, default_value = "esp-at")]
    pub module: DialectKind,
    /// The virtual module's configuration (YAML, see `athil sim --help`).
    #[arg(long)]
    pub sim_config: Option<PathBuf>,
    /// Where the broker gateway listens [default: a free 127.x.y.z:1883].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// The cloud's rules for the whole run (see fixtures/profiles/aliyun.yaml and
    /// docs/cloud-fidelity.md) [default: Alibaba Cloud's documented behaviour].
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// The Wi-Fi network the module on --port joins (`{{wifi.ssid}}`).
    #[arg(long, env = "ATHIL_WIFI_SSID", requires = "port")]
    pub wifi_ssid: Option<String>,
    /// The environment variable holding that network's password (`{{wifi.password}}`).
    #[arg(long, default_value = "ATHIL_WIFI_PASSWORD", requires = "wifi_ssid")]
    pub wifi_password_env: String,
}

pub fn run(args: Args) -> ExitCode {
    match prepare(&args) {
        Ok(plan) => execute(args, plan),
        Err(problems) => {
            for p in &problems {
                eprintln!("athil run: {p}");
            }
            ExitCode::Usage
        }
    }
}

/// What the arguments resolve to, all checked before anything starts.
struct Plan {
    registry: DeviceRegistry,
    scenarios: Vec<Scenario>,
    target: ModuleTarget,
    rig: Rig,
    wifi: Option<Wifi>,
    profile: CloudProfile,
}

fn prepare(args: &Args) -> Result<Plan, Vec<String>> {
    let registry = DeviceRegistry::load_dir(&args.devices).map_err(|e| vec![e.to_string()])?;
    let known: BTreeSet<String> = registry.names().map(str::to_owned).collect();
    let (mut scenarios, errors) = load_paths(&args.paths, &known);
    let mut problems: Vec<String> = errors.iter().map(|e| e.to_string()).collect();

    let (mut rig, rig_path): (Rig, PathBuf) = match &args.rig {
        Some(p) => (Rig::load(p).map_err(|e| vec![e.to_string()])?, p.clone()),
        None => (
            Rig::virtual_module(),
            PathBuf::from(match &args.port {
                Some(p) => format!("--port {p}"),
                None => "(virtual module)".to_owned(),
            }),
        ),
    };
    if let Some(port) = &args.port {
        rig.port = Some(port.clone());
        rig.module = args.module;
        if let Some(ssid) = &args.wifi_ssid {
            rig.wifi = Some(WifiSource {
                ssid: ssid.clone(),
                password_env: Some(args.wifi_password_env.clone()),
                password_file: None,
            });
        }
    }
    if let Some(b) = args.baud {
        rig.serial.baud = b;
    }
    if let Some(l) = args.listen {
        rig.broker.listen = Some(l);
    }
    let profile = match &args.profile {
        Some(p) => CloudProfile::load(p).unwrap_or_else(|e| {
            problems.push(e.to_string());
            CloudProfile::default()
        }),
        None => CloudProfile::default(),
    };
    // A real module ignores `virtual_module:`, but a typo in it is still a typo; a `cloud:`
    // block is checked over the run's profile.
    for s in &scenarios {
        problems.extend(block_problems(s, &profile).iter().map(|e| e.to_string()));
    }
    let target = match &rig.port {
        Some(path) => ModuleTarget::Serial {
            path: path.clone(),
            settings: rig.serial,
            dialect: rig.module,
        },
        None => {
            let mut base = match &args.sim_config {
                Some(p) => SimConfig::load(p).map_err(|e| vec![e.to_string()])?,
                None => SimConfig::default(),
            };
            if let Some(b) = args.baud {
                base.baud = b;
            }
            ModuleTarget::Virtual {
                base: Box::new(base),
            }
        }
    };
    if let Some(f) = &args.filter {
        scenarios.retain(|s| {
            s.name.contains(f.as_str()) || s.file.to_string_lossy().contains(f.as_str())
        });
        if scenarios.is_empty() && problems.is_empty() {
            problems.push(format!("no scenario matches --filter `{f}`"));
        }
    } else if scenarios.is_empty() && problems.is_empty() {
        problems.push("no scenario found under the given paths".into());
    }
    if let Some(port) = &rig.port {
        // An unplugged adapter is one message before the run, not a failure per scenario.
        if !std::path::Path::new(port).exists() {
            problems.push(format!(
                "open serial port `{port}`: no such device (is the adapter plugged in?)"
            ));
        }
    }
    let (wifi, wifi_unreadable) = match rig.wifi(&rig_path) {
        Ok(w) => (w, false),
        Err(e) => {
            problems.push(e.to_string());
            (None, true)
        }
    };
    // Every environment variable a scenario reads must be set before anything starts.
    for s in &scenarios {
        for name in s.env_names() {
            if std::env::var_os(&name).is_none() {
                problems.push(format!(
                    "{}: the scenario reads {{{{env.{name}}}}}, but ${name} is not set",
                    s.file.display()
                ));
            }
        }
    }
    if wifi.is_none() && !wifi_unreadable {
        // Found now, not at the CWJAP step of every scenario.
        for s in &scenarios {
            let needs = s
                .templates()
                .iter()
                .flat_map(|t| t.vars())
                .any(|v| matches!(v, Var::WifiSsid | Var::WifiPassword));
            if needs {
                problems.push(format!(
                    "{}: the scenario joins Wi-Fi ({{{{wifi.*}}}}) but the run has no network: \
                     give --wifi-ssid (password in ${}) or a rig file with `wifi:`",
                    s.file.display(),
                    args.wifi_password_env
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Plan {
        registry,
        scenarios,
        target,
        rig,
        wifi,
        profile,
    })
}

fn execute(args: Args, plan: Plan) -> ExitCode {
    let wifi = plan.wifi.clone();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("athil run: start the async runtime: {e}");
            return ExitCode::Usage;
        }
    };
    let junit = args
        .junit
        .clone()
        .unwrap_or_else(|| args.out.join("junit.xml"));
    let redactor = Redactor::new(secrets(&plan, wifi.as_ref().map(|w| w.password.clone())));
    let mut reporter = match Reporter::new(&args.out, Some(junit), redactor, Console::stdout()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("athil run: {e}");
            return ExitCode::Usage;
        }
    };
    let totals = runtime.block_on(async {
        let (events, mut rx) = EventSink::channel();
        let mut config = BrokerConfig::new(plan.registry.clone());
        config.profile = plan.profile.clone();
        if let Some(addr) = plan.rig.broker.listen {
            config.listen = Listen::Addr(addr);
        }
        let broker = match Broker::start(config, events.clone()).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("athil run: start the broker: {e}");
                return None;
            }
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "\nathil run: interrupted; finishing the step under way and writing reports"
                );
                let _ = stop_tx.send(true);
            }
        });
        let broker_host = plan
            .rig
            .broker
            .host
            .clone()
            .unwrap_or_else(|| broker.addr().ip().to_string());
        let executor = Executor {
            target: &plan.target,
            broker: &broker,
            registry: &plan.registry,
            wifi: wifi.as_ref(),
            broker_host,
            events: events.clone(),
        };
        let run = executor.run(&plan.scenarios, stop_rx);
        tokio::pin!(run);
        // Feed the reports while the run goes on, so a crash mid-run loses nothing written.
        let totals: Totals = loop {
            tokio::select! {
                biased;
                Some(ev) = rx.recv() => reporter.handle(&ev),
                t = &mut run => break t,
            }
        };
        let _ = broker.shutdown(Duration::from_secs(3)).await;
        while let Ok(ev) = rx.try_recv() {
            reporter.handle(&ev);
        }
        Some(totals)
    });
    // The console has already said what could not be written, and why.
    let _paths = reporter.finish();
    match totals {
        None => ExitCode::Usage,
        Some(t) if t.interrupted => ExitCode::Interrupted,
        Some(t) if t.failed > 0 => ExitCode::Failure,
        Some(_) => ExitCode::Success,
    }
}

/// Every secret value this run may carry: the Wi-Fi password, the DeviceSecrets of the
/// scenarios' devices, and whatever the scenarios read from the environment.
fn secrets(plan: &Plan, wifi_password: Option<String>) -> Vec<String> {
    let mut out: Vec<String> = wifi_password.into_iter().collect();
    let env = |key: &str| key.strip_prefix("env.").and_then(|n| std::env::var(n).ok());
    for s in &plan.scenarios {
        if let Some(d) = plan.registry.get(&s.device) {
            if let Ok(secret) = d.secret() {
                out.push(secret.expose().to_owned());
            }
        }
        out.extend(s.secret_values(&env));
    }
    out
}
