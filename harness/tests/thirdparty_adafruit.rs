//! Adafruit's CircuitPython ESP AT driver (`adafruit-circuitpython-esp-atcontrol`, from the
//! Python package index) driving `athil sim` with the simulator's default settings, against
//! `athil broker`: begin, soft reset, join, a TCP socket to the Alibaba Cloud host, then
//! CONNECT → CONNACK, PINGREQ → PINGRESP, SUBSCRIBE → SUBACK and DISCONNECT. The library is
//! an independent reading of both firmwares; what it cannot get through is a simulator bug
//! unless the real firmware would stop it too (then the test says so and pins that).
//!
//! `.ci/run` installs the library with pyserial into a virtual environment at
//! `target/thirdparty-venv`; `ATHIL_ADAFRUIT_PYTHON` may name another interpreter. A missing
//! one skips with a printed reason, except under `CI=true`, where it fails.

#[path = "data/thirdparty/support.rs"]
mod support;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::*;

const SSID: &str = "athil-lab";
/// The lab's Wi-Fi password. The library puts it between quotes in `AT+CWJAP` without escaping
/// anything, so it must hold no `,` `"` or `\`.
const PLAIN_PASSWORD: &str = "adafruit-pass";
/// Seed 002's cloud host; the name map sends it to the broker.
const HOST: &str = "a1ndPQHcX7f.iot-as-mqtt.cn-shanghai.aliyuncs.com";
/// Seed 002's SUBSCRIBE to device2's property/set topic, packet id 10, QoS 0.
const SUBSCRIBE_002: &str = "82 38 00 0A 00 33 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 \
    66 2F 64 65 76 69 63 65 32 2F 74 68 69 6E 67 2F 73 65 72 76 69 63 65 2F 70 72 6F 70 65 72 74 \
    79 2F 73 65 74 00";
/// How long the whole library run may take (it sleeps 0.1 s before every command, 0.5 s
/// around the baud-rate change, and waits for `ready` after the reset).
const SCRIPT_DEADLINE: Duration = Duration::from_secs(90);

/// The interpreter that has the library and pyserial, if any.
fn adafruit_python() -> Option<PathBuf> {
    let python = match std::env::var_os("ATHIL_ADAFRUIT_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/thirdparty-venv/bin/python")
        }
    };
    let works = Command::new(&python)
        .args([
            "-c",
            "import serial, adafruit_espatcontrol.adafruit_espatcontrol",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    works.then_some(python)
}

/// Seed 002's corrected CONNECT (118 bytes) from the shared fixture.
fn seed_002_connect() -> String {
    let path = fixtures().join("signs/connects.yaml");
    let text = std::fs::read_to_string(&path).expect("read fixtures/signs/connects.yaml");
    let entries: Vec<serde_yaml::Value> = serde_yaml::from_str(&text).expect("a YAML list");
    entries
        .iter()
        .find(|e| e["name"].as_str() == Some("seed002-device2"))
        .and_then(|e| e["connect"].as_str())
        .expect("seed002-device2 in connects.yaml")
        .to_owned()
}

/// A loopback address nobody else is likely to use: 127.a.b.c:1883, random per call.
fn random_loopback() -> SocketAddr {
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let r = h.finish().to_le_bytes();
    let (a, b, c) = (r[0].max(1), r[1], r[2].clamp(1, 254));
    SocketAddr::from(([127, a, b, c], 1883))
}

/// `athil broker` on a random loopback address, once it says it listens.
fn start_broker() -> (Proc, Lines, SocketAddr) {
    for _ in 0..3 {
        let listen = random_loopback();
        let mut child = Command::new(env!("CARGO_BIN_EXE_athil"))
            .args(["broker", "--listen", &listen.to_string(), "--devices"])
            .arg(fixtures().join("devices"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start athil broker");
        let mut lines = Lines::of(&mut child);
        let broker = Proc::new(child, "athil broker");
        let banner = format!("athil broker: listening on {listen} ");
        if lines
            .wait_for(|l| l.starts_with(&banner), DEADLINE)
            .is_some()
        {
            return (broker, lines, listen);
        }
        eprintln!("athil broker did not start on {listen}: {:?}", lines.seen);
    }
    panic!("athil broker did not start on any of three random loopback addresses");
}

/// Runs the library against a fresh `athil sim` (default settings but the AP and the name
/// map, which the test must name) on `firmware`, and returns the script's output.
fn drive(python: &PathBuf, firmware: &str, script_args: &[&str]) -> (Output, Vec<String>) {
    let (broker, mut log, listen) = start_broker();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let link = dir.path().join("ttyVM");
    let ap = format!("{SSID}:{PLAIN_PASSWORD}");
    let map = format!("*.iot-as-mqtt.*.aliyuncs.com={listen}");
    let (sim, _sim_lines) = start_sim(&["--firmware", firmware, "--ap", &ap, "--map", &map], &link);
    let child = Command::new(python)
        .arg("-B")
        .arg(script("adafruit_mqtt.py"))
        .arg(&link)
        .args([SSID, HOST, &seed_002_connect(), SUBSCRIBE_002])
        .args(script_args)
        .env("ATHIL_WIFI_PASSWORD", PLAIN_PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Adafruit script");
    let out = finish(child, SCRIPT_DEADLINE, "adafruit_mqtt.py");
    // Give the broker's log a moment to show the DISCONNECT's close, bounded.
    log.wait_for(|l| l.contains("closed"), Duration::from_millis(500));
    assert_eq!(sim.interrupt().code(), Some(0));
    assert_eq!(broker.interrupt().code(), Some(0));
    (out, log.seen)
}

fn value<'a>(stdout: &'a str, name: &str) -> &'a str {
    let prefix = format!("{name}: ");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no `{name}:` line in {stdout:?}"))
}

fn assert_full_session(out: &Output, log: &[String]) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout {stdout:?} stderr {stderr:?}");
    assert_eq!(value(&stdout, "reset"), "ok");
    assert_eq!(value(&stdout, "ip"), "192.168.1.105");
    assert_eq!(value(&stdout, "socket"), "open");
    assert_eq!(value(&stdout, "connack"), "20 02 00 00");
    assert_eq!(value(&stdout, "pingresp"), "D0 00");
    // Seed 002's SUBACK: Alibaba Cloud grants QoS 1.
    assert_eq!(value(&stdout, "suback"), "90 03 00 0A 01");
    assert_eq!(value(&stdout, "done"), "ok");
    // The password reached the module (the join worked) but no output.
    assert!(!stdout.contains(PLAIN_PASSWORD) && !stderr.contains(PLAIN_PASSWORD));
    let log = log.join("\n");
    assert!(log.contains("accepted client"), "{log}");
}

#[test]
fn adafruit_esp_atcontrol_runs_an_mqtt_session_on_nonos_defaults() {
    let python = adafruit_python();
    if !available(
        "adafruit-circuitpython-esp-atcontrol with pyserial (target/thirdparty-venv)",
        python.is_some(),
    ) {
        return;
    }
    let (out, log) = drive(&python.expect("checked above"), "nonos", &[]);
    assert_full_session(&out, &log);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(value(&stdout, "version").starts_with("AT version:1.7.4.0"));
    // NonOS has no AT+CWSTATE, so the library falls back to AT+CIPSTATUS by itself.
    assert_eq!(value(&stdout, "cipstatus"), "True");
    assert_eq!(value(&stdout, "ping"), "1");
}

#[test]
fn adafruit_esp_atcontrol_runs_an_mqtt_session_on_esp_at_with_cipstatus() {
    let python = adafruit_python();
    if !available(
        "adafruit-circuitpython-esp-atcontrol with pyserial (target/thirdparty-venv)",
        python.is_some(),
    ) {
        return;
    }
    // The library's own switch: ESP-AT 2.2 has AT+CWSTATE but no AT+CIPSTATE (see below).
    let (out, log) = drive(
        &python.expect("checked above"),
        "esp-at",
        &["--use-cipstatus"],
    );
    assert_full_session(&out, &log);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(value(&stdout, "version").starts_with("AT version:2.2.1.0"));
    assert_eq!(value(&stdout, "ping"), "1");
}

/// Where a real ESP-AT 2.2.1 module stops the library too: with its defaults, finding
/// AT+CWSTATE, it asks AT+CIPSTATE? for the socket state, a command ESP-AT for ESP8266 only
/// gained after 2.2 (absent from v2.2.1.0_esp8266's command list and its AT core library).
/// The simulator must answer ERROR there as the firmware does, and the join must fail.
#[test]
fn adafruit_esp_atcontrol_stops_at_cipstate_on_esp_at_as_real_2_2_does() {
    let python = adafruit_python();
    if !available(
        "adafruit-circuitpython-esp-atcontrol with pyserial (target/thirdparty-venv)",
        python.is_some(),
    ) {
        return;
    }
    let (out, _log) = drive(&python.expect("checked above"), "esp-at", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        value(&stdout, "cipstatus"),
        "False",
        "begin() found AT+CWSTATE"
    );
    assert_eq!(
        value(&stdout, "failed"),
        "connect(): OKError: No OK response to AT+CIPSTATE?"
    );
}
