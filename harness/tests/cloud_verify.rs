//! The broker-side login checks (Alibaba Cloud, and OneNET at the end) against the seeds' devices: right signs accepted
//! in either hex case, every wrong CONNECT refused with the right reason and CONNACK code,
//! and no refusal ever showing a DeviceSecret.

use std::path::PathBuf;

use athil::cloud::{
    verify_aliyun, verify_aliyun_connect, verify_onenet, verify_onenet_connect, AliyunCredentials,
    ClientIdParams, ClientIdProblem, Device, DeviceRegistry, DeviceSecret, DeviceStatus,
    OneNetAuth, OneNetCredentials, OneNetRefusal, Platform, Refusal, SecretSource, SignMethod,
    TokenError,
};
use rstest::rstest;

const SECRETS: [&str; 4] = [
    "ksf1145141919810dj15ltc137666",
    "d8b9915513b05d4de32fbed04566edd8",
    "1448e1c58996469449813ed68e3b0fed",
    "bc0834e2beeb03d37eeb7361cc387918",
];

fn registry() -> DeviceRegistry {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/devices");
    DeviceRegistry::load_dir(dir).expect("load fixtures/devices")
}

fn refuse(client_id: &str, username: Option<&str>, password: Option<&[u8]>) -> Refusal {
    let reg = registry();
    let refusal = match verify_aliyun(client_id, username, password, &reg) {
        Ok(a) => panic!("expected a refusal, got {a:?}"),
        Err(r) => r,
    };
    let shown = format!("{refusal} {refusal:?}");
    for secret in SECRETS {
        assert!(
            !shown.contains(secret),
            "the refusal leaks a secret: {shown}"
        );
    }
    refusal
}

/// The seeds' own CONNECT fields, password in the case the seed wrote (lower).
#[rstest]
#[case::seed000(
    "Air601|securemode=3,signmethod=hmacsha1|",
    "Air601&ksf114514",
    "e4b931f38037ef7241455709458b4b630b22eac2",
    "aliyun/Air601"
)]
#[case::seed001(
    "LY-1|securemode=3,signmethod=hmacsha1|",
    "LY-1&a10zwkUxQUS",
    "7a03368e740ff9efb8318c6ba2a0260f2a596f87",
    "aliyun/LY-1"
)]
#[case::seed002(
    "device2|securemode=3,signmethod=hmacsha1|",
    "device2&a1ndPQHcX7f",
    "5caeef5b9251940696b02dc80b615c3f739f46bc",
    "aliyun/device2"
)]
#[case::seed003(
    "10001|securemode=3,signmethod=hmacsha1|",
    "STC15&a1ji0qFv6Jf",
    "4756856f5bc65bbbabc7a826d73de282ff87090d",
    "aliyun/STC15"
)]
fn seed_connects_are_accepted_in_both_cases(
    #[case] client_id: &str,
    #[case] username: &str,
    #[case] password: &str,
    #[case] device: &str,
) {
    let reg = registry();
    for pw in [password.to_owned(), password.to_ascii_uppercase()] {
        let accepted = verify_aliyun(client_id, Some(username), Some(pw.as_bytes()), &reg)
            .unwrap_or_else(|r| panic!("{r}"));
        assert_eq!(accepted.device, device);
        assert_eq!(accepted.sign_method, SignMethod::HmacSha1);
    }
}

#[rstest]
#[case::md5(SignMethod::HmacMd5)]
#[case::sha1(SignMethod::HmacSha1)]
#[case::sha256(SignMethod::HmacSha256)]
fn every_method_with_timestamp_and_sdk_params_is_accepted(#[case] method: SignMethod) {
    let reg = registry();
    let d = reg.get("aliyun/device2").unwrap();
    let mut params = ClientIdParams::new("a1ndPQHcX7f&device2", method);
    params.timestamp = Some("1795293157".into());
    params.others = vec![("ext".into(), "1".into()), ("_ss".into(), "1".into())];
    let c =
        AliyunCredentials::compute(&d.product_key, &d.device_name, &d.secret().unwrap(), params);
    let accepted = verify_aliyun_connect(&c.to_connect(100), &reg).unwrap();
    assert_eq!(accepted.sign_method, method);
    assert_eq!(accepted.params.timestamp.as_deref(), Some("1795293157"));
}

#[test]
fn no_signmethod_is_checked_as_hmacmd5() {
    // python3: hmac.new(b"1448e1c58996469449813ed68e3b0fed",
    //   b"clientIddevice2deviceNamedevice2productKeya1ndPQHcX7f", hashlib.md5).hexdigest()
    let reg = registry();
    let a = verify_aliyun(
        "device2|securemode=3|",
        Some("device2&a1ndPQHcX7f"),
        Some(b"47fe47afba81e9d26fc3a12278af9991"),
        &reg,
    )
    .unwrap();
    assert_eq!(a.sign_method, SignMethod::HmacMd5);
    // The sha1 sign of the same content is refused when the client id names no method.
    let r = refuse(
        "device2|securemode=3|",
        Some("device2&a1ndPQHcX7f"),
        Some(b"5caeef5b9251940696b02dc80b615c3f739f46bc"),
    );
    assert!(matches!(
        r,
        Refusal::SignMismatch {
            method: SignMethod::HmacMd5,
            ..
        }
    ));
}

#[test]
fn wrong_sign_names_expected_and_got() {
    let r = refuse(
        "device2|securemode=3,signmethod=hmacsha1|",
        Some("device2&a1ndPQHcX7f"),
        Some(b"5caeef5b9251940696b02dc80b615c3f739f46bd"),
    );
    assert_eq!(r.connack_code(), 4);
    match &r {
        Refusal::SignMismatch {
            device,
            expected,
            got,
            content,
            method,
        } => {
            assert_eq!(device, "aliyun/device2");
            assert_eq!(expected, "5caeef5b9251940696b02dc80b615c3f739f46bc");
            assert_eq!(got, "5caeef5b9251940696b02dc80b615c3f739f46bd");
            assert_eq!(
                content,
                "clientIddevice2deviceNamedevice2productKeya1ndPQHcX7f"
            );
            assert_eq!(*method, SignMethod::HmacSha1);
        }
        other => panic!("expected SignMismatch, got {other:?}"),
    }
    let shown = r.to_string();
    assert!(shown.contains("expected 5caeef5b"), "{shown}");
    assert!(
        shown.contains("got 5caeef5b9251940696b02dc80b615c3f739f46bd"),
        "{shown}"
    );
}

#[test]
fn sign_for_another_client_id_is_refused() {
    // Seed 003 signs with head 10001; signing with the device name instead must not pass.
    let r = refuse(
        "STC15|securemode=3,signmethod=hmacsha1|",
        Some("STC15&a1ji0qFv6Jf"),
        Some(b"4756856f5bc65bbbabc7a826d73de282ff87090d"),
    );
    assert!(matches!(r, Refusal::SignMismatch { .. }), "{r:?}");
}

#[test]
fn seed_002_stray_line_feed_is_a_malformed_client_id() {
    let r = refuse(
        "device2|securemode=3,signmethod=hmacsha1|\n",
        Some("device2&a1ndPQHcX7f"),
        Some(b"5caeef5b9251940696b02dc80b615c3f739f46bc"),
    );
    assert_eq!(r.connack_code(), 2);
    match r {
        Refusal::MalformedClientId(e) => {
            assert_eq!(e.problem, ClientIdProblem::TrailingText("\n".into()))
        }
        other => panic!("expected MalformedClientId, got {other:?}"),
    }
}

#[test]
fn unsupported_sign_method() {
    let r = refuse(
        "device2|securemode=3,signmethod=hmacsha512|",
        Some("device2&a1ndPQHcX7f"),
        Some(b"00"),
    );
    assert_eq!(r.connack_code(), 2);
    assert!(
        matches!(&r, Refusal::UnsupportedSignMethod { method, .. } if method == "hmacsha512"),
        "{r:?}"
    );
}

#[rstest]
#[case::missing(None, "MissingUsername")]
#[case::no_ampersand(Some("device2"), "UsernameNotDnPk")]
#[case::reversed(Some("a1ndPQHcX7f&device2"), "UsernameReversed")]
#[case::unknown(Some("device3&a1ndPQHcX7f"), "UnknownDevice")]
#[case::onenet_device(Some("657077&20190156"), "UnknownDevice")]
fn username_faults(#[case] username: Option<&str>, #[case] kind: &str) {
    let r = refuse(
        "device2|securemode=3,signmethod=hmacsha1|",
        username,
        Some(b"5caeef5b9251940696b02dc80b615c3f739f46bc"),
    );
    assert_eq!(r.connack_code(), 4);
    let debug = format!("{r:?}");
    assert!(debug.starts_with(kind), "{debug}");
}

#[test]
fn missing_password() {
    let r = refuse(
        "device2|securemode=3,signmethod=hmacsha1|",
        Some("device2&a1ndPQHcX7f"),
        None,
    );
    assert!(matches!(r, Refusal::MissingPassword { .. }), "{r:?}");
    assert_eq!(r.connack_code(), 4);
}

#[test]
fn disabled_device_and_unavailable_secret() {
    let mut off = Device::aliyun("off", "pk", "off", DeviceSecret::new("s"));
    off.status = DeviceStatus::Disabled;
    let mut env = Device::aliyun("env", "pk", "env", DeviceSecret::new("unused"));
    env.secret = SecretSource::Env("ATHIL_TEST_VERIFY_UNSET_9B1C".into());
    let reg = DeviceRegistry::from_devices([off, env]).unwrap();

    let r = verify_aliyun("off|securemode=3|", Some("off&pk"), Some(b"00"), &reg).unwrap_err();
    assert!(matches!(r, Refusal::DeviceDisabled { .. }), "{r:?}");
    assert_eq!(r.connack_code(), 5);

    let r = verify_aliyun("env|securemode=3|", Some("env&pk"), Some(b"00"), &reg).unwrap_err();
    assert!(matches!(r, Refusal::SecretUnavailable { .. }), "{r:?}");
    assert_eq!(r.connack_code(), 3);
    assert!(
        r.to_string().contains("ATHIL_TEST_VERIFY_UNSET_9B1C"),
        "{r}"
    );
}

#[test]
fn onenet_seed_004_legacy_login() {
    let reg = registry();
    let a = verify_onenet("657077", Some("20190156"), Some(b"sn888"), &reg, 0).unwrap();
    assert_eq!(a.device, "onenet/657077");
    assert_eq!(a.auth, OneNetAuth::Legacy);

    let r = verify_onenet("657077", Some("20190156"), Some(b"sn889"), &reg, 0).unwrap_err();
    assert!(matches!(r, OneNetRefusal::AuthInfoMismatch { .. }), "{r:?}");
    assert_eq!(r.connack_code(), 4);
    let shown = format!("{r} {r:?}");
    assert!(
        !shown.contains("sn888") && !shown.contains("sn889"),
        "{shown}"
    );

    let r = verify_onenet("657078", Some("20190156"), Some(b"sn888"), &reg, 0).unwrap_err();
    assert!(matches!(r, OneNetRefusal::UnknownDevice { .. }), "{r:?}");
    let r = verify_onenet("657077", None, Some(b"sn888"), &reg, 0).unwrap_err();
    assert!(matches!(r, OneNetRefusal::MissingUsername { .. }), "{r:?}");
    let r = verify_onenet("657077", Some("20190156"), None, &reg, 0).unwrap_err();
    assert!(matches!(r, OneNetRefusal::MissingPassword { .. }), "{r:?}");
}

fn token_registry() -> DeviceRegistry {
    let key = DeviceSecret::new("EnW4T71eIE55xOIQMN6pFMKuqel5T5HTzsGJRPiDhlM=");
    let mut d = Device::aliyun(
        "onenet/mqtts-test-device",
        "238322",
        "mqtts-test-device",
        key,
    );
    d.platform = Platform::Onenet;
    d.onenet_auth = OneNetAuth::Token;
    DeviceRegistry::from_devices([d]).unwrap()
}

#[test]
fn onenet_token_login() {
    let reg = token_registry();
    let key = DeviceSecret::new("EnW4T71eIE55xOIQMN6pFMKuqel5T5HTzsGJRPiDhlM=");
    let creds = OneNetCredentials::token(
        "238322",
        "mqtts-test-device",
        &key,
        7557387130,
        SignMethod::HmacSha256,
    )
    .unwrap();
    let connect = creds.to_connect(30);
    let a = verify_onenet_connect(&connect, &reg, 7557387000).unwrap();
    assert_eq!(a.auth, OneNetAuth::Token);

    let r = verify_onenet_connect(&connect, &reg, 7557387131).unwrap_err();
    assert!(
        matches!(
            r,
            OneNetRefusal::BadToken {
                source: TokenError::Expired { .. },
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(r.connack_code(), 4);

    // A token for another device of the product does not open this one.
    let other = OneNetCredentials::token("238322", "other", &key, 7557387130, SignMethod::HmacSha1)
        .unwrap();
    let r = verify_onenet(
        "mqtts-test-device",
        Some("238322"),
        Some(other.password.as_bytes()),
        &reg,
        0,
    )
    .unwrap_err();
    assert!(
        matches!(
            r,
            OneNetRefusal::BadToken {
                source: TokenError::WrongResource { .. },
                ..
            }
        ),
        "{r:?}"
    );
    let r =
        verify_onenet("mqtts-test-device", Some("238322"), Some(b"sn888"), &reg, 0).unwrap_err();
    assert!(matches!(r, OneNetRefusal::BadToken { .. }), "{r:?}");
    assert!(!format!("{r} {r:?}").contains("EnW4T71e"));
}

/// A registry of one file-backed Alibaba Cloud device (and seed 002's public device2), the
/// secret in a temp dir kept alive by the returned guard.
fn file_backed_registry() -> (tempfile::TempDir, DeviceRegistry) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("lamp.secret");
    std::fs::write(&path, "9f3b6c0e2a7d4185b6c9e0f1a2d3b4c5\n").expect("write the secret");
    let mut lamp = Device::aliyun(
        "aliyun/lamp",
        "a1LampPk001",
        "lamp",
        DeviceSecret::new("unused"),
    );
    lamp.secret = SecretSource::File(path);
    let device2 = registry().get("aliyun/device2").cloned().expect("device2");
    (dir, DeviceRegistry::from_devices([lamp, device2]).unwrap())
}

fn lamp_sign(method: SignMethod, head: &str) -> String {
    let key = DeviceSecret::new("9f3b6c0e2a7d4185b6c9e0f1a2d3b4c5");
    let content = athil::cloud::aliyun::sign_content(head, "lamp", "a1LampPk001", None);
    athil::cloud::aliyun::sign(&key, method, &content)
}

/// Issue 7: a wrong sign of a device whose secret is kept outside the registry printed
/// `expected <the valid sign>`, a login that never expires, in the broker log and the reports.
/// It now says which input differs and shows neither the valid sign nor the one sent.
#[test]
fn a_secret_backed_devices_wrong_sign_names_what_differs_not_the_valid_sign() {
    let (_dir, reg) = file_backed_registry();
    let valid = lamp_sign(SignMethod::HmacSha1, "lamp");
    let sha256 = lamp_sign(SignMethod::HmacSha256, "lamp");
    let r = verify_aliyun(
        "lamp|securemode=3,signmethod=hmacsha1|",
        Some("lamp&a1LampPk001"),
        Some(sha256.as_bytes()),
        &reg,
    )
    .unwrap_err();
    assert_eq!(r.connack_code(), 4);
    let shown = format!("{r} {r:?}");
    assert!(!shown.contains(&valid[..12]), "{shown}");
    assert!(!shown.contains(&sha256[..12]), "{shown}");
    assert!(
        shown.contains("the sign does not match")
            && shown.contains("clientIdlampdeviceNamelampproductKeya1LampPk001")
            && shown.contains(
                "this content's hmacsha256 sign, but the client id says signmethod=hmacsha1"
            ),
        "{shown}"
    );

    // device2's sign under lamp's username: the sign belongs to another device.
    let r = verify_aliyun(
        "lamp|securemode=3,signmethod=hmacsha1|",
        Some("lamp&a1LampPk001"),
        Some(b"5caeef5b9251940696b02dc80b615c3f739f46bc"),
        &reg,
    );
    let shown = r.unwrap_err().to_string();
    assert!(
        shown.contains("the password is the sign of device `aliyun/device2`"),
        "{shown}"
    );

    // The public fixture keeps showing both signs, as seed 002's author needed.
    let r = verify_aliyun(
        "device2|securemode=3,signmethod=hmacsha1|",
        Some("device2&a1ndPQHcX7f"),
        Some(valid.as_bytes()),
        &reg,
    )
    .unwrap_err();
    assert!(
        r.to_string()
            .contains("expected 5caeef5b9251940696b02dc80b615c3f739f46bc"),
        "{r}"
    );
}

/// The same for a OneNET token: its `expected` sign is valid until the token's `et`.
#[test]
fn a_secret_backed_onenet_token_mismatch_shows_no_sign() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("key");
    let key = "EnW4T71eIE55xOIQMN6pFMKuqel5T5HTzsGJRPiDhlM=";
    std::fs::write(&path, key).expect("write the key");
    let mut d = Device::aliyun(
        "onenet/t",
        "238322",
        "mqtts-test-device",
        DeviceSecret::new("x"),
    );
    d.platform = Platform::Onenet;
    d.onenet_auth = OneNetAuth::Token;
    d.secret = SecretSource::File(path);
    let reg = DeviceRegistry::from_devices([d]).unwrap();
    let wrong = DeviceSecret::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let sent = OneNetCredentials::token(
        "238322",
        "mqtts-test-device",
        &wrong,
        7557387130,
        SignMethod::HmacSha256,
    )
    .unwrap();
    let valid = OneNetCredentials::token(
        "238322",
        "mqtts-test-device",
        &DeviceSecret::new(key),
        7557387130,
        SignMethod::HmacSha256,
    )
    .unwrap();
    let r = verify_onenet_connect(&sent.to_connect(30), &reg, 0).unwrap_err();
    assert!(
        matches!(r, OneNetRefusal::TokenSignMismatch { .. }),
        "{r:?}"
    );
    let shown = format!("{r} {r:?}");
    let sign_of = |password: &str| password.rsplit("sign=").next().unwrap().to_owned();
    for sign in [sign_of(&valid.password), sign_of(&sent.password)] {
        assert!(!shown.contains(&sign[..10]), "{shown}");
    }
}
