//! The live console report ([`Console`]): a header per scenario, one greppable line per step with
//! its time (`  ok    0.120s  send AT+CIPSEND=118 (line 12)`), the side-by-side diff under a
//! failing step, and the end-of-run summary with where the reports are.
//!
//! Status words are plain ASCII at a fixed column (`ok`, `FAIL`, `skip`; `PASS`/`FAIL`/`SKIP` for
//! scenarios) so `grep FAIL` works on a CI log. Colour is optional and only decorates.

use std::collections::{HashMap, HashSet};
use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use crate::events::{Failure, JobId, Outcome, RunEvent, SlotId, Stamped};

use super::diff::{failure_lines, Tone};
use super::planned::RunPlan;
use super::redact::Redactor;
use super::reporter::ReportPaths;
use super::summary::{RunSummary, ScenarioStatus};
use super::text::secs;

/// Indentation of the failure block under a step line.
const DETAIL: &str = "        ";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Good,
    Bad,
    Warn,
    Expected,
    Actual,
    Marker,
}

impl Style {
    fn ansi(self) -> &'static str {
        match self {
            Style::Plain => "",
            Style::Good | Style::Expected => "\x1b[32m",
            Style::Bad | Style::Actual => "\x1b[31m",
            Style::Warn => "\x1b[33m",
            Style::Marker => "\x1b[1;31m",
        }
    }
}

impl From<Tone> for Style {
    fn from(t: Tone) -> Style {
        match t {
            Tone::Plain => Style::Plain,
            Tone::Expected => Style::Expected,
            Tone::Actual => Style::Actual,
            Tone::Marker => Style::Marker,
        }
    }
}

/// Writes the run as it happens to any `io::Write`. After the first write error it stays quiet
/// and keeps the error for [`Console::take_error`]: a closed terminal must not stop the run.
pub struct Console {
    out: Box<dyn Write + Send>,
    color: bool,
    redactor: Redactor,
    /// (slot, step index) → (label, line) for the scenario running on each slot now.
    steps: HashMap<(SlotId, usize), (String, usize)>,
    /// Per slot, the failure already shown under its step, so the scenario result does not
    /// repeat it.
    shown: HashMap<SlotId, Failure>,
    /// The run's plan: with more than one slot, lines carry the slot's name and scenario
    /// results a progress counter and the time left.
    plan: RunPlan,
    /// Jobs started, and when each slot's current one did (since the run started).
    started: HashSet<JobId>,
    running: HashMap<SlotId, (Option<JobId>, Duration)>,
    /// Scenario results printed so far.
    done: usize,
    /// Set on the first write error, and then the console stays quiet.
    broken: bool,
    error: Option<io::Error>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("color", &self.color)
            .finish()
    }
}

impl Console {
    /// A console writing to `out`, with ANSI colour if `color`.
    pub fn new(out: impl Write + Send + 'static, color: bool) -> Console {
        Console {
            out: Box::new(out),
            color,
            redactor: Redactor::none(),
            steps: HashMap::new(),
            shown: HashMap::new(),
            plan: RunPlan::default(),
            started: HashSet::new(),
            running: HashMap::new(),
            done: 0,
            broken: false,
            error: None,
        }
    }

    /// A console on standard output, coloured only when that is a terminal.
    pub fn stdout() -> Console {
        let color = io::stdout().is_terminal();
        Console::new(io::stdout(), color)
    }

    /// Takes the run's plan (slot names, jobs and their estimates).
    pub fn plan(&mut self, plan: &RunPlan) {
        self.plan = plan.clone();
    }

    /// `name │ ` in a parallel run (names padded to one width), nothing otherwise.
    fn prefix(&self, slot: SlotId) -> String {
        if !self.plan.is_parallel() {
            return String::new();
        }
        let width = self
            .plan
            .slots
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0);
        format!("{:<width$} | ", self.plan.slot_name(slot))
    }

    /// `[n/N] ` and the time left, for a scenario result in a parallel run.
    fn progress(&mut self, now: Duration) -> (String, String) {
        self.done += 1;
        let total = self.plan.jobs.len().max(self.done);
        let width = total.to_string().len();
        let counter = format!("[{:>width$}/{total}] ", self.done);
        // What is left: the estimates of jobs not started, and what the running ones still
        // need, spread over the slots.
        let queued: Duration = self
            .plan
            .jobs
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.started.contains(&JobId(*i as u32)))
            .map(|(_, p)| p.estimate)
            .sum();
        let running: Duration = self
            .running
            .values()
            .filter_map(|(job, since)| {
                let est = self.plan.jobs.get(job.as_ref()?.0 as usize)?.estimate;
                Some(est.saturating_sub(now.saturating_sub(*since)))
            })
            .sum();
        let slots = self.plan.slots.len().max(1) as u32;
        let left = (queued + running) / slots;
        let left = if self.done >= total {
            String::new()
        } else {
            format!("  (about {}s left)", left.as_secs().max(1))
        };
        (counter, left)
    }

    pub(super) fn set_redactor(&mut self, redactor: Redactor) {
        self.redactor = redactor;
    }

    /// The first write error, if writing failed and it was not taken yet.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    /// Writes one line, redacted, coloured if enabled.
    fn put(&mut self, style: Style, text: &str) {
        if self.broken {
            return;
        }
        let text = self.redactor.redact_text(text);
        let res = if self.color && style != Style::Plain {
            writeln!(self.out, "{}{text}\x1b[0m", style.ansi())
        } else {
            writeln!(self.out, "{text}")
        };
        if let Err(e) = res.and_then(|()| self.out.flush()) {
            self.broken = true;
            self.error = Some(e);
        }
    }

    fn failure_block(&mut self, prefix: &str, f: &Failure) {
        let mut f = f.clone();
        self.redactor.redact_failure(&mut f);
        for l in failure_lines(&f) {
            self.put(l.tone.into(), &format!("{prefix}{DETAIL}{}", l.text));
        }
    }

    /// Something a report writer could not do, said on the console so it is not lost.
    pub fn problem(&mut self, what: &dyn std::error::Error) {
        let mut text = format!("athil: report: failed to {what}");
        let mut src = what.source();
        while let Some(s) = src {
            text.push_str(&format!(": {s}"));
            src = s.source();
        }
        self.put(Style::Warn, &text);
    }

    pub fn handle(&mut self, ev: &Stamped) {
        let slot = ev.slot;
        let p = self.prefix(slot);
        // A parallel run shows each scenario's result, failing steps and notes; the steps that
        // passed are in the transcripts (interleaved, they would be unreadable).
        let parallel = self.plan.is_parallel();
        match &ev.event {
            RunEvent::RunStarted { scenario_count } => {
                let on = match parallel {
                    true => format!(" on {} slots", self.plan.slots.len()),
                    false => String::new(),
                };
                self.put(
                    Style::Plain,
                    &format!("athil: running {scenario_count} scenario(s){on}"),
                );
            }
            RunEvent::ScenarioStarted { name, file } => {
                self.steps.retain(|(s, _), _| *s != slot);
                self.shown.remove(&slot);
                if let Some(job) = ev.job {
                    self.started.insert(job);
                }
                self.running.insert(slot, (ev.job, ev.since_start));
                if !parallel {
                    self.put(Style::Plain, "");
                    self.put(
                        Style::Plain,
                        &format!("scenario {name} ({})", file.display()),
                    );
                }
            }
            RunEvent::StepStarted {
                index,
                label,
                name,
                line,
            } => {
                // The name (why) before the label (what), so lines still end `label (line N)`.
                let shown = match name {
                    Some(n) => format!("{n}: {label}"),
                    None => label.clone(),
                };
                self.steps.insert((slot, *index), (shown, *line));
            }
            RunEvent::StepFinished {
                index,
                outcome,
                elapsed,
            } => {
                let (label, line) = self
                    .steps
                    .get(&(slot, *index))
                    .cloned()
                    .unwrap_or_else(|| (format!("step {}", index + 1), 0));
                let t = secs(*elapsed);
                match outcome {
                    Outcome::Passed if parallel => {}
                    Outcome::Passed => {
                        self.put(
                            Style::Good,
                            &format!("  ok    {t:>8}  {label} (line {line})"),
                        );
                    }
                    Outcome::Failed(f) => {
                        self.put(
                            Style::Bad,
                            &format!("{p}  FAIL  {t:>8}  {label} (line {line})"),
                        );
                        self.failure_block(&p, f);
                        self.shown.insert(slot, f.clone());
                    }
                    Outcome::Skipped { reason } => self.put(
                        Style::Warn,
                        &format!("{p}  skip  {t:>8}  {label} (line {line}): {reason}"),
                    ),
                }
            }
            // Interleaved notes of many slots are noise on a console; they are in each
            // scenario's transcript.
            RunEvent::BrokerNote { .. } | RunEvent::PacketsNotShown { .. } if parallel => {}
            RunEvent::BrokerNote { conn, text } => {
                let who = conn.map_or("broker".to_string(), |c| format!("broker #{c}"));
                self.put(Style::Warn, &format!("{p}  note  {who}: {text}"));
            }
            RunEvent::PacketsNotShown {
                conn,
                shown,
                counts,
            } => {
                let text = crate::events::packets_not_shown(*shown, counts);
                self.put(Style::Plain, &format!("{p}  note  broker #{conn}: {text}"));
            }
            RunEvent::ScenarioFinished {
                name,
                outcome,
                elapsed,
            } => {
                let t = secs(*elapsed);
                if let Some(job) = ev.job {
                    self.started.insert(job);
                }
                self.running.remove(&slot);
                let (counter, left) = match parallel {
                    true => self.progress(ev.since_start),
                    false => (String::new(), String::new()),
                };
                match outcome {
                    Outcome::Passed => {
                        self.put(Style::Good, &format!("{counter}{p}PASS  {name}  {t}{left}"))
                    }
                    Outcome::Failed(f) => {
                        self.put(
                            Style::Bad,
                            &format!("{counter}{p}FAIL  {name}  {t}  at {}{left}", f.step),
                        );
                        if self.shown.get(&slot) != Some(f) {
                            self.failure_block(&p, f);
                        }
                    }
                    Outcome::Skipped { reason } => {
                        self.put(
                            Style::Warn,
                            &format!("{counter}{p}SKIP  {name}: {reason}{left}"),
                        );
                    }
                }
            }
            RunEvent::RunFinished { interrupted, .. } => {
                if *interrupted {
                    self.put(
                        Style::Warn,
                        "athil: interrupted; writing the reports for what ran",
                    );
                }
            }
            RunEvent::SerialOut { .. }
            | RunEvent::SerialIn { .. }
            | RunEvent::TcpOpened { .. }
            | RunEvent::TcpData { .. }
            | RunEvent::TcpClosed { .. }
            | RunEvent::MqttPacket { .. } => {}
        }
    }

    /// `slot-name: ` in a parallel run, for the summary's lines.
    fn on_slot(&self, slot: SlotId) -> String {
        match self.plan.is_parallel() {
            true => format!("{}: ", self.plan.slot_name(slot)),
            false => String::new(),
        }
    }

    /// The end of the run: counts, time, what failed and where every report is.
    pub fn summary(&mut self, s: &RunSummary, paths: &ReportPaths) {
        let c = s.counted();
        let mut line = format!(
            "athil: {} passed, {} failed, {} skipped",
            c.passed, c.failed, c.skipped
        );
        if c.unfinished > 0 {
            line.push_str(&format!(", {} unfinished", c.unfinished));
        }
        line.push_str(&format!(" in {}", secs(s.elapsed)));
        if let Some(n) = s.announced.filter(|n| *n > s.scenarios.len()) {
            line.push_str(&format!(
                " ({} of {n} scenario(s) not started)",
                n - s.scenarios.len()
            ));
        }
        if s.interrupted {
            line.push_str(" (interrupted)");
        } else if s.totals.is_none() {
            line.push_str(" (the run did not report its end)");
        }
        let style = if c.failed + c.unfinished > 0 || s.interrupted {
            Style::Bad
        } else {
            Style::Good
        };
        self.put(Style::Plain, "");
        self.put(style, &line);
        for (i, sc) in s.scenarios.iter().enumerate() {
            let what = match &sc.status {
                ScenarioStatus::Passed | ScenarioStatus::Skipped { .. } => continue,
                ScenarioStatus::Failed(_) => format!(
                    "failed: {}{} at {}",
                    self.on_slot(sc.slot),
                    sc.name,
                    sc.failure_place().unwrap_or_default()
                ),
                ScenarioStatus::Unfinished => {
                    format!("unfinished: {}{}", self.on_slot(sc.slot), sc.name)
                }
            };
            self.put(Style::Bad, &format!("athil: {what}"));
            if let Some(files) = paths.scenarios.get(i) {
                for p in files.transcript.iter().chain(files.pcap.iter()) {
                    self.put(Style::Plain, &format!("athil:   {}", p.display()));
                }
            }
        }
        let transcripts = paths
            .scenarios
            .iter()
            .filter(|f| f.transcript.is_some())
            .count();
        let pcaps = paths.scenarios.iter().filter(|f| f.pcap.is_some()).count();
        self.put(
            Style::Plain,
            &format!(
                "athil: reports in {}: {transcripts} transcript(s), {pcaps} pcap(s)",
                paths.dir.display()
            ),
        );
        if let Some(j) = &paths.junit {
            self.put(Style::Plain, &format!("athil: JUnit: {}", j.display()));
        }
        if !paths.problems.is_empty() {
            self.put(
                Style::Warn,
                &format!(
                    "athil: {} report(s) could not be written (see above)",
                    paths.problems.len()
                ),
            );
        }
    }
}
