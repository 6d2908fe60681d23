//! The console report through the `Reporter`: step lines with times, the byte diff under a
//! failing step, the summary with report paths, interruption, and a broken console that must
//! not stop the file reports.

mod report_support;

use std::time::Duration;

use athil::report::{Console, Redactor, ReportError, Reporter};
use athil::run::{Outcome, RunEvent};
use report_support::*;

/// Two scenarios, the first accepted, the second refused with CONNACK code 4.
fn two_scenarios() -> Script {
    let mut s = Script::new();
    s.push(RunEvent::RunStarted { scenario_count: 2 });
    s.scenario("connect accepted", "scenarios/connect_ok.yaml")
        .connect_flow(1, CONNACK_OK)
        .step_done(3, Outcome::Passed, 5)
        .push(RunEvent::ScenarioFinished {
            name: "connect accepted".into(),
            outcome: Outcome::Passed,
            elapsed: Duration::from_millis(950),
        })
        .wait(20)
        .scenario("connect refused", "scenarios/connect_refused.yaml")
        .connect_flow(2, CONNACK_REFUSED)
        .step_done(3, Outcome::Failed(refused_failure()), 5)
        .push(RunEvent::ScenarioFinished {
            name: "connect refused".into(),
            outcome: Outcome::Failed(refused_failure()),
            elapsed: Duration::from_millis(951),
        })
        .run_finished(1, 1, 0, false);
    s
}

#[test]
fn steps_failure_diff_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let buf = SharedBuf::default();
    let junit = dir.path().join("junit.xml");
    let mut r = Reporter::new(
        dir.path(),
        Some(junit.clone()),
        Redactor::none(),
        Console::new(buf.clone(), false),
    )
    .unwrap();
    for ev in &two_scenarios().events {
        r.handle(ev);
    }
    let paths = r.finish();
    assert!(paths.is_complete(), "{:?}", paths.problems);
    let out = buf.text();
    println!("{out}");
    let lines: Vec<&str> = out.lines().collect();

    assert!(lines.contains(&"athil: running 2 scenario(s)"), "{out}");
    assert!(lines.contains(&"scenario connect accepted (scenarios/connect_ok.yaml)"));
    assert!(
        lines.contains(&"  ok      0.905s  send AT+CWJAP (line 5)"),
        "{out}"
    );
    let cipsend = format!(
        "  ok      0.005s  send AT+CIPSEND={} (line 9)",
        connect_bytes().len()
    );
    assert!(lines.contains(&cipsend.as_str()), "{out}");
    assert!(lines.contains(&"PASS  connect accepted  0.950s"), "{out}");
    assert!(
        lines.contains(&"  FAIL    0.005s  receive 20 02 00 00 (line 11)"),
        "{out}"
    );
    // The byte diff under the failing step: byte 3 marked and spelled out.
    let at = lines.iter().position(|l| l.starts_with("  FAIL")).unwrap();
    let block = &lines[at + 1..at + 8];
    assert_eq!(
        block,
        [
            "        expected CONNACK return code 0, got 4",
            "        bytes: expected 4 byte(s), got 4; 1 differ (^^)",
            "        0000  expected  20 02 00 00",
            "              actual    20 02 00 04",
            "                                 ^^",
            "        byte 3: expected 00, got 04",
            "        serial bytes since the step started (15):",
        ]
    );
    assert!(
        lines.contains(&"          text: \\r\\n+IPD,4: \\x02\\x00\\x04\\r\\n"),
        "{out}"
    );
    assert!(lines.contains(&"          hex:  0D 0A 2B 49 50 44 2C 34 3A 20 02 00 04 0D 0A"));
    // The scenario result does not repeat the diff already shown under the step.
    assert_eq!(
        out.matches("byte 3: expected 00, got 04").count(),
        1,
        "{out}"
    );
    assert!(lines.contains(&"FAIL  connect refused  0.951s  at receive: 20 02 00 00 (line 11)"));

    let elapsed = two_scenarios().now;
    let summary = format!(
        "athil: 1 passed, 1 failed, 0 skipped in {:.3}s",
        elapsed.as_secs_f64()
    );
    assert!(lines.contains(&summary.as_str()), "{out}");
    assert!(
        lines.contains(&"athil: failed: connect refused at step `receive 20 02 00 00` (line 11)")
    );
    let failed_transcript = dir.path().join("connect-refused.transcript.txt");
    assert!(
        out.contains(&format!("athil:   {}", failed_transcript.display())),
        "{out}"
    );
    assert!(
        out.contains(&format!("athil: JUnit: {}", junit.display())),
        "{out}"
    );
    assert!(out.contains("2 transcript(s), 2 pcap(s)"), "{out}");
    assert!(!out.contains('\x1b'), "no colour when asked for none");
}

#[test]
fn colour_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let buf = SharedBuf::default();
    let mut r = Reporter::new(
        dir.path(),
        None,
        Redactor::none(),
        Console::new(buf.clone(), true),
    )
    .unwrap();
    for ev in &two_scenarios().events {
        r.handle(ev);
    }
    r.finish();
    assert!(buf.text().contains("\x1b[31m  FAIL"), "{}", buf.text());
}

#[test]
fn interrupted_run_says_so_and_counts_the_cut_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let buf = SharedBuf::default();
    let mut s = Script::new();
    s.push(RunEvent::RunStarted { scenario_count: 3 })
        .scenario("connect accepted", "scenarios/connect_ok.yaml")
        .connect_flow(1, CONNACK_OK)
        .run_finished(0, 0, 0, true);
    let mut r = Reporter::new(
        dir.path(),
        None,
        Redactor::none(),
        Console::new(buf.clone(), false),
    )
    .unwrap();
    for ev in &s.events {
        r.handle(ev);
    }
    let paths = r.finish();
    let out = buf.text();
    assert!(
        out.contains("athil: interrupted; writing the reports for what ran"),
        "{out}"
    );
    assert!(
        out.contains("0 passed, 0 failed, 0 skipped, 1 unfinished"),
        "{out}"
    );
    assert!(
        out.contains("(2 of 3 scenario(s) not started) (interrupted)"),
        "{out}"
    );
    assert!(out.contains("athil: unfinished: connect accepted"), "{out}");
    let t = paths.scenarios[0]
        .transcript
        .as_ref()
        .expect("transcript of the cut scenario");
    assert!(std::fs::read_to_string(t).unwrap().contains("+IPD,4:"));
}

#[test]
fn a_broken_console_does_not_stop_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let mut r = Reporter::new(
        dir.path(),
        Some(junit.clone()),
        Redactor::none(),
        Console::new(BrokenPipe, false),
    )
    .unwrap();
    for ev in &two_scenarios().events {
        r.handle(ev);
    }
    let paths = r.finish();
    assert_eq!(paths.scenarios.len(), 2);
    assert!(paths
        .scenarios
        .iter()
        .all(|f| f.transcript.is_some() && f.pcap.is_some()));
    assert_eq!(paths.junit.as_deref(), Some(junit.as_path()));
    assert!(junit.exists());
    assert!(matches!(
        paths.problems.as_slice(),
        [ReportError::Console { .. }]
    ));
}

#[test]
fn an_unwritable_junit_is_reported_and_the_rest_written() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the JUnit file should go: writing it must fail.
    let junit = dir.path().join("junit.xml");
    std::fs::create_dir(&junit).unwrap();
    std::fs::create_dir(dir.path().join("junit.xml.tmp")).unwrap();
    let buf = SharedBuf::default();
    let mut r = Reporter::new(
        dir.path(),
        Some(junit),
        Redactor::none(),
        Console::new(buf.clone(), false),
    )
    .unwrap();
    for ev in &two_scenarios().events {
        r.handle(ev);
    }
    let paths = r.finish();
    assert!(paths.junit.is_none());
    assert!(paths
        .scenarios
        .iter()
        .all(|f| f.transcript.is_some() && f.pcap.is_some()));
    assert!(
        matches!(paths.problems.as_slice(), [ReportError::Junit { .. }]),
        "{:?}",
        paths.problems
    );
    let out = buf.text();
    assert!(
        out.contains("athil: report: failed to write the JUnit report"),
        "{out}"
    );
    assert!(out.contains("1 report(s) could not be written"), "{out}");
}
