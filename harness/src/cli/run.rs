//! `athil run`: plan the run (scenarios, slots, which scenario where), start a broker scope per
//! slot, run the slots side by side and write the reports into a fresh folder under `--out`.
//! The planning and the running are the library's (`run::Plan`, `run::session`); this file
//! turns flags into a [`PlanInput`] and prints.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::exit::ExitCode;
use crate::module::dialect::DialectKind;
use crate::report::reporter::JUNIT_EVERY;
use crate::report::{run_dir, Console, Planned, Redactor, Reporter, RunPlan, SlotInfo};
use crate::run::{session, EventSink, History, Plan, PlanInput, RunSecrets};

use super::signals::StopSignals;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files or directories (searched recursively for *.yaml).
    #[arg(default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
    /// Run only scenarios whose name or file path contains this text.
    #[arg(long)]
    pub filter: Option<String>,
    /// Where the runs' reports go: each run writes transcripts, pcaps and (by default) the
    /// JUnit file into a fresh folder `<OUT>/<run id>/`, and `<OUT>/latest` points at it.
    #[arg(long, default_value = "athil-out")]
    pub out: PathBuf,
    /// JUnit XML file [default: <OUT>/<run id>/junit.xml].
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// The device registry.
    #[arg(long, default_value = "fixtures/devices")]
    pub devices: PathBuf,
    /// A rig file (fixtures/rigs/*.yaml): port, serial settings, module dialect, Wi-Fi, broker;
    /// or several modules under `slots:`.
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
    /// How many virtual modules run side by side, each a slot with its own broker scope.
    #[arg(long, short = 'j', default_value_t = 1, value_name = "N")]
    pub jobs: usize,
    /// Run every scenario on every slot (a compatibility matrix), not each once on the first
    /// free slot that can run it.
    #[arg(long)]
    pub each_slot: bool,
}

pub fn run(args: Args) -> ExitCode {
    let input = PlanInput {
        paths: args.paths.clone(),
        filter: args.filter.clone(),
        devices: args.devices.clone(),
        rig: args.rig.clone(),
        port: args.port.clone(),
        baud: args.baud,
        module: args.module,
        sim_config: args.sim_config.clone(),
        listen: args.listen,
        profile: args.profile.clone(),
        wifi_ssid: args.wifi_ssid.clone(),
        wifi_password_env: args.wifi_password_env.clone(),
        jobs: args.jobs,
        each_slot: args.each_slot,
        history: History::load(&args.out),
    };
    match Plan::prepare(&input) {
        Ok(plan) => execute(args, plan, input.history),
        Err(problems) => {
            for p in &problems {
                eprintln!("athil run: {p}");
            }
            ExitCode::Usage
        }
    }
}

/// What the reports know of the plan before the first event.
fn report_plan(plan: &Plan) -> RunPlan {
    RunPlan {
        slots: plan
            .slots
            .iter()
            .map(|s| SlotInfo {
                name: s.name.clone(),
                module: s.describe(),
            })
            .collect(),
        jobs: plan
            .jobs
            .iter()
            .map(|j| {
                let s = plan.scenario(j);
                Planned {
                    name: s.name.clone(),
                    file: s.file.clone(),
                    slot: j.slot,
                    estimate: j.estimate,
                }
            })
            .collect(),
    }
}

fn execute(args: Args, plan: Plan, mut history: History) -> ExitCode {
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
    let dir = match run_dir::create(&args.out) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("athil run: failed to {e}: {}", source_text(&e));
            return ExitCode::Usage;
        }
    };
    let junit = args.junit.clone().unwrap_or_else(|| dir.join("junit.xml"));
    let wifis = plan.slots.iter().filter_map(|s| s.wifi.as_ref());
    let known = RunSecrets::of_run(&plan.scenarios, &plan.registry, wifis);
    let redactor = Redactor::new(&known.secrets).with_public(&known.public);
    let mut reporter = match Reporter::new(&dir, Some(junit), redactor, Console::stdout()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("athil run: failed to {e}: {}", source_text(&e));
            return ExitCode::Usage;
        }
    };
    reporter.plan(report_plan(&plan));
    let plan = Arc::new(plan);
    let outcome = runtime.block_on(async {
        let (events, mut rx) = EventSink::channel();
        let run = session::run(plan.clone(), events, stop_rx);
        tokio::pin!(run);
        // Feed the reports while the run goes on, so a crash mid-run loses nothing written.
        let mut junit = tokio::time::interval(JUNIT_EVERY);
        junit.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let outcome = loop {
            tokio::select! {
                biased;
                Some(ev) = rx.recv() => reporter.handle(&ev),
                r = &mut run => break r,
                _ = junit.tick() => reporter.tick(),
            }
        };
        while let Ok(ev) = rx.try_recv() {
            reporter.handle(&ev);
        }
        outcome
    });
    // The console has already said what could not be written, and why.
    let paths = reporter.finish();
    let result = match outcome {
        Ok(r) => r,
        Err(e) => {
            eprintln!("athil run: failed to {e}: {}", source_text(&e));
            return ExitCode::Usage;
        }
    };
    for r in &result.results {
        if let Some(job) = plan.jobs.get(r.job.0 as usize) {
            if !matches!(r.outcome, crate::run::Outcome::Skipped { .. }) {
                history.record(&plan.scenario(job).name, r.elapsed);
            }
        }
    }
    // A hint for the next run's order; a run is not failed for it.
    let _ = history.save(&args.out);
    match result.totals {
        crate::run::Totals {
            interrupted: Some(i),
            ..
        } => ExitCode::interrupted_by(i),
        _ if !paths.is_complete() => ExitCode::ReportsNotWritten,
        t if t.failed > 0 => ExitCode::Failure,
        _ => ExitCode::Success,
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
