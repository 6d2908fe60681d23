//! Issue 8, items 1 and 2, pinned over a real pseudo-terminal and real loopback TCP: what a
//! send's `SEND OK` does to the command after `CLOSED`, and where the peer's reply lands
//! relative to `SEND OK`. The firmware will be split into several personalities; these keep
//! the fixed behaviour whatever file it ends up in.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use athil::sim::{spawn, SimConfig, SimHandle};
use serialport::{ClearBuffer, SerialPort, TTYPort};

const DEADLINE: Duration = Duration::from_secs(3);

fn open(sim: &SimHandle) -> TTYPort {
    let port = serialport::new(sim.device_path().to_string_lossy(), 115_200)
        .timeout(Duration::from_millis(10))
        .open_native()
        .expect("open the sim's pty like a serial device");
    port.clear(ClearBuffer::Input).unwrap();
    port
}

/// Reads until the bytes read end with `end` (or the deadline passes); returns them all.
fn read_until(port: &mut TTYPort, end: &[u8]) -> Vec<u8> {
    let deadline = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(end) {
        assert!(
            Instant::now() < deadline,
            "no {:?} within {DEADLINE:?}; got {:?}",
            String::from_utf8_lossy(end),
            String::from_utf8_lossy(&got)
        );
        match port.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("pty read failed: {e}"),
        }
    }
    got
}

fn type_line(port: &mut TTYPort, bytes: &[u8]) {
    port.write_all(bytes).unwrap();
}

fn joined(port: &mut TTYPort) {
    type_line(port, b"ATE0\r\n");
    read_until(port, b"\r\nOK\r\n");
    type_line(port, b"AT+CWJAP_CUR=\"athil-lab\",\"athil-pass\"\r\n");
    read_until(port, b"WIFI GOT IP\r\n\r\nOK\r\n");
}

fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let end = Instant::now() + DEADLINE;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(DEADLINE)).unwrap();
                return stream;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < end => {
                // A listener has no readiness signal here; a short poll bounded by `end`.
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("no connection from the sim: {e}"),
        }
    }
}

fn cipstart(listener: &TcpListener) -> Vec<u8> {
    let port = listener.local_addr().unwrap().port();
    format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{port}\r\n").into_bytes()
}

/// Sends `payload` with `AT+CIPSEND` and returns once `Recv <n> bytes` was printed.
fn cipsend(port: &mut TTYPort, payload: &[u8]) {
    type_line(port, format!("AT+CIPSEND={}\r\n", payload.len()).as_bytes());
    read_until(port, b"> ");
    type_line(port, payload);
    read_until(port, format!("Recv {} bytes\r\n", payload.len()).as_bytes());
}

/// Issue 8.1: the peer answers a DISCONNECT by closing at once; the host dials again the
/// moment it reads `CLOSED` and sends its next CONNECT. With an ACK time set, the `SEND OK`
/// timer of the DISCONNECT fired after `peer_closed()` had already printed `SEND OK`, and
/// wiped whatever the host had started meanwhile: the payload after `>` vanished.
#[test]
fn a_payload_sent_right_after_closed_is_not_lost() {
    let mut config = SimConfig::default();
    // Long enough that the host is at the next prompt before the old timer ran out.
    config.timing.send_ok_ms = 300;
    let sim = spawn(config).unwrap();
    let mut port = open(&sim);
    joined(&mut port);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();

    type_line(&mut port, &cipstart(&listener));
    let mut peer = accept(&listener);
    read_until(&mut port, b"CONNECT\r\n\r\nOK\r\n");
    cipsend(&mut port, b"\xE0\x00");
    let mut disconnect = [0u8; 2];
    peer.read_exact(&mut disconnect).unwrap();
    drop(peer);
    let closed = read_until(&mut port, b"CLOSED\r\n");
    assert!(closed.ends_with(b"\r\nSEND OK\r\nCLOSED\r\n"), "{closed:?}");

    type_line(&mut port, &cipstart(&listener));
    let mut peer = accept(&listener);
    read_until(&mut port, b"CONNECT\r\n\r\nOK\r\n");
    type_line(&mut port, b"AT+CIPSEND=2\r\n");
    read_until(&mut port, b"> ");
    // Let the old ACK timer run out while the module collects the payload.
    std::thread::sleep(Duration::from_millis(400));
    type_line(&mut port, b"\xC0\x00");
    read_until(&mut port, b"\r\nRecv 2 bytes\r\n");
    let mut pingreq = [0u8; 2];
    peer.read_exact(&mut pingreq).unwrap();
    assert_eq!(pingreq, [0xC0, 0x00]);
    assert!(sim.shutdown());
}

/// Issue 8.1 as the user met it: ten connect/disconnect cycles with no pause, default settings,
/// each `AT+CIPSTART` typed the moment `CLOSED` is read.
#[test]
fn ten_reconnects_with_no_pause_all_connect() {
    let sim = spawn(SimConfig::default()).unwrap();
    let mut port = open(&sim);
    joined(&mut port);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    for cycle in 0..10 {
        type_line(&mut port, &cipstart(&listener));
        let mut peer = accept(&listener);
        let connected = read_until(&mut port, b"\r\nOK\r\n");
        assert!(
            connected.ends_with(b"CONNECT\r\n\r\nOK\r\n"),
            "cycle {cycle}: {connected:?}"
        );
        cipsend(&mut port, b"\xE0\x00");
        let mut disconnect = [0u8; 2];
        peer.read_exact(&mut disconnect).unwrap();
        drop(peer);
        read_until(&mut port, b"CLOSED\r\n");
    }
    assert!(sim.shutdown());
}

/// Issue 8.2: a peer that answers at once (a broker's PINGRESP) must not get its `+IPD` in
/// before the `SEND OK` of the request, with the default settings. It did with the old 5 ms
/// ACK time on most exchanges, and Adafruit's driver swallowed the reply.
#[test]
fn an_immediate_reply_never_overtakes_send_ok_by_default() {
    let sim = spawn(SimConfig::default()).unwrap();
    let mut port = open(&sim);
    joined(&mut port);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    type_line(&mut port, &cipstart(&listener));
    let mut peer = accept(&listener);
    read_until(&mut port, b"CONNECT\r\n\r\nOK\r\n");
    let responder = std::thread::spawn(move || {
        let mut request = [0u8; 2];
        for _ in 0..20 {
            peer.read_exact(&mut request).unwrap();
            peer.write_all(b"\xD0\x00").unwrap();
        }
    });
    for round in 0..20 {
        cipsend(&mut port, b"\xC0\x00");
        let rest = read_until(&mut port, b"+IPD,2:\xD0\x00");
        assert_eq!(
            rest,
            b"\r\nSEND OK\r\n\r\n+IPD,2:\xD0\x00",
            "round {round}: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
    responder.join().unwrap();
    assert!(sim.shutdown());
}

/// The overtaking order is still there on request, as the `late_send_ok_ms` fault.
#[test]
fn the_late_send_ok_fault_lets_an_immediate_reply_overtake() {
    let mut config = SimConfig::default();
    config.faults.late_send_ok_ms = Some(200);
    let sim = spawn(config).unwrap();
    let mut port = open(&sim);
    joined(&mut port);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    type_line(&mut port, &cipstart(&listener));
    let mut peer = accept(&listener);
    read_until(&mut port, b"CONNECT\r\n\r\nOK\r\n");
    cipsend(&mut port, b"\xC0\x00");
    let mut request = [0u8; 2];
    peer.read_exact(&mut request).unwrap();
    peer.write_all(b"\xD0\x00").unwrap();
    let rest = read_until(&mut port, b"SEND OK\r\n");
    assert_eq!(rest, b"\r\n+IPD,2:\xD0\x00\r\nSEND OK\r\n");
    assert!(sim.shutdown());
}
