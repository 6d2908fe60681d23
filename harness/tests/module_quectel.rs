//! The dialect trait carrying a second vendor: the same driver, with Quectel's rules, sends
//! seed 004's OneNET CONNECT with `AT+QISEND` and reads the CONNACK from `+QIURC: "recv"`.

mod module_support;

use std::time::Duration;

use athil::module::at::Urc;
use athil::module::dialect::DialectKind;
use athil::run::EventSink;
use module_support::{driver_with, expect, send};

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
