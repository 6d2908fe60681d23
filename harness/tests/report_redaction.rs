//! Secrets never reach any report: the Wi-Fi password typed in `AT+CWJAP` and echoed back split
//! across two serial chunks, a DeviceSecret carried in a PUBLISH split across two TCP chunks,
//! and both again in labels, broker notes and failure text. Every output file and the console
//! are searched for any 6-byte piece of either secret, as text and as hex.

mod report_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use athil::mqtt::{Packet, Publish, QoS};
use athil::report::{Console, Redactor, Reporter};
use athil::run::{Failure, FailureKind, Outcome, RunEvent, TcpDirection};
use report_support::*;

/// Shaped like an Alibaba Cloud DeviceSecret: 32 random letters and digits.
const DEVICE_SECRET: &str = "a9F3kQ7zL2mX8pV4rT6wY1cB5nD0sG3h";
const TOPIC: &str = "/a1ProdKey/dev1/user/update";

/// A PUBLISH QoS 0 whose payload holds the DeviceSecret (a firmware that leaks it by mistake).
fn publish() -> (Vec<u8>, Packet) {
    let payload = format!("{{\"debug\":\"{DEVICE_SECRET}\"}}").into_bytes();
    let mut body = (TOPIC.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(TOPIC.as_bytes());
    body.extend_from_slice(&payload);
    let mut bytes = vec![0x30, body.len() as u8];
    bytes.extend_from_slice(&body);
    let packet = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: TOPIC.into(),
        packet_id: None,
        payload,
    });
    (bytes, packet)
}

fn leaky_run() -> Script {
    let (bytes, packet) = publish();
    let cut = bytes.windows(4).position(|w| w == b"L2mX").unwrap();
    let secret_hex: Vec<String> = DEVICE_SECRET.bytes().map(|b| format!("{b:02X}")).collect();
    let failure = Failure {
        step: format!("expect serial `AT+CWJAP=\"lab\",\"{WIFI_PASSWORD}\"` (line 5)"),
        message: format!("the module echoed `{WIFI_PASSWORD}` twice"),
        kind: FailureKind::Bytes,
        expected: secret_hex.join(" "),
        actual: secret_hex.join(" ").replace("47 33 68", "47 33 00"),
        // The last serial bytes start in the middle of the password.
        last_serial: format!("{}\"\r\nOK\r\n", &WIFI_PASSWORD[3..]).into_bytes(),
        last_serial_window: athil::run::SerialWindow::SinceStep { total: 100 },
    };
    let mut s = Script::new();
    s.push(RunEvent::RunStarted { scenario_count: 1 })
        .scenario("leaky firmware", "scenarios/leak.yaml")
        .connect_flow(1, CONNACK_OK)
        .step_done(3, Outcome::Passed, 5)
        .step(4, &format!("publish {DEVICE_SECRET}"), 13)
        .tcp(1, TcpDirection::Uplink, &bytes[..cut])
        .wait(2)
        .tcp(1, TcpDirection::Uplink, &bytes[cut..])
        .push(RunEvent::MqttPacket {
            conn: 1,
            direction: TcpDirection::Uplink,
            packet,
        })
        .push(RunEvent::BrokerNote {
            conn: Some(1),
            text: format!("payload holds the DeviceSecret {DEVICE_SECRET}"),
        })
        .step_done(4, Outcome::Failed(failure.clone()), 2)
        .push(RunEvent::ScenarioFinished {
            name: "leaky firmware".into(),
            outcome: Outcome::Failed(failure),
            elapsed: Duration::from_millis(960),
        })
        .run_finished(0, 1, 0, false);
    s
}

/// Every 6-byte piece of each secret, as bytes and as seed-style hex.
fn needles() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for secret in [WIFI_PASSWORD, DEVICE_SECRET] {
        for w in secret.as_bytes().windows(6) {
            out.push(w.to_vec());
            let hex: Vec<String> = w.iter().map(|b| format!("{b:02X}")).collect();
            out.push(hex.join(" ").into_bytes());
            let hex: Vec<String> = w.iter().map(|b| format!("{b:02x}")).collect();
            out.push(hex.concat().into_bytes());
        }
    }
    out
}

fn assert_clean(what: &str, data: &[u8]) {
    for n in needles() {
        assert!(
            !data.windows(n.len()).any(|w| w == n.as_slice()),
            "{what} leaks `{}`",
            String::from_utf8_lossy(&n)
        );
    }
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn no_secret_reaches_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let console = SharedBuf::default();
    let redactor = Redactor::new([WIFI_PASSWORD, DEVICE_SECRET, "abc"]);
    let mut r = Reporter::new(
        dir.path(),
        Some(dir.path().join("junit.xml")),
        redactor,
        Console::new(console.clone(), false),
    )
    .unwrap();
    let run = leaky_run();
    // The unredacted stream really does carry the secrets (else this test proves nothing).
    let raw: Vec<u8> = run
        .events
        .iter()
        .flat_map(|e| format!("{:?}", e.event).into_bytes())
        .collect();
    assert!(raw
        .windows(WIFI_PASSWORD.len())
        .any(|w| w == WIFI_PASSWORD.as_bytes()));
    for ev in &run.events {
        r.handle(ev);
    }
    let paths = r.finish();
    assert!(paths.is_complete(), "{:?}", paths.problems);

    let written = files(dir.path());
    assert_eq!(written.len(), 3, "transcript, pcap, junit: {written:?}");
    for f in &written {
        assert_clean(&f.display().to_string(), &std::fs::read(f).unwrap());
    }
    let out = console.text();
    assert_clean("the console", out.as_bytes());
    assert!(
        out.contains("failed to redact 1 secret(s) shorter than 4 bytes"),
        "{out}"
    );

    // Masked in place, same length: the echo split across chunks, and the secret's hex.
    let t = std::fs::read_to_string(dir.path().join("leaky-firmware.transcript.txt")).unwrap();
    assert!(t.contains("serial <        AT+CWJAP=\"lab\",\"***"), "{t}");
    assert!(t.contains("serial <        *********\"\\r\\n"), "{t}");
    assert!(t.contains("2A 2A 2A 2A"), "{t}");
    assert!(t.contains("publish ***"), "{t}");
    assert!(t.contains("payload holds the DeviceSecret ***"), "{t}");
    assert!(t.contains("  text: *********\"\\r\\nOK\\r\\n"), "{t}");
}

#[test]
fn the_masked_pcap_still_dissects() {
    if Command::new("tshark").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true needs tshark"
        );
        println!("skipped: tshark is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut r = Reporter::new(
        dir.path(),
        None,
        Redactor::new([WIFI_PASSWORD, DEVICE_SECRET]),
        Console::new(SharedBuf::default(), false),
    )
    .unwrap();
    for ev in &leaky_run().events {
        r.handle(ev);
    }
    let pcap = r.finish().scenarios[0].pcap.clone().unwrap();
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args([
            "-Y",
            "mqtt",
            "-T",
            "fields",
            "-e",
            "mqtt.msgtype",
            "-e",
            "mqtt.topic",
            "-e",
            "mqtt.msg",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let masked: String = format!("{{\"debug\":\"{}\"}}", "*".repeat(DEVICE_SECRET.len()))
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        text.lines().any(|l| l == format!("3\t{TOPIC}\t{masked}")),
        "{text}"
    );
}
