//! Reset and sync against a scripted module on a real pty: `AT+RST`, boot noise, `ready`,
//! `AT` until `OK`, echo off; and the event stream recording every byte both ways.

mod module_support;

use std::time::{Duration, Instant};

use athil::module::dialect::DialectKind;
use athil::module::{DriverError, DriverOptions};
use athil::run::{EventSink, RunEvent};
use module_support::{driver_with, driver_with_options, esp, expect, pause, send};

/// What the ROM bootloader's 74880-baud output looks like when read at 115200.
const BOOT_NOISE: &[u8] = b"\x00\xE0\x1C\x8C\xF2n\x9C\xE4\x12l\x8C\x0C\x9C\x8C\xE3";

#[tokio::test]
async fn reset_waits_for_ready_then_syncs_and_turns_echo_off() {
    let mut boot = b"\r\nOK\r\n".to_vec();
    boot.extend_from_slice(BOOT_NOISE);
    boot.extend_from_slice(b"\r\nAT version:1.7.4.0(May 11 2020 19:13:04)\r\n\r\nready\r\n");
    let (mut driver, peer) = esp(vec![
        expect("AT+RST\r\n"),
        send("AT+RST\r\n"),
        send(boot),
        // The first AT after ready goes unanswered; the driver must try again.
        expect("AT\r\n"),
        expect("AT\r\n"),
        send("AT\r\n\r\nOK\r\n"),
        expect("ATE0\r\n"),
        send("ATE0\r\n\r\nOK\r\n"),
    ]);
    let report = driver.reset_and_sync(Duration::from_secs(3)).await.unwrap();
    assert!(report.ready_seen);
    assert_eq!(report.sync_attempts, 2);
    assert_eq!(
        report.boot_lines,
        vec!["AT version:1.7.4.0(May 11 2020 19:13:04)".to_string()],
        "the echo and the noise are left out"
    );
    peer.finish();
}

#[tokio::test]
async fn a_missed_ready_does_not_stop_the_sync() {
    let options = DriverOptions {
        ready_wait: Duration::from_millis(300),
        ..DriverOptions::default()
    };
    let (mut driver, peer) = driver_with_options(
        DialectKind::EspAt,
        vec![
            expect("AT+RST\r\n"),
            send("\r\nOK\r\n"),
            expect("AT\r\n"),
            send("\r\nOK\r\n"),
            expect("ATE0\r\n"),
            send("\r\nOK\r\n"),
        ],
        EventSink::discard(),
        options,
    );
    let started = Instant::now();
    let report = driver.reset_and_sync(Duration::from_secs(5)).await.unwrap();
    assert!(!report.ready_seen);
    assert_eq!(report.sync_attempts, 1);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "waited for ready first: {took:?}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    peer.finish();
}

#[tokio::test]
async fn a_dead_module_fails_the_sync_at_the_deadline() {
    let (mut driver, peer) = esp(vec![expect("AT+RST\r\n")]);
    let started = Instant::now();
    let err = driver
        .reset_and_sync(Duration::from_millis(900))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(err, DriverError::Timeout { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("no ready line"), "{message}");
    peer.finish();
}

#[tokio::test]
async fn a_reboot_during_a_command_is_reported_as_such() {
    let (mut driver, peer) = esp(vec![
        expect("AT+CIPSTATUS\r\n"),
        pause(20),
        send(b"\r\n ets Jan  8 2013,rst cause:4, boot mode:(3,7)\r\n\r\nwdt reset\r\n"),
    ]);
    let err = driver
        .command("AT+CIPSTATUS", Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(matches!(err, DriverError::Rebooted { .. }), "{err:?}");
    assert!(err.to_string().contains("rst cause:4"), "{err}");
    peer.finish();
}

#[tokio::test]
async fn every_byte_both_ways_reaches_the_event_stream() {
    let (sink, mut events) = EventSink::channel();
    let (mut driver, peer) = driver_with(
        DialectKind::EspAt,
        vec![expect("AT\r\n"), send("\r\n"), pause(20), send("OK\r\n")],
        sink,
    );
    driver.command("AT", Duration::from_secs(2)).await.unwrap();
    drop(driver);
    peer.finish();
    let (mut out, mut inp) = (Vec::new(), Vec::new());
    let mut last = Duration::ZERO;
    while let Ok(stamped) = events.try_recv() {
        assert!(stamped.since_start >= last, "stamps go forward");
        last = stamped.since_start;
        match stamped.event {
            RunEvent::SerialOut { bytes } => out.extend(bytes),
            RunEvent::SerialIn { bytes } => inp.extend(bytes),
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert_eq!(out, b"AT\r\n");
    assert_eq!(inp, b"\r\nOK\r\n");
}
