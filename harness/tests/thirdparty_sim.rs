//! `athil sim` stand-alone against third-party serial tools: pyserial typing AT commands as a
//! firmware or a person at a terminal would, and socat bridging its stdin/stdout to the
//! pseudo-terminal as a serial terminal does. No athil code sits on the host side.
//!
//! A missing tool skips its test with a printed reason, except under `CI=true`, where
//! `.ci/run` installs python3-serial and socat and their absence is a failure.

#[path = "data/thirdparty/support.rs"]
mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use athil::mqtt::to_hex;
use support::*;

/// The lab's access point for these tests; a Wi-Fi password, so it only ever reaches the
/// script through its environment and comes back masked as `<password>`.
const SSID: &str = "athil-lab";
const PASSWORD: &str = "thirdparty-pass";

/// What ESP8266 NonOS AT 1.7.4 prints for `AT+GMR` (Wroom 02 build), echo on.
const GMR_REPLY: &[u8] = b"AT+GMR\r\n\
    AT version:1.7.4.0(May 11 2020 19:13:04)\r\n\
    SDK version:3.0.4(9532ceb)\r\n\
    compile time:May 27 2020 10:12:17\r\n\
    Bin version(Wroom 02):1.7.4\r\n\
    OK\r\n";

#[test]
fn pyserial_types_at_commands_and_reads_the_modules_exact_replies() {
    let python = python_with_serial();
    if !available("python3 with pyserial (python3-serial)", python.is_some()) {
        return;
    }
    let python = python.unwrap_or("python3");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let link = dir.path().join("ttyVM");
    let ap = format!("{SSID}:{PASSWORD}");
    let (sim, _lines) = start_sim(&["--ap", &ap], &link);

    let started = Instant::now();
    let child = Command::new(python)
        // -B: no __pycache__ left in the source tree.
        .arg("-B")
        .arg(script("at_exchange.py"))
        .arg(&link)
        .args(["AT", "AT+GMR", r#"AT+CWJAP="athil-lab","wrong-pass""#])
        .arg(r#"AT+CWJAP="athil-lab","<password>""#)
        .env("ATHIL_WIFI_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let out = finish(child, Duration::from_secs(10), "at_exchange.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout {stdout:?} stderr {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("pyserial exchange took {:?}", started.elapsed());

    // Echo is on at power-on, so each reply starts with the command as typed.
    let cases: [(&str, &[u8]); 4] = [
        ("reply 0", b"AT\r\n\r\nOK\r\n"),
        ("reply 1", GMR_REPLY),
        (
            "reply 2",
            b"AT+CWJAP=\"athil-lab\",\"wrong-pass\"\r\n+CWJAP:2\r\n\r\nFAIL\r\n",
        ),
        (
            "reply 3",
            b"AT+CWJAP=\"athil-lab\",\"<password>\"\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n",
        ),
    ];
    for (label, want) in cases {
        assert_eq!(to_hex(&hex_line(&stdout, label)), to_hex(want), "{label}");
    }
    // The password went out (the join succeeded) but never came back into a log.
    assert!(!stdout.contains(&to_hex(PASSWORD.as_bytes())), "{stdout}");
    assert_eq!(sim.interrupt().code(), Some(0));
}

#[test]
fn socat_as_a_serial_terminal_gets_ok_to_at() {
    if !available("socat", has_command("socat", "-V")) {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let link = dir.path().join("ttyVM");
    let (sim, _lines) = start_sim(&[], &link);

    let started = Instant::now();
    let mut child = Command::new("socat")
        // -T5: give up after 5 s of silence; -t0.1: leave 0.1 s after stdin ends.
        .args(["-T5", "-t0.1", "-"])
        .arg(format!("FILE:{},raw,echo=0,b115200", link.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start socat");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                return;
            }
        }
    });
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(b"AT\r\n").expect("type AT into socat");

    let mut got = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while !got.ends_with(b"\r\nOK\r\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => got.extend(chunk),
            Err(_) => break,
        }
    }
    // End of input: socat closes the port and exits.
    drop(stdin);
    let out = finish(child, DEADLINE, "socat");
    eprintln!("socat exchange took {:?}", started.elapsed());
    assert_eq!(
        String::from_utf8_lossy(&got),
        "AT\r\n\r\nOK\r\n",
        "socat stderr {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(sim.interrupt().code(), Some(0));
}

#[test]
fn socat_sees_error_for_a_command_the_firmware_does_not_know() {
    if !available("socat", has_command("socat", "-V")) {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let link = dir.path().join("ttyVM");
    let (sim, _lines) = start_sim(&[], &link);
    // Whole input on stdin at once, as `printf ... | socat` would; socat waits -t for the
    // reply after stdin ends, long enough for the module to answer.
    let mut child = Command::new("socat")
        .args(["-T5", "-t0.5", "-"])
        .arg(format!("OPEN:{},raw,echo=0,b115200", link.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start socat");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(b"AT+NOSUCH\r\n").expect("type into socat");
    drop(stdin);
    let out = finish(child, DEADLINE, "socat");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "AT+NOSUCH\r\n\r\nERROR\r\n"
    );
    assert_eq!(sim.interrupt().code(), Some(0));
}
