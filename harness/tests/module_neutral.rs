//! The dialect-neutral operations on a pty with each module's literal bytes: the same `join`
//! and `expect_closed` calls send ESP's `AT+CWMODE`/`AT+CWJAP` or Quectel's
//! `AT+QICSGP`/`AT+QIACT`, and wait for `CLOSED` or `+QIURC: "closed"` of the right link.

mod module_support;

use std::time::Duration;

use athil::module::at::FinalResult;
use athil::module::dialect::{DialectKind, JoinNeeds, JoinSettings, ReceiveMode};
use athil::module::DriverError;
use athil::run::EventSink;
use module_support::{driver_with, expect, send};

const T: Duration = Duration::from_secs(2);

fn wifi(ssid: &'static str, password: &'static str) -> JoinSettings<'static> {
    JoinSettings {
        wifi: Some((ssid, password)),
        apn: None,
    }
}

#[tokio::test]
async fn esp_joins_in_station_mode_with_an_escaped_password() {
    let (mut driver, peer) = driver_with(
        DialectKind::EspAt,
        vec![
            expect("AT+CWMODE=1\r\n"),
            send("\r\nOK\r\n"),
            expect("AT+CWJAP=\"athil-lab\",\"pa\\,ss\"\r\n"),
            send("WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n"),
        ],
        EventSink::discard(),
    );
    driver.join(&wifi("athil-lab", "pa,ss"), T).await.unwrap();
    peer.finish();
}

#[tokio::test]
async fn an_esp_join_that_fails_says_how() {
    let (mut driver, peer) = driver_with(
        DialectKind::EspAt,
        vec![
            expect("AT+CWMODE=1\r\n"),
            send("\r\nOK\r\n"),
            expect("AT+CWJAP=\"flaky-lab\",\"x\"\r\n"),
            send("+CWJAP:1\r\n\r\nFAIL\r\n"),
        ],
        EventSink::discard(),
    );
    let e = driver.join(&wifi("flaky-lab", "x"), T).await.unwrap_err();
    assert!(
        matches!(
            &e,
            DriverError::Rejected {
                result: FinalResult::Fail,
                ..
            }
        ),
        "{e:?}"
    );
    peer.finish();
}

#[tokio::test]
async fn an_esp_join_without_wifi_sends_nothing() {
    let (mut driver, peer) = driver_with(DialectKind::EspAt, vec![], EventSink::discard());
    let e = driver.join(&JoinSettings::default(), T).await.unwrap_err();
    assert!(
        matches!(
            e,
            DriverError::JoinLacks {
                dialect: DialectKind::EspAt,
                needs: JoinNeeds::Wifi
            }
        ),
        "{e:?}"
    );
    assert_eq!(peer.finish(), b"");
}

#[tokio::test]
async fn quectel_attaches_with_the_apn_given_and_ignores_the_wifi() {
    let (mut driver, peer) = driver_with(
        DialectKind::Quectel,
        vec![
            expect("AT+QICSGP=1,1,\"CMNET\",\"\",\"\",1\r\n"),
            send("\r\nOK\r\n"),
            expect("AT+QIACT=1\r\n"),
            send("\r\nOK\r\n"),
        ],
        EventSink::discard(),
    );
    let with = JoinSettings {
        wifi: Some(("athil-lab", "athil-pass")),
        apn: Some("CMNET"),
    };
    driver.join(&with, T).await.unwrap();
    peer.finish();
}

#[tokio::test]
async fn expect_closed_waits_for_its_own_link_in_each_dialect() {
    let (mut driver, peer) = driver_with(
        DialectKind::EspAt,
        vec![send("0,CLOSED\r\n"), send("1,CLOSED\r\n")],
        EventSink::discard(),
    );
    driver.expect_closed(Some(1), T).await.unwrap();
    assert!(
        driver.link_closed(Some(0)),
        "the other link's CLOSED was read too"
    );
    driver
        .expect_closed(Some(0), Duration::from_millis(50))
        .await
        .expect("already closed: no wait");
    peer.finish();

    let (mut driver, peer) = driver_with(
        DialectKind::Quectel,
        vec![send("\r\n+QIURC: \"closed\",2\r\n")],
        EventSink::discard(),
    );
    let e = driver
        .expect_closed(None, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        e.is_timeout(),
        "link 2 closing is not link 0 closing: {e:?}"
    );
    assert!(driver.link_closed(Some(2)));
    peer.finish();
}

#[tokio::test]
async fn a_link_the_dialect_has_not_got_is_refused() {
    let (driver, peer) = driver_with(DialectKind::EspAt, vec![], EventSink::discard());
    assert_eq!(
        driver.check_link(Some(5)).unwrap_err().to_string(),
        "use link 5: the esp-at dialect has links 0 to 4"
    );
    assert!(driver.check_link(Some(4)).is_ok() && driver.check_link(None).is_ok());
    peer.finish();
    let (driver, peer) = driver_with(DialectKind::Quectel, vec![], EventSink::discard());
    assert!(driver.check_link(Some(11)).is_ok());
    assert!(driver.check_link(Some(12)).is_err());
    peer.finish();
}

#[tokio::test]
async fn an_esp_open_with_a_link_turns_multi_link_mode_on_once() {
    let (mut driver, peer) = driver_with(
        DialectKind::EspAt,
        vec![
            expect("AT+CIPMUX=1\r\n"),
            send("\r\nOK\r\n"),
            expect("AT+CIPSTART=0,\"TCP\",\"10.0.0.1\",1883\r\n"),
            send("0,CONNECT\r\n\r\nOK\r\n"),
            expect("AT+CIPSTART=1,\"TCP\",\"10.0.0.1\",1883\r\n"),
            send("1,CONNECT\r\n\r\nOK\r\n"),
        ],
        EventSink::discard(),
    );
    for link in [0, 1] {
        driver
            .open_tcp(Some(link), "10.0.0.1", 1883, ReceiveMode::Push, T)
            .await
            .unwrap();
    }
    peer.finish();
}
