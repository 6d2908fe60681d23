//! The virtual module survives what a lab throws at a serial line: random bytes, several
//! modules at once, a host that closes the port while the module is talking.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use athil::sim::{spawn, SimConfig, SimHandle};
use serialport::{ClearBuffer, SerialPort, TTYPort};

fn open(sim: &SimHandle) -> TTYPort {
    let port = serialport::new(sim.device_path().to_string_lossy(), 115_200)
        .timeout(Duration::from_millis(10))
        .open_native()
        .unwrap();
    port.clear(ClearBuffer::Input).unwrap();
    port
}

fn drain(port: &mut TTYPort, within: Duration) -> Vec<u8> {
    let end = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        match port.read(&mut buf) {
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("pty read failed: {e}"),
        }
    }
    got
}

/// Reads until `tail` ends the output, or fails after three seconds.
fn until(port: &mut TTYPort, tail: &[u8]) -> Vec<u8> {
    let end = Instant::now() + Duration::from_secs(3);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(tail) {
        assert!(Instant::now() < end, "no {tail:?} in {got:?}");
        match port.read(&mut buf) {
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("pty read failed: {e}"),
        }
    }
    got
}

#[test]
fn the_handle_can_move_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SimHandle>();
}

#[test]
fn random_bytes_do_not_kill_it() {
    let sim = spawn(SimConfig::default()).unwrap();
    let mut port = open(&sim);
    // A fixed xorshift stream: the same 32 KiB of noise every run.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let noise: Vec<u8> = (0..32 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    for chunk in noise.chunks(1024) {
        port.write_all(chunk).unwrap();
        drain(&mut port, Duration::from_millis(5));
    }
    drain(&mut port, Duration::from_millis(300));
    port.write_all(b"\r\nAT\r\n").unwrap();
    until(&mut port, b"\r\nOK\r\n");
    assert!(sim.shutdown());
}

#[test]
fn several_modules_run_side_by_side() {
    let sims: Vec<SimHandle> = (0..3)
        .map(|_| spawn(SimConfig::default()).unwrap())
        .collect();
    let mut ports: Vec<TTYPort> = sims.iter().map(open).collect();
    assert_ne!(sims[0].device_path(), sims[1].device_path());
    for (i, port) in ports.iter_mut().enumerate() {
        port.write_all(format!("ATE{}\r\n", i % 2).as_bytes())
            .unwrap();
    }
    for (i, port) in ports.iter_mut().enumerate() {
        let expected = format!("ATE{}\r\n\r\nOK\r\n", i % 2);
        assert_eq!(until(port, b"OK\r\n"), expected.as_bytes());
    }
    for sim in sims {
        assert!(sim.shutdown());
    }
}

#[test]
fn closing_the_port_mid_reply_leaves_it_usable() {
    let sim = spawn(SimConfig::default()).unwrap();
    let mut port = open(&sim);
    port.write_all(b"AT+RST\r\n").unwrap();
    drop(port);
    // The banner and `ready` arrive while nobody listens; the next session clears them, as a
    // harness does with any serial port it opens.
    std::thread::sleep(Duration::from_millis(300));
    let mut port = open(&sim);
    port.write_all(b"AT\r\n").unwrap();
    assert_eq!(until(&mut port, b"OK\r\n"), b"AT\r\n\r\nOK\r\n");
    assert!(sim.shutdown());
}
