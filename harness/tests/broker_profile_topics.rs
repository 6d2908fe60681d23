//! The cloud profile's topic rules over real TCP, a real gateway and a real rumqttd: another
//! device's topics refused (SUBACK 80) or dropped (and recorded), QoS 2, retain and will as
//! the cloud plays them, the size and count limits, and the /sys downlinks an SDK device
//! receives without SUBSCRIBE.

mod broker_profile_support;
mod broker_support;

use std::time::{Duration, Instant};

use athil::broker::{BrokerHandle, SeenDirection};
use athil::mqtt::{encode, Connect, Packet, PacketType, QoS, Will};
use broker_profile_support::*;
use broker_support::*;

/// Seed 002's SUBSCRIBE with device2 turned into device3 and packet id 0B.
const FOREIGN_SUBSCRIBE: &str = "82 38 00 0B 00 33 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 \
    66 2F 64 65 76 69 63 65 33 2F 74 68 69 6E 67 2F 73 65 72 76 69 63 65 2F 70 72 6F 70 65 72 74 \
    79 2F 73 65 74 00";
/// `{}` at QoS 1, packet id 7, to device3's property post.
const FOREIGN_POST_QOS1: &str = "32 38 00 32 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 66 2F \
    64 65 76 69 63 65 33 2F 74 68 69 6E 67 2F 65 76 65 6E 74 2F 70 72 6F 70 65 72 74 79 2F 70 6F \
    73 74 00 07 7B 7D";
const USER_TOPIC: &str = "/a1ndPQHcX7f/device2/user/temp";

/// Whether the cloud received a PUBLISH to `topic` since the mark.
fn cloud_saw(broker: &BrokerHandle, topic: &str) -> bool {
    broker.seen().iter().any(|p| {
        p.direction == SeenDirection::AtCloud
            && matches!(&p.packet, Packet::Publish(publish) if publish.topic == topic)
    })
}

/// Publishes a marker at QoS 0 and waits until the cloud has it: everything the device sent
/// before it has been through the broker by then.
async fn sync_through_the_cloud(broker: &BrokerHandle, c: &mut RawClient) {
    c.send(&publish(USER_TOPIC, b"marker", QoS::AtMostOnce, None))
        .await;
    broker
        .wait_seen(
            |p| {
                p.direction == SeenDirection::AtCloud
                    && matches!(&p.packet, Packet::Publish(x) if x.payload == b"marker")
            },
            Instant::now() + DEADLINE,
        )
        .await
        .expect("the marker reaches the cloud");
}

#[tokio::test]
async fn subscribing_to_another_devices_topic_gets_80_and_the_link_stays_up() {
    let (broker, _events) = start_profile("{}").await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    c.send(&hex(FOREIGN_SUBSCRIBE)).await;
    assert_eq!(c.recv().await, hex("90 03 00 0B 80"));
    c.send(&hex("C0 00")).await;
    assert_eq!(c.recv().await, hex("D0 00"));
    let drops = broker.drops();
    assert_eq!(drops.len(), 1, "{drops:?}");
    assert_eq!(drops[0].packet, PacketType::Subscribe);
    assert_eq!(drops[0].client_id.as_deref(), Some(CLIENT_ID_002));
    assert!(drops[0].reason.contains("device3"), "{}", drops[0].reason);
    // Its own topic is still granted 01.
    c.send(&hex(SUBSCRIBE_002)).await;
    assert_eq!(c.recv().await, hex("90 03 00 0A 01"));
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn a_publish_to_another_devices_topic_is_acknowledged_dropped_and_never_reaches_the_cloud() {
    let (broker, mut events) = start_profile("{}").await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    c.send(&hex(FOREIGN_POST_QOS1)).await;
    assert_eq!(c.recv().await, hex("40 02 00 07"));
    sync_through_the_cloud(&broker, &mut c).await;
    assert!(!cloud_saw(
        &broker,
        "/sys/a1ndPQHcX7f/device3/thing/event/property/post"
    ));
    let drops = broker.drops();
    assert_eq!(drops.len(), 1, "{drops:?}");
    assert_eq!(drops[0].packet, PacketType::Publish);
    assert!(drops[0].reason.contains("9236"), "{}", drops[0].reason);
    wait_note(&mut events, "dropped the PUBLISH", DEADLINE).await;
    // A subscribe-only class is refused for publishing too.
    c.send(&publish(
        "/ota/device/upgrade/a1ndPQHcX7f/device2",
        b"x",
        QoS::AtMostOnce,
        None,
    ))
    .await;
    expect_nothing_pending(&mut c).await;
    assert!(broker.drops()[1].reason.contains("subscribe-only"));
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn with_unpermitted_publish_disconnect_the_link_is_closed() {
    let (broker, _events) = start_profile("topics: { unpermitted_publish: disconnect }").await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    c.send(&hex(FOREIGN_POST_QOS1)).await;
    c.expect_closed(Duration::from_secs(2)).await;
    assert_eq!(broker.drops().len(), 1);
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn a_qos_2_publish_closes_the_link_and_is_recorded() {
    let (broker, _events) = start_profile("{}").await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    c.send(&publish(USER_TOPIC, b"x", QoS::ExactlyOnce, Some(3)))
        .await;
    c.expect_closed(Duration::from_secs(2)).await;
    let drops = broker.drops();
    assert!(drops[0].reason.contains("QoS 2"), "{drops:?}");
    broker.shutdown(DEADLINE).await.unwrap();
}

/// Device2 publishes a retained message to its user topic, then subscribes to it.
async fn retained_comes_back(profile: &str) -> bool {
    let (broker, _events) = start_profile(profile).await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    let mut retained = publish(USER_TOPIC, b"kept?", QoS::AtMostOnce, None);
    retained[0] |= 0x01;
    c.send(&retained).await;
    sync_through_the_cloud(&broker, &mut c).await;
    let at_cloud = broker.seen().into_iter().find(|p| {
        p.direction == SeenDirection::AtCloud
            && matches!(&p.packet, Packet::Publish(x) if x.payload == b"kept?")
    });
    assert!(
        at_cloud.is_some(),
        "the retained PUBLISH did not reach the cloud"
    );
    c.send(&subscribe(4, &[USER_TOPIC])).await;
    assert_eq!(c.recv().await, hex("90 03 00 04 01"));
    c.send(&hex("C0 00")).await;
    let next = c.recv().await;
    broker.shutdown(DEADLINE).await.unwrap();
    next != hex("D0 00")
}

#[tokio::test]
async fn a_retained_publish_is_delivered_but_not_kept() {
    assert!(!retained_comes_back("{}").await);
    assert!(retained_comes_back("protocol: { retain: keep }").await);
}

/// Device2 connects with a will, then its socket dies; whether the cloud gets the will.
async fn will_is_published(profile: &str) -> bool {
    let (broker, mut events) = start_profile(profile).await;
    let mut connect = Connect::new(CLIENT_ID_002, 100);
    connect.username = Some(USERNAME_002.into());
    connect.password = Some(SIGN_002.as_bytes().to_vec());
    connect.will = Some(Will {
        topic: "/a1ndPQHcX7f/device2/user/will".into(),
        message: b"gone".to_vec(),
        qos: QoS::AtMostOnce,
        retain: false,
    });
    let mut c = RawClient::connect(broker.addr()).await;
    c.send(&encode(&Packet::from(connect)).unwrap()).await;
    assert_eq!(c.recv().await, hex("20 02 00 00"));
    if profile == "{}" {
        wait_note(&mut events, "it will never be published", DEADLINE).await;
    }
    drop(c);
    let seen = broker
        .wait_seen(
            |p| {
                p.direction == SeenDirection::AtCloud
                    && matches!(&p.packet, Packet::Publish(x) if x.payload == b"gone")
            },
            Instant::now() + Duration::from_millis(800),
        )
        .await
        .is_ok();
    broker.shutdown(DEADLINE).await.unwrap();
    seen
}

#[tokio::test]
async fn a_will_is_ignored_unless_the_profile_keeps_it() {
    assert!(!will_is_published("{}").await);
    assert!(will_is_published("protocol: { will: keep }").await);
}

#[tokio::test]
async fn topic_and_subscribe_limits_are_enforced_and_recorded() {
    let (broker, _events) = start_profile("limits: { max_subscriptions: 2 }").await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    // A topic of 129 bytes is dropped.
    let long = format!("/a1ndPQHcX7f/device2/user/{}", "x".repeat(103));
    assert_eq!(long.len(), 129);
    c.send(&publish(&long, b"x", QoS::AtMostOnce, None)).await;
    // Nine filters in one SUBSCRIBE: all refused.
    let nine: Vec<String> = (0..9).map(|i| format!("{USER_TOPIC}{i}")).collect();
    let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
    c.send(&subscribe(1, &nine)).await;
    assert_eq!(
        c.recv().await,
        hex("90 0B 00 01 80 80 80 80 80 80 80 80 80")
    );
    // The third subscription of the connection is one too many here.
    c.send(&subscribe(
        2,
        &[
            &format!("{USER_TOPIC}a"),
            &format!("{USER_TOPIC}b"),
            &format!("{USER_TOPIC}c"),
        ],
    ))
    .await;
    assert_eq!(c.recv().await, hex("90 05 00 02 01 01 80"));
    sync_through_the_cloud(&broker, &mut c).await;
    assert!(!cloud_saw(&broker, &long));
    let reasons: Vec<String> = broker.drops().into_iter().map(|d| d.reason).collect();
    assert_eq!(reasons.len(), 3, "{reasons:#?}");
    assert!(reasons[0].contains("129 bytes"), "{reasons:#?}");
    assert!(reasons[1].contains("9 filters"), "{reasons:#?}");
    assert!(reasons[2].contains("allows 2"), "{reasons:#?}");
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn an_oversized_payload_closes_the_link_or_is_dropped_per_the_profile() {
    let (broker, _events) = start_profile("limits: { max_payload: 16 }").await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    c.send(&publish(USER_TOPIC, &[b'x'; 17], QoS::AtMostOnce, None))
        .await;
    c.expect_closed(Duration::from_secs(2)).await;
    assert!(broker.drops()[0].reason.contains("17 bytes"));
    broker.set_override(Some(parse_override(
        "limits: { max_payload: 16, oversize_payload: drop }",
    )));
    let mut c = RawClient::connect_002(broker.addr()).await;
    c.send(&publish(USER_TOPIC, &[b'x'; 17], QoS::AtMostOnce, None))
        .await;
    expect_nothing_pending(&mut c).await;
    assert_eq!(broker.drops().len(), 2);
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn an_sdk_device_receives_its_sys_downlinks_without_subscribe() {
    let (broker, mut events) = start_profile("{}").await;
    let mut sdk = sdk_client(&broker).await;
    wait_note(&mut events, "without SUBSCRIBE", DEADLINE).await;
    // device2's hand-built client id has no `_ss=1`: it gets only what it subscribes to.
    let mut seed = RawClient::connect_002(broker.addr()).await;
    let set = br#"{"method":"thing.service.property.set","id":"1","params":{"PowerSwitch":1},"version":"1.0.0"}"#;
    broker.publish(SDK_SET_TOPIC, set, QoS::AtMostOnce).unwrap();
    broker.publish(SET_TOPIC_002, set, QoS::AtMostOnce).unwrap();
    assert_eq!(
        sdk.recv().await,
        publish(SDK_SET_TOPIC, set, QoS::AtMostOnce, None)
    );
    expect_nothing_pending(&mut seed).await;
    // The implicit SUBACK never reached the SDK device, and it is not sent its own uplinks.
    let tags = "/sys/a1TestPK001/probe-dev-01/thing/deviceinfo/update";
    sdk.send(&publish(tags, b"[]", QoS::AtMostOnce, None)).await;
    expect_nothing_pending(&mut sdk).await;
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn with_implicit_always_every_device_receives_its_sys_downlinks() {
    let (broker, _events) = start_profile("topics: { implicit: always }").await;
    let mut seed = RawClient::connect_002(broker.addr()).await;
    // Give the implicit SUBSCRIBE time to reach rumqttd before the cloud publishes.
    expect_nothing_pending(&mut seed).await;
    broker
        .publish(SET_TOPIC_002, b"{}", QoS::AtMostOnce)
        .unwrap();
    assert_eq!(
        seed.recv().await,
        publish(SET_TOPIC_002, b"{}", QoS::AtMostOnce, None)
    );
    // Seed 002's own SUBSCRIBE still gets its 90 03 00 0A 01, and no second copy follows.
    seed.send(&hex(SUBSCRIBE_002)).await;
    assert_eq!(seed.recv().await, hex("90 03 00 0A 01"));
    broker
        .publish(SET_TOPIC_002, b"{1}", QoS::AtMostOnce)
        .unwrap();
    assert_eq!(
        seed.recv().await,
        publish(SET_TOPIC_002, b"{1}", QoS::AtMostOnce, None)
    );
    expect_nothing_pending(&mut seed).await;
    broker.shutdown(DEADLINE).await.unwrap();
}
