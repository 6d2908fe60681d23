//! The live console report ([`Console`]): a header per scenario, one greppable line per step with
//! its time (`  ok    0.120s  send AT+CIPSEND=118 (line 12)`), the side-by-side diff under a
//! failing step, and the end-of-run summary with where the reports are.
//!
//! Status words are plain ASCII at a fixed column (`ok`, `FAIL`, `skip`; `PASS`/`FAIL`/`SKIP` for
//! scenarios) so `grep FAIL` works on a CI log. Colour is optional and only decorates.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};

use crate::events::{Failure, Outcome, RunEvent, Stamped};

use super::diff::{failure_lines, Tone};
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
    /// Step index → (label, line) for the scenario running now.
    steps: HashMap<usize, (String, usize)>,
    /// The failure already shown under its step, so the scenario result does not repeat it.
    shown: Option<Failure>,
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
            shown: None,
            broken: false,
            error: None,
        }
    }

    /// A console on standard output, coloured only when that is a terminal.
    pub fn stdout() -> Console {
        let color = io::stdout().is_terminal();
        Console::new(io::stdout(), color)
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

    fn failure_block(&mut self, f: &Failure) {
        let mut f = f.clone();
        self.redactor.redact_failure(&mut f);
        for l in failure_lines(&f) {
            self.put(l.tone.into(), &format!("{DETAIL}{}", l.text));
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
        match &ev.event {
            RunEvent::RunStarted { scenario_count } => {
                self.put(
                    Style::Plain,
                    &format!("athil: running {scenario_count} scenario(s)"),
                );
            }
            RunEvent::ScenarioStarted { name, file } => {
                self.steps.clear();
                self.shown = None;
                self.put(Style::Plain, "");
                self.put(
                    Style::Plain,
                    &format!("scenario {name} ({})", file.display()),
                );
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
                self.steps.insert(*index, (shown, *line));
            }
            RunEvent::StepFinished {
                index,
                outcome,
                elapsed,
            } => {
                let (label, line) = self
                    .steps
                    .get(index)
                    .cloned()
                    .unwrap_or_else(|| (format!("step {}", index + 1), 0));
                let t = secs(*elapsed);
                match outcome {
                    Outcome::Passed => {
                        self.put(
                            Style::Good,
                            &format!("  ok    {t:>8}  {label} (line {line})"),
                        );
                    }
                    Outcome::Failed(f) => {
                        self.put(
                            Style::Bad,
                            &format!("  FAIL  {t:>8}  {label} (line {line})"),
                        );
                        self.failure_block(f);
                        self.shown = Some(f.clone());
                    }
                    Outcome::Skipped { reason } => self.put(
                        Style::Warn,
                        &format!("  skip  {t:>8}  {label} (line {line}): {reason}"),
                    ),
                }
            }
            RunEvent::BrokerNote { conn, text } => {
                let who = conn.map_or("broker".to_string(), |c| format!("broker #{c}"));
                self.put(Style::Warn, &format!("  note  {who}: {text}"));
            }
            RunEvent::ScenarioFinished {
                name,
                outcome,
                elapsed,
            } => {
                let t = secs(*elapsed);
                match outcome {
                    Outcome::Passed => self.put(Style::Good, &format!("PASS  {name}  {t}")),
                    Outcome::Failed(f) => {
                        self.put(Style::Bad, &format!("FAIL  {name}  {t}  at {}", f.step));
                        if self.shown.as_ref() != Some(f) {
                            self.failure_block(f);
                        }
                    }
                    Outcome::Skipped { reason } => {
                        self.put(Style::Warn, &format!("SKIP  {name}: {reason}"));
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
                    "failed: {} at {}",
                    sc.name,
                    sc.failure_place().unwrap_or_default()
                ),
                ScenarioStatus::Unfinished => format!("unfinished: {}", sc.name),
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
