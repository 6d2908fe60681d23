//! The virtual module's fault knobs, over a real pseudo-terminal and a real TCP peer: each one
//! must visibly do what it says (and the same exchange without it must not).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use athil::sim::{spawn, SimConfig};
use serialport::{ClearBuffer, SerialPort, TTYPort};

const DEADLINE: Duration = Duration::from_secs(3);

fn open(path: &std::path::Path) -> TTYPort {
    let port = serialport::new(path.to_string_lossy(), 115_200)
        .timeout(Duration::from_millis(20))
        .open_native()
        .unwrap();
    port.clear(ClearBuffer::Input).unwrap();
    port
}

fn read_for(port: &mut TTYPort, n: usize, within: Duration) -> Vec<u8> {
    let end = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while got.len() < n && Instant::now() < end {
        match port.read(&mut buf) {
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("pty read failed: {e}"),
        }
    }
    got
}

fn exchange(port: &mut TTYPort, typed: &[u8], expected: &[u8]) {
    port.write_all(typed).unwrap();
    let got = read_for(port, expected.len(), DEADLINE);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected)
    );
}

fn connect_link(port: &mut TTYPort, listener: &TcpListener) -> TcpStream {
    exchange(port, b"ATE0\r\n", b"ATE0\r\n\r\nOK\r\n");
    exchange(
        port,
        b"AT+CWJAP_CUR=\"athil-lab\",\"athil-pass\"\r\n",
        b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n",
    );
    let cmd = format!(
        "AT+CIPSTART=\"TCP\",\"localhost\",{}\r\n",
        listener.local_addr().unwrap().port()
    );
    port.write_all(cmd.as_bytes()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(DEADLINE)).unwrap();
    assert_eq!(read_for(port, 15, DEADLINE), b"CONNECT\r\n\r\nOK\r\n");
    peer
}

#[test]
fn silent_and_error_prefixes() {
    let mut config = SimConfig::default();
    config.faults.silent = vec!["AT+CIPSTATUS".to_string()];
    config.faults.error = vec!["AT+CWMODE".to_string()];
    let sim = spawn(config).unwrap();
    let mut port = open(sim.device_path());
    exchange(&mut port, b"ATE0\r\n", b"ATE0\r\n\r\nOK\r\n");
    port.write_all(b"AT+CIPSTATUS\r\n").unwrap();
    assert_eq!(
        read_for(&mut port, usize::MAX, Duration::from_millis(300)),
        b"",
        "silent"
    );
    exchange(&mut port, b"AT+CWMODE_CUR?\r\n", b"\r\nERROR\r\n");
    // Commands the knobs do not name are answered normally.
    exchange(&mut port, b"AT+CIPMUX?\r\n", b"+CIPMUX:0\r\n\r\nOK\r\n");
    assert!(sim.shutdown());
}

#[test]
fn close_after_sent_drops_the_real_link() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = SimConfig::default();
    config.faults.close_after_sent = Some(6);
    let sim = spawn(config).unwrap();
    let mut port = open(sim.device_path());
    let mut peer = connect_link(&mut port, &listener);
    exchange(&mut port, b"AT+CIPSEND=4\r\n", b"\r\nOK\r\n> ");
    exchange(
        &mut port,
        b"\xC0\x00\xC0\x00",
        b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n",
    );
    exchange(&mut port, b"AT+CIPSEND=4\r\n", b"\r\nOK\r\n> ");
    exchange(
        &mut port,
        b"\xC0\x00\xC0\x00",
        b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\nCLOSED\r\n",
    );
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    assert_eq!(
        got, b"\xC0\x00\xC0\x00\xC0\x00\xC0\x00",
        "both sends arrived, then FIN"
    );
    assert!(sim.shutdown());
}

#[test]
fn close_after_received_drops_the_real_link() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = SimConfig::default();
    config.faults.close_after_received = Some(4);
    let sim = spawn(config).unwrap();
    let mut port = open(sim.device_path());
    let mut peer = connect_link(&mut port, &listener);
    peer.write_all(&[0x20, 0x02, 0x00, 0x00]).unwrap();
    assert_eq!(
        read_for(&mut port, 21, DEADLINE),
        b"\r\n+IPD,4:\x20\x02\x00\x00CLOSED\r\n"
    );
    let mut buf = [0u8; 1];
    assert_eq!(peer.read(&mut buf).unwrap(), 0, "the peer sees the close");
    assert!(sim.shutdown());
}

#[test]
fn reset_at_command_reboots_mid_session() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = SimConfig::default();
    config.faults.reset_at_command = Some(4);
    let sim = spawn(config).unwrap();
    let mut port = open(sim.device_path());
    let mut peer = connect_link(&mut port, &listener);
    // The 4th command line (ATE0, CWJAP, CIPSTART came first) never gets its answer.
    port.write_all(b"AT+CIPSTATUS\r\n").unwrap();
    let out = read_for(&mut port, usize::MAX, Duration::from_millis(500));
    assert!(out.ends_with(b"\r\nready\r\n"), "{out:?}");
    assert!(!out.windows(6).any(|w| w == b"STATUS"));
    let mut buf = [0u8; 1];
    assert_eq!(
        peer.read(&mut buf).unwrap(),
        0,
        "the link died with the reboot"
    );
    assert!(sim.shutdown());
}

#[test]
fn faults_and_the_reset_pin_work_on_a_running_module() {
    let sim = spawn(SimConfig::default()).unwrap();
    let mut port = open(sim.device_path());
    exchange(&mut port, b"ATE0\r\n", b"ATE0\r\n\r\nOK\r\n");
    sim.set_faults(athil::sim::Faults {
        error: vec!["AT+CIPMUX".to_string()],
        ..Default::default()
    });
    exchange(&mut port, b"AT+CIPMUX?\r\n", b"\r\nERROR\r\n");
    sim.set_faults(athil::sim::Faults::default());
    exchange(&mut port, b"AT+CIPMUX?\r\n", b"+CIPMUX:0\r\n\r\nOK\r\n");
    sim.reset(false);
    let out = read_for(&mut port, usize::MAX, Duration::from_millis(400));
    assert!(out.ends_with(b"\r\nready\r\n"), "{out:?}");
    // Echo is on again after the reboot, on the same device path.
    exchange(&mut port, b"AT\r\n", b"AT\r\n\r\nOK\r\n");
    assert!(sim.shutdown());
}
