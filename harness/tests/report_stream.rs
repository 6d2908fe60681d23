//! The reporter on the real event channel: `Reporter::consume` ends when the run has finished and
//! the stream goes quiet, even with a sink clone still alive, and when the channel closes
//! without `RunFinished` (an executor that died), still writing reports for what ran.

mod report_support;

use std::time::Duration;

use athil::report::{Console, Redactor, Reporter};
use athil::run::{EventSink, Outcome, RunEvent, TcpDirection};
use report_support::*;

const DEADLINE: Duration = Duration::from_secs(5);

#[tokio::test]
async fn ends_after_run_finished_even_with_a_sink_alive() {
    let dir = tempfile::tempdir().unwrap();
    let (sink, rx) = EventSink::channel();
    let reporter = Reporter::new(
        dir.path(),
        Some(dir.path().join("junit.xml")),
        Redactor::none(),
        Console::new(SharedBuf::default(), false),
    )
    .unwrap();
    let reports = tokio::spawn(reporter.consume(rx, Duration::from_millis(100)));

    sink.emit(RunEvent::RunStarted { scenario_count: 1 });
    sink.emit(RunEvent::ScenarioStarted {
        name: "ping".into(),
        file: "ping.yaml".into(),
    });
    sink.emit(RunEvent::TcpOpened {
        conn: 1,
        client: client(),
        server: server(),
    });
    sink.emit(RunEvent::TcpData {
        conn: 1,
        direction: TcpDirection::Uplink,
        bytes: vec![0xC0, 0x00],
    });
    sink.emit(RunEvent::ScenarioFinished {
        name: "ping".into(),
        outcome: Outcome::Passed,
        elapsed: Duration::from_millis(3),
    });
    sink.emit(RunEvent::RunFinished {
        passed: 1,
        failed: 0,
        skipped: 0,
        elapsed: Duration::from_millis(4),
        interrupted: false,
    });
    // Teardown after the run: the broker sees the module hang up.
    sink.emit(RunEvent::TcpClosed {
        conn: 1,
        by_broker: false,
    });
    let kept_alive = sink.clone();

    let paths = tokio::time::timeout(DEADLINE, reports)
        .await
        .expect("consume ends once the run is over and quiet")
        .unwrap();
    drop(kept_alive);
    assert!(paths.is_complete(), "{:?}", paths.problems);
    assert!(paths.junit.is_some());
    let outside = paths
        .outside
        .expect("the teardown after the run is reported");
    let t = std::fs::read_to_string(outside.transcript.unwrap()).unwrap();
    assert!(t.contains("tcp close #1    by the module"), "{t}");
}

#[tokio::test]
async fn a_closed_channel_without_run_finished_still_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (sink, rx) = EventSink::channel();
    let reporter = Reporter::new(
        dir.path(),
        Some(dir.path().join("junit.xml")),
        Redactor::none(),
        Console::new(SharedBuf::default(), false),
    )
    .unwrap();
    let reports = tokio::spawn(reporter.consume(rx, Duration::from_millis(100)));
    sink.emit(RunEvent::ScenarioStarted {
        name: "crash".into(),
        file: "crash.yaml".into(),
    });
    sink.emit(RunEvent::SerialIn {
        bytes: b"ready\r\n".to_vec(),
    });
    drop(sink);
    let paths = tokio::time::timeout(DEADLINE, reports)
        .await
        .expect("consume ends when the channel closes")
        .unwrap();
    assert!(paths.scenarios[0].transcript.is_some());
    let xml = std::fs::read_to_string(paths.junit.unwrap()).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(report.test_suites[0].errors, 1, "{xml}");
}
