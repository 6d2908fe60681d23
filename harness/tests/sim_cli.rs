//! `athil sim` as a user runs it: the binary prints the device path, serves the module on it
//! with the access points and name map from its flags, and stops cleanly on Ctrl-C (SIGINT).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serialport::TTYPort;

const DEADLINE: Duration = Duration::from_secs(5);

fn read_n(port: &mut TTYPort, n: usize) -> Vec<u8> {
    let end = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while got.len() < n && Instant::now() < end {
        match port.read(&mut buf[..(n - got.len()).min(256)]) {
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("pty read failed: {e}"),
        }
    }
    got
}

fn exchange(port: &mut TTYPort, typed: &[u8], expected: &[u8]) {
    port.write_all(typed).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read_n(port, expected.len())),
        String::from_utf8_lossy(expected)
    );
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("athil sim did not stop after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn athil_sim_serves_until_ctrl_c() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyESP0");
    let mut child = Command::new(env!("CARGO_BIN_EXE_athil"))
        .arg("sim")
        .args(["--ap", "bench:bench-pass"])
        .args([
            "--map",
            &format!(
                "*.iot-as-mqtt.*.aliyuncs.com={}",
                listener.local_addr().unwrap()
            ),
        ])
        .args(["--firmware", "esp-at"])
        .arg("--link")
        .arg(&link)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let device = first
        .strip_prefix("athil sim: virtual ESP8266 on ")
        .and_then(|rest| rest.strip_suffix(" (115200 baud)\n"))
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    assert!(Path::new(device).exists());
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(device));

    let mut port = serialport::new(link.to_string_lossy(), 115_200)
        .timeout(Duration::from_millis(20))
        .open_native()
        .unwrap();
    exchange(&mut port, b"ATE0\r\n", b"ATE0\r\n\r\nOK\r\n");
    exchange(
        &mut port,
        b"AT+CWJAP=\"athil-lab\",\"athil-pass\"\r\n",
        b"+CWJAP:3\r\n\r\nERROR\r\n",
    );
    exchange(
        &mut port,
        b"AT+CWJAP=\"bench\",\"bench-pass\"\r\n",
        b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n",
    );
    port.write_all(b"AT+CIPSTART=\"TCP\",\"a1b2.iot-as-mqtt.cn-shanghai.aliyuncs.com\",1883\r\n")
        .unwrap();
    let (_peer, _) = listener.accept().unwrap();
    assert_eq!(read_n(&mut port, 15), b"CONNECT\r\n\r\nOK\r\n");
    drop(port);

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let status = wait_exit(&mut child);
    assert!(status.success(), "{status:?}");
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "the link is removed on exit"
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_athil"))
        .args([
            "sim",
            "--map",
            "cloud.example=10.0.0.1:1883",
            "--map",
            "nonsense",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Both problems are reported at once.
    assert!(
        stderr.contains("only loopback 127.0.0.0/8 is allowed"),
        "{stderr}"
    );
    assert!(stderr.contains("`nonsense`"), "{stderr}");
}

#[test]
fn the_lab_fixture_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sim/lab.yaml");
    let config = athil::sim::SimConfig::load(&path).unwrap();
    assert_eq!(
        config
            .names
            .resolve("iot-ksf114514.mqtt.iothub.aliyuncs.com", 1883),
        athil::sim::Lookup::Found("127.0.0.1:1883".parse().unwrap())
    );
    assert_eq!(config.access_points.len(), 3);
}

#[test]
fn sigterm_stops_athil_sim_and_removes_its_link() {
    // Was: SIGTERM (what a service manager or `timeout` sends) killed it and left the link.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyESP0");
    let mut child = Command::new(env!("CARGO_BIN_EXE_athil"))
        .arg("sim")
        .arg("--link")
        .arg(&link)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = String::new();
    // The third line (`… Ctrl-C to stop`) comes after the link and the signal handlers are set.
    for _ in 0..3 {
        stdout.read_line(&mut lines).unwrap();
    }
    assert!(lines.contains("to stop"), "{lines}");
    assert!(std::fs::symlink_metadata(&link).is_ok(), "{lines}");
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = wait_exit(&mut child);
    assert!(status.success(), "{status:?}");
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "the link is removed on SIGTERM"
    );
}
