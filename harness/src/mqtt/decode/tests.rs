//! The decoder against every complete packet the seeds print, and against the seeds' mistakes.

use rstest::rstest;

use super::*;
use crate::mqtt::hex::parse_hex;
use crate::mqtt::packet::{
    Connack, Connect, Publish, QoS, Suback, Subscribe, SubscribeFilter, Unsubscribe,
};

// Seed 000: Air601 CONNECT to Alibaba Cloud (114 bytes, `AT+CIPSEND=114`).
const SEED_000_CONNECT: &str = "10 70 00 04 4D 51 54 54 04 C2 00 64 00 28 41 69 72 36 30 31 7C 73 65 63 75 72 65 6D 6F 64 65 3D 33 2C 73 69 67 6E 6D 65 74 68 6F 64 3D 68 6D 61 63 73 68 61 31 7C 00 10 41 69 72 36 30 31 26 6B 73 66 31 31 34 35 31 34 00 28 65 34 62 39 33 31 66 33 38 30 33 37 65 66 37 32 34 31 34 35 35 37 30 39 34 35 38 62 34 62 36 33 30 62 32 32 65 61 63 32";
// Seed 001: LY-1 CONNECT (112 bytes).
const SEED_001_CONNECT: &str = "10 6E 00 04 4D 51 54 54 04 C2 00 64 00 26 4C 59 2D 31 7C 73 65 63 75 72 65 6D 6F 64 65 3D 33 2C 73 69 67 6E 6D 65 74 68 6F 64 3D 68 6D 61 63 73 68 61 31 7C 00 10 4C 59 2D 31 26 61 31 30 7A 77 6B 55 78 51 55 53 00 28 37 61 30 33 33 36 38 65 37 34 30 66 66 39 65 66 62 38 33 31 38 63 36 62 61 32 61 30 32 36 30 66 32 61 35 39 36 66 38 37";
// Seed 002: device2, the corrected CONNECT (118 bytes) and the first attempt (116 bytes).
const SEED_002_CONNECT: &str = "10 74 00 04 4D 51 54 54 04 C2 00 64 00 29 64 65 76 69 63 65 32 7C 73 65 63 75 72 65 6D 6F 64 65 3D 33 2C 73 69 67 6E 6D 65 74 68 6F 64 3D 68 6D 61 63 73 68 61 31 7C 00 13 64 65 76 69 63 65 32 26 61 31 6E 64 50 51 48 63 58 37 66 00 28 35 63 61 65 65 66 35 62 39 32 35 31 39 34 30 36 39 36 62 30 32 64 63 38 30 62 36 31 35 63 33 66 37 33 39 66 34 36 62 63";
const SEED_002_FIRST_CONNECT: &str = "10 72  00 04 4D 51 54 54 04 C2 00 64 2A 64 65 76 69 63 65 32 7C 73 65 63 75 72 65 6D 6F 64 65 3D 33 2C 73 69 67 6E 6D 65 74 68 6F 64 3D 68 6D 61 63 73 68 61 31 7C 0A   13 64 65 76 69 63 65 32 26 61 31 6E 64 50 51 48 63 58 37 66    28 35 63 61 65 65 66 35 62 39 32 35 31 39 34 30 36 39 36 62 30 32 64 63 38 30 62 36 31 35 63 33 66 37 33 39 66 34 36 62 63";
// Seed 003: STC15 CONNECT (114 bytes).
const SEED_003_CONNECT: &str = "10 70 00 04 4D 51 54 54 04 C2 00 64 00 27 31 30 30 30 31 7C 73 65 63 75 72 65 6D 6F 64 65 3D 33 2C 73 69 67 6E 6D 65 74 68 6F 64 3D 68 6D 61 63 73 68 61 31 7C 00 11 53 54 43 31 35 26 61 31 6A 69 30 71 46 76 36 4A 66 00 28 34 37 35 36 38 35 36 66 35 62 63 36 35 62 62 62 61 62 63 37 61 38 32 36 64 37 33 64 65 32 38 32 66 66 38 37 30 39 30 64";
// Seed 004: OneNET CONNECT (37 bytes, `AT+QISEND=0,37`).
const SEED_004_CONNECT: &str = "10 23 00 04 4D 51 54 54 04 C2 00 1E 00 06 36 35 37 30 37 37 00 08 32 30 31 39 30 31 35 36 00 05 73 6E 38 38 38";
// Seed 002: SUBSCRIBE/UNSUBSCRIBE of the property/set topic, packet id 0x0A.
const SEED_002_SUBSCRIBE: &str = "82 38 00 0A 00 33 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 66 2F 64 65 76 69 63 65 32 2F 74 68 69 6E 67 2F 73 65 72 76 69 63 65 2F 70 72 6F 70 65 72 74 79 2F 73 65 74 00";
const SEED_002_UNSUBSCRIBE: &str = "A2 37 00 0A 00 33 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 66 2F 64 65 76 69 63 65 32 2F 74 68 69 6E 67 2F 73 65 72 76 69 63 65 2F 70 72 6F 70 65 72 74 79 2F 73 65 74";
// Seed 002: the cloud's property-set downlink (2-byte remaining length 9A 01 = 154).
const SEED_002_DOWNLINK: &str = "30 9A 01 00 33 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 66 2F 64 65 76 69 63 65 32 2F 74 68 69 6E 67 2F 73 65 72 76 69 63 65 2F 70 72 6F 70 65 72 74 79 2F 73 65 74 7B 22 6D 65 74 68 6F 64 22 3A 22 74 68 69 6E 67 2E 73 65 72 76 69 63 65 2E 70 72 6F 70 65 72 74 79 2E 73 65 74 22 2C 22 69 64 22 3A 22 34 31 30 37 34 39 36 34 33 22 2C 22 70 61 72 61 6D 73 22 3A 7B 22 50 6F 77 65 72 53 77 69 74 63 68 22 3A 31 7D 2C 22 76 65 72 73 69 6F 6E 22 3A 22 31 2E 30 2E 30 22 7D";
// Seed 002: property posts, `98 01` = 152 and `B3 01` = 179.
const SEED_002_POST: &str = "30 98 01 00 32 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 66 2F 64 65 76 69 63 65 32 2F 74 68 69 6E 67 2F 65 76 65 6E 74 2F 70 72 6F 70 65 72 74 79 2F 70 6F 73 74 7B 22 6D 65 74 68 6F 64 22 3A 22 74 68 69 6E 67 2E 65 76 65 6E 74 2E 70 72 6F 70 65 72 74 79 2E 70 6F 73 74 22 2C 22 69 64 22 3A 22 38 30 33 33 38 31 30 31 37 22 2C 22 70 61 72 61 6D 73 22 3A 7B 22 50 6F 77 65 72 53 77 69 74 63 68 22 3A 31 7D 2C 22 76 65 72 73 69 6F 6E 22 3A 22 31 2E 30 2E 30 22 7D";
const SEED_002_POST_TEMPERATURE: &str = "30 B3 01 00 32 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 66 2F 64 65 76 69 63 65 32 2F 74 68 69 6E 67 2F 65 76 65 6E 74 2F 70 72 6F 70 65 72 74 79 2F 70 6F 73 74 7B 22 6D 65 74 68 6F 64 22 3A 22 74 68 69 6E 67 2E 65 76 65 6E 74 2E 70 72 6F 70 65 72 74 79 2E 70 6F 73 74 22 2C 22 69 64 22 3A 22 38 30 33 33 38 31 30 31 37 22 2C 22 70 61 72 61 6D 73 22 3A 7B 22 50 6F 77 65 72 53 77 69 74 63 68 22 3A 31 2C 22 43 75 72 72 65 6E 74 54 65 6D 70 65 72 61 74 75 72 65 22 3A 32 35 2E 36 33 7D 2C 22 76 65 72 73 69 6F 6E 22 3A 22 31 2E 30 2E 30 22 7D";
// Seed 003: QoS 0 post (`98 01`) and the received property set (`92 01` = 146).
const SEED_003_POST: &str = "30 98 01 00 30 2F 73 79 73 2F 61 31 6A 69 30 71 46 76 36 4A 66 2F 53 54 43 31 35 2F 74 68 69 6E 67 2F 65 76 65 6E 74 2F 70 72 6F 70 65 72 74 79 2F 70 6F 73 74 7B 22 69 64 22 3A 22 31 37 22 2C 22 76 65 72 73 69 6F 6E 22 3A 22 31 2E 30 22 2C 22 70 61 72 61 6D 73 22 3A 7B 22 54 65 6D 70 22 3A 20 36 2C 22 48 75 6D 22 3A 20 36 2C 22 47 61 73 22 3A 20 36 7D 2C 22 6D 65 74 68 6F 64 22 3A 22 74 68 69 6E 67 2E 65 76 65 6E 74 2E 70 72 6F 70 65 72 74 79 2E 73 65 74 22 7D";
const SEED_003_DOWNLINK: &str = "30 92 01 00 31 2F 73 79 73 2F 61 31 6A 69 30 71 46 76 36 4A 66 2F 53 54 43 31 35 2F 74 68 69 6E 67 2F 73 65 72 76 69 63 65 2F 70 72 6F 70 65 72 74 79 2F 73 65 74 7B 22 6D 65 74 68 6F 64 22 3A 22 74 68 69 6E 67 2E 73 65 72 76 69 63 65 2E 70 72 6F 70 65 72 74 79 2E 73 65 74 22 2C 22 69 64 22 3A 22 39 33 34 34 31 34 32 34 31 22 2C 22 70 61 72 61 6D 73 22 3A 7B 22 4C 69 67 68 74 22 3A 31 7D 2C 22 76 65 72 73 69 6F 6E 22 3A 22 31 2E 30 2E 30 22 7D";

fn bytes(hex: &str) -> Vec<u8> {
    parse_hex(hex).expect("seed hex in this file is well formed")
}

fn aliyun_connect(client_id: &str, username: &str, sign: &str) -> Packet {
    Packet::from(Connect {
        username: Some(username.into()),
        password: Some(sign.as_bytes().to_vec()),
        ..Connect::new(client_id, 100)
    })
}

#[rstest]
#[case::seed_000_air601(
    SEED_000_CONNECT,
    114,
    aliyun_connect(
        "Air601|securemode=3,signmethod=hmacsha1|",
        "Air601&ksf114514",
        "e4b931f38037ef7241455709458b4b630b22eac2"
    )
)]
#[case::seed_001_ly1(
    SEED_001_CONNECT,
    112,
    aliyun_connect(
        "LY-1|securemode=3,signmethod=hmacsha1|",
        "LY-1&a10zwkUxQUS",
        "7a03368e740ff9efb8318c6ba2a0260f2a596f87"
    )
)]
#[case::seed_002_device2(
    SEED_002_CONNECT,
    118,
    aliyun_connect(
        "device2|securemode=3,signmethod=hmacsha1|",
        "device2&a1ndPQHcX7f",
        "5caeef5b9251940696b02dc80b615c3f739f46bc"
    )
)]
#[case::seed_003_stc15(
    SEED_003_CONNECT,
    114,
    aliyun_connect(
        "10001|securemode=3,signmethod=hmacsha1|",
        "STC15&a1ji0qFv6Jf",
        "4756856f5bc65bbbabc7a826d73de282ff87090d"
    )
)]
#[case::seed_004_onenet(SEED_004_CONNECT, 37, Packet::from(Connect {
    username: Some("20190156".into()),
    password: Some(b"sn888".to_vec()),
    ..Connect::new("657077", 30)
}))]
#[case::connack_accepted("20 02 00 00", 4, Packet::Connack(Connack { session_present: false, return_code: 0 }))]
#[case::connack_refused("20 02 00 04", 4, Packet::Connack(Connack { session_present: false, return_code: 4 }))]
#[case::subscribe(SEED_002_SUBSCRIBE, 58, Packet::Subscribe(Subscribe {
    packet_id: 0x0A,
    filters: vec![SubscribeFilter {
        filter: "/sys/a1ndPQHcX7f/device2/thing/service/property/set".into(),
        qos: QoS::AtMostOnce,
    }],
}))]
#[case::suback("90 03 00 0A 01", 5, Packet::Suback(Suback { packet_id: 0x0A, return_codes: vec![1] }))]
#[case::unsubscribe(SEED_002_UNSUBSCRIBE, 57, Packet::Unsubscribe(Unsubscribe {
    packet_id: 0x0A,
    filters: vec!["/sys/a1ndPQHcX7f/device2/thing/service/property/set".into()],
}))]
#[case::unsuback("B0 02 00 0A", 4, Packet::Unsuback { packet_id: 0x0A })]
#[case::pingreq("C0 00", 2, Packet::Pingreq)]
#[case::pingresp("D0 00", 2, Packet::Pingresp)]
#[case::disconnect("E0 00", 2, Packet::Disconnect)]
#[case::puback_seed_003("40 02 00 07", 4, Packet::Puback { packet_id: 7 })]
fn seed_packets_decode_to_what_the_seeds_explain(
    #[case] hex: &str,
    #[case] len: usize,
    #[case] want: Packet,
) {
    let data = bytes(hex);
    assert_eq!(data.len(), len, "the seed's byte count");
    assert_eq!(decode(&data), Ok((want, len)));
    let p = dissect_packet(&data).unwrap();
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
}

fn publish(hex: &str) -> Publish {
    match decode(&bytes(hex)) {
        Ok((Packet::Publish(p), _)) => p,
        other => panic!("not a PUBLISH: {other:?}"),
    }
}

#[rstest]
#[case::seed_002_downlink(SEED_002_DOWNLINK, 157, "/sys/a1ndPQHcX7f/device2/thing/service/property/set",
    r#"{"method":"thing.service.property.set","id":"410749643","params":{"PowerSwitch":1},"version":"1.0.0"}"#)]
#[case::seed_002_post(SEED_002_POST, 155, "/sys/a1ndPQHcX7f/device2/thing/event/property/post",
    r#"{"method":"thing.event.property.post","id":"803381017","params":{"PowerSwitch":1},"version":"1.0.0"}"#)]
#[case::seed_002_temperature(SEED_002_POST_TEMPERATURE, 182, "/sys/a1ndPQHcX7f/device2/thing/event/property/post",
    r#"{"method":"thing.event.property.post","id":"803381017","params":{"PowerSwitch":1,"CurrentTemperature":25.63},"version":"1.0.0"}"#)]
#[case::seed_003_post(SEED_003_POST, 155, "/sys/a1ji0qFv6Jf/STC15/thing/event/property/post",
    r#"{"id":"17","version":"1.0","params":{"Temp": 6,"Hum": 6,"Gas": 6},"method":"thing.event.property.set"}"#)]
#[case::seed_003_downlink(SEED_003_DOWNLINK, 149, "/sys/a1ji0qFv6Jf/STC15/thing/service/property/set",
    r#"{"method":"thing.service.property.set","id":"934414241","params":{"Light":1},"version":"1.0.0"}"#)]
fn qos0_publishes_of_the_seeds(
    #[case] hex: &str,
    #[case] len: usize,
    #[case] topic: &str,
    #[case] payload: &str,
) {
    assert_eq!(bytes(hex).len(), len);
    let p = publish(hex);
    assert_eq!(
        (p.dup, p.qos, p.retain, p.packet_id),
        (false, QoS::AtMostOnce, false, None)
    );
    assert_eq!(p.topic, topic);
    assert_eq!(String::from_utf8(p.payload).unwrap(), payload);
}

#[test]
fn qos1_publish_of_seed_003_carries_its_packet_id() {
    // Seed 003's QoS 1 layout: `32`, topic, packet id `00 iD`, payload; here iD = 0x0B.
    let p = publish("32 24 00 1C 2F 61 31 6A 69 30 71 46 76 36 4A 66 2F 53 54 43 31 35 2F 75 73 65 72 2F 74 65 6D 70 00 0B 32 35 2E 36");
    assert_eq!((p.qos, p.packet_id), (QoS::AtLeastOnce, Some(0x0B)));
    assert_eq!(p.topic, "/a1ji0qFv6Jf/STC15/user/temp");
    assert_eq!(p.payload, b"25.6");
    // Seed 003's "failure response": republish with first byte 3A (DUP set).
    let p = publish("3A 24 00 1C 2F 61 31 6A 69 30 71 46 76 36 4A 66 2F 53 54 43 31 35 2F 75 73 65 72 2F 74 65 6D 70 00 0B 32 35 2E 36");
    assert!(p.dup);
}

fn diagnosis(hex: &str) -> Vec<(usize, Severity, String)> {
    crate::mqtt::dissect(&bytes(hex))
        .diagnostics()
        .into_iter()
        .map(|d| (d.offset, d.severity, d.message.clone()))
        .collect()
}

#[test]
fn seed_002_first_connect_is_pinpointed() {
    let data = bytes(SEED_002_FIRST_CONNECT);
    assert_eq!(data.len(), 116);
    let d = diagnosis(SEED_002_FIRST_CONNECT);
    let at: Vec<(usize, Severity)> = d.iter().map(|(o, s, _)| (*o, *s)).collect();
    assert_eq!(
        at,
        [
            (12, Severity::Error),
            (54, Severity::Warning),
            (55, Severity::Error),
            (75, Severity::Error)
        ],
        "{d:#?}"
    );
    assert!(d[0].2.starts_with(
        "client identifier length 0x2A64 = 10852 exceeds the 102 bytes left — is the 00 of the \
         length prefix missing?"
    ));
    assert_eq!(
        d[1].2,
        "the client identifier ends with 0x0A (line feed) — a stray newline?"
    );
    assert!(
        d[2].2.starts_with("user name length 0x1364 = 4964 exceeds"),
        "{}",
        d[2].2
    );
    assert!(
        d[3].2.starts_with("password length 0x2835 = 10293 exceeds"),
        "{}",
        d[3].2
    );
    assert!(matches!(
        decode(&data),
        Err(DecodeError::Invalid { offset: 12, .. })
    ));
    // Read the way the author meant it, the fields come out right, newline and all.
    match dissect_packet(&data).unwrap().packet {
        Some(Packet::Connect(c)) => {
            assert_eq!(c.client_id, "device2|securemode=3,signmethod=hmacsha1|\n");
            assert_eq!(c.username.as_deref(), Some("device2&a1ndPQHcX7f"));
            assert_eq!(
                c.password.as_deref(),
                Some(&b"5caeef5b9251940696b02dc80b615c3f739f46bc"[..])
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn seed_002_94_01_is_caught_and_98_01_is_right() {
    // Seed 002 computes 98 01 for 152 bytes, then says "fill in 94 01".
    assert!(crate::mqtt::dissect(&bytes(SEED_002_POST)).is_valid());
    let wrong = SEED_002_POST.replacen("30 98 01", "30 94 01", 1);
    let d = diagnosis(&wrong);
    let errors: Vec<_> = d.iter().filter(|x| x.1 == Severity::Error).collect();
    assert_eq!(errors.len(), 1, "{d:#?}");
    assert_eq!(errors[0].0, 151);
    assert_eq!(
        errors[0].2,
        "remaining length of the PUBLISH at offset 0 says 148 but 152 bytes follow: 4 extra bytes \
         (2E 30 22 7D) at offset 151 start no packet; if they belong to the PUBLISH, its \
         remaining length is 152, encoded 98 01"
    );
    // Cut 4 bytes short, the JSON payload no longer parses either.
    assert!(d
        .iter()
        .any(|x| x.1 == Severity::Warning && x.2.contains("does not parse")));
}

#[rstest]
#[case::suback_08(
    "90 03 00 0A 08",
    4,
    "SUBACK return code 08 is not defined: failure is 80 (bit 7), not 08"
)]
#[case::subscribe_flags_0("80 06 00 0A 00 01 61 00", 0, "SUBSCRIBE's first byte must be 82 (flags 0010), not 80 — SUBSCRIBE, UNSUBSCRIBE and PUBREL have their reserved flags fixed at 0010")]
#[case::pubrel_flags_0("60 02 00 01", 0, "PUBREL's first byte must be 62 (flags 0010), not 60 — SUBSCRIBE, UNSUBSCRIBE and PUBREL have their reserved flags fixed at 0010")]
#[case::connack_flags(
    "21 02 00 00",
    0,
    "CONNACK's first byte must be 20 (flags 0000), not 21"
)]
#[case::publish_qos3("36 05 00 01 61 00 01", 0, "PUBLISH first byte 36: QoS bits 11 (3) are not a QoS; use 30 (QoS 0), 32 (QoS 1) or 34 (QoS 2), plus 08 for DUP and 01 for RETAIN")]
#[case::publish_dup_qos0(
    "38 03 00 01 61",
    0,
    "PUBLISH first byte 38: DUP must be 0 for a QoS 0 message"
)]
#[case::publish_wildcard("30 05 00 03 61 2F 23", 2, "the PUBLISH topic \"a/#\" is not a valid topic name: it holds the wildcard '#' at character 2; only subscriptions may use wildcards")]
#[case::publish_id_0(
    "32 05 00 01 61 00 00",
    5,
    "the PUBLISH packet identifier is 0; identifiers run from 1 to 65535"
)]
#[case::puback_id_0(
    "40 02 00 00",
    2,
    "the PUBACK packet identifier is 0; identifiers run from 1 to 65535"
)]
#[case::subscribe_empty(
    "82 02 00 0A",
    4,
    "SUBSCRIBE carries no topic filter; it needs at least one (length, filter, QoS)"
)]
#[case::unsubscribe_empty(
    "A2 02 00 0A",
    4,
    "UNSUBSCRIBE carries no topic filter; it needs at least one"
)]
#[case::subscribe_no_qos("82 05 00 0A 00 01 61", 7, "the topic filter at offset 4 has no requested QoS byte after it: every SUBSCRIBE filter is followed by 00, 01 or 02 (an UNSUBSCRIBE copied as a SUBSCRIBE?)")]
#[case::subscribe_qos_reserved(
    "82 06 00 0A 00 01 61 04",
    7,
    "requested QoS byte 04: bits 7-2 are reserved and must be 0"
)]
#[case::subscribe_bad_filter(
    "82 07 00 0A 00 02 61 23 00",
    4,
    "the topic filter \"a#\" is not valid: '#' at character 1 must be the whole last level (`a/#`)"
)]
#[case::suback_empty(
    "90 02 00 0A",
    4,
    "SUBACK carries no return code; it needs one per filter of the SUBSCRIBE"
)]
#[case::connack_reserved_bits(
    "20 02 02 00",
    2,
    "CONNACK acknowledge flags 02: bits 7-1 are reserved and must be 0"
)]
#[case::connack_reserved_code(
    "20 02 00 06",
    3,
    "CONNACK return code 6 is reserved; 0 to 5 are defined"
)]
#[case::connack_sp_refused(
    "20 02 01 05",
    2,
    "CONNACK refuses (return code 5) but says session present; a refusal must have it 0"
)]
#[case::disconnect_body("E0 01 00", 2, "DISCONNECT has no body, but 1 byte follows its fixed header (00); its remaining length must be 00")]
#[case::puback_long("40 03 00 01 00", 4, "1 byte left over after the last field of the PUBACK: the remaining length runs past its fields")]
#[case::bad_utf8(
    "30 05 00 02 C3 28 7B",
    4,
    "the topic name is not valid UTF-8: byte C3 cannot start or continue a character"
)]
#[case::nul_in_topic(
    "30 05 00 02 61 00 7B",
    5,
    "the topic name contains U+0000, which MQTT strings must not"
)]
#[case::missing_bytes("20 02 00", 1, "remaining length says 2 but only 1 byte follows: 1 missing (if nothing is missing, the remaining length is 1, encoded 01)")]
#[case::five_length_bytes("30 FF FF FF FF 01", 0, "6 bytes (30 FF FF FF FF 01) at offset 0 are not an MQTT packet: the remaining length at offset 1 still has the continuation bit (0x80) set on its 4th byte; MQTT allows at most 4 length bytes")]
#[case::reserved_type("0D 0A", 0, "2 bytes (0D 0A) at offset 0 are not an MQTT packet: byte 0D at offset 0 starts no MQTT packet: packet type 0 is reserved — a CR/LF from the serial line or the terminal?")]
#[case::trailing_crlf("20 02 00 00 0D 0A", 4, "remaining length of the CONNACK at offset 0 says 2 but 4 bytes follow: 2 extra bytes (0D 0A) at offset 4 start no packet; if they belong to the CONNACK, its remaining length is 4, encoded 04 — a CR/LF the terminal or serial tool appended?")]
#[case::unsubscribe_with_qos("A2 06 00 0A 00 01 61 00", 7, "1 byte (00) at offset 7 after the last topic filter — a QoS byte left over from a SUBSCRIBE? UNSUBSCRIBE filters have no QoS byte")]
fn mistakes_are_diagnosed_at_their_byte(
    #[case] hex: &str,
    #[case] offset: usize,
    #[case] message: &str,
) {
    let d = diagnosis(hex);
    let errors: Vec<_> = d.iter().filter(|x| x.1 == Severity::Error).collect();
    assert!(
        errors.iter().any(|(o, _, m)| *o == offset && m == message),
        "want error at {offset}: {message}\ngot {d:#?}"
    );
    // Strict decoding fails too, or (for extra bytes after a packet) stops before them.
    let data = bytes(hex);
    assert_ne!(decode(&data).map(|(_, n)| n), Ok(data.len()));
}

#[rstest]
#[case::reserved_bit("10 0D 00 04 4D 51 54 54 04 03 00 3C 00 01 61", 9, "connect flags 03: reserved bit 0 is 1 and must be 0 (the server must drop the connection); did you mean 02?")]
#[case::will_qos_without_will("10 0D 00 04 4D 51 54 54 04 0A 00 3C 00 01 61", 9, "connect flags 0A: will QoS and will retain must be 0 when the will flag (bit 2) is 0; did you mean 02?")]
#[case::password_without_user("10 10 00 04 4D 51 54 54 04 42 00 3C 00 01 61 00 01 70", 9, "connect flags 42: the password flag is set without the user name flag, which MQTT 3.1.1 forbids; set both (C2 for user name, password and clean session)")]
#[case::empty_id_no_clean("10 0C 00 04 4D 51 54 54 04 00 00 3C 00 00", 12, "the client identifier is empty but clean session is 0: a server must refuse this (CONNACK 02); send a client id or set clean session")]
#[case::mqisdp("10 0F 00 06 4D 51 49 73 64 70 03 02 00 3C 00 01 61", 2, "protocol name MQIsdp with level 3 is MQTT 3.1, not the 3.1.1 this decoder checks: Alibaba Cloud accepts 3.1, OneNET answers CONNACK 01; for 3.1.1 write 00 04 4D 51 54 54 04 (MQTT, level 4)")]
#[case::level_5("10 0D 00 04 4D 51 54 54 05 02 00 3C 00 01 61", 8, "protocol level 5 is MQTT 5.0; this decoder checks 3.1.1 (level 4), and Alibaba Cloud and OneNET answer such a CONNECT with CONNACK 01")]
#[case::wrong_name(
    "10 0D 00 04 6D 71 74 74 04 02 00 3C 00 01 61",
    2,
    "protocol name \"mqtt\" is not \"MQTT\"; a 3.1.1 CONNECT starts 00 04 4D 51 54 54"
)]
#[case::unannounced_bytes("10 0F 00 04 4D 51 54 54 04 02 00 3C 00 01 61 00 00", 15, "2 bytes follow the last field the connect flags announce — a flag bit missing (user name 0x80, password 0x40, will 0x04), or the remaining length too big?")]
fn connect_rules(#[case] hex: &str, #[case] offset: usize, #[case] message: &str) {
    mistakes_are_diagnosed_at_their_byte(hex, offset, message);
}

#[test]
fn connect_with_will_decodes() {
    // Seed 000's non-normative flags CE: user name, password, will QoS 1, will, clean session.
    let c = Connect {
        will: Some(crate::mqtt::packet::Will {
            topic: "dev/lwt".into(),
            message: b"offline".to_vec(),
            qos: QoS::AtLeastOnce,
            retain: false,
        }),
        username: Some("u".into()),
        password: Some(vec![0xFF, 0x00]),
        ..Connect::new("Air601", 10)
    };
    let data = crate::mqtt::encode(&Packet::from(c.clone())).unwrap();
    assert_eq!(data[9], 0xCE);
    assert_eq!(decode(&data), Ok((Packet::from(c), data.len())));
}

#[test]
fn padded_remaining_length_is_only_a_warning() {
    let data = [0x20, 0x82, 0x00, 0x00, 0x00];
    let d = diagnosis("20 82 00 00 00");
    assert_eq!(
        d,
        [(
            1,
            Severity::Warning,
            "remaining length 2 is encoded in 2 bytes (82 00); the shortest form is 02".to_string()
        )]
    );
    assert_eq!(
        decode(&data),
        Ok((
            Packet::Connack(Connack {
                session_present: false,
                return_code: 0
            }),
            5
        ))
    );
}

#[test]
fn incomplete_input_asks_for_more() {
    assert_eq!(decode(&[]), Err(DecodeError::Incomplete { needed: 2 }));
    assert_eq!(
        decode(&[0x30, 0x9A]),
        Err(DecodeError::Incomplete { needed: 1 })
    );
    let data = bytes(SEED_002_DOWNLINK);
    assert_eq!(
        decode(&data[..150]),
        Err(DecodeError::Incomplete { needed: 7 })
    );
    // Bytes after the packet are left for the next call.
    let mut two = bytes("20 02 00 00");
    two.extend(bytes("90 03 00 0A 01"));
    assert_eq!(decode(&two).map(|(_, n)| n), Ok(4));
}

#[test]
fn seed_003_truncated_qos1_example_is_incomplete() {
    // `32 29 00 1C <28-byte topic>` then `+CONTENT`: 41 announced, 30 present.
    let hex = "32 29 00 1C 2F 61 31 6A 69 30 71 46 76 36 4A 66 2F 53 54 43 31 35 2F 75 73 65 72 2F 74 65 6D 70";
    let d = diagnosis(hex);
    assert_eq!(d[0].0, 1);
    assert_eq!(
        d[0].2,
        "remaining length says 41 but only 30 bytes follow: 11 missing (if nothing is missing, the \
         remaining length is 30, encoded 1E)"
    );
    assert!(d.iter().any(|x| x
        .2
        .starts_with("the input ends inside the packet identifier")));
}

/// The fast path (`lean.rs`) must never accept what the annotating decoder refuses, nor decode
/// anything to another value: for arbitrary bytes behind the first bytes it handles, and for
/// well-formed publishes, whatever it returns the annotating decoder returns too.
mod lean_agrees {
    use super::*;
    use proptest::prelude::*;

    /// The annotating decoder alone (`decode` itself takes the fast path first).
    fn annotating(buf: &[u8]) -> Result<(Packet, usize), DecodeError> {
        let p = dissect_packet(buf).map_err(|d| DecodeError::Invalid {
            offset: d.offset,
            message: d.message,
        })?;
        if let Some(d) = p.errors().next() {
            return Err(DecodeError::Invalid {
                offset: d.offset,
                message: d.message.clone(),
            });
        }
        p.packet
            .map(|packet| (packet, p.length))
            .ok_or(DecodeError::Invalid {
                offset: 0,
                message: String::new(),
            })
    }

    fn check(buf: &[u8]) {
        if let Some(fast) = lean::decode(buf) {
            assert_eq!(Ok(fast), annotating(buf), "{buf:02X?}");
        }
        // The borrowed PUBLISH the cloud side forwards holds what the packet would.
        if let Some(borrowed) = decode_publish_ref(buf) {
            let packet = annotating(buf).map(|(p, _)| p);
            assert_eq!(
                packet,
                Ok(Packet::Publish(borrowed.to_publish())),
                "{buf:02X?}"
            );
        }
    }

    proptest! {
        #[test]
        fn on_arbitrary_bytes(first in prop::sample::select(vec![0x30u8, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x38, 0x3A, 0x3B, 0x3E, 0x40, 0xC0]),
                              rest in prop::collection::vec(any::<u8>(), 0..40)) {
            let mut buf = vec![first];
            buf.extend(rest);
            check(&buf);
        }

        #[test]
        fn on_wellformed_publishes(topic in "[ -~]{0,20}", payload in prop::collection::vec(any::<u8>(), 0..300),
                                   qos in 0u8..3, id in any::<u16>(), retain in any::<bool>()) {
            let p = Publish {
                dup: false,
                qos: QoS::try_from(qos).unwrap(),
                retain,
                topic,
                packet_id: (qos > 0).then_some(id),
                payload,
            };
            if let Ok(buf) = crate::mqtt::encode(&Packet::Publish(p)) {
                check(&buf);
            }
        }
    }

    #[test]
    fn takes_the_seeds_simple_packets() {
        for hex in ["40 02 00 01", "C0 00", "30 05 00 01 2F 68 69"] {
            assert!(lean::decode(&bytes(hex)).is_some(), "{hex}");
        }
        // A topic with a wildcard, a zero id and DUP on QoS 0 go the annotating way.
        for hex in ["30 04 00 01 23 78", "40 02 00 00", "38 04 00 01 2F 78"] {
            assert!(lean::decode(&bytes(hex)).is_none(), "{hex}");
        }
    }
}
