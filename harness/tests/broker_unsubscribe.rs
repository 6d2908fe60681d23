//! UNSUBSCRIBE over real TCP through the gateway to a real rumqttd: whatever it holds, the
//! device gets exactly one UNSUBACK (MQTT 3.1.1 §3.10.4). rumqttd 0.20 alone answers a
//! two-filter UNSUBSCRIBE twice and a never-subscribed filter not at all.

mod broker_profile_support;
mod broker_support;

use std::time::Duration;

use athil::mqtt::{encode, Packet, QoS, Unsubscribe};
use broker_profile_support::{expect_nothing_pending, publish, subscribe};
use broker_support::*;

const REPLY_TOPIC_002: &str = "/sys/a1ndPQHcX7f/device2/thing/event/property/post_reply";

fn unsubscribe(packet_id: u16, filters: &[&str]) -> Vec<u8> {
    encode(&Packet::Unsubscribe(Unsubscribe {
        packet_id,
        filters: filters.iter().map(|f| f.to_string()).collect(),
    }))
    .expect("the test's UNSUBSCRIBE encodes")
}

#[tokio::test]
async fn two_filters_in_one_unsubscribe_get_one_unsuback() {
    let (broker, _events) = start().await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    c.send(&subscribe(11, &[SET_TOPIC_002, REPLY_TOPIC_002]))
        .await;
    assert_eq!(c.recv().await, hex("90 04 00 0B 01 01"));
    c.send(&unsubscribe(12, &[SET_TOPIC_002, REPLY_TOPIC_002]))
        .await;
    assert_eq!(c.recv().await, hex("B0 02 00 0C"));
    // The PINGREQ follows the UNSUBSCRIBE through rumqttd: a second UNSUBACK would come first.
    expect_nothing_pending(&mut c).await;
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn a_never_subscribed_filter_still_gets_its_unsuback() {
    let (broker, _events) = start().await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    c.send(&unsubscribe(13, &[SET_TOPIC_002])).await;
    assert_eq!(c.recv().await, hex("B0 02 00 0D"));
    // One subscribed and one not, in one packet: still one.
    c.send(&subscribe(14, &[SET_TOPIC_002])).await;
    assert_eq!(c.recv().await, hex("90 03 00 0E 01"));
    c.send(&unsubscribe(15, &[REPLY_TOPIC_002, SET_TOPIC_002]))
        .await;
    assert_eq!(c.recv().await, hex("B0 02 00 0F"));
    expect_nothing_pending(&mut c).await;
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn after_unsubscribing_a_cloud_publish_is_not_delivered() {
    let (broker, _events) = start().await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    c.send(&subscribe(11, &[SET_TOPIC_002, REPLY_TOPIC_002]))
        .await;
    assert_eq!(c.recv().await, hex("90 04 00 0B 01 01"));
    // Seed 002's UNSUBSCRIBE `A2 37 00 0A …` still gets exactly `B0 02 00 0A`.
    let mut seed = hex(SUBSCRIBE_002);
    seed.pop();
    seed[..2].copy_from_slice(&[0xA2, 0x37]);
    c.send(&seed).await;
    assert_eq!(c.recv().await, hex("B0 02 00 0A"));
    broker
        .publish(SET_TOPIC_002, b"{\"gone\":1}", QoS::AtMostOnce)
        .unwrap();
    broker
        .publish(REPLY_TOPIC_002, b"{\"kept\":1}", QoS::AtMostOnce)
        .unwrap();
    assert_eq!(
        c.recv().await,
        publish(REPLY_TOPIC_002, b"{\"kept\":1}", QoS::AtMostOnce, None)
    );
    // Time for a stray copy on the unsubscribed topic to arrive, were it coming.
    tokio::time::sleep(Duration::from_millis(200)).await;
    expect_nothing_pending(&mut c).await;
    broker.shutdown(DEADLINE).await.unwrap();
}
