//! The JUnit XML report ([`junit_report`]), built with `quick-junit` from the neutral
//! [`RunSummary`] as nextest builds its own: one test suite per run, one test case per scenario
//! (name = scenario name, classname = its file), the failing step and message as failure text,
//! the scenario's transcript as system-out.
//!
//! The report must never read green for a run that did not finish: a scenario cut short (by a
//! signal, or a run that died) is an `error` test case, and so is every planned scenario that
//! never started. Neither is a `failure`: nothing was judged, so the firmware is not blamed.

use std::io;
use std::path::{Path, PathBuf};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::events::FailureKind;

use super::diff::failure_lines;
use super::redact::Redactor;
use super::summary::{RunSummary, ScenarioStatus};
use super::write::write_report;

/// A scenario the run means to run, by name and file, known before any event about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub name: String,
    pub file: PathBuf,
}

/// The report for what the summary holds so far; `transcripts[i]` is scenario `i`'s transcript
/// (already redacted), if it has been written. `planned` scenarios the summary has not reached
/// are listed as errors: if the run stops now, they did not run.
pub fn junit_report(
    s: &RunSummary,
    planned: &[Planned],
    transcripts: &[Option<String>],
    redactor: &Redactor,
) -> Report {
    let mut suite = TestSuite::new("athil");
    suite.set_time(s.elapsed);
    for (i, sc) in s.scenarios.iter().enumerate() {
        let status = match &sc.status {
            ScenarioStatus::Passed => TestCaseStatus::success(),
            ScenarioStatus::Failed(f) => {
                let mut f = f.clone();
                redactor.redact_failure(&mut f);
                let place = match sc.failing_step() {
                    Some(step) => step.place(),
                    None => format!("step `{}`", f.step),
                };
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(redactor.redact_text(&format!("{place}: {}", f.message)));
                st.set_type(kind_name(f.kind));
                let mut text = format!("{place}\n");
                for l in failure_lines(&f) {
                    text.push_str(&l.text);
                    text.push('\n');
                }
                st.set_description(redactor.redact_text(&text));
                st
            }
            // Only an interruption skips a scenario: it did not pass, and must not read so.
            ScenarioStatus::Skipped { reason } if s.interrupted => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
                st.set_message(redactor.redact_text(reason));
                st.set_type("interrupted");
                st
            }
            ScenarioStatus::Skipped { reason } => {
                let mut st = TestCaseStatus::skipped();
                st.set_message(redactor.redact_text(reason));
                st
            }
            ScenarioStatus::Unfinished => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
                st.set_message("did not finish: the run was interrupted or stopped during it");
                st.set_type("unfinished");
                st
            }
        };
        let mut case = TestCase::new(redactor.redact_text(&sc.name), status);
        case.set_classname(sc.file.display().to_string());
        case.set_time(sc.elapsed);
        if let Some(Some(t)) = transcripts.get(i) {
            case.set_system_out(t.as_str());
        }
        suite.add_test_case(case);
    }
    for p in planned.iter().skip(s.scenarios.len()) {
        let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
        st.set_message("not run: the run ended before this scenario started");
        st.set_type("not run");
        let mut case = TestCase::new(redactor.redact_text(&p.name), st);
        case.set_classname(p.file.display().to_string());
        suite.add_test_case(case);
    }
    let mut report = Report::new("athil");
    report.set_time(s.elapsed);
    report.add_test_suite(suite);
    report
}

fn kind_name(k: FailureKind) -> &'static str {
    match k {
        FailureKind::Bytes => "bytes differ",
        FailureKind::Fields => "fields differ",
        FailureKind::Text => "serial text differs",
        FailureKind::Timeout => "timeout",
        FailureKind::Other => "error",
    }
}

/// Writes `report` to `path` with [`write_report`]: through symlinks and special files, and a
/// regular file replaced whole, so a reader (or a run killed mid-write) never sees half a file.
pub fn write_junit(path: &Path, report: &Report) -> io::Result<()> {
    let xml = report.to_string().map_err(io::Error::other)?;
    write_report(path, xml.as_bytes())
}
