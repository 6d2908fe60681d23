//! The broker over real TCP on loopback with a real embedded rumqttd: seed 002's exchange
//! byte for byte, refusals, the cloud link both ways, observation and shutdown.

mod broker_support;

use std::time::{Duration, Instant};

use athil::broker::profile::Span;
use athil::broker::{RefusalKind, SeenDirection};
use athil::mqtt::{Packet, QoS};
use athil::run::{RunEvent, TcpDirection};
use broker_support::*;

#[tokio::test]
async fn seed_002_connect_is_accepted() {
    let (broker, _events) = start().await;
    assert!(broker.addr().ip().is_loopback());
    assert_eq!(broker.addr().port(), 1883);
    RawClient::connect_002(broker.addr()).await;
    assert!(broker.refusals().is_empty());
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn wrong_sign_gets_exactly_connack_4_then_the_close() {
    let (broker, _events) = start().await;
    let mut c = RawClient::connect(broker.addr()).await;
    c.send(&connect_002_wrong_sign()).await;
    assert_eq!(c.recv().await, hex("20 02 00 04"));
    c.expect_closed(Duration::from_secs(2)).await;

    let refusals = broker.refusals();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    let r = &refusals[0];
    assert_eq!((r.code, r.reason.kind), (4, RefusalKind::SignMismatch));
    assert_eq!(r.client_id, CLIENT_ID_002);
    let text = r.to_string();
    assert!(
        text.starts_with(&format!(
            "refused client {CLIENT_ID_002:?} with code 4 because the sign did not match"
        )),
        "{text}"
    );
    assert!(
        !text.contains("1448e1c5"),
        "the DeviceSecret leaked: {text}"
    );
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn unknown_device_and_malformed_client_id_are_refused_with_their_codes() {
    let (broker, _events) = start().await;
    // Seed 002's first attempt at the client id kept a stray `0A` after the closing `|`.
    let mut stray = athil::mqtt::Connect::new(format!("{CLIENT_ID_002}\n"), 100);
    stray.username = Some(USERNAME_002.into());
    stray.password = Some(SIGN_002.as_bytes().to_vec());
    let mut unknown = athil::mqtt::Connect::new("device9|securemode=3,signmethod=hmacsha1|", 100);
    unknown.username = Some("device9&a1ndPQHcX7f".into());
    unknown.password = Some(SIGN_002.as_bytes().to_vec());
    for (connect, connack, kind) in [
        (stray, "20 02 00 02", RefusalKind::MalformedClientId),
        (unknown, "20 02 00 04", RefusalKind::UnknownDevice),
    ] {
        let mut c = RawClient::connect(broker.addr()).await;
        c.send(&athil::mqtt::encode(&Packet::from(connect)).unwrap())
            .await;
        assert_eq!(c.recv().await, hex(connack));
        c.expect_closed(Duration::from_secs(2)).await;
        assert_eq!(broker.refusals().last().map(|r| r.reason.kind), Some(kind));
    }
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn subscribe_gets_suback_01_and_pingreq_gets_pingresp() {
    let (broker, _events) = start().await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    c.send(&hex(SUBSCRIBE_002)).await;
    assert_eq!(c.recv().await, hex("90 03 00 0A 01"));
    c.send(&hex("C0 00")).await;
    assert_eq!(c.recv().await, hex("D0 00"));
    // UNSUBSCRIBE `A2 37 …` → `B0 02 00 0A`, as in seed 002.
    let mut unsubscribe = hex(SUBSCRIBE_002);
    unsubscribe.pop();
    unsubscribe[0] = 0xA2;
    unsubscribe[1] = 0x37;
    c.send(&unsubscribe).await;
    assert_eq!(c.recv().await, hex("B0 02 00 0A"));
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn cloud_publish_arrives_as_qos_0_with_the_exact_payload() {
    let (broker, _events) = start().await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    c.send(&hex(SUBSCRIBE_002)).await;
    assert_eq!(c.recv().await, hex("90 03 00 0A 01"));

    let set = hex(PROPERTY_SET_002);
    let payload = &set[3 + 2 + SET_TOPIC_002.len()..];
    broker
        .publish(SET_TOPIC_002, payload, QoS::AtMostOnce)
        .unwrap();
    // rumqttd forwarded it at QoS 1; the device sees the cloud's QoS 0, byte for byte.
    assert_eq!(c.recv().await, set);

    // A QoS 1 downlink keeps its QoS; the device's PUBACK goes back through.
    broker
        .publish(SET_TOPIC_002, b"{}", QoS::AtLeastOnce)
        .unwrap();
    let got = c.recv().await;
    assert_eq!(got[0], 0x32, "{got:02X?}");
    let id = [got[got.len() - 4], got[got.len() - 3]];
    c.send(&[0x40, 0x02, id[0], id[1]]).await;
    // Still connected and answering afterwards.
    c.send(&hex("C0 00")).await;
    assert_eq!(c.recv().await, hex("D0 00"));
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn uplink_publish_is_observed_by_the_cloud_and_wait_seen_returns_it() {
    let (broker, _events) = start().await;
    broker.mark();
    let mut c = RawClient::connect_002(broker.addr()).await;
    c.send(&hex(PROPERTY_POST_002)).await;
    let started = Instant::now();
    let seen = broker
        .wait_seen(
            |p| {
                p.direction == SeenDirection::AtCloud
                    && matches!(&p.packet, Packet::Publish(p) if p.topic == POST_TOPIC_002)
            },
            Instant::now() + DEADLINE,
        )
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "wait_seen was slow: {:?}",
        started.elapsed()
    );
    assert_eq!(seen.client_id.as_deref(), Some(CLIENT_ID_002));
    let Packet::Publish(p) = &seen.packet else {
        unreachable!()
    };
    assert_eq!(p.qos, QoS::AtMostOnce);
    assert!(p
        .payload
        .starts_with(br#"{"method":"thing.event.property.post""#));
    // The device side saw it too, before the cloud did.
    let from_device = broker
        .wait_seen(
            |p| p.direction == SeenDirection::FromDevice && matches!(p.packet, Packet::Publish(_)),
            Instant::now(),
        )
        .await
        .unwrap();
    assert!(from_device.seq < seen.seq);
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn wait_seen_for_something_that_never_happens_times_out_in_time() {
    let (broker, _events) = start().await;
    RawClient::connect_002(broker.addr()).await;
    let started = Instant::now();
    let err = broker
        .wait_seen(
            |p| p.client_id.as_deref() == Some("nobody"),
            Instant::now() + Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    let text = err.to_string();
    assert!(text.starts_with("see the expected packet within"), "{text}");
    assert!(text.contains("2 packets seen since the mark"), "{text}"); // CONNECT and CONNACK
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn mark_separates_scenarios() {
    let (broker, _events) = start().await;
    let mut c = RawClient::connect(broker.addr()).await;
    c.send(&connect_002_wrong_sign()).await;
    c.recv().await;
    assert_eq!(broker.refusals().len(), 1);
    broker.mark();
    assert!(broker.refusals().is_empty() && broker.seen().is_empty());
    let err = broker
        .wait_seen(
            |p| matches!(p.packet, Packet::Connect(_)),
            Instant::now() + Duration::from_millis(50),
        )
        .await;
    assert!(err.is_err(), "the earlier CONNECT leaked past the mark");
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn every_byte_and_packet_both_ways_reaches_the_event_stream() {
    let (broker, mut events) = start().await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    c.send(&hex(SUBSCRIBE_002)).await;
    c.recv().await;
    c.send(&hex("E0 00")).await;
    c.expect_closed(Duration::from_secs(2)).await;
    broker.shutdown(DEADLINE).await.unwrap();

    let (mut up, mut down, mut packets, mut opened, mut closed) = (vec![], vec![], vec![], 0, 0);
    for e in drain(&mut events) {
        match e.event {
            RunEvent::TcpOpened { .. } => opened += 1,
            RunEvent::TcpClosed { by_broker, .. } => {
                closed += 1;
                assert!(
                    by_broker,
                    "after DISCONNECT the broker closes (MQTT 3.1.1 §3.14.4)"
                );
            }
            RunEvent::TcpData {
                direction: TcpDirection::Uplink,
                bytes,
                ..
            } => up.extend(bytes),
            RunEvent::TcpData {
                direction: TcpDirection::Downlink,
                bytes,
                ..
            } => down.extend(bytes),
            RunEvent::MqttPacket {
                direction, packet, ..
            } => packets.push((direction, packet.packet_type().name())),
            RunEvent::BrokerNote { .. } => {}
            other => panic!("the broker emitted a non-broker event: {other:?}"),
        }
    }
    assert_eq!((opened, closed), (1, 1));
    let mut want_up = hex(CONNECT_002);
    want_up.extend(hex(SUBSCRIBE_002));
    want_up.extend(hex("E0 00"));
    assert_eq!(up, want_up);
    assert_eq!(down, hex("20 02 00 00 90 03 00 0A 01"));
    use TcpDirection::{Downlink as D, Uplink as U};
    assert_eq!(
        packets,
        vec![
            (U, "CONNECT"),
            (D, "CONNACK"),
            (U, "SUBSCRIBE"),
            (D, "SUBACK"),
            (U, "DISCONNECT")
        ]
    );
}

#[tokio::test]
async fn half_a_packet_then_silence_hangs_nothing() {
    let mut config = config();
    config.profile.login.connect_timeout = Span(Duration::from_millis(400));
    let (broker, _events) = start_with(config).await;
    let mut stalled = RawClient::connect(broker.addr()).await;
    stalled.send(&hex(CONNECT_002)[..10]).await;
    // Others are served meanwhile.
    let mut other = RawClient::connect_002(broker.addr()).await;
    other.send(&hex("C0 00")).await;
    assert_eq!(other.recv().await, hex("D0 00"));
    // The silent link is closed once the CONNECT deadline passes, with a note saying why.
    stalled.expect_closed(Duration::from_secs(2)).await;
    // A connected client that stalls mid-packet is still closed promptly at shutdown.
    other.send(&hex(PROPERTY_POST_002)[..20]).await;
    let started = Instant::now();
    broker.shutdown(Duration::from_secs(3)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    other.expect_closed(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn two_gateways_in_one_process_on_different_loopback_addresses() {
    let (a, _ea) = start().await;
    let (b, _eb) = start().await;
    assert_ne!(a.addr(), b.addr());
    assert_eq!((a.addr().port(), b.addr().port()), (1883, 1883));
    let mut ca = RawClient::connect_002(a.addr()).await;
    let mut cb = RawClient::connect_002(b.addr()).await;
    for c in [&mut ca, &mut cb] {
        c.send(&hex(SUBSCRIBE_002)).await;
        assert_eq!(c.recv().await, hex("90 03 00 0A 01"));
    }
    // A downlink from one cloud reaches only that broker's device.
    a.publish(SET_TOPIC_002, b"only-a", QoS::AtMostOnce)
        .unwrap();
    let got = ca.recv().await;
    assert!(got.ends_with(b"only-a"));
    cb.send(&hex("C0 00")).await;
    assert_eq!(cb.recv().await, hex("D0 00"), "b's device got a's downlink");
    a.shutdown(DEADLINE).await.unwrap();
    b.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn a_second_login_of_the_same_device_takes_over() {
    let (broker, _events) = start().await;
    let mut first = RawClient::connect_002(broker.addr()).await;
    let mut second = RawClient::connect_002(broker.addr()).await;
    first.expect_closed(Duration::from_secs(3)).await;
    second.send(&hex("C0 00")).await;
    assert_eq!(second.recv().await, hex("D0 00"));
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn cloud_publish_with_qos_2_or_a_wildcard_is_an_error() {
    let (broker, _events) = start().await;
    assert!(broker
        .publish(SET_TOPIC_002, b"x", QoS::ExactlyOnce)
        .is_err());
    assert!(broker.publish("/a/+/b", b"x", QoS::AtMostOnce).is_err());
    broker.shutdown(DEADLINE).await.unwrap();
}
