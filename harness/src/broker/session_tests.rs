//! The session fed seed 002's literal bytes, one direction at a time.

use super::*;
use crate::broker::envelope::{self, Origin, Sealed};
use crate::broker::profile::ProfileOverride;
use crate::cloud::{Device, DeviceRegistry, DeviceSecret};
use crate::mqtt::{parse_hex, Connect, SubscribeFilter};
use bytes::Bytes;

/// Seed 002's accepted CONNECT (device2, sign 5caeef5b…).
const CONNECT: &str = "10 74 00 04 4D 51 54 54 04 C2 00 64 00 29 64 65 76 69 63 65 32 7C 73 65 63 \
    75 72 65 6D 6F 64 65 3D 33 2C 73 69 67 6E 6D 65 74 68 6F 64 3D 68 6D 61 63 73 68 61 31 7C 00 13 \
    64 65 76 69 63 65 32 26 61 31 6E 64 50 51 48 63 58 37 66 00 28 35 63 61 65 65 66 35 62 39 32 35 \
    31 39 34 30 36 39 36 62 30 32 64 63 38 30 62 36 31 35 63 33 66 37 33 39 66 34 36 62 63";
/// Seed 002's SUBSCRIBE to property/set, asking QoS 0.
const SUBSCRIBE: &str = "82 38 00 0A 00 33 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 66 2F 64 \
    65 76 69 63 65 32 2F 74 68 69 6E 67 2F 73 65 72 76 69 63 65 2F 70 72 6F 70 65 72 74 79 2F 73 65 \
    74 00";
/// Seed 002's property set as the device received it: QoS 0, 154-byte remaining length.
const PROPERTY_SET: &str = "30 9A 01 00 33 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 66 2F 64 \
    65 76 69 63 65 32 2F 74 68 69 6E 67 2F 73 65 72 76 69 63 65 2F 70 72 6F 70 65 72 74 79 2F 73 65 \
    74 7B 22 6D 65 74 68 6F 64 22 3A 22 74 68 69 6E 67 2E 73 65 72 76 69 63 65 2E 70 72 6F 70 65 72 \
    74 79 2E 73 65 74 22 2C 22 69 64 22 3A 22 34 31 30 37 34 39 36 34 33 22 2C 22 70 61 72 61 6D 73 \
    22 3A 7B 22 50 6F 77 65 72 53 77 69 74 63 68 22 3A 31 7D 2C 22 76 65 72 73 69 6F 6E 22 3A 22 31 \
    2E 30 2E 30 22 7D";

/// The session's answers as the gateway takes them, one call's steps at a time.
trait Feed {
    fn device_bytes(&mut self, bytes: &[u8], cx: &Context) -> Vec<Step>;
    fn upstream(&mut self, down: Downward, cx: &Context) -> Vec<Step>;
}

impl Feed for Session {
    fn device_bytes(&mut self, bytes: &[u8], cx: &Context) -> Vec<Step> {
        let mut steps = Vec::new();
        self.on_device_bytes(bytes, cx, &mut steps);
        steps
    }

    fn upstream(&mut self, down: Downward, cx: &Context) -> Vec<Step> {
        let mut steps = Vec::new();
        self.on_upstream(down, cx, &mut steps);
        steps
    }
}

fn hex(s: &str) -> Vec<u8> {
    parse_hex(s).expect("test hex parses")
}

fn policy() -> CloudPolicy {
    let device2 = Device::aliyun(
        "aliyun/device2",
        "a1ndPQHcX7f",
        "device2",
        DeviceSecret::new("1448e1c58996469449813ed68e3b0fed"),
    );
    // The Python SDK's device of aliyun-onenet.md §1.7.
    let probe = Device::aliyun(
        "aliyun/probe-dev-01",
        "a1TestPK001",
        "probe-dev-01",
        DeviceSecret::new("0123456789abcdef0123456789abcdef"),
    );
    CloudPolicy::new(DeviceRegistry::from_devices([device2, probe]).expect("two devices"))
}

/// A session past seed 002's CONNECT, as the gateway would hold it.
fn connected(policy: &CloudPolicy) -> Session {
    let mut s = Session::new(7);
    let steps = s.device_bytes(&hex(CONNECT), &Context { policy });
    assert!(opens(&steps), "{steps:?}");
    s
}

fn opens(steps: &[Step]) -> bool {
    steps.iter().any(|s| matches!(s, Step::OpenUpstream { .. }))
}

fn subscribed(packet_id: u16, return_codes: &[u8]) -> Downward {
    Downward::Subscribed {
        packet_id,
        return_codes: return_codes.to_vec(),
    }
}

/// A message as rumqttd forwards it, published by `publisher` at `qos` (a new message each
/// call; a clone is another copy of the same one).
fn message(publisher: Publisher, qos: QoS, topic: &str, payload: &[u8]) -> Downward {
    let origin = Origin { publisher, qos };
    let Some((stamp, payload)) = envelope::open(Sealed::new(origin, payload).into_bytes()) else {
        panic!("a sealed payload opens");
    };
    Downward::Message {
        topic: Bytes::copy_from_slice(topic.as_bytes()),
        payload,
        retain: false,
        stamp,
    }
}

fn from_cloud(qos: QoS, topic: &str, payload: &[u8]) -> Downward {
    message(Publisher::Cloud, qos, topic, payload)
}

/// What a session hands on: to rumqttd as is, or a PUBLISH for the cloud (which the gateway
/// seals with its publisher).
#[derive(Debug, Clone, PartialEq)]
enum Up {
    Router(Upward),
    Cloud { topic: String, payload: Vec<u8> },
}

fn publish_up(topic: &str, payload: &[u8]) -> Up {
    Up::Cloud {
        topic: topic.into(),
        payload: payload.to_vec(),
    }
}

fn to_device(steps: &[Step]) -> Vec<Vec<u8>> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::ToDevice { bytes, .. } => Some(bytes.clone()),
            _ => None,
        })
        .collect()
}

fn to_upstream(steps: &[Step]) -> Vec<Up> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::ToUpstream(up) => Some(Up::Router(up.clone())),
            Step::ToCloud(p) => Some(Up::Cloud {
                topic: p.topic.clone(),
                payload: p.payload.clone(),
            }),
            _ => None,
        })
        .collect()
}

#[test]
fn accepted_connect_opens_a_link_under_a_login_id_and_is_answered_here() {
    let policy = policy();
    let mut s = Session::new(1);
    let steps = s.device_bytes(&hex(CONNECT), &Context { policy: &policy });
    assert!(
        matches!(&steps[0], Step::FromDevice(Packet::Connect(c)) if c.client_id.starts_with("device2|"))
    );
    assert!(matches!(&steps[1], Step::Note(n) if n.contains("aliyun/device2")));
    assert_eq!(
        steps[2],
        Step::OpenUpstream {
            client_id: "a1ndPQHcX7f.device2.0".into()
        }
    );
    // The gateway answers the CONNECT itself, as seed 002 saw it.
    assert_eq!(to_device(&steps), vec![hex("20 02 00 00")]);
    assert_eq!(
        s.client_id(),
        Some("device2|securemode=3,signmethod=hmacsha1|")
    );
    assert!(s.is_connected());
}

#[test]
fn wrong_sign_is_connack_4_then_close() {
    let policy = policy();
    let mut bytes = hex(CONNECT);
    let last = bytes.len() - 1;
    bytes[last] = b'd'; // ...46bc -> ...46bd
    let mut s = Session::new(1);
    let steps = s.device_bytes(&bytes, &Context { policy: &policy });
    assert!(
        matches!(&steps[1], Step::Refused { code: 4, reason, .. } if reason.kind == super::super::RefusalKind::SignMismatch)
    );
    assert_eq!(to_device(&steps), vec![vec![0x20, 0x02, 0x00, 0x04]]);
    assert_eq!(steps.last(), Some(&Step::Close));
    assert!(s.is_closed());
    // Nothing more is read from a closed session.
    assert!(s
        .device_bytes(&[0xC0, 0x00], &Context { policy: &policy })
        .is_empty());
}

#[test]
fn connect_split_across_reads_waits_for_the_rest() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let bytes = hex(CONNECT);
    let mut s = Session::new(1);
    assert!(s.device_bytes(&bytes[..1], &cx).is_empty());
    assert!(s.device_bytes(&bytes[1..60], &cx).is_empty());
    assert!(opens(&s.device_bytes(&bytes[60..], &cx)));
}

#[test]
fn subscribe_goes_upstream_and_suback_grants_01_once_rumqttd_has_it() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    let steps = s.device_bytes(&hex(SUBSCRIBE), &cx);
    assert_eq!(
        to_upstream(&steps),
        vec![Up::Router(Upward::Subscribe {
            packet_id: 0x0A,
            filters: vec!["/sys/a1ndPQHcX7f/device2/thing/service/property/set".into()]
        })]
    );
    assert!(
        to_device(&steps).is_empty(),
        "no SUBACK before rumqttd has it"
    );
    // rumqttd grants 00 inside; the device sees the cloud's 01.
    assert_eq!(
        to_device(&s.upstream(subscribed(0x0A, &[0]), &cx)),
        vec![hex("90 03 00 0A 01")]
    );
    // A failure stays a failure.
    s.device_bytes(&hex(SUBSCRIBE), &cx);
    assert_eq!(
        to_device(&s.upstream(subscribed(0x0A, &[0x80]), &cx)),
        vec![hex("90 03 00 0A 80")]
    );
}

#[test]
fn cloud_qos_0_downlink_reaches_the_device_as_seed_002_saw_it() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    s.device_bytes(&hex(SUBSCRIBE), &cx);
    s.upstream(subscribed(0x0A, &[0]), &cx);
    let Packet::Publish(set) = decode(&hex(PROPERTY_SET)).unwrap().0 else {
        panic!()
    };
    let steps = s.upstream(from_cloud(QoS::AtMostOnce, &set.topic, &set.payload), &cx);
    assert!(to_upstream(&steps).is_empty());
    assert_eq!(to_device(&steps), vec![hex(PROPERTY_SET)]);
}

/// Issue 7: the cloud published a QoS 1 property set (id 1), then a QoS 0 message; the device
/// acknowledged the first after the second arrived; rumqttd, which refuses out-of-order
/// acknowledgements, closed the link. The gateway now numbers downlinks itself (a QoS 0
/// delivery takes no id) and a late or unknown PUBACK never closes anything.
#[test]
fn a_late_puback_keeps_the_link_and_qos_0_deliveries_take_no_packet_id() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    s.device_bytes(&hex(SUBSCRIBE), &cx);
    s.upstream(subscribed(0x0A, &[0]), &cx);
    let set = "/sys/a1ndPQHcX7f/device2/thing/service/property/set";
    let deliver = |s: &mut Session, payload: &[u8], qos| {
        to_device(&s.upstream(from_cloud(qos, set, payload), &cx))
    };
    assert_eq!(
        deliver(&mut s, b"zero", QoS::AtMostOnce),
        vec![publish_bytes(set, b"zero", QoS::AtMostOnce, None)]
    );
    // The first QoS 1 downlink after a QoS 0 one still carries id 1.
    assert_eq!(
        deliver(&mut s, b"one", QoS::AtLeastOnce),
        vec![publish_bytes(set, b"one", QoS::AtLeastOnce, Some(1))]
    );
    assert_eq!(
        deliver(&mut s, b"two", QoS::AtLeastOnce),
        vec![publish_bytes(set, b"two", QoS::AtLeastOnce, Some(2))]
    );
    assert_eq!(
        deliver(&mut s, b"late", QoS::AtMostOnce),
        vec![publish_bytes(set, b"late", QoS::AtMostOnce, None)]
    );
    // Acknowledged late and out of order: nothing closes, nothing goes upstream.
    for ack in ["40 02 00 02", "40 02 00 01", "40 02 00 09"] {
        let steps = s.device_bytes(&hex(ack), &cx);
        assert!(!steps.contains(&Step::Close), "{ack}: {steps:?}");
        assert!(to_upstream(&steps).is_empty());
    }
    assert!(s.is_connected());
    // Only the unknown id 9 earned a note.
    let steps = s.device_bytes(&hex("40 02 00 09"), &cx);
    assert!(
        matches!(&steps[1], Step::Note(n) if n.contains("packet id 9")),
        "{steps:?}"
    );
}

#[test]
fn qos_1_downlink_is_delivered_with_the_gateways_id_and_its_puback_stays_here() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    s.device_bytes(&hex(SUBSCRIBE), &cx);
    s.upstream(subscribed(0x0A, &[0]), &cx);
    let set = "/sys/a1ndPQHcX7f/device2/thing/service/property/set";
    assert_eq!(
        to_device(&s.upstream(from_cloud(QoS::AtLeastOnce, set, b"hi"), &cx)),
        vec![publish_bytes(set, b"hi", QoS::AtLeastOnce, Some(1))]
    );
    let steps = s.device_bytes(&hex("40 02 00 01"), &cx);
    assert!(to_upstream(&steps).is_empty());
    assert_eq!(steps.len(), 1, "only the PUBACK's record: {steps:?}");
}

#[test]
fn uplink_publish_is_forwarded_at_its_own_qos() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    // `{"a"}` to the custom topic /a1ndPQHcX7f/device2/user/up1.
    let post = hex(
        "30 24 00 1D 2F 61 31 6E 64 50 51 48 63 58 37 66 2F 64 65 76 69 63 65 32 2F \
        75 73 65 72 2F 75 70 31 7B 22 61 22 7D",
    );
    let steps = s.device_bytes(&post, &cx);
    assert_eq!(
        to_upstream(&steps),
        vec![publish_up("/a1ndPQHcX7f/device2/user/up1", br#"{"a"}"#)]
    );
    // The QoS the gateway seals it with, for whoever receives it.
    let qos = steps.iter().find_map(|s| match s {
        Step::ToCloud(p) => Some(p.qos),
        _ => None,
    });
    assert_eq!(qos, Some(QoS::AtMostOnce));
}

#[test]
fn first_packet_other_than_connect_closes() {
    let policy = policy();
    let mut s = Session::new(1);
    let steps = s.device_bytes(&hex("C0 00"), &Context { policy: &policy });
    assert!(matches!(&steps[1], Step::Note(n) if n.contains("PINGREQ, not CONNECT")));
    assert_eq!(steps.last(), Some(&Step::Close));
}

#[test]
fn unframeable_bytes_close_with_their_offset() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    // A PINGREQ, then a byte of reserved type 0 at stream offset 120 (after the 118-byte CONNECT and the PINGREQ).
    let steps = s.device_bytes(&hex("C0 00 00 00"), &cx);
    assert_eq!(
        to_device(&steps),
        vec![hex("D0 00")],
        "the PINGREQ is answered here"
    );
    assert!(
        matches!(&steps[2], Step::Note(n) if n.contains("offset 120")),
        "{steps:?}"
    );
    assert_eq!(steps.last(), Some(&Step::Close));
}

#[test]
fn seed_002_first_attempt_is_dropped_without_connack() {
    // The author's first CONNECT left out the 00 before each length: the cloud dropped the link.
    let first = hex("10 72 00 04 4D 51 54 54 04 C2 00 64 2A 64 65 76 69 63 65 32 7C 73 65 63 75 72 65 \
        6D 6F 64 65 3D 33 2C 73 69 67 6E 6D 65 74 68 6F 64 3D 68 6D 61 63 73 68 61 31 7C 0A 13 64 65 76 \
        69 63 65 32 26 61 31 6E 64 50 51 48 63 58 37 66 28 35 63 61 65 65 66 35 62 39 32 35 31 39 34 30 \
        36 39 36 62 30 32 64 63 38 30 62 36 31 35 63 33 66 37 33 39 66 34 36 62 63 00 00");
    let policy = policy();
    let mut s = Session::new(1);
    let steps = s.device_bytes(&first, &Context { policy: &policy });
    assert!(to_device(&steps).is_empty(), "{steps:?}");
    assert!(
        matches!(&steps[0], Step::Note(n) if n.starts_with("the CONNECT at uplink offset 0 is malformed at offset 12 (") && n.contains("00 of the length prefix missing")),
        "{steps:?}"
    );
    assert_eq!(steps.last(), Some(&Step::Close));
}

#[test]
fn qos_2_uplink_closes() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    let steps = s.device_bytes(&hex("34 07 00 02 2F 74 00 01 78"), &cx);
    assert!(to_upstream(&steps).is_empty());
    assert_eq!(steps.last(), Some(&Step::Close));
}

#[test]
fn disconnect_closes_and_discards_the_will() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    let steps = s.device_bytes(&hex("E0 00"), &cx);
    assert!(to_upstream(&steps).is_empty());
    assert_eq!(steps.last(), Some(&Step::Close));
    assert_eq!(s.will_on_close(), None);
}

/// Seed 002's SUBSCRIBE with device2 turned into device3 and packet id 0B.
const FOREIGN_SUBSCRIBE: &str = "82 38 00 0B 00 33 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 \
    66 2F 64 65 76 69 63 65 33 2F 74 68 69 6E 67 2F 73 65 72 76 69 63 65 2F 70 72 6F 70 65 72 74 \
    79 2F 73 65 74 00";
/// `{}` at QoS 1, packet id 7, to device3's property post.
const FOREIGN_POST_QOS1: &str = "32 38 00 32 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 66 2F \
    64 65 76 69 63 65 33 2F 74 68 69 6E 67 2F 65 76 65 6E 74 2F 70 72 6F 70 65 72 74 79 2F 70 6F \
    73 74 00 07 7B 7D";

fn drops(steps: &[Step]) -> Vec<(PacketType, String)> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Dropped { packet, reason } => Some((*packet, reason.clone())),
            _ => None,
        })
        .collect()
}

fn sdk_connect() -> Vec<u8> {
    let mut c = Connect::new(
        "a1TestPK001&probe-dev-01|securemode=3,signmethod=hmacsha1,ext=1,_ss=1,lan=Python,\
         _v=1.2.13,timestamp=1795293157|",
        60,
    );
    c.username = Some("probe-dev-01&a1TestPK001".into());
    c.password = Some(b"d7deb05048291a11c756e700c96174f05c0b3aa9".to_vec());
    encode(&Packet::from(c)).unwrap()
}

fn publish_bytes(topic: &str, payload: &[u8], qos: QoS, packet_id: Option<u16>) -> Vec<u8> {
    encode(&Packet::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic: topic.to_owned(),
        packet_id,
        payload: payload.to_vec(),
    }))
    .unwrap()
}

#[test]
fn a_foreign_filter_gets_80_here_and_a_drop_record() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    let steps = s.device_bytes(&hex(FOREIGN_SUBSCRIBE), &cx);
    assert_eq!(to_device(&steps), vec![hex("90 03 00 0B 80")]);
    assert!(to_upstream(&steps).is_empty(), "{steps:?}");
    let d = drops(&steps);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].0, PacketType::Subscribe);
    assert!(
        d[0].1.contains("device3") && d[0].1.contains("9236"),
        "{}",
        d[0].1
    );
    assert!(s.is_connected());
    // The link goes on.
    assert_eq!(
        to_device(&s.device_bytes(&hex("C0 00"), &cx)),
        vec![hex("D0 00")]
    );
}

#[test]
fn a_mixed_subscribe_merges_local_refusals_with_rumqttds_grant() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    let subscribe = Subscribe {
        packet_id: 0x0C,
        filters: vec![
            SubscribeFilter {
                filter: "/sys/a1ndPQHcX7f/device3/thing/service/property/set".into(),
                qos: QoS::AtMostOnce,
            },
            SubscribeFilter {
                filter: "/sys/a1ndPQHcX7f/device2/thing/service/property/set".into(),
                qos: QoS::AtMostOnce,
            },
        ],
    };
    let steps = s.device_bytes(&encode(&Packet::Subscribe(subscribe)).unwrap(), &cx);
    // Only device2's own filter goes upstream, under the device's packet id.
    assert_eq!(
        to_upstream(&steps),
        vec![Up::Router(Upward::Subscribe {
            packet_id: 0x0C,
            filters: vec!["/sys/a1ndPQHcX7f/device2/thing/service/property/set".into()]
        })]
    );
    assert!(to_device(&steps).is_empty());
    assert_eq!(
        to_device(&s.upstream(subscribed(0x0C, &[0]), &cx)),
        vec![hex("90 04 00 0C 80 01")]
    );
}

#[test]
fn too_many_filters_in_one_subscribe_are_all_refused() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    let filters = (0..9)
        .map(|i| SubscribeFilter {
            filter: format!("/a1ndPQHcX7f/device2/user/t{i}"),
            qos: QoS::AtMostOnce,
        })
        .collect();
    let subscribe = encode(&Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters,
    }))
    .unwrap();
    let steps = s.device_bytes(&subscribe, &cx);
    assert_eq!(
        to_device(&steps),
        vec![hex("90 0B 00 01 80 80 80 80 80 80 80 80 80")]
    );
    assert!(drops(&steps)[0].1.contains("9 filters"), "{steps:?}");
}

#[test]
fn an_unpermitted_qos_1_publish_is_acknowledged_and_dropped() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    let steps = s.device_bytes(&hex(FOREIGN_POST_QOS1), &cx);
    assert!(to_upstream(&steps).is_empty(), "{steps:?}");
    assert_eq!(to_device(&steps), vec![hex("40 02 00 07")]);
    assert_eq!(drops(&steps)[0].0, PacketType::Publish);
    assert!(s.is_connected());
}

#[test]
fn an_sdk_login_subscribes_its_pushed_downlinks_upstream_and_hides_that_suback() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = Session::new(3);
    let steps = s.device_bytes(&sdk_connect(), &cx);
    let up = to_upstream(&steps);
    assert_eq!(
        up,
        vec![Up::Router(Upward::Subscribe {
            packet_id: 0xFFFF,
            filters: vec![
                "/sys/a1TestPK001/probe-dev-01/#".into(),
                "/broadcast/a1TestPK001/#".into(),
                "/ota/device/upgrade/a1TestPK001/probe-dev-01".into()
            ]
        })],
        "{steps:?}"
    );
    assert_eq!(to_device(&steps), vec![hex("20 02 00 00")]);
    // rumqttd's acknowledgement of it never reaches the device.
    let steps = s.upstream(subscribed(0xFFFF, &[0, 0, 0]), &cx);
    assert!(to_device(&steps).is_empty(), "{steps:?}");
    // A filter those cover is answered here and not subscribed twice upstream.
    let subscribe = encode(&Packet::Subscribe(Subscribe {
        packet_id: 0xFFFF,
        filters: vec![SubscribeFilter {
            filter: "/sys/a1TestPK001/probe-dev-01/thing/service/property/set".into(),
            qos: QoS::AtMostOnce,
        }],
    }))
    .unwrap();
    let steps = s.device_bytes(&subscribe, &cx);
    assert!(to_upstream(&steps).is_empty(), "{steps:?}");
    assert_eq!(to_device(&steps), vec![hex("90 03 FF FF 01")]);
    // Unsubscribing it is answered here too.
    let unsubscribe = encode(&Packet::Unsubscribe(Unsubscribe {
        packet_id: 9,
        filters: vec!["/sys/a1TestPK001/probe-dev-01/thing/service/property/set".into()],
    }))
    .unwrap();
    let steps = s.device_bytes(&unsubscribe, &cx);
    assert!(to_upstream(&steps).is_empty(), "{steps:?}");
    assert_eq!(to_device(&steps), vec![hex("B0 02 00 09")]);
}

#[test]
fn pushed_downlinks_carry_the_clouds_messages_not_the_devices_own() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = Session::new(3);
    s.device_bytes(&sdk_connect(), &cx);
    let post = "/sys/a1TestPK001/probe-dev-01/thing/event/property/post";
    let steps = s.device_bytes(&publish_bytes(post, b"{}", QoS::AtMostOnce, None), &cx);
    assert_eq!(to_upstream(&steps).len(), 1);
    // rumqttd sends the device's own post back through /sys/…/#: not delivered.
    let own = message(Publisher::Device { conn: 3 }, QoS::AtMostOnce, post, b"{}");
    let steps = s.upstream(own, &cx);
    assert!(to_device(&steps).is_empty(), "{steps:?}");
    // The cloud's reply arrives without SUBSCRIBE.
    let reply = "/sys/a1TestPK001/probe-dev-01/thing/event/property/post_reply";
    let steps = s.upstream(from_cloud(QoS::AtMostOnce, reply, b"{}"), &cx);
    assert_eq!(
        to_device(&steps),
        vec![publish_bytes(reply, b"{}", QoS::AtMostOnce, None)]
    );
}

#[test]
fn a_message_two_upstream_filters_match_reaches_the_device_once() {
    let policy = policy();
    let open: ProfileOverride =
        serde_yaml::from_str("topics: { enforce: false, implicit: always }").unwrap();
    policy.set_override(Some(&open));
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    // Not covered by /sys/a1ndPQHcX7f/device2/#, so it goes upstream too.
    let subscribe = encode(&Packet::Subscribe(Subscribe {
        packet_id: 5,
        filters: vec![SubscribeFilter {
            filter: "/sys/+/device2/thing/service/property/set".into(),
            qos: QoS::AtMostOnce,
        }],
    }))
    .unwrap();
    assert_eq!(to_upstream(&s.device_bytes(&subscribe, &cx)).len(), 1);
    let set = "/sys/a1ndPQHcX7f/device2/thing/service/property/set";
    // rumqttd's two copies of one message: one delivery.
    let copy = from_cloud(QoS::AtLeastOnce, set, b"x");
    let first = publish_bytes(set, b"x", QoS::AtLeastOnce, Some(1));
    assert_eq!(to_device(&s.upstream(copy.clone(), &cx)), vec![first]);
    let steps = s.upstream(copy, &cx);
    assert!(to_device(&steps).is_empty(), "{steps:?}");
    // The same topic and payload published again is another message: delivered, and its
    // second copy folded away too.
    let again = from_cloud(QoS::AtLeastOnce, set, b"x");
    let second = publish_bytes(set, b"x", QoS::AtLeastOnce, Some(2));
    assert_eq!(to_device(&s.upstream(again.clone(), &cx)), vec![second]);
    assert!(to_device(&s.upstream(again, &cx)).is_empty());
}

#[test]
fn silence_and_a_newer_login_close_with_a_note() {
    let policy = policy();
    let mut s = connected(&policy);
    assert!(s.take_heard(), "the CONNECT starts the idle timer");
    assert!(!s.take_heard());
    assert_eq!(s.idle_limit(), Some(Duration::from_secs(150)));
    let steps = s.on_timer(Fired::Silent(Duration::from_secs(150)));
    assert!(
        matches!(&steps[0], Step::Note(n) if n.contains("1.5 × its keepalive of 100 s")),
        "{steps:?}"
    );
    assert_eq!(steps.last(), Some(&Step::Close));
    assert!(s.is_closed());
    let mut s = connected(&policy);
    let steps = s.on_timer(Fired::Replaced(9));
    assert!(
        matches!(&steps[0], Step::Note(n) if n.contains("logged in again on conn 9")),
        "{steps:?}"
    );
}

#[test]
fn only_the_documented_packets_restart_the_idle_timer() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    s.take_heard();
    s.device_bytes(&hex("A2 05 00 01 00 01 2F"), &cx);
    assert!(!s.take_heard(), "UNSUBSCRIBE is not in §2.4's list");
    s.device_bytes(&hex("C0 00"), &cx);
    assert!(s.take_heard(), "PINGREQ is");
}

/// rumqttd 0.20 alone answered a two-filter UNSUBSCRIBE twice and a filter it never had not at
/// all; the device gets exactly one UNSUBACK per UNSUBSCRIBE from the gateway (§3.10.4).
#[test]
fn every_unsubscribe_gets_exactly_one_unsuback() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    s.device_bytes(&hex(SUBSCRIBE), &cx);
    s.upstream(subscribed(0x0A, &[0]), &cx);
    let set = "/sys/a1ndPQHcX7f/device2/thing/service/property/set";
    // Seed 002's UNSUBSCRIBE of property/set: to rumqttd, answered B0 02 00 0A here.
    let mut unsubscribe = hex(SUBSCRIBE);
    unsubscribe.pop();
    unsubscribe[..2].copy_from_slice(&[0xA2, 0x37]);
    let steps = s.device_bytes(&unsubscribe, &cx);
    assert_eq!(
        to_upstream(&steps),
        vec![Up::Router(Upward::Unsubscribe {
            filters: vec![set.into()]
        })]
    );
    assert_eq!(to_device(&steps), vec![hex("B0 02 00 0A")]);
    // A message on the way when it unsubscribed is not delivered.
    let steps = s.upstream(from_cloud(QoS::AtMostOnce, set, b"{}"), &cx);
    assert!(to_device(&steps).is_empty(), "{steps:?}");
    // Two filters, neither subscribed now: answered here, nothing upstream.
    let reply = "/sys/a1ndPQHcX7f/device2/thing/event/property/post_reply";
    let two = |id| {
        encode(&Packet::Unsubscribe(Unsubscribe {
            packet_id: id,
            filters: vec![set.into(), reply.into()],
        }))
        .unwrap()
    };
    let steps = s.device_bytes(&two(12), &cx);
    assert!(to_upstream(&steps).is_empty(), "{steps:?}");
    assert_eq!(to_device(&steps), vec![hex("B0 02 00 0C")]);
    // Two filters, one subscribed: only that one goes upstream; one UNSUBACK, rumqttd's dropped.
    s.device_bytes(&hex(SUBSCRIBE), &cx);
    s.upstream(subscribed(0x0A, &[0]), &cx);
    let steps = s.device_bytes(&two(13), &cx);
    assert_eq!(
        to_upstream(&steps),
        vec![Up::Router(Upward::Unsubscribe {
            filters: vec![set.into()]
        })]
    );
    assert_eq!(to_device(&steps), vec![hex("B0 02 00 0D")]);
}

#[test]
fn a_kept_will_is_published_when_the_link_ends_without_disconnect() {
    let policy = policy();
    let keep: ProfileOverride = serde_yaml::from_str("protocol: { will: keep }").unwrap();
    policy.set_override(Some(&keep));
    let cx = Context { policy: &policy };
    let (Packet::Connect(mut c), _) = decode(&hex(CONNECT)).unwrap() else {
        panic!()
    };
    c.will = Some(crate::mqtt::Will {
        topic: "/a1ndPQHcX7f/device2/user/gone".into(),
        message: b"bye".to_vec(),
        qos: QoS::AtMostOnce,
        retain: false,
    });
    let mut s = Session::new(2);
    assert!(opens(
        &s.device_bytes(&encode(&Packet::Connect(c)).unwrap(), &cx)
    ));
    let will = s.will_on_close().expect("a will");
    assert_eq!(
        (will.topic.as_str(), will.payload.as_slice()),
        ("/a1ndPQHcX7f/device2/user/gone", &b"bye"[..])
    );
    assert_eq!(s.will_on_close(), None, "published once");
}

/// The cloud publishes the same topic and payload twice, first at QoS 0, then at QoS 1, before
/// either reaches the device: each arrives at its own QoS. (A table keyed by topic and payload
/// once delivered both at the later one's.)
#[test]
fn the_same_message_published_at_two_qos_arrives_at_each() {
    let policy = policy();
    let cx = Context { policy: &policy };
    let mut s = connected(&policy);
    s.device_bytes(&hex(SUBSCRIBE), &cx);
    s.upstream(subscribed(0x0A, &[0]), &cx);
    let set = "/sys/a1ndPQHcX7f/device2/thing/service/property/set";
    let zero = from_cloud(QoS::AtMostOnce, set, b"same");
    let one = from_cloud(QoS::AtLeastOnce, set, b"same");
    assert_eq!(
        to_device(&s.upstream(zero, &cx)),
        vec![publish_bytes(set, b"same", QoS::AtMostOnce, None)]
    );
    assert_eq!(
        to_device(&s.upstream(one, &cx)),
        vec![publish_bytes(set, b"same", QoS::AtLeastOnce, Some(1))]
    );
}
