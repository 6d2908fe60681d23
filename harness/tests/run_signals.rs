//! `athil run` stopped by a signal other than one polite Ctrl-C: SIGTERM and SIGHUP stop it like
//! Ctrl-C and exit 128 + the signal's number, a second Ctrl-C forces the exit, Ctrl-C does not
//! wait for a silent module's 10 s deadline, and a JUnit file on disk never reads green while
//! scenarios are unfinished or unstarted (even after SIGKILL).

mod run_support;

use std::time::{Duration, Instant};

use quick_junit::{NonSuccessKind, Report, TestCaseStatus};
use run_support::*;

const FIRST: &str = "terminate: the first scenario passes";
const WAITS: &str = "terminate: the second scenario waits half a minute";
const AFTER: &str = "terminate: the third scenario never starts";

/// Starts the three `terminate/` scenarios and returns once the second is in its 30 s wait.
fn run_into_the_wait() -> Running {
    let mut run = spawn(&[&data("terminate")]);
    assert!(
        run.wait_for_stdout("send ATE0 (line 5)", Duration::from_secs(20)),
        "the second scenario never reached its wait:\n{}",
        run.stdout_so_far()
    );
    std::thread::sleep(Duration::from_millis(300));
    run
}

fn error_message(report: &Report, name: &str) -> String {
    match &case(report, name).status {
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Error,
            message,
            ..
        } => message
            .as_ref()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default(),
        other => panic!("`{name}` is {other:?}, not an error case"),
    }
}

/// The run was stopped by `signal` during the second scenario's wait; checks what every report
/// says about it.
fn stopped_like_ctrl_c(signal: &str, name: &str, code: i32) {
    let run = run_into_the_wait();
    let sent = Instant::now();
    run.signal(signal);
    let ran = run.finish(Duration::from_secs(15));
    assert_eq!(ran.code, Some(code), "{}", ran.both());
    assert!(
        sent.elapsed() < Duration::from_secs(6),
        "{:?}",
        sent.elapsed()
    );

    let skipped = ran
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("skip ") && l.contains("wait 30s (line 7)"))
        .unwrap_or_else(|| panic!("no `skip … wait 30s` line in:\n{}", ran.stdout));
    assert!(
        skipped.contains(&format!("interrupted ({name})")),
        "{skipped}"
    );

    let report = ran.junit();
    assert_eq!(report.tests, 3, "every scenario is listed");
    // JUnit must never look green for an unfinished run: the stopped scenario and the one that
    // never started are errors (neither passed nor failed: the firmware is not blamed).
    assert_eq!(report.errors, 2, "{report:?}");
    assert!(matches!(
        case(&report, FIRST).status,
        TestCaseStatus::Success { .. }
    ));
    let m = error_message(&report, WAITS);
    assert!(m.contains("`wait 30s` (line 7)") && m.contains(name), "{m}");
    let m = error_message(&report, AFTER);
    assert!(m.contains("not run") && m.contains(name), "{m}");

    let transcript = ran
        .out_dir()
        .join("terminate-the-second-scenario-waits-half-a-minute.transcript.txt");
    let text = std::fs::read_to_string(&transcript)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", transcript.display(), ran.both()));
    assert!(text.contains(&format!("interrupted ({name})")), "{text}");
}

#[test]
fn sigterm_stops_the_run_like_ctrl_c_writes_every_report_and_exits_143() {
    stopped_like_ctrl_c("-TERM", "SIGTERM", 143);
}

#[test]
fn sighup_stops_the_run_like_ctrl_c_writes_every_report_and_exits_129() {
    stopped_like_ctrl_c("-HUP", "SIGHUP", 129);
}

#[test]
fn a_junit_file_killed_mid_run_lists_the_unfinished_and_unstarted_scenarios_as_errors() {
    // Was: killed after its first scenario, the run left `tests=1 failures=0`, which reads green.
    let run = run_into_the_wait();
    let junit = run.out_dir().join("junit.xml");
    run.signal("-KILL");
    let ran = run.finish(Duration::from_secs(5));
    assert_eq!(ran.code, None, "killed by a signal");
    let xml = std::fs::read_to_string(&junit).expect("a JUnit file written during the run");
    let report = Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(report.tests, 3, "{xml}");
    assert_eq!(report.errors, 2, "{xml}");
    assert!(error_message(&report, WAITS).contains("did not finish"));
    assert!(error_message(&report, AFTER).contains("not run"));
}

#[test]
fn ctrl_c_does_not_wait_for_a_silent_module_to_reach_its_deadline() {
    // Was: Ctrl-C while the module was being reset waited for the 10 s sync deadline.
    let mut run = spawn(&[&data("silent-reset")]);
    assert!(
        run.wait_for_stdout("scenario silent:", Duration::from_secs(15)),
        "{}",
        run.stdout_so_far()
    );
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    run.signal("-INT");
    let ran = run.finish(Duration::from_secs(15));
    let took = sent.elapsed();
    assert_eq!(ran.code, Some(130), "{}", ran.both());
    assert!(
        took < Duration::from_secs(4),
        "exited {took:?} after SIGINT"
    );
    let report = ran.junit();
    assert_eq!((report.tests, report.errors), (1, 1), "{report:?}");
}

#[test]
fn a_second_ctrl_c_forces_the_exit_when_the_first_cannot_finish() {
    // A FIFO as the JUnit file: the test reads the first report written (when the run is
    // planned, after the signals are caught), then nobody reads, so the next write blocks and
    // the first Ctrl-C cannot finish the run.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("junit.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(status.success());
    let mut run = spawn(&[
        &data("terminate/1-passes.yaml"),
        "--junit",
        fifo.to_str().unwrap(),
    ]);
    let (read_tx, read_rx) = std::sync::mpsc::channel();
    let reader_path = fifo.clone();
    std::thread::spawn(move || {
        let text = std::fs::read_to_string(&reader_path);
        let _ = read_tx.send(text);
    });
    let first = read_rx
        .recv_timeout(Duration::from_secs(15))
        .unwrap_or_else(|_| panic!("no JUnit report reached the FIFO:\n{}", run.stdout_so_far()))
        .expect("read the FIFO");
    assert!(first.contains("not run"), "{first}");
    std::thread::sleep(Duration::from_millis(300));
    run.signal("-INT");
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        run.is_running(),
        "the first Ctrl-C could not finish the run"
    );
    let sent = Instant::now();
    run.signal("-INT");
    let ran = run.finish(Duration::from_secs(10));
    assert_eq!(ran.code, Some(130), "{}", ran.both());
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "{:?}",
        sent.elapsed()
    );
    assert!(
        ran.stderr.contains("a second signal (Ctrl-C)"),
        "{}",
        ran.both()
    );
}
