//! The executor: runs scenarios one after another against the module target and the broker,
//! emitting [`RunEvent`]s. A failed step fails its scenario and the run goes on with the next;
//! an interruption (Ctrl-C) ends the step under way, marks the rest skipped, and still ends
//! the stream with `RunFinished` so every report is written.

use std::net::SocketAddr;
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
use crate::events::{EventSink, Failure, FailureKind, Outcome, RunEvent};

/// How long bringing a module to a known state (reset, `ready`, `AT` → `OK`) may take.
pub const SYNC_DEADLINE: Duration = Duration::from_secs(10);

/// Slack on top of a step's own deadline before the executor gives up on the step itself:
/// every wait inside a step has its deadline, so this firing means a harness bug, and it still
/// must not hang the run.
const STEP_GRACE: Duration = Duration::from_secs(10);

/// Everything a run needs besides the scenarios.
pub struct Executor<'a> {
    pub target: &'a ModuleTarget,
    pub broker: &'a BrokerHandle,
    pub registry: &'a DeviceRegistry,
    pub wifi: Option<&'a Wifi>,
    /// What `{{broker.host}}` is: the broker's IP unless a rig names another host.
    pub broker_host: String,
    pub events: EventSink,
}

/// What a run came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub interrupted: bool,
}

impl Executor<'_> {
    /// Runs `scenarios` in order. `stop` turning true interrupts the run.
    pub async fn run(&self, scenarios: &[Scenario], mut stop: watch::Receiver<bool>) -> Totals {
        let started = Instant::now();
        self.events.emit(RunEvent::RunStarted {
            scenario_count: scenarios.len(),
        });
        let mut totals = Totals::default();
        for scenario in scenarios {
            let interrupted = *stop.borrow();
            let outcome = if interrupted {
                totals.interrupted = true;
                Outcome::Skipped {
                    reason: "the run was interrupted".into(),
                }
            } else {
                self.events.emit(RunEvent::ScenarioStarted {
                    name: scenario.name.clone(),
                    file: scenario.file.clone(),
                });
                let t0 = Instant::now();
                let outcome = self.run_scenario(scenario, &mut stop).await;
                self.events.emit(RunEvent::ScenarioFinished {
                    name: scenario.name.clone(),
                    outcome: outcome.clone(),
                    elapsed: t0.elapsed(),
                });
                outcome
            };
            if interrupted {
                // Skipped scenarios still appear in every report.
                self.events.emit(RunEvent::ScenarioStarted {
                    name: scenario.name.clone(),
                    file: scenario.file.clone(),
                });
                self.events.emit(RunEvent::ScenarioFinished {
                    name: scenario.name.clone(),
                    outcome: outcome.clone(),
                    elapsed: Duration::ZERO,
                });
            }
            match outcome {
                Outcome::Passed => totals.passed += 1,
                Outcome::Failed(_) => totals.failed += 1,
                Outcome::Skipped { .. } => totals.skipped += 1,
            }
            totals.interrupted |= *stop.borrow();
        }
        self.events.emit(RunEvent::RunFinished {
            passed: totals.passed,
            failed: totals.failed,
            skipped: totals.skipped,
            elapsed: started.elapsed(),
            interrupted: totals.interrupted,
        });
        totals
    }

    async fn run_scenario(&self, s: &Scenario, stop: &mut watch::Receiver<bool>) -> Outcome {
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
            }),
        };
        self.broker.set_override(None);
        outcome
    }

    async fn run_module(&self, s: &Scenario, stop: &mut watch::Receiver<bool>) -> Outcome {
        let device = self.registry.get(&s.device);
        let set_up = |message: String| {
            Outcome::Failed(Failure {
                step: "set-up".into(),
                message,
                kind: FailureKind::Other,
                expected: String::new(),
                actual: String::new(),
                last_serial: Vec::new(),
            })
        };
        let broker: SocketAddr = self.broker.addr();
        let values = match Values::new(&self.broker_host, broker, device, self.wifi) {
            Ok(v) => v,
            Err(e) => return set_up(e.to_string()),
        };
        let mut attached = match self
            .target
            .attach(s, broker, self.wifi, self.events.clone())
        {
            Ok(a) => a,
            Err(e) => return set_up(e.to_string()),
        };
        let outcome = match attached.driver.reset_and_sync(SYNC_DEADLINE).await {
            Err(e) => Outcome::Failed(Failure {
                step: format!("set-up: reset and sync the {}", self.target.describe()),
                message: e.to_string(),
                kind: FailureKind::Timeout,
                expected: "`ready`, then `OK` to `AT`".into(),
                actual: String::from_utf8_lossy(&attached.driver.last_serial()).into_owned(),
                last_serial: attached.driver.last_serial(),
            }),
            Ok(_) => {
                let mut cx = StepContext {
                    driver: &mut attached.driver,
                    broker: self.broker,
                    values: &values,
                    device,
                };
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
        stop: &mut watch::Receiver<bool>,
    ) -> Outcome {
        for step in steps {
            self.events.emit(RunEvent::StepStarted {
                index: step.index,
                label: step.label.clone(),
                name: step.name.clone(),
                line: step.location.line,
            });
            let t0 = Instant::now();
            let limit = step_limit(step);
            let result = tokio::select! {
                r = tokio::time::timeout(limit, cx.run(step)) => match r {
                    Ok(r) => Some(r),
                    Err(_) => Some(Err(StepError {
                        message: format!("the step overran its deadline by {STEP_GRACE:?} (a harness bug: please report it)"),
                        kind: FailureKind::Timeout,
                        expected: String::new(),
                        actual: String::new(),
                    })),
                },
                _ = stop.wait_for(|s| *s) => None,
            };
            let outcome = match result {
                // An interruption says nothing about the module: the scenario did not finish,
                // so it is skipped, not failed (a nightly report must not blame the firmware).
                None => Outcome::Skipped {
                    reason: format!(
                        "interrupted (Ctrl-C) during `{}` (line {})",
                        step.label, step.location.line
                    ),
                },
                Some(Ok(())) => Outcome::Passed,
                Some(Err(e)) => Outcome::Failed(Failure {
                    step: format!("{} (line {})", step.label, step.location.line),
                    message: e.message,
                    kind: e.kind,
                    expected: e.expected,
                    actual: e.actual,
                    last_serial: cx.driver.last_serial(),
                }),
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
