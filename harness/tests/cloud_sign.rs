//! Sign tables: every Alibaba Cloud row of `fixtures/signs/aliyun.yaml` and every OneNET row of
//! `fixtures/signs/onenet.yaml` must reproduce exactly, and the four seed signs are also
//! spelled out here in full.

use std::path::PathBuf;

use athil::cloud::{
    onenet, AliyunCredentials, ClientIdParams, DeviceSecret, SignMethod, Token, TokenError,
};
use rstest::rstest;
use serde::Deserialize;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AliyunRow {
    name: String,
    product_key: String,
    device_name: String,
    device_secret: String,
    client_id: String,
    content: String,
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OneNetRow {
    name: String,
    product_id: String,
    device_name: String,
    key: String,
    et: u64,
    method: String,
    token: String,
}

fn aliyun_rows() -> Vec<AliyunRow> {
    let text = std::fs::read_to_string(fixture("signs/aliyun.yaml")).expect("read aliyun.yaml");
    serde_yaml::from_str(&text).expect("parse aliyun.yaml")
}

fn onenet_rows() -> Vec<OneNetRow> {
    let text = std::fs::read_to_string(fixture("signs/onenet.yaml")).expect("read onenet.yaml");
    serde_yaml::from_str(&text).expect("parse onenet.yaml")
}

fn compute(row: &AliyunRow) -> AliyunCredentials {
    let params =
        ClientIdParams::parse(&row.client_id).unwrap_or_else(|e| panic!("{}: {e}", row.name));
    AliyunCredentials::compute(
        &row.product_key,
        &row.device_name,
        &DeviceSecret::new(row.device_secret.clone()),
        params,
    )
}

#[test]
fn every_aliyun_row_reproduces() {
    let rows = aliyun_rows();
    assert!(rows.len() >= 17, "the table lost rows: {}", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let c = compute(row);
        if c.sign_content != row.content {
            failures.push(format!(
                "{}: content {:?} != {:?}",
                row.name, c.sign_content, row.content
            ));
        }
        if c.password != row.password {
            failures.push(format!(
                "{}: password {} != {}",
                row.name, c.password, row.password
            ));
        }
        if c.username != format!("{}&{}", row.device_name, row.product_key) {
            failures.push(format!("{}: username {}", row.name, c.username));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_table_covers_all_three_methods() {
    let mut seen: Vec<SignMethod> = aliyun_rows()
        .iter()
        .map(|r| compute(r).params.sign_method())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, SignMethod::ALL.to_vec());
}

/// The four seed examples, with the full sign written out here as well as in the table.
#[rstest]
#[case::seed000_air601(
    "seed000-air601-hmacsha1",
    "Air601|securemode=3,signmethod=hmacsha1|",
    "e4b931f38037ef7241455709458b4b630b22eac2"
)]
#[case::seed001_ly1(
    "seed001-ly1-hmacsha1",
    "LY-1|securemode=3,signmethod=hmacsha1|",
    "7a03368e740ff9efb8318c6ba2a0260f2a596f87"
)]
#[case::seed002_device2(
    "seed002-device2-hmacsha1",
    "device2|securemode=3,signmethod=hmacsha1|",
    "5caeef5b9251940696b02dc80b615c3f739f46bc"
)]
#[case::seed003_stc15(
    "seed003-stc15-hmacsha1",
    "10001|securemode=3,signmethod=hmacsha1|",
    "4756856f5bc65bbbabc7a826d73de282ff87090d"
)]
fn seed_signs_reproduce(#[case] name: &str, #[case] client_id: &str, #[case] password: &str) {
    let rows = aliyun_rows();
    let row = rows.iter().find(|r| r.name == name).expect("row in table");
    let c = compute(row);
    assert_eq!(c.client_id, client_id);
    assert_eq!(c.password, password);
}

#[test]
fn every_onenet_row_reproduces_and_verifies() {
    let rows = onenet_rows();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        let method = SignMethod::from_onenet_name(&row.method).expect("method");
        let key = DeviceSecret::new(row.key.clone());
        let creds = athil::cloud::OneNetCredentials::token(
            &row.product_id,
            &row.device_name,
            &key,
            row.et,
            method,
        )
        .expect("sign");
        assert_eq!(creds.password, row.token, "{}", row.name);
        assert_eq!(creds.client_id, row.device_name);
        assert_eq!(creds.username, row.product_id);

        let parsed = Token::parse(&row.token).expect("parse");
        assert_eq!(parsed.et, row.et);
        assert_eq!(parsed.to_string(), row.token);
        let res = onenet::device_resource(&row.product_id, &row.device_name);
        assert_eq!(
            parsed.verify(&res, &key, row.et - 1),
            Ok(()),
            "{}",
            row.name
        );
    }
}

#[test]
fn onenet_token_refusals() {
    let row = &onenet_rows()[0];
    let key = DeviceSecret::new(row.key.clone());
    let token = Token::parse(&row.token).unwrap();
    let res = onenet::device_resource(&row.product_id, &row.device_name);

    assert_eq!(
        token.verify(&res, &key, row.et + 1),
        Err(TokenError::Expired {
            et: row.et,
            now: row.et + 1
        })
    );
    let other_key = DeviceSecret::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    match token.verify(&res, &other_key, 0) {
        Err(TokenError::SignMismatch { got, .. }) => assert_eq!(got, token.sign),
        other => panic!("expected a sign mismatch, got {other:?}"),
    }
    assert!(matches!(
        token.verify("products/238322/devices/other", &key, 0),
        Err(TokenError::WrongResource { .. })
    ));
    assert!(matches!(
        token.verify(&res, &DeviceSecret::new("not base64!"), 0),
        Err(TokenError::KeyNotBase64(_))
    ));
}

#[rstest]
#[case::missing_sign(
    "version=2018-10-31&res=products%2F1%2Fdevices%2Fd&et=1&method=sha1",
    TokenError::Missing("sign")
)]
#[case::bad_method(
    "version=2018-10-31&res=r&et=1&method=sha512&sign=x",
    TokenError::BadMethod("sha512".into())
)]
#[case::bad_et(
    "version=2018-10-31&res=r&et=soon&method=sha1&sign=x",
    TokenError::BadExpiry("soon".into())
)]
#[case::unknown(
    "version=2018-10-31&res=r&et=1&method=sha1&sign=x&extra=1",
    TokenError::Unknown("extra".into())
)]
#[case::twice(
    "version=2018-10-31&res=r&res=s&et=1&method=sha1&sign=x",
    TokenError::Duplicate("res".into())
)]
#[case::not_a_pair("version", TokenError::NotAPair("version".into()))]
#[case::bad_escape(
    "version=2018-10-31&res=products%2&et=1&method=sha1&sign=x",
    TokenError::BadEscape { name: "res".into(), value: "products%2".into() }
)]
fn malformed_onenet_tokens(#[case] text: &str, #[case] expected: TokenError) {
    assert_eq!(Token::parse(text), Err(expected));
}

#[test]
fn studio_example_parses() {
    // OneNET Studio's device-auth doc example (aliyun-onenet.md §3.3); no key is published,
    // so only the structure is checked.
    let t = Token::parse(
        "version=2018-10-31&res=products%2FhnPoEN71v5%2Fdevices%2FYM310_X09&et=1749276282\
         &method=md5&sign=niWdb%2B3ugyxC89yV7ayPGQ%3D%3D",
    )
    .unwrap();
    assert_eq!(t.res, "products/hnPoEN71v5/devices/YM310_X09");
    assert_eq!(t.method, SignMethod::HmacMd5);
    assert_eq!(t.sign, "niWdb+3ugyxC89yV7ayPGQ==");
}
