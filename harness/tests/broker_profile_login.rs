//! The cloud profile's login rules over real TCP, a real gateway and a real rumqttd: the SDKs'
//! client ids, the CONNACK code of every refusal, the keepalive window and cap, the idle timer,
//! the CONNECT deadline, one connection per device, and overrides switched at run time.

mod broker_profile_support;
mod broker_support;

use std::time::{Duration, Instant};

use athil::broker::RefusalKind;
use broker_profile_support::*;
use broker_support::*;
use hmac::{Hmac, Mac};

/// A sign computed here, independently of athil's own signing code.
fn sign(method: &str, secret: &str, content: &str) -> String {
    fn mac<M: Mac + hmac::digest::KeyInit>(secret: &str, content: &str) -> Vec<u8> {
        let mut m = <M as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        m.update(content.as_bytes());
        m.finalize().into_bytes().to_vec()
    }
    let bytes = match method {
        "md5" => mac::<Hmac<md5::Md5>>(secret, content),
        "sha1" => mac::<Hmac<sha1::Sha1>>(secret, content),
        "sha256" => mac::<Hmac<sha2::Sha256>>(secret, content),
        other => panic!("no method {other}"),
    };
    hex::encode(bytes)
}

const PROBE_SECRET: &str = "0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn every_sdks_client_id_and_sign_method_is_accepted_end_to_end() {
    let (broker, _events) = start_profile("{}").await;
    let c_sdk_content =
        "clientIda1TestPK001.probe-dev-01deviceNameprobe-dev-01productKeya1TestPK001\
                         timestamp2524608000000";
    let cases: Vec<(&str, String, String)> = vec![
        // Python SDK 1.2.13, captured: `pk&dn` head, ext/_ss/lan/_v, seconds timestamp.
        ("linkkit", SDK_CLIENT_ID.to_owned(), SDK_SIGN.to_owned()),
        // Link SDK 4: `pk.dn` head, trailing comma, hmacsha256 in upper-case hex.
        (
            "Link SDK 4",
            "a1TestPK001.probe-dev-01|timestamp=2524608000000,_ss=1,_v=sdk-c-4.1.0,securemode=3,\
             signmethod=hmacsha256,ext=3,|"
                .to_owned(),
            sign("sha256", PROBE_SECRET, c_sdk_content).to_uppercase(),
        ),
        // C SDK v3: the year-2050 timestamp, lan/gw/ext.
        (
            "C SDK v3",
            "a1TestPK001.probe-dev-01|timestamp=2524608000000,_v=sdk-c-3.0.1,securemode=3,\
             signmethod=hmacsha256,lan=C,gw=0,ext=0|"
                .to_owned(),
            sign("sha256", PROBE_SECRET, c_sdk_content).to_uppercase(),
        ),
        // No signmethod: the documented default, hmacmd5; no timestamp.
        (
            "default hmacmd5",
            "probe-dev-01|securemode=3|".to_owned(),
            sign(
                "md5",
                PROBE_SECRET,
                "clientIdprobe-dev-01deviceNameprobe-dev-01productKeya1TestPK001",
            ),
        ),
        // A timestamp from long ago: the window is not checked (§0.3).
        (
            "old timestamp",
            "12345|securemode=3,signmethod=hmacsha1,timestamp=789|".to_owned(),
            sign(
                "sha1",
                PROBE_SECRET,
                "clientId12345deviceNameprobe-dev-01productKeya1TestPK001timestamp789",
            ),
        ),
    ];
    for (what, client_id, password) in cases {
        let mut c = RawClient::connect(broker.addr()).await;
        c.send(&connect(&client_id, SDK_USERNAME, &password, 60))
            .await;
        assert_eq!(c.recv().await, hex("20 02 00 00"), "{what} was refused");
        expect_nothing_pending(&mut c).await;
        c.send(&hex("E0 00")).await;
        c.expect_closed(Duration::from_secs(2)).await;
    }
    assert!(broker.refusals().is_empty(), "{:?}", broker.refusals());
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn every_refusal_gets_the_clouds_connack_code_then_the_close() {
    let (broker, _events) = start_profile("{}").await;
    let cases = [
        (connect_002_wrong_sign(), 4, RefusalKind::SignMismatch),
        (
            connect(
                "device9|securemode=3,signmethod=hmacsha1|",
                "device9&a1ndPQHcX7f",
                SIGN_002,
                100,
            ),
            4,
            RefusalKind::UnknownDevice,
        ),
        // Seed 001's correct CONNECT, for a device the test registry marks disabled.
        (
            connect(
                "LY-1|securemode=3,signmethod=hmacsha1|",
                "LY-1&a10zwkUxQUS",
                "7a03368e740ff9efb8318c6ba2a0260f2a596f87",
                100,
            ),
            5,
            RefusalKind::DeviceDisabled,
        ),
        (
            connect(CLIENT_ID_002, USERNAME_002, SIGN_002, 10),
            3,
            RefusalKind::KeepaliveOutOfRange,
        ),
        (
            connect("device2", USERNAME_002, SIGN_002, 100),
            2,
            RefusalKind::MalformedClientId,
        ),
    ];
    for (bytes, code, kind) in cases {
        let mut c = RawClient::connect(broker.addr()).await;
        c.send(&bytes).await;
        assert_eq!(c.recv().await, [0x20, 0x02, 0x00, code], "{kind:?}");
        c.expect_closed(Duration::from_secs(2)).await;
        let last = broker.refusals().pop().expect("a refusal is recorded");
        assert_eq!((last.code, last.reason.kind), (code, kind));
    }
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn keepalive_5000_is_accepted_as_1200_with_a_note() {
    let (broker, mut events) = start_profile("{}").await;
    let mut c = RawClient::connect(broker.addr()).await;
    c.send(&connect(CLIENT_ID_002, USERNAME_002, SIGN_002, 5000))
        .await;
    assert_eq!(c.recv().await, hex("20 02 00 00"));
    let note = wait_note(&mut events, "keepalive 5000 s", DEADLINE).await;
    assert!(note.contains("treats it as 1200 s"), "{note}");
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn the_idle_timer_runs_on_the_capped_keepalive() {
    // max 1: keepalive 5000 becomes 1 s, so silence closes the link after 1.5 s.
    let (broker, mut events) = start_profile("keepalive: { min: 1, max: 1 }").await;
    let mut c = RawClient::connect(broker.addr()).await;
    c.send(&connect(CLIENT_ID_002, USERNAME_002, SIGN_002, 5000))
        .await;
    assert_eq!(c.recv().await, hex("20 02 00 00"));
    let started = Instant::now();
    c.expect_closed(Duration::from_secs(4)).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1300) && waited < Duration::from_secs(3),
        "closed after {waited:?}"
    );
    wait_note(&mut events, "1.5 × its keepalive of 1 s", DEADLINE).await;
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn a_device_silent_for_one_and_a_half_keepalives_is_closed_and_a_ping_restarts_the_timer() {
    let (broker, mut events) = start_profile("keepalive: { min: 1 }").await;
    let mut c = RawClient::connect(broker.addr()).await;
    c.send(&connect(CLIENT_ID_002, USERNAME_002, SIGN_002, 1))
        .await;
    assert_eq!(c.recv().await, hex("20 02 00 00"));
    // 1 s in, a PINGREQ: the 1.5 s timer starts again from here.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    expect_nothing_pending(&mut c).await;
    let pinged = Instant::now();
    c.expect_closed(Duration::from_secs(4)).await;
    let waited = pinged.elapsed();
    assert!(
        waited >= Duration::from_millis(1300) && waited < Duration::from_secs(3),
        "closed {waited:?} after the PINGREQ"
    );
    let note = wait_note(
        &mut events,
        "sent no PUBLISH, SUBSCRIBE, PINGREQ or PUBACK",
        DEADLINE,
    )
    .await;
    assert!(note.contains("1.5s"), "{note}");
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn with_the_idle_timer_off_a_silent_device_stays() {
    let (broker, _events) = start_profile("keepalive: { min: 1, enforce: false }").await;
    let mut c = RawClient::connect(broker.addr()).await;
    c.send(&connect(CLIENT_ID_002, USERNAME_002, SIGN_002, 1))
        .await;
    assert_eq!(c.recv().await, hex("20 02 00 00"));
    tokio::time::sleep(Duration::from_millis(2000)).await;
    expect_nothing_pending(&mut c).await;
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn a_link_with_no_connect_is_closed_at_the_connect_timeout() {
    let (broker, mut events) = start_profile("login: { connect_timeout: 300ms }").await;
    let started = Instant::now();
    let mut c = RawClient::connect(broker.addr()).await;
    c.expect_closed(Duration::from_secs(2)).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_millis(1500),
        "closed after {waited:?}"
    );
    wait_note(&mut events, "no CONNECT within 300ms", DEADLINE).await;
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn a_second_login_kicks_the_first_which_sees_the_close() {
    let (broker, mut events) = start_profile("{}").await;
    let mut first = RawClient::connect_002(broker.addr()).await;
    let mut second = RawClient::connect_002(broker.addr()).await;
    first.expect_closed(Duration::from_secs(3)).await;
    // The gateway's kick (or, if rumqttd let go first, the gateway's account of why).
    wait_note(&mut events, "logged in again on conn", DEADLINE).await;
    // The newer connection is the device's now: it is served, and downlinks reach it.
    second.send(&hex(SUBSCRIBE_002)).await;
    assert_eq!(second.recv().await, hex("90 03 00 0A 01"));
    broker
        .publish(SET_TOPIC_002, b"{}", athil::mqtt::QoS::AtMostOnce)
        .unwrap();
    assert!(second.recv().await.ends_with(b"{}"));
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn when_a_device_may_hold_several_connections_nobody_is_kicked() {
    let (broker, _events) = start_profile("login: { one_connection_per_device: false }").await;
    let mut first = RawClient::connect_002(broker.addr()).await;
    let mut second = RawClient::connect_002(broker.addr()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    expect_nothing_pending(&mut first).await;
    expect_nothing_pending(&mut second).await;
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn a_scenario_override_applies_at_once_and_none_restores_the_run_profile() {
    let (broker, _events) = start_profile("{}").await;
    broker.set_override(Some(parse_override("keepalive: { min: 200, max: 300 }")));
    assert_eq!(broker.profile().keepalive.min, 200);
    let mut c = RawClient::connect(broker.addr()).await;
    c.send(&hex(CONNECT_002)).await;
    assert_eq!(c.recv().await, hex("20 02 00 03"), "keepalive 100 < 200");
    c.expect_closed(Duration::from_secs(2)).await;
    broker.set_override(None);
    RawClient::connect_002(broker.addr()).await;
    broker.shutdown(DEADLINE).await.unwrap();
}
