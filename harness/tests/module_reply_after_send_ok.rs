//! The driver when a reply's `+IPD` follows `SEND OK`, the order real modules print (and the
//! virtual module's default since issue 8): reading the reply's bytes consumes its header from
//! the text view, as a text step would have.

mod module_support;

use std::time::Duration;

use module_support::{esp, expect, pause, send};

const SHORT: Duration = Duration::from_secs(2);

/// Regression: once the virtual module printed replies after `SEND OK`, the shipped
/// `cloud/unsubscribe.yaml` failed: its `expect_not: +IPD` (no second UNSUBACK) found the
/// header of the UNSUBACK its `receive` step had already read, because nothing consumed it.
#[tokio::test]
async fn a_reply_read_from_the_socket_leaves_no_ipd_in_the_text() {
    let (mut driver, peer) = esp(vec![
        expect("AT+CIPSEND=4\r\n"),
        send("\r\nOK\r\n> "),
        expect([0xA2, 0x02, 0x00, 0x0C]),
        send("\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n"),
        pause(20),
        send(b"\r\n+IPD,4:\xB0\x02\x00\x0C"),
    ]);
    driver
        .send_data(None, &[0xA2, 0x02, 0x00, 0x0C], SHORT)
        .await
        .unwrap();
    let reply = driver.read_mqtt_packet(SHORT).await.unwrap();
    assert_eq!(reply, [0xB0, 0x02, 0x00, 0x0C]);
    let absent = driver
        .expect_absent(
            "+IPD",
            |t: &str, start: usize| t[start..].find("+IPD").map(|i| start + i + 4),
            Duration::from_millis(100),
        )
        .await;
    assert!(
        absent.is_ok(),
        "{absent:?}; text {:?}",
        driver.pending_text()
    );
    peer.finish();
}
