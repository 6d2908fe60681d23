//! CloudPolicy's decisions on literal CONNECTs and PUBLISHes: the seeds', the Python SDK's
//! (aliyun-onenet.md §1.7), and how each follows the profile in force.

use super::super::profile::config::Implicit;
use super::super::profile::Span;
use super::*;
use crate::cloud::{Device, DeviceSecret, DeviceStatus, SecretSource};
use rstest::rstest;

const SIGN_002: &str = "5caeef5b9251940696b02dc80b615c3f739f46bc";

/// The Python SDK's CONNECT captured in aliyun-onenet.md §1.7 (device probe-dev-01).
const SDK_CLIENT_ID: &str = "a1TestPK001&probe-dev-01|securemode=3,signmethod=hmacsha1,\
    ext=1,_ss=1,lan=Python,_v=1.2.13,timestamp=1795293157|";
const SDK_SIGN: &str = "d7deb05048291a11c756e700c96174f05c0b3aa9";

fn policy() -> CloudPolicy {
    let device2 = Device::aliyun(
        "aliyun/device2",
        "a1ndPQHcX7f",
        "device2",
        DeviceSecret::new("1448e1c58996469449813ed68e3b0fed"),
    );
    let probe = Device::aliyun(
        "aliyun/probe-dev-01",
        "a1TestPK001",
        "probe-dev-01",
        DeviceSecret::new("0123456789abcdef0123456789abcdef"),
    );
    let mut disabled = Device::aliyun(
        "aliyun/LY-1",
        "a10zwkUxQUS",
        "LY-1",
        DeviceSecret::new("d8b9915513b05d4de32fbed04566edd8"),
    );
    disabled.status = DeviceStatus::Disabled;
    let mut onenet = Device::aliyun(
        "onenet/657077",
        "20190156",
        "657077",
        DeviceSecret::new("sn888"),
    );
    onenet.platform = Platform::Onenet;
    onenet.secret = SecretSource::Inline(DeviceSecret::new("sn888"));
    CloudPolicy::new(DeviceRegistry::from_devices([device2, probe, disabled, onenet]).unwrap())
}

fn sdk_connect() -> Connect {
    let mut c = Connect::new(SDK_CLIENT_ID, 60);
    c.username = Some("probe-dev-01&a1TestPK001".into());
    c.password = Some(SDK_SIGN.as_bytes().to_vec());
    c
}

fn accepted(p: &CloudPolicy, c: &Connect) -> Admission {
    match p.decide_connect(c) {
        ConnectDecision::Accept(a) => a,
        ConnectDecision::Refuse { code, reason } => panic!("refused with {code}: {reason}"),
        ConnectDecision::Close { reason } => panic!("closed: {reason}"),
    }
}

/// Seed 002's accepted CONNECT, field by field.
fn connect_002(client_id: &str, password: &str) -> Connect {
    let mut c = Connect::new(client_id, 100);
    c.username = Some("device2&a1ndPQHcX7f".into());
    c.password = Some(password.as_bytes().to_vec());
    c
}

#[test]
fn seed_002_connect_is_accepted() {
    let d = policy().decide_connect(&connect_002(
        "device2|securemode=3,signmethod=hmacsha1|",
        SIGN_002,
    ));
    assert_eq!(
        d,
        ConnectDecision::Accept(Admission {
            device: "aliyun/device2".into(),
            platform: Platform::Aliyun,
            onenet_auth: None,
            product_key: "a1ndPQHcX7f".into(),
            device_name: "device2".into(),
            // A clean session gets an upstream id of its own (see `upstream_id`).
            upstream_client_id: "a1ndPQHcX7f.device2.0".into(),
            granted_qos: 1,
            keepalive: 100,
            keep_will: false,
            // A hand-built client id without `_ss=1` gets only what it subscribes to.
            implicit_filters: Vec::new(),
            notes: Vec::new(),
        })
    );
}

#[test]
fn the_python_sdks_client_id_is_accepted_with_its_pushed_downlinks() {
    let a = accepted(&policy(), &sdk_connect());
    assert_eq!(a.device, "aliyun/probe-dev-01");
    assert_eq!(
        a.implicit_filters,
        [
            "/sys/a1TestPK001/probe-dev-01/#",
            "/broadcast/a1TestPK001/#",
            "/ota/device/upgrade/a1TestPK001/probe-dev-01"
        ]
    );
    let never = ProfileOverride {
        topics: Some(crate::broker::profile::config::TopicsOverride {
            implicit: Some(Implicit::Never),
            ..Default::default()
        }),
        ..Default::default()
    };
    let p = policy();
    p.set_override(Some(&never));
    assert!(accepted(&p, &sdk_connect()).implicit_filters.is_empty());
    p.set_override(None);
    assert_eq!(accepted(&p, &sdk_connect()).implicit_filters.len(), 3);
}

#[test]
fn a_disabled_device_is_code_5_and_the_codes_follow_the_profile() {
    let mut c = Connect::new("LY-1|securemode=3,signmethod=hmacsha1|", 100);
    c.username = Some("LY-1&a10zwkUxQUS".into());
    c.password = Some(b"7a03368e740ff9efb8318c6ba2a0260f2a596f87".to_vec());
    let p = policy();
    let ConnectDecision::Refuse { code, reason } = p.decide_connect(&c) else {
        panic!("accepted a disabled device")
    };
    assert_eq!((code, reason.kind), (5, RefusalKind::DeviceDisabled));
    let o: ProfileOverride =
        serde_yaml::from_str("login: { disabled_device_code: 4, sign_mismatch_code: 5 }").unwrap();
    p.set_override(Some(&o));
    assert!(matches!(
        p.decide_connect(&c),
        ConnectDecision::Refuse { code: 4, .. }
    ));
    let wrong = connect_002(
        "device2|securemode=3,signmethod=hmacsha1|",
        "5caeef5b9251940696b02dc80b615c3f739f46bd",
    );
    assert!(matches!(
        p.decide_connect(&wrong),
        ConnectDecision::Refuse { code: 5, .. }
    ));
}

#[test]
fn keepalive_above_1200_is_capped_with_a_note_and_a_will_is_ignored() {
    let mut c = sdk_connect();
    c.keepalive = 5000;
    c.will = Some(crate::mqtt::Will {
        topic: "/a1TestPK001/probe-dev-01/user/gone".into(),
        message: b"bye".to_vec(),
        qos: QoS::AtMostOnce,
        retain: false,
    });
    let a = accepted(&policy(), &c);
    assert_eq!((a.keepalive, a.keep_will), (1200, false));
    assert_eq!(a.notes.len(), 2, "{:?}", a.notes);
    assert!(a.notes[0].contains("5000 s"), "{:?}", a.notes);
    assert!(a.notes[1].contains("will"), "{:?}", a.notes);
}

#[test]
fn uplink_verdicts_follow_the_profile() {
    let p = policy();
    let a = accepted(&p, &sdk_connect());
    // One memo for the link, as the session keeps it.
    let mut m = TopicMemo::default();
    let publish = |topic: &str, qos: QoS, retain: bool| Publish {
        dup: false,
        qos,
        retain,
        topic: topic.to_owned(),
        packet_id: (qos != QoS::AtMostOnce).then_some(1),
        payload: b"{}".to_vec(),
    };
    let own = "/sys/a1TestPK001/probe-dev-01/thing/event/property/post";
    let foreign = "/sys/a1ndPQHcX7f/device2/thing/event/property/post";
    assert!(matches!(
        p.uplink(&a, &publish(own, QoS::AtLeastOnce, false), &mut m),
        UplinkVerdict::Forward { note: None, .. }
    ));
    assert!(matches!(
        p.uplink(&a, &publish(foreign, QoS::AtLeastOnce, false), &mut m),
        UplinkVerdict::Drop(why) if why.contains("9236")
    ));
    assert!(matches!(
        p.uplink(&a, &publish(own, QoS::ExactlyOnce, false), &mut m),
        UplinkVerdict::Disconnect(_)
    ));
    let UplinkVerdict::Forward {
        publish: sent,
        note,
    } = p.uplink(&a, &publish(own, QoS::AtMostOnce, true), &mut m)
    else {
        panic!("a retained publish was not forwarded")
    };
    assert!(!sent.retain && note.is_some());
    let mut big = publish(own, QoS::AtMostOnce, false);
    big.payload = vec![b'x'; 256 * 1024 + 1];
    assert!(matches!(
        p.uplink(&a, &big, &mut m),
        UplinkVerdict::Disconnect(_)
    ));
    let o: ProfileOverride = serde_yaml::from_str(
        "topics: { unpermitted_publish: disconnect }\nlimits: { oversize_payload: drop }",
    )
    .unwrap();
    p.set_override(Some(&o));
    assert!(matches!(
        p.uplink(&a, &publish(foreign, QoS::AtMostOnce, false), &mut m),
        UplinkVerdict::Disconnect(_)
    ));
    assert!(matches!(p.uplink(&a, &big, &mut m), UplinkVerdict::Drop(_)));
}

#[test]
fn a_topic_remembered_as_allowed_is_checked_again_under_an_override() {
    let p = policy();
    let a = accepted(&p, &sdk_connect());
    let mut m = TopicMemo::default();
    let publish = Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "/a1TestPK001/probe-dev-01/user/update".to_owned(),
        packet_id: None,
        payload: b"{}".to_vec(),
    };
    for _ in 0..2 {
        assert!(matches!(
            p.uplink(&a, &publish, &mut m),
            UplinkVerdict::Forward { note: None, .. }
        ));
    }
    let subscribe_only: ProfileOverride = serde_yaml::from_str("topics: { custom: sub }").unwrap();
    p.set_override(Some(&subscribe_only));
    assert!(matches!(
        p.uplink(&a, &publish, &mut m),
        UplinkVerdict::Drop(why) if why.contains("9236")
    ));
    p.set_override(None);
    assert!(matches!(
        p.uplink(&a, &publish, &mut m),
        UplinkVerdict::Forward { note: None, .. }
    ));
}

#[test]
fn a_second_login_replaces_the_first_unless_the_profile_allows_several() {
    let p = policy();
    assert_eq!(p.login("aliyun/device2", 1), None);
    assert_eq!(p.login("aliyun/device2", 2), Some(1));
    assert_eq!(p.replaced_by(1), Some(2));
    let o: ProfileOverride =
        serde_yaml::from_str("login: { one_connection_per_device: false }").unwrap();
    p.set_override(Some(&o));
    assert_eq!(p.login("aliyun/device2", 3), None);
    let a = accepted(&p, &sdk_connect());
    let b = accepted(&p, &sdk_connect());
    assert_ne!(a.upstream_client_id, b.upstream_client_id);
}

#[test]
fn the_installed_profile_sets_the_connect_timeout() {
    let mut p = policy();
    let mut profile = CloudProfile::default();
    profile.login.connect_timeout = Span(Duration::from_millis(400));
    p.install(profile);
    assert_eq!(p.connect_timeout(), Duration::from_millis(400));
}

#[rstest]
#[case::wrong_sign(
    "device2|securemode=3,signmethod=hmacsha1|",
    "5caeef5b9251940696b02dc80b615c3f739f46bd",
    4,
    RefusalKind::SignMismatch
)]
#[case::seed_002_stray_line_feed(
    "device2|securemode=3,signmethod=hmacsha1|\n",
    SIGN_002,
    2,
    RefusalKind::MalformedClientId
)]
#[case::no_params("device2", SIGN_002, 2, RefusalKind::MalformedClientId)]
fn refusals(
    #[case] client_id: &str,
    #[case] password: &str,
    #[case] code: u8,
    #[case] kind: RefusalKind,
) {
    match policy().decide_connect(&connect_002(client_id, password)) {
        ConnectDecision::Refuse { code: c, reason } => {
            assert_eq!((c, reason.kind), (code, kind), "{reason}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn unknown_device_is_code_4() {
    let mut c = connect_002("dev9|securemode=3,signmethod=hmacsha1|", SIGN_002);
    c.username = Some("dev9&a1ndPQHcX7f".into());
    let ConnectDecision::Refuse { code, reason } = policy().decide_connect(&c) else {
        panic!("accepted an unknown device")
    };
    assert_eq!((code, reason.kind), (4, RefusalKind::UnknownDevice));
}

#[test]
fn a_secret_typed_as_password_is_not_echoed() {
    let secret = "1448e1c58996469449813ed68e3b0fed";
    let ConnectDecision::Refuse { reason, .. } = policy().decide_connect(&connect_002(
        "device2|securemode=3,signmethod=hmacsha1|",
        secret,
    )) else {
        panic!("accepted the secret as a sign")
    };
    assert!(!reason.to_string().contains(secret), "{reason}");
}

#[test]
fn keepalive_below_30_is_code_3() {
    let mut c = connect_002("device2|securemode=3,signmethod=hmacsha1|", SIGN_002);
    c.keepalive = 10;
    let ConnectDecision::Refuse { code, reason } = policy().decide_connect(&c) else {
        panic!("accepted keepalive 10")
    };
    assert_eq!((code, reason.kind), (3, RefusalKind::KeepaliveOutOfRange));
}

#[test]
fn seed_004_onenet_legacy_login() {
    let mut c = Connect::new("657077", 30);
    c.username = Some("20190156".into());
    c.password = Some(b"sn888".to_vec());
    let ConnectDecision::Accept(a) = policy().decide_connect(&c) else {
        panic!("refused seed 004's login")
    };
    assert_eq!(
        (a.platform, a.upstream_client_id.as_str()),
        (Platform::Onenet, "onenet.20190156.657077.0")
    );
    c.password = Some(b"sn889".to_vec());
    let ConnectDecision::Refuse { code, reason } = policy().decide_connect(&c) else {
        panic!("accepted a wrong auth info")
    };
    assert_eq!((code, reason.kind), (4, RefusalKind::SignMismatch));
    assert!(!reason.to_string().contains("sn88"), "{reason}");
}

/// Alibaba Cloud speaks MQTT 3.1 too (§2.5); OneNET only 3.1.1 (§3.1).
#[test]
fn mqtt_3_1_is_alibaba_clouds_and_not_onenets() {
    let mut aliyun = connect_002("device2|securemode=3,signmethod=hmacsha1|", SIGN_002);
    (aliyun.protocol_name, aliyun.protocol_level) = ("MQIsdp".into(), 3);
    assert!(matches!(
        policy().decide_connect(&aliyun),
        ConnectDecision::Accept(_)
    ));
    let mut onenet = Connect::new("657077", 30);
    onenet.username = Some("20190156".into());
    onenet.password = Some(b"sn888".to_vec());
    (onenet.protocol_name, onenet.protocol_level) = ("MQIsdp".into(), 3);
    let ConnectDecision::Refuse { code, reason } = policy().decide_connect(&onenet) else {
        panic!("OneNET accepted MQTT 3.1")
    };
    assert_eq!((code, reason.kind), (1, RefusalKind::UnsupportedProtocol));
}

#[test]
fn suback_grants_01_whatever_was_asked_and_keeps_failures() {
    let p = policy();
    let ConnectDecision::Accept(a) = p.decide_connect(&connect_002(
        "device2|securemode=3,signmethod=hmacsha1|",
        SIGN_002,
    )) else {
        panic!()
    };
    assert_eq!(
        [
            p.granted(&a, 0),
            p.granted(&a, 1),
            p.granted(&a, 2),
            p.granted(&a, 0x80)
        ],
        [1, 1, 1, 0x80]
    );
}

/// Regression: a device reconnecting right after DISCONNECT shared its upstream client id with
/// the session rumqttd was still tearing down, and rumqttd closed the new one too (seen as a
/// flaky `every_sdks_client_id_and_sign_method_is_accepted_end_to_end` under CI load).
#[test]
fn only_a_persistent_session_keeps_the_devices_own_upstream_id() {
    let p = policy();
    let first = accepted(&p, &sdk_connect());
    let second = accepted(&p, &sdk_connect());
    assert_ne!(first.upstream_client_id, second.upstream_client_id);
    let mut persistent = sdk_connect();
    persistent.clean_session = false;
    let a = accepted(&p, &persistent);
    let b = accepted(&p, &persistent);
    assert_eq!(a.upstream_client_id, b.upstream_client_id);
}
