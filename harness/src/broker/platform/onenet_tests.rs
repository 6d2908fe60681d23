//! OneNET's rules one by one, through [`CloudPolicy`] as the session asks them: seed 004's
//! legacy login, the token login of OneNET's own connect example, their refusals, topic
//! rights, QoS and replies.

use std::sync::Arc;

use super::super::super::policy::{Admission, CloudPolicy, ConnectDecision, RefusalKind};
use super::super::super::profile::OneNetProfile;
use super::super::SubscribeVerdict;
use crate::broker::policy::{TopicMemo, UplinkVerdict};
use crate::cloud::{
    Device, DeviceRegistry, DeviceSecret, DeviceStatus, OneNetAuth, OneNetCredentials, Platform,
    SignMethod,
};
use crate::mqtt::{Connect, Publish, QoS, Will};

/// The token example of OneNET's MQTT suite docs (its key, product and device).
const TOKEN_KEY: &str = "EnW4T71eIE55xOIQMN6pFMKuqel5T5HTzsGJRPiDhlM=";
const TOKEN_PID: &str = "238322";
const TOKEN_DN: &str = "mqtts-test-device";

fn onenet(name: &str, pid: &str, dn: &str, secret: &str, auth: OneNetAuth) -> Device {
    let mut d = Device::aliyun(name, pid, dn, DeviceSecret::new(secret));
    d.platform = Platform::Onenet;
    d.onenet_auth = auth;
    d
}

fn policy_with(profile: OneNetProfile) -> CloudPolicy {
    let legacy = onenet(
        "onenet/657077",
        "20190156",
        "657077",
        "sn888",
        OneNetAuth::Legacy,
    );
    let token = onenet(
        "onenet/token",
        TOKEN_PID,
        TOKEN_DN,
        TOKEN_KEY,
        OneNetAuth::Token,
    );
    let mut off = onenet("onenet/off", "20190156", "700", "x", OneNetAuth::Legacy);
    off.status = DeviceStatus::Disabled;
    let mut p = CloudPolicy::new(DeviceRegistry::from_devices([legacy, token, off]).unwrap());
    p.install_onenet(profile);
    p
}

fn policy() -> CloudPolicy {
    policy_with(OneNetProfile::default())
}

/// Seed 004's CONNECT: `657077` / `20190156` / `sn888`, keepalive 30.
fn seed_004() -> Connect {
    let mut c = Connect::new("657077", 30);
    c.username = Some("20190156".into());
    c.password = Some(b"sn888".to_vec());
    c
}

fn token_connect(et: u64, method: SignMethod) -> Connect {
    OneNetCredentials::token(
        TOKEN_PID,
        TOKEN_DN,
        &DeviceSecret::new(TOKEN_KEY),
        et,
        method,
    )
    .unwrap()
    .to_connect(120)
}

fn admit(p: &CloudPolicy, c: &Connect) -> Admission {
    match p.decide_connect(c) {
        ConnectDecision::Accept(a) => a,
        other => panic!("not accepted: {other:?}"),
    }
}

fn refused(p: &CloudPolicy, c: &Connect) -> (u8, RefusalKind) {
    match p.decide_connect(c) {
        ConnectDecision::Refuse { code, reason } => (code, reason.kind),
        other => panic!("not refused: {other:?}"),
    }
}

fn closed(p: &CloudPolicy, c: &Connect) -> String {
    match p.decide_connect(c) {
        ConnectDecision::Close { reason } => reason,
        other => panic!("not closed: {other:?}"),
    }
}

fn publish(topic: &str, qos: QoS) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: topic.into(),
        packet_id: (qos != QoS::AtMostOnce).then_some(1),
        payload: br#"{"id":"123","params":{}}"#.to_vec(),
    }
}

#[test]
fn seed_004_is_accepted_despite_its_keepalive_of_30() {
    let a = admit(&policy(), &seed_004());
    assert_eq!(
        (a.platform, a.onenet_auth, a.keepalive),
        (Platform::Onenet, Some(OneNetAuth::Legacy), 30)
    );
    assert_eq!(a.implicit_filters, ["$creq/#"]);
    assert!(
        a.notes[0].contains("keepalive.legacy_minimum"),
        "{:?}",
        a.notes
    );
    let mut strict = OneNetProfile::default();
    strict.keepalive.legacy_minimum = true;
    assert!(closed(&policy_with(strict), &seed_004()).contains("120"));
}

#[test]
fn legacy_refusals_carry_the_profiles_codes() {
    let p = policy();
    let mut wrong = seed_004();
    wrong.password = Some(b"sn889".to_vec());
    assert_eq!(refused(&p, &wrong), (4, RefusalKind::SignMismatch));
    let mut unknown = seed_004();
    unknown.client_id = "999".into();
    assert_eq!(refused(&p, &unknown), (2, RefusalKind::UnknownDevice));
    let mut off = seed_004();
    off.client_id = "700".into();
    assert_eq!(refused(&p, &off), (5, RefusalKind::DeviceDisabled));
    let mut v31 = seed_004();
    (v31.protocol_name, v31.protocol_level) = ("MQIsdp".into(), 3);
    assert_eq!(refused(&p, &v31), (1, RefusalKind::UnsupportedProtocol));
}

#[test]
fn an_anonymous_login_is_closed_without_connack() {
    let mut anonymous = seed_004();
    (anonymous.username, anonymous.password) = (None, None);
    assert!(closed(&policy(), &anonymous).contains("anonymous"));
    let mut no_password = seed_004();
    no_password.password = None;
    assert!(closed(&policy(), &no_password).contains("password"));
}

#[test]
fn the_token_login_is_checked_and_refused_with_4() {
    let p = policy();
    for method in [
        SignMethod::HmacMd5,
        SignMethod::HmacSha1,
        SignMethod::HmacSha256,
    ] {
        let a = admit(&p, &token_connect(4_000_000_000, method));
        assert_eq!((a.granted_qos, a.implicit_filters.len()), (0, 0));
    }
    let expired = token_connect(1_000, SignMethod::HmacSha1);
    assert_eq!(refused(&p, &expired), (4, RefusalKind::SignMismatch));
    let mut forged = token_connect(4_000_000_000, SignMethod::HmacSha1);
    forged.password = Some(b"version=2018-10-31&res=x&et=1&method=md5&sign=x".to_vec());
    assert_eq!(refused(&p, &forged), (4, RefusalKind::SignMismatch));
    let mut stranger = token_connect(4_000_000_000, SignMethod::HmacSha1);
    stranger.client_id = "someone-else".into();
    assert_eq!(refused(&p, &stranger), (4, RefusalKind::UnknownDevice));
}

#[test]
fn a_token_connect_with_will_session_or_odd_keepalive_is_closed() {
    let p = policy();
    let mut will = token_connect(4_000_000_000, SignMethod::HmacSha1);
    will.will = Some(Will {
        topic: "w".into(),
        message: b"x".to_vec(),
        qos: QoS::AtMostOnce,
        retain: false,
    });
    assert!(closed(&p, &will).contains("will"));
    let mut persistent = token_connect(4_000_000_000, SignMethod::HmacSha1);
    persistent.clean_session = false;
    assert!(closed(&p, &persistent).contains("persistent"));
    let mut long = token_connect(4_000_000_000, SignMethod::HmacSha1);
    long.keepalive = 1801;
    assert!(closed(&p, &long).contains("1801"));
}

#[test]
fn token_topic_rights() {
    let p = policy();
    let a = admit(&p, &token_connect(4_000_000_000, SignMethod::HmacSha1));
    let own = format!("$sys/{TOKEN_PID}/{TOKEN_DN}/thing/property/post");
    assert!(matches!(
        p.uplink(
            &a,
            &publish(&own, QoS::AtLeastOnce),
            &mut TopicMemo::default()
        ),
        UplinkVerdict::Forward { .. }
    ));
    for foreign in [
        format!("$sys/{TOKEN_PID}/other/thing/property/post"),
        "/custom/topic".to_owned(),
    ] {
        assert!(matches!(
            p.uplink(
                &a,
                &publish(&foreign, QoS::AtMostOnce),
                &mut TopicMemo::default()
            ),
            UplinkVerdict::Disconnect(_)
        ));
    }
    let mut retained = publish(&own, QoS::AtMostOnce);
    retained.retain = true;
    assert!(matches!(
        p.uplink(&a, &retained, &mut TopicMemo::default()),
        UplinkVerdict::Disconnect(_)
    ));
    assert!(matches!(
        p.uplink(
            &a,
            &publish(&own, QoS::ExactlyOnce),
            &mut TopicMemo::default()
        ),
        UplinkVerdict::Disconnect(_)
    ));
    let set = format!("$sys/{TOKEN_PID}/{TOKEN_DN}/thing/property/set");
    assert_eq!(p.subscription(&a, &set), SubscribeVerdict::Grant);
    let cmd = format!("$sys/{TOKEN_PID}/{TOKEN_DN}/cmd/#");
    assert_eq!(p.subscription(&a, &cmd), SubscribeVerdict::Grant);
    let too_wide = format!("$sys/{TOKEN_PID}/{TOKEN_DN}/#");
    assert!(matches!(
        p.subscription(&a, &too_wide),
        SubscribeVerdict::Refuse(_)
    ));
    assert_eq!(p.delivery_qos(&a, QoS::AtLeastOnce), QoS::AtMostOnce);
    assert_eq!((p.granted(&a, 1), p.granted(&a, 0x80)), (0, 0x80));
}

#[test]
fn legacy_topic_rights() {
    let p = policy();
    let a = admit(&p, &seed_004());
    for fine in ["$dp", "$crsp/abc", "/657077/datastream"] {
        assert!(matches!(
            p.uplink(
                &a,
                &publish(fine, QoS::AtLeastOnce),
                &mut TopicMemo::default()
            ),
            UplinkVerdict::Forward { .. }
        ));
    }
    assert!(matches!(
        p.uplink(
            &a,
            &publish("$sys/20190156/1/thing/property/post", QoS::AtMostOnce),
            &mut TopicMemo::default()
        ),
        UplinkVerdict::Disconnect(_)
    ));
    assert!(matches!(
        p.subscription(&a, "$creq/#"),
        SubscribeVerdict::Refuse(_)
    ));
    assert_eq!(p.subscription(&a, "/x/y"), SubscribeVerdict::Grant);
    assert_eq!(p.delivery_qos(&a, QoS::AtLeastOnce), QoS::AtMostOnce);
}

#[test]
fn posts_are_answered_on_their_reply_topics() {
    let p = policy();
    let post = publish("$sys/238322/dev/thing/property/post", QoS::AtMostOnce);
    let reply = p.reply_to(&post).unwrap();
    assert_eq!(reply.topic, "$sys/238322/dev/thing/property/post/reply");
    let body: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"id":"123","code":200,"msg":"success"})
    );
    let event = publish("$sys/238322/dev/thing/event/post", QoS::AtMostOnce);
    assert!(p
        .reply_to(&event)
        .unwrap()
        .topic
        .ends_with("event/post/reply"));
    let mut dp = publish("$sys/238322/dev/dp/post/json", QoS::AtMostOnce);
    dp.payload = br#"{"id":1,"dp":{"t":[{"v":3}]}}"#.to_vec();
    assert!(p.reply_to(&dp).unwrap().topic.ends_with("/accepted"));
    dp.payload = b"junk".to_vec();
    assert_eq!(p.reply_to(&dp).unwrap().code, 98);
    // The device's own set_reply is an answer, not a post.
    let set_reply = publish("$sys/238322/dev/thing/property/set_reply", QoS::AtMostOnce);
    assert_eq!(p.reply_to(&set_reply), None);
    let mut off = OneNetProfile::default();
    off.thing.replies = false;
    assert_eq!(policy_with(off).reply_to(&post), None);
}

#[test]
fn the_profile_is_shared_not_copied() {
    let p = policy();
    assert!(Arc::ptr_eq(
        &p.onenet_profile(),
        &p.clone().onenet_profile()
    ));
}
