//! CONNECTs of other MQTT versions over real TCP: MQTT 5 gets CONNACK 1 and the close (MQTT
//! 3.1.1 §3.1.2.2), recorded as a refusal; MQTT 3.1 (`MQIsdp`, level 3), which Alibaba Cloud
//! accepts (aliyun-onenet.md §2.5), logs in like 3.1.1.

mod broker_support;

use std::time::Duration;

use athil::broker::RefusalKind;
use athil::mqtt::{encode, Connect, Packet};
use broker_support::*;

/// Seed 002's login with another protocol name and level.
fn connect_002_as(name: &str, level: u8) -> Vec<u8> {
    let mut c = Connect::new(CLIENT_ID_002, 100);
    c.clean_session = true;
    c.username = Some(USERNAME_002.into());
    c.password = Some(SIGN_002.as_bytes().to_vec());
    c.protocol_name = name.into();
    c.protocol_level = level;
    encode(&Packet::from(c)).expect("the test's CONNECT encodes")
}

#[tokio::test]
async fn mqtt_5_gets_connack_1_then_the_close() {
    let (broker, _events) = start().await;
    // A real MQTT 5 CONNECT: its property length (00) after the keepalive is not 3.1.1.
    for connect in [
        hex("10 0E 00 04 4D 51 54 54 05 02 00 3C 00 00 01 61"),
        connect_002_as("MQTT", 5),
    ] {
        let mut c = RawClient::connect(broker.addr()).await;
        c.send(&connect).await;
        assert_eq!(c.recv().await, hex("20 02 00 01"));
        c.expect_closed(Duration::from_secs(2)).await;
    }
    let refusals = broker.refusals();
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    for r in &refusals {
        assert_eq!(
            (r.code, r.reason.kind),
            (1, RefusalKind::UnsupportedProtocol)
        );
        assert!(r.reason.detail.contains("level 5"), "{r}");
    }
    assert_eq!(refusals[1].client_id, CLIENT_ID_002);
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn other_levels_get_connack_1_too() {
    let (broker, _events) = start().await;
    for (name, level) in [("MQTT", 3), ("MQTT", 6), ("MQIsdp", 4)] {
        let mut c = RawClient::connect(broker.addr()).await;
        c.send(&connect_002_as(name, level)).await;
        assert_eq!(c.recv().await, hex("20 02 00 01"), "{name} {level}");
        c.expect_closed(Duration::from_secs(2)).await;
    }
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn mqtt_3_1_is_accepted_as_alibaba_cloud_does() {
    let (broker, _events) = start().await;
    let mut c = RawClient::connect(broker.addr()).await;
    c.send(&connect_002_as("MQIsdp", 3)).await;
    assert_eq!(c.recv().await, hex("20 02 00 00"));
    // The link then works as any 3.1.1 one.
    c.send(&hex(SUBSCRIBE_002)).await;
    assert_eq!(c.recv().await, hex("90 03 00 0A 01"));
    c.send(&hex("C0 00")).await;
    assert_eq!(c.recv().await, hex("D0 00"));
    assert!(broker.refusals().is_empty(), "{:?}", broker.refusals());
    broker.shutdown(DEADLINE).await.unwrap();
}
