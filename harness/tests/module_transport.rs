//! The serial transport on real pseudo-terminals: opening by path with line settings, both
//! directions, errors that name the port, DTR/RTS on a line that has none, hang-up, and the
//! reader thread ending with the transport.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use athil::module::{ControlLine, SerialSettings, SerialTransport, TransportError};
use athil::run::{EventSink, RunEvent};
use serialport::{SerialPort, TTYPort};

async fn recv_until(t: &mut SerialTransport, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(2);
    while got.len() < want {
        let chunk = tokio::time::timeout_at(until, t.recv())
            .await
            .expect("bytes within 2 s")
            .expect("port still open");
        got.extend(chunk);
    }
    got
}

#[tokio::test]
async fn opens_a_device_path_with_settings_and_carries_bytes_both_ways() {
    let (mut master, slave) = TTYPort::pair().unwrap();
    let path = slave.name().expect("a pty slave has a name");
    let settings: SerialSettings = serde_yaml::from_str("{baud: 115200, parity: none}").unwrap();
    let (sink, mut events) = EventSink::channel();
    let mut t = SerialTransport::open(&path, &settings, sink).unwrap();
    assert_eq!(t.path(), path);

    t.write(b"AT\r\n").await.unwrap();
    master.set_timeout(Duration::from_secs(2)).unwrap();
    let mut buf = [0u8; 4];
    master.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"AT\r\n");

    master.write_all(b"\r\nOK\r\n\x00\xFF").unwrap();
    assert_eq!(recv_until(&mut t, 8).await, b"\r\nOK\r\n\x00\xFF");

    drop(t);
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e.event);
    }
    assert!(matches!(&seen[0], RunEvent::SerialOut { bytes } if bytes == b"AT\r\n"));
    let inbound: Vec<u8> = seen
        .iter()
        .filter_map(|e| {
            if let RunEvent::SerialIn { bytes } = e {
                Some(bytes.clone())
            } else {
                None
            }
        })
        .flatten()
        .collect();
    assert_eq!(inbound, b"\r\nOK\r\n\x00\xFF");
    drop(slave);
}

#[test]
fn a_missing_device_is_named_in_the_error() {
    let err = SerialTransport::open(
        "/dev/ttyATHIL-does-not-exist",
        &SerialSettings::default(),
        EventSink::discard(),
    )
    .unwrap_err();
    assert!(matches!(err, TransportError::Open { .. }));
    assert!(
        err.to_string()
            .starts_with("open serial port `/dev/ttyATHIL-does-not-exist`: "),
        "{err}"
    );
}

#[tokio::test]
async fn reset_lines_on_a_pty_fail_or_do_nothing_but_never_panic() {
    let (_master, slave) = TTYPort::pair().unwrap();
    let mut t = SerialTransport::from_tty(slave, EventSink::discard()).unwrap();
    for line in [ControlLine::Dtr, ControlLine::Rts] {
        if let Err(err) = t.pulse(line, Duration::from_millis(1)).await {
            assert!(matches!(err, TransportError::ControlLine { .. }), "{err:?}");
            assert!(
                err.to_string()
                    .contains(&format!("set {line} on serial port")),
                "{err}"
            );
        }
    }
}

#[tokio::test]
async fn the_peer_hanging_up_ends_reading_with_an_error() {
    let (master, slave) = TTYPort::pair().unwrap();
    let mut t = SerialTransport::from_tty(slave, EventSink::discard()).unwrap();
    drop(master);
    let result = tokio::time::timeout(Duration::from_secs(2), t.recv())
        .await
        .expect("the hang-up is reported, not waited on forever");
    let err = result.unwrap_err();
    assert!(matches!(err, TransportError::Read { .. }), "{err:?}");
    // And it stays failed.
    assert!(t.try_recv().is_err());
}

#[tokio::test]
async fn dropping_the_transport_stops_its_reader_thread() {
    let (mut master, slave) = TTYPort::pair().unwrap();
    let t = SerialTransport::from_tty(slave, EventSink::discard()).unwrap();
    let started = Instant::now();
    drop(t);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "drop joins promptly"
    );
    // With the reader thread gone, no descriptor of the slave is left open, so the master
    // sees the hang-up instead of waiting.
    master.set_timeout(Duration::from_secs(1)).unwrap();
    let mut buf = [0u8; 1];
    let err = master.read(&mut buf).unwrap_err();
    assert_ne!(
        err.kind(),
        std::io::ErrorKind::TimedOut,
        "slave still open: {err}"
    );
}

#[tokio::test]
async fn opening_by_path_drops_bytes_printed_before_the_run() {
    let (mut master, slave) = TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    // A module that booted before the harness opened the port: its banner waits in the pty.
    master.write_all(b"\r\nready\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let mut t =
        SerialTransport::open(&path, &SerialSettings::default(), EventSink::discard()).unwrap();
    master.write_all(b"\r\nOK\r\n").unwrap();
    assert_eq!(recv_until(&mut t, 6).await, b"\r\nOK\r\n");
    drop(slave);
}
