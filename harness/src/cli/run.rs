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
use crate::report::{Console, Planned, Redactor, Reporter};
use crate::run::rig::WifiSource;
use crate::run::{
    block_problems, EventSink, Executor, ModuleTarget, Rig, RunSecrets, Totals, Wifi,
};

use super::signals::StopSignals;
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
        // An unplugged adapter, or a path that is no serial port, is one message before the
        // run, not a failure per scenario.
        if let Err(problem) = check_port(port) {
            problems.push(problem);
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
            eprintln!("athil run: failed to start the async runtime: {e}");
            return ExitCode::Usage;
        }
    };
    // Caught before the first report is written: from here a signal stops the run and the
    // reports are completed, never left as they were when the signal came.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(None);
    let signals = {
        let _inside = runtime.enter();
        StopSignals::install()
    };
    match signals {
        Ok(signals) => {
            runtime.spawn(stop_on_signals(signals, stop_tx));
        }
        Err(e) => {
            eprintln!("athil run: failed to catch SIGINT, SIGTERM and SIGHUP: {e}");
            return ExitCode::Usage;
        }
    }
    let junit = args
        .junit
        .clone()
        .unwrap_or_else(|| args.out.join("junit.xml"));
    let known = RunSecrets::of_run(&plan.scenarios, &plan.registry, wifi.as_ref());
    let redactor = Redactor::new(&known.secrets).with_public(&known.public);
    let mut reporter = match Reporter::new(&args.out, Some(junit), redactor, Console::stdout()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("athil run: failed to {e}: {}", source_text(&e));
            return ExitCode::Usage;
        }
    };
    reporter.plan(
        plan.scenarios
            .iter()
            .map(|s| Planned {
                name: s.name.clone(),
                file: s.file.clone(),
            })
            .collect(),
    );
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
                eprintln!("athil run: failed to start the broker: {e}");
                return None;
            }
        };
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
    let paths = reporter.finish();
    match totals {
        None => ExitCode::Usage,
        Some(Totals {
            interrupted: Some(i),
            ..
        }) => ExitCode::interrupted_by(i),
        Some(_) if !paths.is_complete() => ExitCode::ReportsNotWritten,
        Some(t) if t.failed > 0 => ExitCode::Failure,
        Some(_) => ExitCode::Success,
    }
}

/// The first stop signal stops the run (the step under way ends, the reports are completed);
/// a second one exits at once, for a run that cannot finish (a report written to a FIFO
/// nobody reads, a hung disk).
async fn stop_on_signals(
    mut signals: StopSignals,
    stop: tokio::sync::watch::Sender<Option<crate::run::Interrupt>>,
) {
    let first = signals.next().await;
    eprintln!(
        "\nathil run: interrupted ({}); stopping the step under way and writing the reports \
         (Ctrl-C again to stop at once)",
        first.label()
    );
    let _ = stop.send(Some(first));
    let second = signals.next().await;
    eprintln!(
        "athil run: a second signal ({}): stopping at once, without the reports of the \
         scenario under way",
        second.label()
    );
    std::process::exit(ExitCode::interrupted_by(second).code());
}

/// Whether `port` can be the module's serial line: it exists and is a terminal. Opened without
/// becoming the controlling terminal and without waiting for a carrier, then closed again;
/// the run opens it anew for each scenario.
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
        Ok(_) => Err(format!(
            "open serial port `{port}`: not a terminal (a serial port is a tty such as \
             /dev/ttyUSB0)"
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "open serial port `{port}`: no such device (is the adapter plugged in?)"
        )),
        Err(e) => Err(format!("open serial port `{port}`: {e}")),
    }
}

/// The causes of `e`, `: `-separated, for one line on stderr.
fn source_text(e: &dyn std::error::Error) -> String {
    let mut out = Vec::new();
    let mut src = e.source();
    while let Some(s) = src {
        out.push(s.to_string());
        src = s.source();
    }
    out.join(": ")
}
