//! The per-scenario transcript: one timeline for serial and TCP both ways, ordered by time,
//! millisecond times since the scenario started, direction markers, escaped text and hex.

mod report_support;

use std::time::Duration;

use athil::report::{Console, Redactor, Reporter};
use athil::run::{Outcome, RunEvent, TcpDirection};
use report_support::*;

fn transcript_of(s: &Script) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Reporter::new(
        dir.path(),
        None,
        Redactor::none(),
        Console::new(SharedBuf::default(), false),
    )
    .unwrap();
    for ev in &s.events {
        r.handle(ev);
    }
    let paths = r.finish();
    assert!(paths.is_complete(), "{:?}", paths.problems);
    let path = paths.scenarios[0].transcript.clone().unwrap();
    assert_eq!(path, dir.path().join("connect-refused.transcript.txt"));
    std::fs::read_to_string(path).unwrap()
}

fn refused_run() -> Script {
    let mut s = Script::new();
    s.push(RunEvent::RunStarted { scenario_count: 1 })
        .wait(7)
        .scenario("connect refused", "scenarios/connect_refused.yaml")
        .connect_flow(1, CONNACK_REFUSED)
        .step_done(3, Outcome::Failed(refused_failure()), 6)
        .push(RunEvent::BrokerNote {
            conn: Some(1),
            text: "refused CONNECT: sign does not match DeviceSecret of dev1".into(),
        })
        .push(RunEvent::TcpClosed {
            conn: 1,
            by_broker: true,
        })
        .push(RunEvent::ScenarioFinished {
            name: "connect refused".into(),
            outcome: Outcome::Failed(refused_failure()),
            elapsed: Duration::from_millis(951),
        })
        .run_finished(0, 1, 0, false);
    s
}

#[test]
fn one_timeline_with_times_markers_text_and_hex() {
    let t = transcript_of(&refused_run());
    println!("{t}");
    assert!(
        t.starts_with("athil transcript: scenario connect refused\n"),
        "{t}"
    );
    assert!(t.contains("file:    scenarios/connect_refused.yaml\n"));
    assert!(
        t.contains("started: 2023-11-14T22:13:20.007Z (UTC)\n"),
        "{t}"
    );
    // Events before the scenario (RunStarted) open it at a negative time.
    assert!(
        t.contains("    -0.007  run             started, 1 scenario(s)\n"),
        "{t}"
    );
    assert!(
        t.contains("     0.000  step start      send AT+CWJAP (line 5)\n"),
        "{t}"
    );
    assert!(
        t.contains("     0.921  serial <        CONNECT\\r\\n\\r\\nOK\\r\\n\n"),
        "{t}"
    );
    assert!(
        t.contains("     0.920  tcp open #1     127.0.0.1:50312 -> 127.0.0.1:1883\n"),
        "{t}"
    );
    assert!(
        t.contains("tcp ↑ #1        (122 bytes) \\x10x\\x00\\x04MQTT\\x04\\xC2\\x00<\\x002dev1|"),
        "{t}"
    );
    assert!(
        t.contains(
            "                            0000: 10 78 00 04 4D 51 54 54 04 C2 00 3C 00 32 64 65\n"
        ),
        "{t}"
    );
    assert!(t.contains("mqtt ↑ #1       CONNECT client_id=dev1|securemode=3,signmethod=hmacsha1,timestamp=1| protocol=MQTT level=4 clean_session=1 keepalive=60 username=dev1&a1ProdKey password=0123456789abcdef0123456789abcdef01234567\n"), "{t}");
    assert!(
        t.contains("     0.941  tcp ↓ #1        (4 bytes)  \\x02\\x00\\x04\n"),
        "{t}"
    );
    assert!(
        t.contains("mqtt ↓ #1       CONNACK session_present=0 return_code=4\n"),
        "{t}"
    );
    assert!(
        t.contains("serial <        \\r\\n+IPD,4: \\x02\\x00\\x04\\r\\n\n"),
        "{t}"
    );
    assert!(
        t.contains("                            0D 0A 2B 49 50 44 2C 34 3A 20 02 00 04 0D 0A\n"),
        "{t}"
    );
    assert!(
        t.contains("broker #1       refused CONNECT: sign does not match DeviceSecret of dev1\n")
    );
    assert!(t.contains("tcp close #1    by the broker\n"));
    assert!(
        t.contains("step FAIL       0.006s  receive: 20 02 00 00 (line 11)\n"),
        "{t}"
    );
    assert!(
        t.contains("                            byte 3: expected 00, got 04\n"),
        "{t}"
    );
    assert!(
        t.contains("scenario FAIL   0.951s  receive: 20 02 00 00 (line 11)\n"),
        "{t}"
    );
    // RunFinished came after the scenario ended: it is not part of the scenario's timeline.
    assert!(!t.contains("run             finished"), "{t}");
}

/// Lines in time order; the first of `needles` found on each line, in order of appearance.
fn order_of(t: &str, needles: &[&str]) -> Vec<usize> {
    needles
        .iter()
        .map(|n| t.find(n).unwrap_or_else(|| panic!("{n} missing from\n{t}")))
        .collect()
}

#[test]
fn events_emitted_late_are_placed_at_their_time() {
    let mut s = Script::new();
    s.scenario("connect refused", "x.yaml")
        .wait(10)
        .out(b"AT+CIPSEND=2\r\n")
        .wait(10)
        .inn(b"OK\r\n")
        .wait(10)
        .inn(b"SEND OK\r\n");
    // The gateway's task emitted the uplink after the serial task's SEND OK, but it happened
    // between the two serial events.
    s.push_at(
        Duration::from_millis(15),
        RunEvent::TcpData {
            conn: 9,
            direction: TcpDirection::Uplink,
            bytes: vec![0xC0, 0x00],
        },
    );
    let t = transcript_of(&s);
    let at = order_of(&t, &["AT+CIPSEND=2", "tcp ↑ #9", "OK\\r\\n", "SEND OK"]);
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{t}");
    assert!(
        t.contains("     0.015  tcp ↑ #9        (2 bytes) \\xC0\\x00\n"),
        "{t}"
    );
    assert!(t.contains("C0 00\n"));
}

#[test]
fn traffic_after_the_last_scenario_gets_its_own_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = refused_run();
    s.wait(50).inn(b"CLOSED\r\n");
    let mut r = Reporter::new(
        dir.path(),
        None,
        Redactor::none(),
        Console::new(SharedBuf::default(), false),
    )
    .unwrap();
    for ev in &s.events {
        r.handle(ev);
    }
    let paths = r.finish();
    let outside = paths.outside.expect("traffic outside scenarios is kept");
    let t = std::fs::read_to_string(outside.transcript.unwrap()).unwrap();
    assert!(
        t.starts_with("athil transcript: outside any scenario"),
        "{t}"
    );
    assert!(t.contains("serial <        CLOSED\\r\\n"), "{t}");
}
