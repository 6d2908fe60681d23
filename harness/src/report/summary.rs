//! The neutral run summary ([`RunSummary`]): what each scenario and step came to, folded from the
//! event stream. The JUnit report and the console's end-of-run summary are both built from it,
//! as nextest builds its JUnit from an aggregated run rather than from raw events.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::events::{Failure, JobId, Outcome, RunEvent, SlotId, Stamped};

/// Everything the end-of-run reports need, nothing they would have to re-derive.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// When the first event arrived (wall clock).
    pub started_at: Option<SystemTime>,
    /// Run time: from `RunFinished` if it came, else up to the last event seen.
    pub elapsed: Duration,
    /// How many scenarios the executor announced in `RunStarted`.
    pub announced: Option<usize>,
    pub scenarios: Vec<ScenarioSummary>,
    /// The executor's own totals, if `RunFinished` arrived.
    pub totals: Option<Totals>,
    pub interrupted: bool,
}

/// Scenario counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Started but never finished (the run was cut short); only ever counted by reports.
    pub unfinished: usize,
}

#[derive(Debug, Clone)]
pub struct ScenarioSummary {
    pub name: String,
    /// The slot it ran on, and its job number in the plan (`None`: reported without a job).
    pub slot: SlotId,
    pub job: Option<JobId>,
    pub file: PathBuf,
    pub started_at: SystemTime,
    /// Since the run started.
    pub start: Duration,
    pub elapsed: Duration,
    pub status: ScenarioStatus,
    pub steps: Vec<StepSummary>,
}

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScenarioStatus {
    /// No `ScenarioFinished` seen: still running, or cut short if the run is over.
    Unfinished,
    Passed,
    Failed(Failure),
    Skipped {
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct StepSummary {
    pub index: usize,
    pub label: String,
    /// The step's `name:`, if the scenario gave one.
    pub name: Option<String>,
    pub line: usize,
    /// `None` while the step runs (or if the run stopped during it).
    pub outcome: Option<Outcome>,
    pub elapsed: Duration,
}

impl StepSummary {
    /// Where a failure happened, for reports: ``step `receive 20 02 00 01` (line 15)``, and
    /// the step's name after it when it has one.
    pub fn place(&self) -> String {
        match &self.name {
            Some(n) => format!("step `{}` (line {}), \"{n}\"", self.label, self.line),
            None => format!("step `{}` (line {})", self.label, self.line),
        }
    }
}

impl RunSummary {
    /// Counts from the scenarios seen. The executor's own numbers are in `totals`.
    pub fn counted(&self) -> Totals {
        let mut t = Totals::default();
        for s in &self.scenarios {
            match s.status {
                ScenarioStatus::Unfinished => t.unfinished += 1,
                ScenarioStatus::Passed => t.passed += 1,
                ScenarioStatus::Failed(_) => t.failed += 1,
                ScenarioStatus::Skipped { .. } => t.skipped += 1,
            }
        }
        t
    }
}

impl ScenarioSummary {
    /// The first step that failed, if any did.
    pub fn failing_step(&self) -> Option<&StepSummary> {
        self.steps
            .iter()
            .find(|s| matches!(s.outcome, Some(Outcome::Failed(_))))
    }

    /// Where the scenario failed, for one line of a report: `step \`receive …\` (line 14)`.
    pub fn failure_place(&self) -> Option<String> {
        let failure = match &self.status {
            ScenarioStatus::Failed(f) => f,
            ScenarioStatus::Unfinished
            | ScenarioStatus::Passed
            | ScenarioStatus::Skipped { .. } => return None,
        };
        Some(match self.failing_step() {
            Some(s) => s.place(),
            None => format!("step `{}`", failure.step),
        })
    }
}

/// Folds events into a [`RunSummary`].
#[derive(Debug, Default)]
pub struct SummaryBuilder {
    summary: RunSummary,
}

impl SummaryBuilder {
    pub fn summary(&self) -> &RunSummary {
        &self.summary
    }

    /// The scenario running on `slot` now: the last one started there, if unfinished.
    fn current(&mut self, slot: SlotId) -> Option<&mut ScenarioSummary> {
        self.summary
            .scenarios
            .iter_mut()
            .rev()
            .find(|s| s.slot == slot)
            .filter(|s| s.status == ScenarioStatus::Unfinished)
    }

    /// Index of the scenario running on `slot` now, if one is.
    pub fn current_index(&self, slot: SlotId) -> Option<usize> {
        let (i, s) = self
            .summary
            .scenarios
            .iter()
            .enumerate()
            .rev()
            .find(|(_, s)| s.slot == slot)?;
        (s.status == ScenarioStatus::Unfinished).then_some(i)
    }

    pub fn handle(&mut self, ev: &Stamped) {
        let s = &mut self.summary;
        if s.started_at.is_none() {
            s.started_at = Some(ev.at.checked_sub(ev.since_start).unwrap_or(ev.at));
        }
        if s.totals.is_none() {
            s.elapsed = s.elapsed.max(ev.since_start);
        }
        match &ev.event {
            RunEvent::RunStarted { scenario_count } => {
                s.announced = Some(*scenario_count);
            }
            RunEvent::ScenarioStarted { name, file } => s.scenarios.push(ScenarioSummary {
                name: name.clone(),
                slot: ev.slot,
                job: ev.job,
                file: file.clone(),
                started_at: ev.at,
                start: ev.since_start,
                elapsed: Duration::ZERO,
                status: ScenarioStatus::Unfinished,
                steps: Vec::new(),
            }),
            RunEvent::StepStarted {
                index,
                label,
                name,
                line,
            } => {
                let step = StepSummary {
                    index: *index,
                    label: label.clone(),
                    name: name.clone(),
                    line: *line,
                    outcome: None,
                    elapsed: Duration::ZERO,
                };
                if let Some(sc) = self.current(ev.slot) {
                    sc.steps.push(step);
                }
            }
            RunEvent::StepFinished {
                index,
                outcome,
                elapsed,
            } => {
                if let Some(sc) = self.current(ev.slot) {
                    if let Some(step) = sc.steps.iter_mut().rev().find(|st| st.index == *index) {
                        step.outcome = Some(outcome.clone());
                        step.elapsed = *elapsed;
                    }
                }
            }
            RunEvent::ScenarioFinished {
                name,
                outcome,
                elapsed,
            } => {
                let status = match outcome {
                    Outcome::Passed => ScenarioStatus::Passed,
                    Outcome::Failed(f) => ScenarioStatus::Failed(f.clone()),
                    Outcome::Skipped { reason } => ScenarioStatus::Skipped {
                        reason: reason.clone(),
                    },
                };
                let at = ev.at;
                let since = ev.since_start;
                let (slot, job) = (ev.slot, ev.job);
                match self.current(slot) {
                    Some(sc) if sc.name == *name => {
                        sc.status = status;
                        sc.elapsed = *elapsed;
                    }
                    // A scenario reported without having started (skipped before it ran).
                    Some(_) | None => self.summary.scenarios.push(ScenarioSummary {
                        name: name.clone(),
                        slot,
                        job,
                        file: PathBuf::new(),
                        started_at: at,
                        start: since,
                        elapsed: *elapsed,
                        status,
                        steps: Vec::new(),
                    }),
                }
            }
            RunEvent::RunFinished {
                passed,
                failed,
                skipped,
                elapsed,
                interrupted,
            } => {
                s.totals = Some(Totals {
                    passed: *passed,
                    failed: *failed,
                    skipped: *skipped,
                    unfinished: 0,
                });
                s.elapsed = *elapsed;
                s.interrupted = *interrupted;
            }
            RunEvent::SerialOut { .. }
            | RunEvent::SerialIn { .. }
            | RunEvent::TcpOpened { .. }
            | RunEvent::TcpData { .. }
            | RunEvent::TcpClosed { .. }
            | RunEvent::MqttPacket { .. }
            | RunEvent::BrokerNote { .. }
            | RunEvent::PacketsNotShown { .. } => {}
        }
    }
}
