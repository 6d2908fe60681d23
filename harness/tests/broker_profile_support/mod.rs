//! Shared by the cloud-profile tests: a broker over `tests/data/broker/devices` (device2, the
//! Python SDK's probe-dev-01, a disabled LY-1) with a profile override, packets built from
//! fields, and a wait for the broker's notes. The raw client is broker_support's.

#![allow(dead_code)] // each test file uses a different part of this module

use std::path::PathBuf;
use std::time::Duration;

use athil::broker::{BrokerConfig, BrokerHandle, CloudProfile, ProfileOverride};
use athil::mqtt::{encode, Connect, Packet, Publish, QoS, Subscribe, SubscribeFilter};
use athil::run::{RunEvent, Stamped};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use crate::broker_support::{start_with, RawClient};

/// The Python SDK's CONNECT fields (aliyun-onenet.md §1.7, verified sign).
pub const SDK_CLIENT_ID: &str = "a1TestPK001&probe-dev-01|securemode=3,signmethod=hmacsha1,ext=1,\
    _ss=1,lan=Python,_v=1.2.13,timestamp=1795293157|";
pub const SDK_USERNAME: &str = "probe-dev-01&a1TestPK001";
pub const SDK_SIGN: &str = "d7deb05048291a11c756e700c96174f05c0b3aa9";
pub const SDK_SET_TOPIC: &str = "/sys/a1TestPK001/probe-dev-01/thing/service/property/set";
pub const SDK_POST_TOPIC: &str = "/sys/a1TestPK001/probe-dev-01/thing/event/property/post";

pub fn devices_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/broker/devices")
}

pub fn parse_override(yaml: &str) -> ProfileOverride {
    serde_yaml::from_str(yaml).expect("test override parses")
}

/// A broker config over the test devices with the default profile changed by `yaml`.
pub fn config_with(yaml: &str) -> BrokerConfig {
    let mut config = BrokerConfig::from_devices_dir(&devices_dir()).expect("test devices load");
    config.profile = CloudProfile::default().with(&parse_override(yaml));
    assert!(
        config.profile.problems().is_empty(),
        "{:?}",
        config.profile.problems()
    );
    config
}

pub async fn start_profile(yaml: &str) -> (BrokerHandle, UnboundedReceiver<Stamped>) {
    start_with(config_with(yaml)).await
}

pub fn connect(client_id: &str, username: &str, password: &str, keepalive: u16) -> Vec<u8> {
    let mut c = Connect::new(client_id, keepalive);
    c.username = Some(username.to_owned());
    c.password = Some(password.as_bytes().to_vec());
    encode(&Packet::from(c)).expect("CONNECT encodes")
}

pub fn sdk_connect(keepalive: u16) -> Vec<u8> {
    connect(SDK_CLIENT_ID, SDK_USERNAME, SDK_SIGN, keepalive)
}

/// The SDK device, connected (`20 02 00 00` checked).
pub async fn sdk_client(broker: &BrokerHandle) -> RawClient {
    let mut c = RawClient::connect(broker.addr()).await;
    c.send(&sdk_connect(60)).await;
    assert_eq!(c.recv().await, [0x20, 0x02, 0x00, 0x00]);
    c
}

pub fn publish(topic: &str, payload: &[u8], qos: QoS, packet_id: Option<u16>) -> Vec<u8> {
    encode(&Packet::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic: topic.to_owned(),
        packet_id,
        payload: payload.to_vec(),
    }))
    .expect("PUBLISH encodes")
}

pub fn subscribe(packet_id: u16, filters: &[&str]) -> Vec<u8> {
    encode(&Packet::Subscribe(Subscribe {
        packet_id,
        filters: filters
            .iter()
            .map(|f| SubscribeFilter {
                filter: (*f).to_owned(),
                qos: QoS::AtMostOnce,
            })
            .collect(),
    }))
    .expect("SUBSCRIBE encodes")
}

/// Asserts the link is up and nothing is queued for the device: a PINGREQ's answer is the
/// very next packet.
pub async fn expect_nothing_pending(c: &mut RawClient) {
    c.send(&[0xC0, 0x00]).await;
    assert_eq!(
        c.recv().await,
        [0xD0, 0x00],
        "something arrived before the PINGRESP"
    );
}

/// The broker's notes until one contains `needle`, or a panic listing them after `within`.
pub async fn wait_note(
    rx: &mut UnboundedReceiver<Stamped>,
    needle: &str,
    within: Duration,
) -> String {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(Stamped {
                event: RunEvent::BrokerNote { text, .. },
                ..
            })) => {
                if text.contains(needle) {
                    return text;
                }
                seen.push(text);
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                panic!("no note containing {needle:?} within {within:?}; notes: {seen:#?}")
            }
        }
    }
}
