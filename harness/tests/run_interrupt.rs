//! Ctrl-C during `athil run`: the step under way ends and its scenario and those after it are
//! skipped (errors in JUnit, never passes), the reports are written for what ran, and the exit
//! code is 130.

mod run_support;

use std::time::{Duration, Instant};

use quick_junit::{NonSuccessKind, TestCaseStatus};
use run_support::*;

const WAITS: &str = "interrupt: a scenario that waits half a minute";
const AFTER: &str = "interrupt: the scenario after the interrupted one";

#[test]
fn sigint_ends_the_run_with_130_and_reports_what_ran() {
    let mut run = spawn(&[&data("interrupt")]);
    // The step before the wait has passed, so the 30 s wait is under way.
    assert!(
        run.wait_for_stdout("send AT (line 5)", Duration::from_secs(15)),
        "the first scenario never reached its wait:\n{}",
        run.stdout_so_far()
    );
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    run.signal("-INT");
    let ran = run.finish(Duration::from_secs(10));
    let after_signal = sent.elapsed();
    assert_eq!(ran.code, Some(130), "{}", ran.both());
    assert!(
        after_signal < Duration::from_secs(5),
        "exited {after_signal:?} after SIGINT"
    );
    assert!(ran.elapsed < Duration::from_secs(20), "{:?}", ran.elapsed);

    let skipped = ran
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("skip ") && l.contains("wait 30s (line 7)"))
        .unwrap_or_else(|| {
            panic!(
                "no `skip … wait 30s (line 7)` step line in:\n{}",
                ran.stdout
            )
        });
    assert!(skipped.contains("interrupted (Ctrl-C)"), "{skipped}");
    let took: f64 = skipped
        .split_whitespace()
        .nth(1)
        .and_then(|t| t.strip_suffix('s'))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no step time on `{skipped}`"));
    assert!(took < 10.0, "the wait ran {took}s");
    assert!(
        ran.stdout.contains(&format!("SKIP  {AFTER}")),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .lines()
            .any(|l| l.starts_with("athil: 0 passed, 0 failed, 2 skipped")
                && l.ends_with("(interrupted)")),
        "{}",
        ran.stdout
    );

    let report = ran.junit();
    assert_eq!(report.tests, 2, "both scenarios are listed");
    // An interruption says nothing about the module, so neither scenario is a failure; nor did
    // either pass or get skipped by choice, and JUnit must not read green: both are errors,
    // the one under way naming the step it stopped in.
    assert_eq!((report.failures, report.errors), (0, 2), "{report:?}");
    match &case(&report, WAITS).status {
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Error,
            message,
            ..
        } => {
            let m = message.as_ref().map(|m| m.as_str()).unwrap_or_default();
            assert!(m.contains("`wait 30s` (line 7)"), "{m}");
            assert!(m.contains("interrupted (Ctrl-C)"), "{m}");
        }
        other => panic!("the interrupted scenario is {other:?}"),
    }
    match &case(&report, AFTER).status {
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Error,
            message,
            ..
        } => {
            let m = message.as_ref().map(|m| m.as_str()).unwrap_or_default();
            assert!(m.contains("not run") && m.contains("interrupted"), "{m}");
        }
        other => panic!("the scenario after is {other:?}, not an error"),
    }

    let transcript = ran
        .out_dir()
        .join("interrupt-a-scenario-that-waits-half-a-minute.transcript.txt");
    let text = std::fs::read_to_string(&transcript)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", transcript.display(), ran.both()));
    assert!(
        text.contains("step start      a long quiet wait: wait 30s (line 7)"),
        "{text}"
    );
    assert!(text.contains("interrupted (Ctrl-C)"), "{text}");
}
