//! The dialect trait carrying a second vendor: the same driver, with Quectel's rules, opens a
//! link with `AT+QIOPEN` (its outcome in the late `+QIOPEN` URC), sends seed 004's OneNET
//! CONNECT with `AT+QISEND`, reads the CONNACK from `+QIURC: "recv"` (direct push) or with
//! `AT+QIRD` (buffer access), and takes `+CME ERROR` and the boot notices as a module prints
//! them.

mod module_support;

use std::time::Duration;

use athil::module::at::{FinalResult, Urc};
use athil::module::dialect::{DialectKind, ReceiveMode};
use athil::module::DriverError;
use athil::run::EventSink;
use module_support::{driver_with, expect, pause, send};

/// Seed 004: the 37-byte CONNECT RT-Thread sent to OneNET.
const CONNECT: [u8; 37] = [
    0x10, 0x23, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0xC2, 0x00, 0x1E, 0x00, 0x06, 0x36, 0x35,
    0x37, 0x30, 0x37, 0x37, 0x00, 0x08, 0x32, 0x30, 0x31, 0x39, 0x30, 0x31, 0x35, 0x36, 0x00, 0x05,
    0x73, 0x6E, 0x38, 0x38, 0x38,
];

#[tokio::test]
async fn seed_004_connect_and_connack_over_qisend() {
    let mut recv = b"\r\n+QIURC: \"recv\",0,4\r\n".to_vec();
    recv.extend_from_slice(&[0x20, 0x02, 0x00, 0x00, 0x0D, 0x0A]);
    let (mut driver, peer) = driver_with(
        DialectKind::Quectel,
        vec![
            expect("AT+QISEND=0,37\r\n"),
            send("\r\n> "),
            expect(CONNECT),
            send("\r\nSEND OK\r\n"),
            send(recv),
            send("\r\n+QIURC: \"closed\",0\r\n"),
        ],
        EventSink::discard(),
    );
    driver
        .send_data(Some(0), &CONNECT, Duration::from_secs(2))
        .await
        .unwrap();
    let connack = driver
        .read_mqtt_packet(Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x00]);
    let closed = driver
        .wait_urc(
            "the link closing",
            |u| matches!(u, Urc::Closed { .. }),
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    assert_eq!(closed, Urc::Closed { link: Some(0) });
    assert!(driver.link_closed(Some(0)));
    peer.finish();
}

/// `+QIURC: "recv",0,4` and the CONNACK after it, as seed 004's module printed them.
fn connack_pushed() -> Vec<u8> {
    let mut recv = b"\r\n+QIURC: \"recv\",0,4\r\n".to_vec();
    recv.extend_from_slice(&[0x20, 0x02, 0x00, 0x00, 0x0D, 0x0A]);
    recv
}

#[tokio::test]
async fn open_waits_for_the_late_qiopen_then_carries_seed_004() {
    let (mut driver, peer) = driver_with(
        DialectKind::Quectel,
        vec![
            expect("AT+QIOPEN=1,0,\"TCP\",\"183.230.40.39\",6002,0,1\r\n"),
            send("\r\nOK\r\n"),
            pause(50),
            send("\r\n+QIOPEN: 0,0\r\n"),
            expect("AT+QISEND=0,37\r\n"),
            send("\r\n> "),
            expect(CONNECT),
            send("\r\nSEND OK\r\n"),
            send(connack_pushed()),
        ],
        EventSink::discard(),
    );
    driver
        .open_tcp(
            Some(0),
            "183.230.40.39",
            6002,
            ReceiveMode::Push,
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    assert!(!driver.link_closed(Some(0)));
    driver
        .send_data(Some(0), &CONNECT, Duration::from_secs(2))
        .await
        .unwrap();
    let connack = driver
        .read_mqtt_packet(Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x00]);
    peer.finish();
}

#[tokio::test]
async fn a_qiopen_error_fails_the_open_with_its_meaning() {
    let (mut driver, peer) = driver_with(
        DialectKind::Quectel,
        vec![
            expect("AT+QIOPEN=1,1,\"TCP\",\"10.0.0.9\",1883,0,1\r\n"),
            // The URC in the same burst as the OK: it must not be missed.
            send("\r\nOK\r\n\r\n+QIOPEN: 1,566\r\n"),
        ],
        EventSink::discard(),
    );
    let err = driver
        .open_tcp(
            Some(1),
            "10.0.0.9",
            1883,
            ReceiveMode::Push,
            Duration::from_secs(2),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DriverError::OpenFailed {
                link: 1,
                code: 566,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "open link 1 to 10.0.0.9:1883: the module reported error 566 (socket connect failed)"
    );
    assert!(driver.link_closed(Some(1)));
    peer.finish();
}

#[tokio::test]
async fn buffer_mode_reads_with_qird_until_the_buffer_is_empty() {
    let mut first = b"\r\n+QIRD: 4\r\n".to_vec();
    first.extend_from_slice(&[0x20, 0x02, 0x00, 0x00]);
    first.extend_from_slice(b"\r\n\r\nOK\r\n");
    let (mut driver, peer) = driver_with(
        DialectKind::Quectel,
        vec![
            expect("AT+QIOPEN=1,2,\"TCP\",\"10.0.0.9\",1883,0,0\r\n"),
            send("\r\nOK\r\n\r\n+QIOPEN: 2,0\r\n"),
            expect("AT+QISEND=2,37\r\n"),
            send("\r\n> "),
            expect(CONNECT),
            send("\r\nSEND OK\r\n\r\n+QIURC: \"recv\",2\r\n"),
            expect("AT+QIRD=2,1500\r\n"),
            send(first),
            expect("AT+QIRD=2,1500\r\n"),
            send("\r\n+QIRD: 0\r\n\r\nOK\r\n"),
        ],
        EventSink::discard(),
    );
    driver
        .open_tcp(
            Some(2),
            "10.0.0.9",
            1883,
            ReceiveMode::Buffered,
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    driver
        .send_data(Some(2), &CONNECT, Duration::from_secs(2))
        .await
        .unwrap();
    let connack = driver
        .read_mqtt_packet(Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x00]);
    assert_eq!(driver.socket_pending(Some(2)), 0);
    peer.finish();
}

#[tokio::test]
async fn cme_error_is_a_final_result_that_rejects_the_command() {
    let (mut driver, peer) = driver_with(
        DialectKind::Quectel,
        vec![
            expect("AT+QIACT=1\r\n"),
            send("\r\n+CME ERROR: 30\r\n"),
            expect("AT+CPIN?\r\n"),
            send("\r\n+CPIN: READY\r\n\r\nOK\r\n"),
        ],
        EventSink::discard(),
    );
    let err = driver
        .command("AT+QIACT=1", Duration::from_secs(2))
        .await
        .unwrap_err();
    match &err {
        DriverError::Rejected { result, .. } => {
            assert_eq!(*result, FinalResult::CmeError("30".into()))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "run `AT+QIACT=1`: the module answered +CME ERROR: 30"
    );
    // `+CPIN: READY` is a boot URC and the answer to AT+CPIN? at once.
    let answer = driver
        .command("AT+CPIN?", Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(answer.lines, ["+CPIN: READY"]);
    peer.finish();
}

#[tokio::test]
async fn boot_notices_and_a_late_app_rdy_do_not_upset_the_sync() {
    let (mut driver, peer) = driver_with(
        DialectKind::Quectel,
        vec![
            expect("AT+CFUN=1,1\r\n"),
            send("\r\nOK\r\n"),
            pause(20),
            send("\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n"),
            expect("AT\r\n"),
            send("\r\nOK\r\n"),
            expect("ATE0\r\n"),
            // EC20s print `APP RDY` seconds after `RDY`: it ends no command.
            send("\r\n+QIND: PB DONE\r\n\r\nAPP RDY\r\n\r\nOK\r\n"),
        ],
        EventSink::discard(),
    );
    let mark = driver.urc_mark();
    let report = driver.reset_and_sync(Duration::from_secs(3)).await.unwrap();
    assert!(report.ready_seen);
    let seen: Vec<Urc> = driver.urcs_since(mark).map(|u| u.urc.clone()).collect();
    assert!(seen.contains(&Urc::AppReady), "{seen:?}");
    assert!(seen.contains(&Urc::Ready), "{seen:?}");
    peer.finish();
}
