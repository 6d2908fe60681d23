//! The cloud's Alink replies over real TCP, a real gateway and a real rumqttd: a property or
//! event post is answered on `…/post_reply` with the real cloud's JSON, byte for byte; a
//! malformed post gets the cloud's error code; the reply reaches only a device that
//! subscribed to it or receives pushed downlinks; `thing.replies: false` stops it.

mod broker_profile_support;
mod broker_support;

use athil::mqtt::QoS;
use broker_profile_support::*;
use broker_support::*;

const REPLY_TOPIC_002: &str = "/sys/a1ndPQHcX7f/device2/thing/event/property/post_reply";

/// The next two packets, sorted so the PUBACK comes first (rumqttd's PUBACK and the cloud's
/// reply travel different paths and may arrive in either order).
async fn puback_and_reply(c: &mut RawClient) -> (Vec<u8>, Vec<u8>) {
    let a = c.recv().await;
    let b = c.recv().await;
    if a[0] == 0x40 {
        (a, b)
    } else {
        (b, a)
    }
}

#[tokio::test]
async fn an_sdk_property_post_is_answered_with_the_clouds_exact_reply() {
    let (broker, mut events) = start_profile("{}").await;
    let mut c = sdk_client(&broker).await;
    // linkkit's post: QoS 1, id "1" (aliyun-onenet.md §1.7).
    let post = br#"{"id": "1", "version": "1.0", "params": {"Temp": 21}, "method": "thing.event.property.post"}"#;
    c.send(&publish(SDK_POST_TOPIC, post, QoS::AtLeastOnce, Some(1)))
        .await;
    let (puback, reply) = puback_and_reply(&mut c).await;
    assert_eq!(puback, hex("40 02 00 01"));
    let want = br#"{"code":200,"data":{},"id":"1","message":"success","method":"thing.event.property.post","version":"1.0"}"#;
    assert_eq!(
        reply,
        publish(
            &format!("{SDK_POST_TOPIC}_reply"),
            want,
            QoS::AtMostOnce,
            None
        )
    );
    wait_note(&mut events, "with code 200", DEADLINE).await;
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn seed_002s_post_is_answered_once_the_device_subscribes_to_the_reply() {
    let (broker, mut events) = start_profile("{}").await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    // Without a subscription (and without `_ss=1`) the reply is published but not delivered.
    // The note says so rather than claiming an answer the device never sees.
    c.send(&hex(PROPERTY_POST_002)).await;
    let note = wait_note(&mut events, "with code 200", DEADLINE).await;
    assert!(
        note.ends_with(
            "; not delivered: the device has not subscribed to it (topics.implicit = sdk)"
        ),
        "{note}"
    );
    expect_nothing_pending(&mut c).await;
    c.send(&subscribe(12, &[REPLY_TOPIC_002])).await;
    assert_eq!(c.recv().await, hex("90 03 00 0C 01"));
    c.send(&hex(PROPERTY_POST_002)).await;
    let note = wait_note(&mut events, "with code 200", DEADLINE).await;
    assert!(!note.contains("not delivered"), "{note}");
    let want = br#"{"code":200,"data":{},"id":"803381017","message":"success","method":"thing.event.property.post","version":"1.0"}"#;
    assert_eq!(
        c.recv().await,
        publish(REPLY_TOPIC_002, want, QoS::AtMostOnce, None)
    );
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn seed_002s_chinese_quotes_get_error_6207() {
    let (broker, _events) = start_profile("{}").await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    c.send(&subscribe(12, &[REPLY_TOPIC_002])).await;
    assert_eq!(c.recv().await, hex("90 03 00 0C 01"));
    // The seed's second post, typed with “ ” around CurrentTemperature: not JSON.
    let post = "{\"method\":\"thing.event.property.post\",\"id\":\"803381017\",\"params\":\
                {\"PowerSwitch\":1,\u{201C}CurrentTemperature\u{201D}:25.63},\"version\":\"1.0.0\"}";
    c.send(&publish(
        "/sys/a1ndPQHcX7f/device2/thing/event/property/post",
        post.as_bytes(),
        QoS::AtMostOnce,
        None,
    ))
    .await;
    let want = br#"{"code":6207,"data":{},"id":"803381017","message":"the payload is not JSON","method":"thing.event.property.post","version":"1.0"}"#;
    assert_eq!(
        c.recv().await,
        publish(REPLY_TOPIC_002, want, QoS::AtMostOnce, None)
    );
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn an_event_post_is_answered_with_its_method() {
    let (broker, _events) = start_profile("{}").await;
    let mut c = sdk_client(&broker).await;
    let topic = "/sys/a1TestPK001/probe-dev-01/thing/event/Alarm/post";
    let post = br#"{"id":"42","version":"1.0","params":{"value":{"Level":2}},"method":"thing.event.Alarm.post"}"#;
    c.send(&publish(topic, post, QoS::AtMostOnce, None)).await;
    let want = br#"{"code":200,"data":{},"id":"42","message":"success","method":"thing.event.Alarm.post","version":"1.0"}"#;
    assert_eq!(
        c.recv().await,
        publish(&format!("{topic}_reply"), want, QoS::AtMostOnce, None)
    );
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn replies_switched_off_send_nothing() {
    let (broker, _events) = start_profile("thing: { replies: false }").await;
    let mut c = sdk_client(&broker).await;
    c.send(&publish(
        SDK_POST_TOPIC,
        br#"{"id":"1","version":"1.0","params":{},"method":"thing.event.property.post"}"#,
        QoS::AtMostOnce,
        None,
    ))
    .await;
    // The post reaches the cloud, and nothing comes back before the PINGRESP.
    broker
        .wait_seen(
            |p| p.direction == athil::broker::SeenDirection::AtCloud,
            std::time::Instant::now() + DEADLINE,
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    expect_nothing_pending(&mut c).await;
    broker.shutdown(DEADLINE).await.unwrap();
}
