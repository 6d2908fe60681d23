//! The whole lab with no athil runner in the loop: `athil broker` and `athil sim` as two
//! processes, and a Python + pyserial script in the firmware's place that joins Wi-Fi, opens
//! TCP to the Alibaba Cloud host (which the sim's name map sends to the broker) and sends seed
//! 002's CONNECT with `AT+CIPSEND`. The CONNACK must come back on the serial line framed as
//! the module frames it, and the broker's log must show device2 accepted.
//!
//! A missing pyserial skips the test with a printed reason, except under `CI=true`.

#[path = "data/thirdparty/support.rs"]
mod support;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use athil::mqtt::to_hex;
use support::*;

const SSID: &str = "athil-lab";
const PASSWORD: &str = "stack-pass";
/// Seed 002's cloud host; the product key is device2's.
const HOST: &str = "a1ndPQHcX7f.iot-as-mqtt.cn-shanghai.aliyuncs.com";
const CLIENT_ID: &str = "device2|securemode=3,signmethod=hmacsha1|";

/// Seed 002's corrected CONNECT (118 bytes), from the shared fixture.
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

/// A loopback address nobody else is likely to use: 127.a.b.c, random per call.
fn random_loopback() -> SocketAddr {
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let r = h.finish().to_le_bytes();
    // Avoid .0 and .255 in the last octet, and 127.0.0.x where system services listen.
    let (a, b, c) = (r[0].max(1), r[1], r[2].clamp(1, 254));
    SocketAddr::from(([127, a, b, c], 1883))
}

/// `athil broker` on a random 127.a.b.c:1883, returned once it prints that it listens. Another
/// process may hold the address; then the next random one is tried.
fn start_broker() -> (Proc, Lines, SocketAddr) {
    let devices = fixtures().join("devices");
    for _ in 0..3 {
        let listen = random_loopback();
        let mut child = Command::new(env!("CARGO_BIN_EXE_athil"))
            .args(["broker", "--listen", &listen.to_string(), "--devices"])
            .arg(&devices)
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

#[test]
fn pyserial_firmware_gets_the_brokers_connack_through_the_simulated_module() {
    let python = python_with_serial();
    if !available("python3 with pyserial (python3-serial)", python.is_some()) {
        return;
    }
    let python = python.unwrap_or("python3");
    let started = Instant::now();
    let (broker, mut log, listen) = start_broker();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let link = dir.path().join("ttyVM");
    let ap = format!("{SSID}:{PASSWORD}");
    let map = format!("*.iot-as-mqtt.*.aliyuncs.com={listen}");
    let (sim, _sim_lines) = start_sim(&["--ap", &ap, "--map", &map], &link);

    let child = Command::new(python)
        // -B: no __pycache__ left in the source tree.
        .arg("-B")
        .arg(script("firmware_host.py"))
        .arg(&link)
        .args([SSID, HOST, "1883", &seed_002_connect()])
        .env("ATHIL_WIFI_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let out = finish(child, Duration::from_secs(10), "firmware_host.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout {stdout:?} stderr {:?}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The module's side, byte for byte (echo off after ATE0).
    let replies: [(&str, &[u8]); 4] = [
        ("ate0", b"ATE0\r\n\r\nOK\r\n"),
        ("cwjap", b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n"),
        ("cipstart", b"CONNECT\r\n\r\nOK\r\n"),
        ("cipsend", b"\r\nOK\r\n> "),
    ];
    for (label, want) in replies {
        assert_eq!(to_hex(&hex_line(&stdout, label)), to_hex(want), "{label}");
    }
    // The CONNACK as the firmware reads it: CR LF, `+IPD,4:`, then 20 02 00 00.
    assert_eq!(
        to_hex(&hex_line(&stdout, "ipd")),
        "0D 0A 2B 49 50 44 2C 34 3A 20 02 00 00"
    );
    // Around it: the module took all 118 bytes and the peer acknowledged them. The CONNACK
    // may come before or after SEND OK, as on a real module.
    let data = hex_line(&stdout, "data");
    assert!(data.starts_with(b"\r\nRecv 118 bytes\r\n"), "{stdout}");
    assert!(
        data.windows(11).any(|w| w == b"\r\nSEND OK\r\n"),
        "{stdout}"
    );
    assert_eq!(data.len(), 18 + 13 + 11, "nothing else arrived: {stdout}");

    // The broker's log shows that device2 was let in on that connection.
    let accepted = log
        .wait_for(|l| l.contains(" accepted client "), DEADLINE)
        .unwrap_or_else(|| panic!("no acceptance in the broker's log {:?}", log.seen));
    assert!(
        accepted.contains(&format!(
            "accepted client {CLIENT_ID:?} as device `aliyun/device2` (aliyun)"
        )),
        "{accepted}"
    );
    let conn = accepted
        .split_whitespace()
        .skip_while(|w| *w != "conn")
        .nth(1)
        .expect("the line names its connection");
    let connack = format!("conn {conn} broker -> device 20 02 00 00  [CONNACK code 0]");
    assert!(
        log.wait_for(|l| l.contains(&connack), DEADLINE).is_some(),
        "{:?}",
        log.seen
    );
    let text = log.seen.join("\n");
    assert!(
        text.contains(&format!("[CONNECT client {CLIENT_ID:?}")),
        "{text}"
    );
    // The sign (the CONNECT's password) is masked in the log, never printed.
    assert!(!text.contains("35 63 61 65 65 66 35 62"), "{text}");

    // Both stop cleanly on Ctrl-C, as a user would stop them.
    assert_eq!(sim.interrupt().code(), Some(0));
    assert_eq!(broker.interrupt().code(), Some(0));
    eprintln!("the full stack took {:?}", started.elapsed());
}
