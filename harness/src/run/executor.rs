//! The executor: runs scenarios on one slot, one after another, against the slot's module
//! and broker scope, emitting [`RunEvent`]s. A failed step fails its scenario and the slot
//! goes on with the next; an [`Interrupt`] (Ctrl-C, SIGTERM, SIGHUP) ends the step under way,
//! or the module's reset, at once. [`Executor::run`] runs a list on its own (marking the rest
//! skipped when interrupted, and ending the stream with `RunFinished` so every report is
//! written); a [`Session`](super::session) runs one executor per slot.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::broker::BrokerHandle;
use crate::cloud::DeviceRegistry;
use crate::scenario::{Scenario, Step};

use super::blocks::cloud_override;
use super::rig::Wifi;
use super::step::{StepContext, StepError};
use super::target::ModuleTarget;
use super::values::Values;
use crate::events::{EventSink, Failure, FailureKind, JobId, Outcome, RunEvent, SerialWindow};

/// How long bringing a module to a known state (reset, `ready`, `AT` → `OK`) may take.
pub const SYNC_DEADLINE: Duration = Duration::from_secs(10);

/// Slack on top of a step's own deadline before the executor gives up on the step itself:
/// every wait inside a step has its deadline, so this firing means a harness bug, and it still
/// must not hang the run.
const STEP_GRACE: Duration = Duration::from_secs(10);

/// Everything one slot needs besides the scenarios: its module, its broker scope, the
/// registry, its network, and its sink (whose job it sets as each scenario starts and ends).
#[derive(Clone)]
pub struct Executor {
    pub target: ModuleTarget,
    pub broker: Arc<BrokerHandle>,
    pub registry: Arc<DeviceRegistry>,
    pub wifi: Option<Wifi>,
    /// What `{{broker.host}}` is: the broker's IP unless a rig names another host.
    pub broker_host: String,
    pub events: EventSink,
}

/// What stopped a run early: the signal the process got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// SIGINT.
    CtrlC,
    /// SIGTERM: what `kill`, `timeout` and a CI agent cancelling a job send.
    Terminate,
    /// SIGHUP: the terminal or SSH session went away.
    HangUp,
}

impl Interrupt {
    /// How reports name it: `Ctrl-C`, `SIGTERM`, `SIGHUP`.
    pub fn label(self) -> &'static str {
        match self {
            Interrupt::CtrlC => "Ctrl-C",
            Interrupt::Terminate => "SIGTERM",
            Interrupt::HangUp => "SIGHUP",
        }
    }

    /// The signal's number, for the shell's exit status of 128 + it.
    pub fn signal_number(self) -> u8 {
        match self {
            Interrupt::CtrlC => 2,
            Interrupt::Terminate => 15,
            Interrupt::HangUp => 1,
        }
    }
}

/// What a run came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// What stopped the run early, if something did.
    pub interrupted: Option<Interrupt>,
}

/// The executor's stop signal: `Some` once the run is to stop.
pub type StopReceiver = watch::Receiver<Option<Interrupt>>;

impl Executor {
    /// Runs `scenarios` in order, as jobs 0, 1, 2…, as a whole run of its own. `stop` turning
    /// `Some` interrupts the run.
    pub async fn run(&self, scenarios: &[Scenario], mut stop: StopReceiver) -> Totals {
        let started = Instant::now();
        self.events.emit(RunEvent::RunStarted {
            scenario_count: scenarios.len(),
        });
        let mut totals = Totals::default();
        for (i, scenario) in scenarios.iter().enumerate() {
            let job = JobId(i as u32);
            let interrupted = *stop.borrow();
            let outcome = if let Some(i) = interrupted {
                totals.interrupted = Some(i);
                let reason = format!(
                    "not run: the run was interrupted ({}) before it started",
                    i.label()
                );
                self.skip_job(job, scenario, reason)
            } else {
                self.run_job(job, scenario, &mut stop).await.0
            };
            match outcome {
                Outcome::Passed => totals.passed += 1,
                Outcome::Failed(_) => totals.failed += 1,
                Outcome::Skipped { .. } => totals.skipped += 1,
            }
            totals.interrupted = totals.interrupted.or(*stop.borrow());
        }
        self.events.emit(RunEvent::RunFinished {
            passed: totals.passed,
            failed: totals.failed,
            skipped: totals.skipped,
            elapsed: started.elapsed(),
            interrupted: totals.interrupted.is_some(),
        });
        totals
    }

    /// Runs `scenario` as `job`: its events carry the job, and it is announced and finished in
    /// the stream. Returns the outcome and the time it took.
    pub async fn run_job(
        &self,
        job: JobId,
        scenario: &Scenario,
        stop: &mut StopReceiver,
    ) -> (Outcome, Duration) {
        self.events.set_job(Some(job));
        self.events.emit(RunEvent::ScenarioStarted {
            name: scenario.name.clone(),
            file: scenario.file.clone(),
        });
        let t0 = Instant::now();
        let outcome = self.run_scenario(scenario, stop).await;
        let elapsed = t0.elapsed();
        self.events.emit(RunEvent::ScenarioFinished {
            name: scenario.name.clone(),
            outcome: outcome.clone(),
            elapsed,
        });
        self.events.set_job(None);
        (outcome, elapsed)
    }

    /// Reports `scenario` as `job`, not run, for `reason`: skipped scenarios still appear in
    /// every report.
    pub fn skip_job(&self, job: JobId, scenario: &Scenario, reason: String) -> Outcome {
        let outcome = Outcome::Skipped { reason };
        self.events.set_job(Some(job));
        self.events.emit(RunEvent::ScenarioStarted {
            name: scenario.name.clone(),
            file: scenario.file.clone(),
        });
        self.events.emit(RunEvent::ScenarioFinished {
            name: scenario.name.clone(),
            outcome: outcome.clone(),
            elapsed: Duration::ZERO,
        });
        self.events.set_job(None);
        outcome
    }

    async fn run_scenario(&self, s: &Scenario, stop: &mut StopReceiver) -> Outcome {
        self.broker.mark();
        let outcome = match cloud_override(s) {
            Ok(o) => {
                // The scenario's cloud rules hold for it alone.
                self.broker.set_override(o);
                self.run_module(s, stop).await
            }
            Err(errs) => Outcome::Failed(Failure {
                step: "set-up: the scenario's cloud: block".into(),
                message: errs
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
                kind: FailureKind::Other,
                expected: String::new(),
                actual: String::new(),
                last_serial: Vec::new(),
                last_serial_window: SerialWindow::Sync,
            }),
        };
        self.broker.set_override(None);
        outcome
    }

    async fn run_module(&self, s: &Scenario, stop: &mut StopReceiver) -> Outcome {
        let device = self.registry.get(&s.device);
        let set_up = |message: String| {
            Outcome::Failed(Failure {
                step: "set-up".into(),
                message,
                kind: FailureKind::Other,
                expected: String::new(),
                actual: String::new(),
                last_serial: Vec::new(),
                last_serial_window: SerialWindow::Sync,
            })
        };
        let broker: SocketAddr = self.broker.addr();
        let values = match Values::new(&self.broker_host, broker, device, self.wifi.as_ref()) {
            Ok(v) => v,
            Err(e) => return set_up(e.to_string()),
        };
        // Spawning a virtual module and opening a serial line block (threads, a pty, termios):
        // off the async threads, which every other slot shares.
        let (target, scenario, wifi, events) = (
            self.target.clone(),
            s.clone(),
            self.wifi.clone(),
            self.events.clone(),
        );
        let attaching = tokio::task::spawn_blocking(move || {
            target.attach(&scenario, broker, wifi.as_ref(), events)
        });
        let mut attached = match attaching.await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => return set_up(e.to_string()),
            Err(e) => return set_up(format!("bring up the module: {e}")),
        };
        // A silent module makes the reset wait its whole deadline; an interruption must not.
        let synced = tokio::select! {
            r = attached.driver.reset_and_sync(SYNC_DEADLINE) => Ok(r),
            i = stopped(stop) => Err(i),
        };
        let outcome = match synced {
            Err(i) => Outcome::Skipped {
                reason: format!(
                    "interrupted ({}) while resetting the {}",
                    i.label(),
                    self.target.describe()
                ),
            },
            Ok(Err(e)) => Outcome::Failed(Failure {
                step: format!("set-up: reset and sync the {}", self.target.describe()),
                message: e.to_string(),
                kind: FailureKind::Timeout,
                expected: "`ready`, then `OK` to `AT`".into(),
                actual: String::from_utf8_lossy(&attached.driver.last_serial()).into_owned(),
                last_serial: attached.driver.last_serial(),
                last_serial_window: SerialWindow::Sync,
            }),
            Ok(Ok(_)) => {
                let mut cx = StepContext::new(&mut attached.driver, &self.broker, &values, device);
                self.run_steps(&s.steps, &mut cx, stop).await
            }
        };
        attached.detach().await;
        outcome
    }

    async fn run_steps(
        &self,
        steps: &[Step],
        cx: &mut StepContext<'_>,
        stop: &mut StopReceiver,
    ) -> Outcome {
        for step in steps {
            self.events.emit(RunEvent::StepStarted {
                index: step.index,
                label: step.label.clone(),
                name: step.name.clone(),
                line: step.location.line,
            });
            let t0 = Instant::now();
            // The failure block shows the serial bytes of this step, not the boot banner.
            let serial_mark = cx.driver.serial_mark();
            let limit = step_limit(step);
            let result = tokio::select! {
                r = tokio::time::timeout(limit, cx.run(step)) => match r {
                    Ok(r) => Ok(r),
                    Err(_) => Ok(Err(StepError {
                        message: format!("the step overran its deadline by {STEP_GRACE:?} (a harness bug: please report it)"),
                        kind: FailureKind::Timeout,
                        expected: String::new(),
                        actual: String::new(),
                    })),
                },
                i = stopped(stop) => Err(i),
            };
            let outcome = match result {
                // An interruption says nothing about the module: the scenario did not finish,
                // so it is skipped, not failed (a nightly report must not blame the firmware).
                Err(i) => Outcome::Skipped {
                    reason: format!(
                        "interrupted ({}) during `{}` (line {})",
                        i.label(),
                        step.label,
                        step.location.line
                    ),
                },
                Ok(Ok(())) => Outcome::Passed,
                Ok(Err(e)) => {
                    let (last_serial, total) = cx.driver.last_serial_since(serial_mark);
                    Outcome::Failed(Failure {
                        step: format!("{} (line {})", step.label, step.location.line),
                        message: e.message,
                        kind: e.kind,
                        expected: e.expected,
                        actual: e.actual,
                        last_serial,
                        last_serial_window: SerialWindow::SinceStep { total },
                    })
                }
            };
            self.events.emit(RunEvent::StepFinished {
                index: step.index,
                outcome: outcome.clone(),
                elapsed: t0.elapsed(),
            });
            if !outcome.is_passed() {
                return outcome;
            }
        }
        Outcome::Passed
    }
}

/// Resolves when the run is to stop, with why; never if the sender is gone without stopping.
async fn stopped(stop: &mut StopReceiver) -> Interrupt {
    // The guard `wait_for` returns is dropped before anything else is awaited, so a slot's
    // task stays `Send`.
    let seen = stop.wait_for(Option::is_some).await.map(|i| *i);
    match seen {
        Ok(i) => i.unwrap_or(Interrupt::CtrlC),
        Err(_) => std::future::pending().await,
    }
}

/// The longest a step may take: its own deadline (or window) plus [`STEP_GRACE`].
fn step_limit(step: &Step) -> Duration {
    use crate::scenario::Action;
    let own = match &step.action {
        Action::Wait(d) => *d,
        Action::ExpectNot { window, .. } => *window,
        _ => step.timeout,
    };
    own + STEP_GRACE
}
