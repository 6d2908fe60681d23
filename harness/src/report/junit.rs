//! The JUnit XML report ([`junit_report`]), built with `quick-junit` from the neutral
//! [`RunSummary`] as nextest builds its own: one test suite per slot (named after the slot, with
//! the module as a property; a one-module run has the one suite `athil`), one test case per
//! scenario run (name = scenario name, classname = its file), the failing step and message as
//! failure text, the scenario's transcript as system-out.
//!
//! The report must never read green for a run that did not finish: a scenario cut short (by a
//! signal, or a run that died) is an `error` test case, and so is every planned scenario that
//! never started. Neither is a `failure`: nothing was judged, so the firmware is not blamed.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::Path;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::events::{FailureKind, JobId, SlotId};

use super::diff::failure_lines;
use super::planned::RunPlan;
use super::redact::Redactor;
use super::summary::{RunSummary, ScenarioStatus};
use super::write::write_report;

/// The suite of planned scenarios no slot took before the run ended.
const NOT_STARTED: &str = "not started";

/// The report for what the summary holds so far; `transcripts[i]` is scenario `i`'s transcript
/// (already redacted), if it has been written. Planned scenarios the summary has not reached
/// are listed as errors: if the run stops now, they did not run.
pub fn junit_report(
    s: &RunSummary,
    plan: &RunPlan,
    transcripts: &[Option<String>],
    redactor: &Redactor,
) -> Report {
    let mut suites: BTreeMap<SlotId, TestSuite> = BTreeMap::new();
    let suite_of = |slot: SlotId| {
        if !plan.is_parallel() {
            let mut suite = TestSuite::new("athil");
            if let Some(info) = plan.slots.first() {
                suite.add_property(Property::new("module", info.module.as_str()));
            }
            return suite;
        }
        let mut suite = TestSuite::new(plan.slot_name(slot));
        if let Some(info) = plan.slots.get(slot.0 as usize) {
            suite.add_property(Property::new("slot", info.name.as_str()));
            suite.add_property(Property::new("module", info.module.as_str()));
        }
        suite
    };
    // Every slot has its suite, even one that ran nothing yet.
    for i in 0..plan.slots.len().max(1) {
        let slot = SlotId(i as u16);
        suites.insert(slot, suite_of(slot));
    }
    let mut elapsed: BTreeMap<SlotId, std::time::Duration> = BTreeMap::new();
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
        let slot = if plan.is_parallel() {
            sc.slot
        } else {
            SlotId(0)
        };
        *elapsed.entry(slot).or_default() += sc.elapsed;
        suites
            .entry(slot)
            .or_insert_with(|| suite_of(slot))
            .add_test_case(case);
    }
    // Jobs are numbered in plan order; events without job numbers (a hand-fed stream) reach
    // the planned scenarios in order.
    let reached: HashSet<JobId> = s.scenarios.iter().filter_map(|sc| sc.job).collect();
    let numbered = !reached.is_empty();
    let mut not_started = TestSuite::new(NOT_STARTED);
    for (i, p) in plan.jobs.iter().enumerate() {
        let was_reached = if numbered {
            reached.contains(&JobId(i as u32))
        } else {
            i < s.scenarios.len()
        };
        if was_reached {
            continue;
        }
        let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
        st.set_message("not run: the run ended before this scenario started");
        st.set_type("not run");
        let mut case = TestCase::new(redactor.redact_text(&p.name), st);
        case.set_classname(p.file.display().to_string());
        match p.slot.filter(|_| plan.is_parallel()) {
            Some(slot) => suites
                .entry(slot)
                .or_insert_with(|| suite_of(slot))
                .add_test_case(case),
            None if plan.is_parallel() => not_started.add_test_case(case),
            None => suites
                .entry(SlotId(0))
                .or_insert_with(|| suite_of(SlotId(0)))
                .add_test_case(case),
        };
    }
    let mut report = Report::new("athil");
    report.set_time(s.elapsed);
    for (slot, mut suite) in suites {
        // A slot's time is its scenarios' (in a one-module run, the run's).
        let time = match plan.is_parallel() {
            true => elapsed.get(&slot).copied().unwrap_or_default(),
            false => s.elapsed,
        };
        suite.set_time(time);
        report.add_test_suite(suite);
    }
    if !not_started.test_cases.is_empty() {
        report.add_test_suite(not_started);
    }
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
