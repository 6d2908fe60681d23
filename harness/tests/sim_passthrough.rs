//! Issue 8.3, the last piece: `AT+CIPMODE=1` answered ERROR. Transparent transmission over a
//! real pseudo-terminal and a real loopback TCP peer started here: bytes both ways with no
//! `+IPD` and no `SEND OK`, then `+++` alone leaves for command mode with the link still up.

#[path = "data/thirdparty/support.rs"]
mod support;

use support::exchange;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use athil::sim::{spawn, Flavour, SimConfig};
use serialport::{ClearBuffer, SerialPort};

/// Longer than the module's 20 ms packet gap, so what comes before or after is its own packet.
const GAP: Duration = Duration::from_millis(100);

/// Reads exactly `n` bytes from the peer socket, within the deadline.
fn peer_reads(peer: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    peer.read_exact(&mut got)
        .expect("the module's bytes reach the peer within the deadline");
    got
}

/// Accepts the module's connection, within the deadline.
fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + support::DEADLINE;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(support::DEADLINE)).unwrap();
                return stream;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "the module never connected");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept failed: {e}"),
        }
    }
}

fn passthrough_round_trip(firmware: Flavour, prompt: &[u8]) {
    let sim = spawn(SimConfig {
        firmware,
        ..SimConfig::default()
    })
    .unwrap();
    let mut port = serialport::new(sim.device_path().to_string_lossy(), 115_200)
        .timeout(Duration::from_millis(10))
        .open_native()
        .expect("open the sim's pty like a serial device");
    port.clear(ClearBuffer::Input).unwrap();
    exchange(&mut port, b"ATE0\r\n", b"\r\nOK\r\n");
    exchange(
        &mut port,
        b"AT+CWJAP=\"athil-lab\",\"athil-pass\"\r\n",
        b"WIFI GOT IP\r\n\r\nOK\r\n",
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let remote = listener.local_addr().unwrap().port();
    let line = format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{remote}\r\n");
    assert_eq!(
        exchange(&mut port, line.as_bytes(), b"\r\nOK\r\n"),
        b"CONNECT\r\n\r\nOK\r\n"
    );
    let mut peer = accept(&listener);
    assert_eq!(
        exchange(&mut port, b"AT+CIPMODE=1\r\n", b"\r\nOK\r\n"),
        b"\r\nOK\r\n"
    );
    assert_eq!(exchange(&mut port, b"AT+CIPSEND\r\n", prompt), prompt);

    // Host to peer: raw, and nothing printed back (no `Recv`, no `SEND OK`).
    port.write_all(b"\x10\x0c\x00\x04MQTT").unwrap();
    assert_eq!(peer_reads(&mut peer, 8), b"\x10\x0c\x00\x04MQTT");
    // Peer to host: raw, no `+IPD` header.
    peer.write_all(b"\x20\x02\x00\x00").unwrap();
    assert_eq!(
        exchange(&mut port, b"", b"\x20\x02\x00\x00"),
        b"\x20\x02\x00\x00"
    );
    port.write_all(b"a+++b").unwrap();
    assert_eq!(
        peer_reads(&mut peer, 5),
        b"a+++b",
        "+++ inside data is data"
    );

    // `+++` alone, with silence before and after: command mode, no reply.
    std::thread::sleep(GAP);
    port.write_all(b"+++").unwrap();
    std::thread::sleep(GAP);
    assert_eq!(exchange(&mut port, b"AT\r\n", b"\r\nOK\r\n"), b"\r\nOK\r\n");
    assert!(
        exchange(&mut port, b"AT+CIPSTATUS\r\n", b"\r\nOK\r\n").starts_with(b"STATUS:3\r\n"),
        "the link stays up"
    );
    // Nothing of `+++` or the commands reached the peer.
    peer.set_read_timeout(Some(GAP)).unwrap();
    let mut extra = [0u8; 16];
    match peer.read(&mut extra) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("the peer got more: {other:?} {:?}", &extra),
    }
    assert!(sim.shutdown());
}

#[test]
fn passthrough_nonos_echoes_both_ways_and_plus_plus_plus_returns_to_command_mode() {
    passthrough_round_trip(Flavour::Nonos, b"\r\nOK\r\n> ");
}

#[test]
fn passthrough_esp_at_echoes_both_ways_and_plus_plus_plus_returns_to_command_mode() {
    passthrough_round_trip(Flavour::EspAt, b"\r\nOK\r\n\r\n>");
}
