//! The [`Reporter`]: takes the run's event stream once and fans it out to every report. The
//! console gets each event as it comes; the transcript and pcap of a scenario are written when
//! it finishes (after the whole scenario has been redacted at once, so a secret split across
//! serial or TCP chunks is still masked), and the JUnit file is rewritten when the run is planned,
//! as each scenario starts and ends, and at [`Reporter::finish`], so an interrupted or crashed run
//! still leaves reports for what ran, and never a JUnit file that reads green too early.
//!
//! A writer that fails is said on the console and listed in [`ReportPaths::problems`]; the other
//! writers, and the run, carry on, and the caller decides what an incomplete report means.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::events::{RunEvent, SlotId, Stamped};

use super::console::Console;
use super::error::ReportError;
use super::junit::{junit_report, write_junit};
use super::pcap::PcapBuilder;
use super::planned::RunPlan;
use super::redact::{EventRedactor, Redactor, MIN_SECRET_LEN};
use super::summary::{RunSummary, SummaryBuilder};
use super::text::slug;
use super::transcript::{render, Heading};
use super::write::write_report;

/// How often at most the JUnit file is rewritten during a run.
pub const JUNIT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// File stem of the reports for traffic seen outside any scenario.
const OUTSIDE: &str = "run";

/// The files one scenario's reports went to (`None`: not written, see the problems).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScenarioFiles {
    pub name: String,
    pub transcript: Option<PathBuf>,
    pub pcap: Option<PathBuf>,
}

/// Where the reports are, once written.
#[derive(Debug)]
pub struct ReportPaths {
    pub dir: PathBuf,
    /// The JUnit file, if one was asked for and written.
    pub junit: Option<PathBuf>,
    /// One entry per scenario, in run order.
    pub scenarios: Vec<ScenarioFiles>,
    /// Traffic seen outside any scenario (after the last one, or when none started), if any.
    pub outside: Option<ScenarioFiles>,
    /// Reports that could not be written.
    pub problems: Vec<ReportError>,
}

impl ReportPaths {
    /// Whether every report was written.
    pub fn is_complete(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Fans one event stream out to the console, transcripts, pcaps and JUnit.
pub struct Reporter {
    dir: PathBuf,
    junit: Option<PathBuf>,
    /// The slots and the scenarios the run means to run, so JUnit lists those it has not
    /// reached and a parallel run gets a folder per slot.
    plan: RunPlan,
    junit_written: bool,
    /// The JUnit file is behind the summary, and when it was last written: it is rewritten
    /// at most every [`JUNIT_EVERY`] (each write holds every transcript, so writing it at
    /// every scenario start and end was quadratic: 64 short scenarios spent most of their
    /// run rewriting it), by [`Reporter::tick`] or the next event after that.
    junit_dirty: bool,
    junit_at: Option<std::time::Instant>,
    /// A JUnit write failure was already reported; later retries fail quietly.
    junit_failed: bool,
    redactor: Redactor,
    console: Console,
    summary: SummaryBuilder,
    stream: EventRedactor,
    pcap: PcapBuilder,
    /// Per slot, events not yet written: its running scenario's, or those seen between its
    /// scenarios (which open the slot's next scenario's transcript).
    batches: BTreeMap<SlotId, Vec<Stamped>>,
    /// Per slot, the index in the summary of the scenario running there now.
    open: BTreeMap<SlotId, usize>,
    files: Vec<ScenarioFiles>,
    transcripts: Vec<Option<String>>,
    /// File stems taken, per folder.
    slugs: HashSet<(PathBuf, String)>,
    problems: Vec<ReportError>,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter")
            .field("dir", &self.dir)
            .field("junit", &self.junit)
            .finish()
    }
}

impl Reporter {
    /// Reports into `dir` (created if missing): `<slug>.transcript.txt` and `<slug>.pcap` per
    /// scenario, and JUnit XML at `junit` if given. Fails only if a directory cannot be created.
    pub fn new(
        dir: impl Into<PathBuf>,
        junit: Option<PathBuf>,
        redactor: Redactor,
        mut console: Console,
    ) -> Result<Reporter, ReportError> {
        let dir = dir.into();
        let junit_dir = junit
            .as_deref()
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty());
        for d in std::iter::once(dir.as_path()).chain(junit_dir) {
            std::fs::create_dir_all(d).map_err(|source| ReportError::CreateDir {
                path: d.to_path_buf(),
                source,
            })?;
        }
        console.set_redactor(redactor.clone());
        let mut r = Reporter {
            dir,
            junit,
            plan: RunPlan::default(),
            junit_written: false,
            junit_dirty: false,
            junit_at: None,
            junit_failed: false,
            stream: EventRedactor::new(redactor.clone()),
            redactor,
            console,
            summary: SummaryBuilder::default(),
            pcap: PcapBuilder::new(),
            batches: BTreeMap::new(),
            open: BTreeMap::new(),
            files: Vec::new(),
            transcripts: Vec::new(),
            slugs: HashSet::new(),
            problems: Vec::new(),
        };
        let ignored = r.redactor.ignored_count();
        if ignored > 0 {
            r.console.problem(&ShortSecrets(ignored));
        }
        Ok(r)
    }

    /// Says which slots the run has and which scenarios it means to run, in order, and
    /// writes a JUnit file listing them as not run yet: a run killed at any moment from here
    /// leaves a report that does not read green.
    pub fn plan(&mut self, plan: RunPlan) {
        self.console.plan(&plan);
        self.plan = plan;
        self.write_junit();
    }

    /// What the run came to so far.
    pub fn summary(&self) -> &RunSummary {
        self.summary.summary()
    }

    /// Takes one event. Never fails: a report that cannot be written is noted and skipped.
    pub fn handle(&mut self, ev: &Stamped) {
        self.console.handle(ev);
        self.check_console();
        self.summary.handle(ev);
        self.sync();
        let slot = ev.slot;
        match &ev.event {
            RunEvent::ScenarioStarted { .. } => {
                if let Some(prev) = self.open.remove(&slot) {
                    self.close(slot, prev);
                }
                self.batches.entry(slot).or_default().push(ev.clone());
                if let Some(i) = self.summary.current_index(slot) {
                    self.open.insert(slot, i);
                }
                // Now listed as unfinished, should the run die before its end.
                self.junit_due();
            }
            RunEvent::ScenarioFinished { .. } => {
                // A scenario skipped without starting has no transcript of its own; its line
                // would only confuse the next scenario's, so it goes to the console and JUnit.
                if let Some(idx) = self.open.remove(&slot) {
                    self.batches.entry(slot).or_default().push(ev.clone());
                    self.close(slot, idx);
                }
                self.junit_due();
            }
            RunEvent::RunStarted { .. }
            | RunEvent::StepStarted { .. }
            | RunEvent::SerialOut { .. }
            | RunEvent::SerialIn { .. }
            | RunEvent::TcpOpened { .. }
            | RunEvent::TcpData { .. }
            | RunEvent::TcpClosed { .. }
            | RunEvent::MqttPacket { .. }
            | RunEvent::BrokerNote { .. }
            | RunEvent::PacketsNotShown { .. }
            | RunEvent::StepFinished { .. }
            | RunEvent::RunFinished { .. } => {
                self.batches.entry(slot).or_default().push(ev.clone())
            }
        }
    }

    /// The summary changed: rewrite the JUnit file if it was not written for a while.
    fn junit_due(&mut self) {
        self.junit_dirty = true;
        self.tick();
    }

    /// Writes the JUnit file if it is behind and [`JUNIT_EVERY`] has passed since the last
    /// write. Call it every [`JUNIT_EVERY`] while a run goes on, so a run that dies between
    /// events leaves a file at most that far behind (and never one that reads green).
    pub fn tick(&mut self) {
        let due = self.junit_at.map_or(true, |at| at.elapsed() >= JUNIT_EVERY);
        if self.junit_dirty && due {
            self.write_junit();
        }
    }

    /// Reads `rx` until the channel closes, or until `RunFinished` has come and nothing more
    /// arrives for `linger` (a sink clone left alive somewhere must not hang the run), then
    /// finishes. Events after `RunFinished` within `linger` (a broker seeing the module hang up)
    /// are still reported.
    pub async fn consume(
        mut self,
        mut rx: tokio::sync::mpsc::UnboundedReceiver<Stamped>,
        linger: std::time::Duration,
    ) -> ReportPaths {
        loop {
            let next = if self.summary().totals.is_some() {
                tokio::time::timeout(linger, rx.recv())
                    .await
                    .unwrap_or(None)
            } else {
                match tokio::time::timeout(JUNIT_EVERY, rx.recv()).await {
                    Ok(next) => next,
                    Err(_) => {
                        self.tick();
                        continue;
                    }
                }
            };
            match next {
                Some(ev) => self.handle(&ev),
                None => break,
            }
        }
        self.finish()
    }

    /// Writes whatever has not been written (a scenario cut short, traffic outside scenarios,
    /// the JUnit file), prints the summary, and says where everything is.
    pub fn finish(mut self) -> ReportPaths {
        for (slot, idx) in std::mem::take(&mut self.open) {
            self.close(slot, idx);
        }
        let outside = self.write_outside();
        self.write_junit();
        if self.junit_written {
            // An earlier write that failed was overwritten by a whole report since.
            self.problems
                .retain(|p| !matches!(p, ReportError::Junit { .. }));
        }
        let mut paths = ReportPaths {
            dir: self.dir.clone(),
            junit: self.junit.clone().filter(|_| self.junit_written),
            scenarios: self.files.clone(),
            outside,
            problems: std::mem::take(&mut self.problems),
        };
        self.console.summary(self.summary.summary(), &paths);
        if let Some(source) = self.console.take_error() {
            paths.problems.push(ReportError::Console { source });
        }
        paths
    }

    fn sync(&mut self) {
        let n = self.summary.summary().scenarios.len();
        while self.files.len() < n {
            let name = &self.summary.summary().scenarios[self.files.len()].name;
            self.files.push(ScenarioFiles {
                name: self.redactor.redact_text(name),
                ..ScenarioFiles::default()
            });
            self.transcripts.push(None);
        }
    }

    fn check_console(&mut self) {
        if let Some(source) = self.console.take_error() {
            self.problems.push(ReportError::Console { source });
        }
    }

    fn problem(&mut self, e: ReportError) {
        self.console.problem(&e);
        self.check_console();
        self.problems.push(e);
    }

    /// A file stem for `name` not yet taken in `folder` (`run` is the outside traffic's).
    fn unique_slug(&mut self, folder: &Path, name: &str) -> String {
        let base = slug(name);
        let mut s = base.clone();
        let mut n = 2;
        while s == OUTSIDE || !self.slugs.insert((folder.to_owned(), s.clone())) {
            s = format!("{base}-{n}");
            n += 1;
        }
        s
    }

    /// Where a slot's transcripts and pcaps go: the report folder itself in a one-slot run, a
    /// folder named after the slot in a parallel one (created on first use).
    fn slot_dir(&mut self, slot: SlotId) -> PathBuf {
        if !self.plan.is_parallel() {
            return self.dir.clone();
        }
        let dir = self.dir.join(slug(&self.plan.slot_name(slot)));
        if let Err(source) = std::fs::create_dir_all(&dir) {
            self.problem(ReportError::CreateDir {
                path: dir.clone(),
                source,
            });
        }
        dir
    }

    /// Writes scenario `idx`'s transcript and pcap from `slot`'s batch.
    fn close(&mut self, slot: SlotId, idx: usize) {
        let mut events = self.batches.remove(&slot).unwrap_or_default();
        self.stream.redact_batch(&mut events);
        let Some(sc) = self.summary.summary().scenarios.get(idx).cloned() else {
            return;
        };
        let name = self.redactor.redact_text(&sc.name);
        let folder = self.slot_dir(slot);
        let stem = self.unique_slug(&folder, &name);
        let title = format!("scenario {name}");
        let heading = Heading {
            title: &title,
            file: Some(&sc.file),
            started_at: sc.started_at,
            origin: sc.start,
        };
        let (transcript, pcap) = self.write_pair(&folder, &stem, &heading, &events);
        self.files[idx].transcript = transcript.as_ref().map(|(p, _)| p.clone());
        self.transcripts[idx] = transcript.map(|(_, t)| t);
        self.files[idx].pcap = pcap;
    }

    /// Writes `<stem>.transcript.txt` and `<stem>.pcap`; returns the transcript's path and text
    /// and the pcap's path, for those written.
    fn write_pair(
        &mut self,
        folder: &Path,
        stem: &str,
        heading: &Heading<'_>,
        events: &[Stamped],
    ) -> (Option<(PathBuf, String)>, Option<PathBuf>) {
        // The final pass catches secrets in text the event fields did not carry separately.
        let text = self.redactor.redact_text(&render(heading, events));
        let path = folder.join(format!("{stem}.transcript.txt"));
        let transcript = match write_report(&path, text.as_bytes()) {
            Ok(()) => Some((path, text)),
            Err(source) => {
                self.problem(ReportError::Transcript { path, source });
                None
            }
        };
        let path = folder.join(format!("{stem}.pcap"));
        let pcap = match self
            .pcap
            .pcap_file(events)
            .and_then(|bytes| write_report(&path, &bytes))
        {
            Ok(()) => Some(path),
            Err(source) => {
                self.problem(ReportError::Pcap { path, source });
                None
            }
        };
        (transcript, pcap)
    }

    /// Reports for traffic seen outside any scenario, if there was some.
    fn write_outside(&mut self) -> Option<ScenarioFiles> {
        // Every slot's leftovers in one report, in the order they happened.
        let mut events: Vec<Stamped> = std::mem::take(&mut self.batches)
            .into_values()
            .flatten()
            .collect();
        events.sort_by_key(|e| e.since_start);
        let traffic = events.iter().any(|e| match &e.event {
            RunEvent::SerialOut { .. }
            | RunEvent::SerialIn { .. }
            | RunEvent::TcpOpened { .. }
            | RunEvent::TcpData { .. }
            | RunEvent::TcpClosed { .. }
            | RunEvent::MqttPacket { .. }
            | RunEvent::BrokerNote { .. }
            | RunEvent::PacketsNotShown { .. } => true,
            RunEvent::RunStarted { .. }
            | RunEvent::ScenarioStarted { .. }
            | RunEvent::StepStarted { .. }
            | RunEvent::StepFinished { .. }
            | RunEvent::ScenarioFinished { .. }
            | RunEvent::RunFinished { .. } => false,
        });
        if !traffic {
            return None;
        }
        self.stream.redact_batch(&mut events);
        let started_at = self
            .summary
            .summary()
            .started_at
            .unwrap_or(std::time::UNIX_EPOCH);
        let heading = Heading {
            title: "outside any scenario (times since the run started)",
            file: None,
            started_at,
            origin: std::time::Duration::ZERO,
        };
        let dir = self.dir.clone();
        let (transcript, pcap) = self.write_pair(&dir, OUTSIDE, &heading, &events);
        Some(ScenarioFiles {
            name: heading.title.to_string(),
            transcript: transcript.map(|(p, _)| p),
            pcap,
        })
    }

    fn write_junit(&mut self) {
        self.junit_dirty = false;
        self.junit_at = Some(std::time::Instant::now());
        let Some(path) = self.junit.clone() else {
            return;
        };
        let report = junit_report(
            self.summary.summary(),
            &self.plan,
            &self.transcripts,
            &self.redactor,
        );
        match write_junit(&path, &report) {
            Ok(()) => {
                self.junit_written = true;
                self.junit_failed = false;
            }
            Err(source) => {
                self.junit_written = false;
                if !self.junit_failed {
                    self.junit_failed = true;
                    self.problem(ReportError::Junit { path, source });
                }
            }
        }
    }
}

/// A warning, not an error: some secrets were too short to redact.
#[derive(Debug)]
struct ShortSecrets(usize);

impl std::fmt::Display for ShortSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "redact {} secret(s) shorter than {MIN_SECRET_LEN} bytes; they may appear in reports",
            self.0
        )
    }
}

impl std::error::Error for ShortSecrets {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reporter_can_move_to_another_task() {
        fn send<T: Send>() {}
        send::<Reporter>();
        send::<ReportPaths>();
    }
}
