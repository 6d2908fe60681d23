//! The virtual module over a real pseudo-terminal and real loopback TCP, driven exactly as the
//! harness drives hardware: open the device path with serialport, type, read with deadlines.

#[path = "data/thirdparty/support.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use athil::sim::{spawn, AccessPoint, SimConfig, SimHandle};
use serialport::{ClearBuffer, SerialPort, TTYPort};
use support::{expect_bytes as expect, read_n};

const DEADLINE: Duration = Duration::from_secs(3);

/// Seed 000's 114-byte CONNECT for device Air601.
const SEED_000_CONNECT: &str = "10 70 00 04 4D 51 54 54 04 C2 00 64 00 28 41 69 72 36 30 31 7C 73 65 63 75 72 65 6D 6F 64 65 3D 33 2C 73 69 67 6E 6D 65 74 68 6F 64 3D 68 6D 61 63 73 68 61 31 7C 00 10 41 69 72 36 30 31 26 6B 73 66 31 31 34 35 31 34 00 28 65 34 62 39 33 31 66 33 38 30 33 37 65 66 37 32 34 31 34 35 35 37 30 39 34 35 38 62 34 62 36 33 30 62 32 32 65 61 63 32";

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn open(sim: &SimHandle) -> TTYPort {
    let port = serialport::new(sim.device_path().to_string_lossy(), 115_200)
        .timeout(Duration::from_millis(20))
        .open_native()
        .expect("open the sim's pty like a serial device");
    port.clear(ClearBuffer::Input).unwrap();
    port
}

/// Whatever arrives within `within`.
fn drain(port: &mut TTYPort, within: Duration) -> Vec<u8> {
    read_n(port, usize::MAX, within)
}

fn send(port: &mut TTYPort, bytes: &[u8]) {
    port.write_all(bytes).unwrap();
}

fn joined(port: &mut TTYPort) {
    send(port, b"ATE0\r\n");
    expect(port, b"ATE0\r\n\r\nOK\r\n");
    send(port, b"AT+CWJAP_CUR=\"athil-lab\",\"athil-pass\"\r\n");
    expect(port, b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n");
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
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("no connection from the sim: {e}"),
        }
    }
}

#[test]
fn echo_ok_and_gmr_over_the_pty() {
    let sim = spawn(SimConfig::default()).unwrap();
    let mut port = open(&sim);
    send(&mut port, b"AT\r\n");
    expect(&mut port, b"AT\r\n\r\nOK\r\n");
    send(&mut port, b"ATE0\r\n");
    expect(&mut port, b"ATE0\r\n\r\nOK\r\n");
    send(&mut port, b"AT+GMR\r\n");
    expect(
        &mut port,
        b"AT version:1.7.4.0(May 11 2020 19:13:04)\r\nSDK version:3.0.4(9532ceb)\r\n\
          compile time:May 27 2020 10:12:17\r\nBin version(Wroom 02):1.7.4\r\nOK\r\n",
    );
    assert!(sim.shutdown());
}

#[test]
fn the_path_can_be_closed_and_reopened_between_scenarios() {
    let sim = spawn(SimConfig::default()).unwrap();
    for round in 0..4 {
        let mut port = open(&sim);
        send(&mut port, b"AT\r\n");
        let expected: &[u8] = if round == 0 {
            b"AT\r\n\r\nOK\r\n"
        } else {
            b"\r\nOK\r\n"
        };
        expect(&mut port, expected);
        if round == 0 {
            send(&mut port, b"ATE0\r\n");
            expect(&mut port, b"ATE0\r\n\r\nOK\r\n");
        }
        drop(port);
    }
    assert!(sim.shutdown());
}

#[test]
fn tcp_round_trip_through_the_name_map_with_binary_data() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = SimConfig::default();
    config.names.prepend(
        "iot-*.mqtt.iothub.aliyuncs.com",
        athil::sim::Target::Socket(listener.local_addr().unwrap()),
    );
    let sim = spawn(config).unwrap();
    let mut port = open(&sim);
    joined(&mut port);

    send(
        &mut port,
        b"AT+CIPSTART=\"TCP\",\"iot-ksf114514.mqtt.iothub.aliyuncs.com\",1883\r\n",
    );
    let mut peer = accept(&listener);
    expect(&mut port, b"CONNECT\r\n\r\nOK\r\n");

    send(&mut port, b"AT+CIPSEND=114\r\n");
    expect(&mut port, b"\r\nOK\r\n> ");
    let connect = hex(SEED_000_CONNECT);
    send(&mut port, &connect);
    expect(&mut port, b"\r\nRecv 114 bytes\r\n\r\nSEND OK\r\n");
    let mut arrived = vec![0u8; 114];
    peer.read_exact(&mut arrived).unwrap();
    assert_eq!(arrived, connect, "the listener got exactly the 114 bytes");

    // CONNACK, as in seed 000.
    peer.write_all(&[0x20, 0x02, 0x00, 0x00]).unwrap();
    expect(&mut port, &hex("0D 0A 2B 49 50 44 2C 34 3A 20 02 00 00"));

    // Binary with CR, LF, 00 and text that looks like URCs, counted not parsed.
    let tricky = b"\r\nOK\r\n\x00+IPD,9:CLOSED\r\n\xff".to_vec();
    peer.write_all(&tricky).unwrap();
    let mut want = format!("\r\n+IPD,{}:", tricky.len()).into_bytes();
    want.extend(&tricky);
    expect(&mut port, &want);

    drop(peer);
    expect(&mut port, b"CLOSED\r\n");
    assert!(sim.shutdown());
}

#[test]
fn wrong_wifi_password_gives_the_real_failure_code() {
    let mut config = SimConfig::default();
    config
        .access_points
        .push(AccessPoint::new("second", "password2"));
    let sim = spawn(config).unwrap();
    let mut port = open(&sim);
    send(&mut port, b"ATE0\r\n");
    expect(&mut port, b"ATE0\r\n\r\nOK\r\n");
    send(&mut port, b"AT+CWJAP_CUR=\"second\",\"password3\"\r\n");
    expect(&mut port, b"+CWJAP:2\r\n\r\nFAIL\r\n");
    send(&mut port, b"AT+CWJAP_CUR=\"third\",\"password3\"\r\n");
    expect(&mut port, b"+CWJAP:3\r\n\r\nFAIL\r\n");
    assert!(sim.shutdown());
}

#[test]
fn a_non_loopback_address_is_refused_at_once() {
    let sim = spawn(SimConfig::default()).unwrap();
    let mut port = open(&sim);
    joined(&mut port);
    // TEST-NET-1 would black-hole a real SYN for the whole connect timeout; the sim answers
    // at once because it never sends one.
    let started = Instant::now();
    send(&mut port, b"AT+CIPSTART=\"TCP\",\"192.0.2.1\",1883\r\n");
    expect(&mut port, b"\r\nERROR\r\nCLOSED\r\n");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    send(
        &mut port,
        b"AT+CIPSTART=\"TCP\",\"unknown.example\",1883\r\n",
    );
    expect(&mut port, b"DNS Fail\r\n\r\nERROR\r\n");
    // Nobody listens on this loopback port: a real refusal.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    send(
        &mut port,
        format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{}\r\n", closed.port()).as_bytes(),
    );
    expect(&mut port, b"\r\nERROR\r\nCLOSED\r\n");
    assert!(sim.shutdown());
}

#[test]
fn shutdown_is_bounded_with_everything_open() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let sim = spawn(SimConfig::default()).unwrap();
    let mut port = open(&sim);
    joined(&mut port);
    send(
        &mut port,
        format!(
            "AT+CIPSTART=\"TCP\",\"127.0.0.1\",{}\r\n",
            listener.local_addr().unwrap().port()
        )
        .as_bytes(),
    );
    let mut peer = accept(&listener);
    expect(&mut port, b"CONNECT\r\n\r\nOK\r\n");
    let started = Instant::now();
    assert!(sim.shutdown(), "every thread stopped");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // The module's socket went with it.
    let mut buf = [0u8; 1];
    assert_eq!(peer.read(&mut buf).unwrap(), 0);
}

/// How long `AT+GMR`'s 138-byte answer takes to arrive at `baud`, paced or not.
fn gmr_time(baud: u32, pace: bool) -> Duration {
    let sim = spawn(SimConfig {
        baud,
        pace,
        ..SimConfig::default()
    })
    .unwrap();
    let mut port = open(&sim);
    send(&mut port, b"ATE0\r\n");
    expect(&mut port, b"ATE0\r\n\r\nOK\r\n");
    let started = Instant::now();
    send(&mut port, b"AT+GMR\r\n");
    let out = read_n(&mut port, 138, DEADLINE);
    let took = started.elapsed();
    assert!(
        out.ends_with(b"Bin version(Wroom 02):1.7.4\r\nOK\r\n"),
        "{out:?}"
    );
    assert!(sim.shutdown());
    took
}

#[test]
fn pacing_spends_the_wire_time() {
    // 138 bytes at 9600 baud (960 bytes/s) are about 144 ms on the wire.
    let wire = Duration::from_millis(138 * 1000 / 960);
    let paced = gmr_time(9_600, true);
    assert!(paced >= wire * 9 / 10, "{paced:?} < {wire:?}");
    assert!(paced < wire + Duration::from_millis(500), "{paced:?}");
    let unpaced = gmr_time(9_600, false);
    assert!(
        unpaced < wire / 2,
        "without pacing it is not held back: {unpaced:?}"
    );
}

#[test]
fn a_stable_symlink_points_at_the_pty_and_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyESP");
    let mut sim = spawn(SimConfig::default()).unwrap();
    sim.create_link(&link).unwrap();
    let mut port = serialport::new(link.to_string_lossy(), 115_200)
        .timeout(Duration::from_millis(20))
        .open_native()
        .unwrap();
    send(&mut port, b"AT\r\n");
    expect(&mut port, b"AT\r\n\r\nOK\r\n");
    drop(port);
    assert!(sim.shutdown());
    assert!(std::fs::symlink_metadata(&link).is_err(), "link removed");
}

#[test]
fn rst_banner_then_ready() {
    let sim = spawn(SimConfig::default()).unwrap();
    let mut port = open(&sim);
    send(&mut port, b"AT+RST\r\n");
    let out = drain(&mut port, Duration::from_millis(600));
    assert!(out.starts_with(b"AT+RST\r\n\r\nOK\r\n"), "{out:?}");
    assert!(out.ends_with(b"\r\nready\r\n"), "{out:?}");
    let banner = &out[14..out.len() - 9];
    assert!(
        banner.len() > 200 && !banner.windows(3).any(|w| w == b"ets"),
        "garbled banner"
    );
    assert!(sim.shutdown());
}
