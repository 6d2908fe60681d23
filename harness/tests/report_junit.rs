//! The JUnit XML report, read back with quick-junit's own parser: counts, names and classnames,
//! the failure text naming the step, the transcript as system-out, and a file that exists for
//! what ran even when the run is interrupted or never finishes.

mod report_support;

use std::path::Path;
use std::time::Duration;

use athil::report::{Console, Redactor, Reporter};
use athil::run::{Outcome, RunEvent};
use quick_junit::{NonSuccessKind, Report, TestCaseStatus};
use report_support::*;

fn parse(path: &Path) -> Report {
    let xml = std::fs::read_to_string(path).unwrap();
    Report::deserialize_from_str(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
}

fn three_scenarios() -> Script {
    let mut s = Script::new();
    s.push(RunEvent::RunStarted { scenario_count: 3 })
        .scenario("connect accepted", "scenarios/connect_ok.yaml")
        .connect_flow(1, CONNACK_OK)
        .step_done(3, Outcome::Passed, 5)
        .push(RunEvent::ScenarioFinished {
            name: "connect accepted".into(),
            outcome: Outcome::Passed,
            elapsed: Duration::from_millis(950),
        })
        .scenario("connect refused", "scenarios/connect_refused.yaml")
        .connect_flow(2, CONNACK_REFUSED)
        .step_done(3, Outcome::Failed(refused_failure()), 5)
        .push(RunEvent::ScenarioFinished {
            name: "connect refused".into(),
            outcome: Outcome::Failed(refused_failure()),
            elapsed: Duration::from_millis(1250),
        })
        .push(RunEvent::ScenarioFinished {
            name: "onenet".into(),
            outcome: Outcome::Skipped {
                reason: "rig has no OneNET device".into(),
            },
            elapsed: Duration::ZERO,
        })
        .run_finished(1, 1, 1, false);
    s
}

#[test]
fn one_case_per_scenario_with_failure_text_and_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("reports/junit.xml");
    let mut r = Reporter::new(
        dir.path().join("out"),
        Some(junit.clone()),
        Redactor::none(),
        Console::new(SharedBuf::default(), false),
    )
    .unwrap();
    for ev in &three_scenarios().events {
        r.handle(ev);
    }
    let paths = r.finish();
    assert_eq!(paths.junit.as_deref(), Some(junit.as_path()));
    let report = parse(&junit);
    assert_eq!(report.test_suites.len(), 1);
    let suite = &report.test_suites[0];
    assert_eq!((suite.tests, suite.failures, suite.errors), (3, 1, 0));
    let cases = &suite.test_cases;
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["connect accepted", "connect refused", "onenet"]);
    assert_eq!(
        cases[0].classname.as_deref(),
        Some("scenarios/connect_ok.yaml")
    );
    assert_eq!(cases[1].time, Some(Duration::from_millis(1250)));
    assert!(matches!(cases[0].status, TestCaseStatus::Success { .. }));

    match &cases[1].status {
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Failure,
            message,
            ty,
            description,
            ..
        } => {
            assert_eq!(
                message.as_deref(),
                Some("step `receive 20 02 00 00` (line 11): expected CONNACK return code 0, got 4")
            );
            assert_eq!(ty.as_deref(), Some("bytes differ"));
            let d = description.as_deref().unwrap();
            assert!(d.contains("byte 3: expected 00, got 04"), "{d}");
            assert!(d.contains("      actual    20 02 00 04"), "{d}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let out = cases[1].system_out.as_deref().unwrap();
    assert!(
        out.starts_with("athil transcript: scenario connect refused"),
        "{out}"
    );
    assert!(
        out.contains("mqtt ↓ #2       CONNACK session_present=0 return_code=4"),
        "{out}"
    );
    assert!(
        out.contains("serial <        \\r\\n+IPD,4: \\x02\\x00\\x04\\r\\n"),
        "{out}"
    );

    match &cases[2].status {
        TestCaseStatus::Skipped { message, .. } => {
            assert_eq!(message.as_deref(), Some("rig has no OneNET device"));
        }
        other => panic!("expected skipped, got {other:?}"),
    }
}

#[test]
fn written_after_each_scenario_so_a_crash_leaves_one() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let mut r = Reporter::new(
        dir.path(),
        Some(junit.clone()),
        Redactor::none(),
        Console::new(SharedBuf::default(), false),
    )
    .unwrap();
    let s = three_scenarios();
    let first_end = s
        .events
        .iter()
        .position(|e| matches!(e.event, RunEvent::ScenarioFinished { .. }))
        .unwrap();
    for ev in &s.events[..=first_end] {
        r.handle(ev);
    }
    // The process dies here: no finish().
    drop(r);
    let report = parse(&junit);
    assert_eq!(report.test_suites[0].tests, 1);
    assert!(!dir.path().join("junit.xml.tmp").exists());
}

#[test]
fn an_interrupted_scenario_is_an_error_case_with_its_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let mut s = Script::new();
    s.push(RunEvent::RunStarted { scenario_count: 2 })
        .scenario("connect refused", "scenarios/connect_refused.yaml")
        .connect_flow(1, CONNACK_REFUSED)
        .run_finished(0, 0, 0, true);
    let mut r = Reporter::new(
        dir.path(),
        Some(junit.clone()),
        Redactor::none(),
        Console::new(SharedBuf::default(), false),
    )
    .unwrap();
    for ev in &s.events {
        r.handle(ev);
    }
    r.finish();
    let report = parse(&junit);
    let suite = &report.test_suites[0];
    assert_eq!((suite.tests, suite.failures, suite.errors), (1, 0, 1));
    let case = &suite.test_cases[0];
    match &case.status {
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Error,
            message,
            ..
        } => assert!(message.as_deref().unwrap().starts_with("did not finish")),
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(case.system_out.as_deref().unwrap().contains("+IPD,4:"));
}
