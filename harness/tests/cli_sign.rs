//! `athil sign` as a user runs it: the seeds' CONNECT packets byte for byte, text and JSON
//! output, the secret from a flag, a file and the environment, bad input refused with exit 2,
//! and the DeviceSecret never printed.

use std::path::PathBuf;
use std::process::{Command, Output};

use rstest::rstest;
use serde::Deserialize;

const SECRET_ENV: &str = "ATHIL_DEVICE_SECRET";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn devices() -> String {
    root().join("fixtures/devices").display().to_string()
}

/// Runs `athil sign <args>` with no secret in the environment unless `env` sets one.
fn athil(args: &[&str], env: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_athil"));
    cmd.arg("sign").args(args).env_remove(SECRET_ENV);
    if let Some(v) = env {
        cmd.env(SECRET_ENV, v);
    }
    cmd.output().expect("run athil")
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8 stdout")
}

fn usage_error(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_no_secret(out: &Output, secret: &str) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(secret), "the secret was printed:\n{all}");
}

fn field<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{text}"))
}

#[derive(Deserialize)]
struct SeedConnect {
    name: String,
    device: String,
    source: String,
    connect: String,
}

fn seed_connects() -> Vec<SeedConnect> {
    let path = root().join("fixtures/signs/connects.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_seed_connect_is_reproduced_byte_for_byte() {
    let seeds = seed_connects();
    assert_eq!(seeds.len(), 5);
    for seed in seeds {
        let out = athil(&["--device", &seed.device, "--devices", &devices()], None);
        let text = ok(&out);
        let n = seed.connect.split(' ').count();
        assert_eq!(
            text.lines().find(|l| l.starts_with("10 ")),
            Some(seed.connect.as_str()),
            "{} ({})",
            seed.name,
            seed.source
        );
        assert!(text.contains(&format!("CONNECT ({n} bytes):")), "{text}");
        assert_eq!(
            text.lines().last(),
            Some(format!("AT+CIPSEND={n}").as_str())
        );
    }
}

#[test]
fn the_send_line_is_the_chosen_modules() {
    // Seed 004: RT-Thread sends OneNET's 37-byte CONNECT with AT+QISEND=0,37.
    let args = ["--device", "onenet/657077", "--devices", &devices()];
    let quectel = [&args[..], &["--module", "quectel"]].concat();
    let text = ok(&athil(&quectel, None));
    assert!(text.contains("CONNECT (37 bytes):"), "{text}");
    assert_eq!(text.lines().last(), Some("AT+QISEND=0,37"));
    let json = [&quectel[..], &["--format", "json"]].concat();
    let v: serde_json::Value = serde_json::from_str(&ok(&athil(&json, None))).unwrap();
    assert_eq!(v["at_send"], "AT+QISEND=0,37");
    let text = ok(&athil(&args, None));
    assert_eq!(
        text.lines().last(),
        Some("AT+CIPSEND=37"),
        "esp-at by default"
    );
    let bad = [&args[..], &["--module", "ec20"]].concat();
    let err = usage_error(&athil(&bad, None));
    assert!(err.contains("unknown module dialect `ec20`"), "{err}");
}

#[test]
fn text_output_for_seed_000() {
    let out = athil(
        &["--device", "aliyun/Air601", "--devices", &devices()],
        None,
    );
    let text = ok(&out);
    assert_eq!(
        field(&text, "client id:"),
        "Air601|securemode=3,signmethod=hmacsha1|"
    );
    assert_eq!(field(&text, "username:"), "Air601&ksf114514");
    assert_eq!(
        field(&text, "password:"),
        "e4b931f38037ef7241455709458b4b630b22eac2"
    );
    assert_eq!(
        field(&text, "host:"),
        "iot-ksf114514.mqtt.iothub.aliyuncs.com"
    );
    assert_eq!(field(&text, "port:"), "1883");
    assert_eq!(field(&text, "keepalive:"), "100");
    assert_no_secret(&out, "ksf1145141919810dj15ltc137666");
}

#[test]
fn json_output_for_seed_002() {
    let out = athil(
        &[
            "--device",
            "aliyun/device2",
            "--devices",
            &devices(),
            "--format",
            "json",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).expect("one JSON object");
    let obj = v.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "at_send",
            "client_id",
            "connect_hex",
            "connect_len",
            "host",
            "keepalive",
            "password",
            "port",
            "username"
        ]
    );
    let seed = seed_connects()
        .into_iter()
        .find(|s| s.name == "seed002-device2")
        .unwrap();
    assert_eq!(v["connect_hex"], seed.connect.as_str());
    assert_eq!(v["connect_len"], 118);
    assert_eq!(v["at_send"], "AT+CIPSEND=118");
    assert_eq!(v["client_id"], "device2|securemode=3,signmethod=hmacsha1|");
    assert_eq!(v["username"], "device2&a1ndPQHcX7f");
    assert_eq!(v["password"], "5caeef5b9251940696b02dc80b615c3f739f46bc");
    assert_eq!(
        v["host"],
        "a1ndPQHcX7f.iot-as-mqtt.cn-shanghai.aliyuncs.com"
    );
    assert_eq!(v["port"], 1883);
    assert_eq!(v["keepalive"], 100);
    assert_no_secret(&out, "1448e1c58996469449813ed68e3b0fed");
}

const LY1: [&str; 6] = [
    "--product-key",
    "a10zwkUxQUS",
    "--device-name",
    "LY-1",
    "--format",
    "json",
];
const LY1_SECRET: &str = "d8b9915513b05d4de32fbed04566edd8";
const LY1_SIGN: &str = "7a03368e740ff9efb8318c6ba2a0260f2a596f87";

fn password(out: &Output) -> String {
    let v: serde_json::Value = serde_json::from_str(&ok(out)).unwrap();
    v["password"].as_str().unwrap().to_owned()
}

#[test]
fn secret_from_flag_env_and_file() {
    let mut args = LY1.to_vec();
    args.extend(["--device-secret", LY1_SECRET]);
    let out = athil(&args, None);
    assert_eq!(password(&out), LY1_SIGN);
    assert_no_secret(&out, LY1_SECRET);

    let out = athil(&LY1, Some(LY1_SECRET));
    assert_eq!(password(&out), LY1_SIGN);
    assert_no_secret(&out, LY1_SECRET);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ly1.secret");
    std::fs::write(&file, format!("{LY1_SECRET}\n")).unwrap();
    let file = file.display().to_string();
    let mut args = LY1.to_vec();
    args.extend(["--device-secret-file", &file]);
    let out = athil(&args, None);
    assert_eq!(password(&out), LY1_SIGN);
    assert_no_secret(&out, LY1_SECRET);

    // The file beats the environment, whose value here would sign differently.
    let out = athil(&args, Some("not-the-secret"));
    assert_eq!(password(&out), LY1_SIGN);
}

#[test]
fn env_overrides_the_registry_secret() {
    let out = athil(
        &[
            "--device",
            "aliyun/device2",
            "--devices",
            &devices(),
            "--format",
            "json",
        ],
        Some("another-secret"),
    );
    assert_ne!(password(&out), "5caeef5b9251940696b02dc80b615c3f739f46bc");
}

#[rstest]
// python3 hmac over clientIdLY-1deviceNameLY-1productKeya10zwkUxQUS, pasted once.
#[case::md5("hmacmd5", "40e5b496cdd034155a46a3880672a945")]
#[case::sha1("hmacsha1", "7a03368e740ff9efb8318c6ba2a0260f2a596f87")]
#[case::sha256(
    "hmacsha256",
    "329acd04f77ede527f2ef510cf765953e9ce1d109ca39acaa194644b0797c326"
)]
fn sign_methods(#[case] method: &str, #[case] expected: &str) {
    let mut args = LY1.to_vec();
    args.extend(["--sign-method", method]);
    let out = athil(&args, Some(LY1_SECRET));
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["password"], expected);
    assert_eq!(
        v["client_id"],
        format!("LY-1|securemode=3,signmethod={method}|")
    );
}

#[test]
fn timestamp_securemode_and_client_id_head() {
    // The Alibaba Cloud doc example: FAFD82A3D602B37FB0FA8B7892F24A477F851A14.
    let out = athil(
        &[
            "--product-key",
            "pk",
            "--device-name",
            "device",
            "--client-id",
            "12345",
            "--timestamp",
            "789",
            "--securemode",
            "2",
            "--keepalive",
            "60",
            "--host",
            "127.0.0.1",
            "--port",
            "18830",
        ],
        Some("secret"),
    );
    let text = ok(&out);
    assert_eq!(
        field(&text, "client id:"),
        "12345|securemode=2,signmethod=hmacsha1,timestamp=789|"
    );
    assert_eq!(
        field(&text, "password:"),
        "fafd82a3d602b37fb0fa8b7892f24a477f851a14"
    );
    assert_eq!(field(&text, "host:"), "127.0.0.1");
    assert_eq!(field(&text, "port:"), "18830");
    // keepalive 60 = 00 3C in the variable header.
    assert!(text.contains("04 C2 00 3C"), "{text}");
}

#[test]
fn full_client_id_is_signed_as_given() {
    let out = athil(
        &[
            "--product-key",
            "a1TestPK001",
            "--device-name",
            "probe-dev-01",
            "--client-id",
            "a1TestPK001&probe-dev-01|securemode=3,signmethod=hmacsha1,ext=1,_ss=1,lan=Python,\
             _v=1.2.13,timestamp=1795293157|",
            "--format",
            "json",
        ],
        Some("0123456789abcdef0123456789abcdef"),
    );
    assert_eq!(password(&out), "d7deb05048291a11c756e700c96174f05c0b3aa9");
}

#[test]
fn region_and_instance_endpoints() {
    let mut args = LY1.to_vec();
    args.extend(["--region", "ap-southeast-1"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&athil(&args, Some("s")))).unwrap();
    assert_eq!(
        v["host"],
        "a10zwkUxQUS.iot-as-mqtt.ap-southeast-1.aliyuncs.com"
    );
    let mut args = LY1.to_vec();
    args.extend(["--instance-id", "iot-06z00abc"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&athil(&args, Some("s")))).unwrap();
    assert_eq!(v["host"], "iot-06z00abc.mqtt.iothub.aliyuncs.com");
}

#[test]
fn onenet_token_matches_the_doc_example() {
    let key = "EnW4T71eIE55xOIQMN6pFMKuqel5T5HTzsGJRPiDhlM=";
    let out = athil(
        &[
            "--platform",
            "onenet",
            "--product-id",
            "238322",
            "--device-id",
            "mqtts-test-device",
            "--access-key",
            key,
            "--expiry",
            "7557387130",
            "--method",
            "sha1",
            "--format",
            "json",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(
        v["password"],
        "version=2018-10-31&res=products%2F238322%2Fdevices%2Fmqtts-test-device\
         &et=7557387130&method=sha1&sign=Rs0u%2FKnyoK5%2FMuKo5xKa0tW%2BWqY%3D"
    );
    assert_eq!(v["client_id"], "mqtts-test-device");
    assert_eq!(v["username"], "238322");
    assert_eq!(v["host"], "mqtts.heclouds.com");
    assert_no_secret(&out, key);
}

#[test]
fn onenet_legacy_from_flags() {
    let out = athil(
        &[
            "--platform",
            "onenet",
            "--product-id",
            "20190156",
            "--device-id",
            "657077",
            "--auth-info",
            "sn888",
        ],
        None,
    );
    let text = ok(&out);
    assert_eq!(
        text.lines().find(|l| l.starts_with("10 ")),
        Some(
            "10 23 00 04 4D 51 54 54 04 C2 00 1E 00 06 36 35 37 30 37 37 00 08 32 30 31 39 30 31 \
             35 36 00 05 73 6E 38 38 38"
        )
    );
    assert_eq!(field(&text, "port:"), "6002");
}

#[test]
fn default_devices_dir_is_relative_to_the_working_directory() {
    let out = Command::new(env!("CARGO_BIN_EXE_athil"))
        .args(["sign", "--device", "aliyun/LY-1", "--format", "json"])
        .env_remove(SECRET_ENV)
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(password(&out), LY1_SIGN);
}

#[rstest]
#[case::no_device_name(&["--product-key", "pk", "--device-secret", "TOPSECRET1"], "--device-name is needed")]
#[case::no_secret(&["--product-key", "pk", "--device-name", "dn"], "--device-secret is needed")]
#[case::bad_method(&["--product-key", "pk", "--device-name", "dn", "--device-secret", "TOPSECRET1", "--sign-method", "hmacsha512"], "hmacsha512")]
#[case::bad_timestamp(&["--product-key", "pk", "--device-name", "dn", "--device-secret", "TOPSECRET1", "--timestamp", "now"], "--timestamp \"now\"")]
#[case::bad_head(&["--product-key", "pk", "--device-name", "dn", "--device-secret", "TOPSECRET1", "--client-id", "a|b"], "parse client id \"a|b\"")]
#[case::full_id_and_method(&["--product-key", "pk", "--device-name", "dn", "--device-secret", "TOPSECRET1", "--client-id", "dn|securemode=3|", "--sign-method", "hmacsha1"], "cannot be used together")]
#[case::onenet_flag_on_aliyun(&["--product-key", "pk", "--device-name", "dn", "--device-secret", "TOPSECRET1", "--auth-info", "x"], "--auth-info does not apply")]
#[case::aliyun_flag_on_onenet(&["--platform", "onenet", "--product-id", "1", "--device-id", "2", "--auth-info", "TOPSECRET1", "--client-id", "x"], "--client-id does not apply")]
#[case::legacy_and_token(&["--platform", "onenet", "--product-id", "1", "--device-id", "2", "--auth-info", "TOPSECRET1", "--expiry", "24h"], "cannot be used together")]
#[case::bad_expiry(&["--platform", "onenet", "--product-id", "1", "--device-id", "2", "--access-key", "TOPSECRET1", "--expiry", "soonish"], "--expiry \"soonish\"")]
#[case::expiry_overflow(&["--platform", "onenet", "--product-id", "1", "--device-id", "2", "--access-key", "TOPSECRET1", "--expiry", "99999999999999999999999years"], "--expiry")]
#[case::key_not_base64(&["--platform", "onenet", "--product-id", "1", "--device-id", "2", "--access-key", "TOPSECRET1!"], "not base64")]
#[case::empty_secret(&["--product-key", "pk", "--device-name", "dn", "--device-secret", ""], "the secret is empty")]
#[case::missing_file(&["--product-key", "pk", "--device-name", "dn", "--device-secret-file", "/nonexistent/ds.txt"], "read the secret from `/nonexistent/ds.txt`")]
fn bad_input_exits_2(#[case] args: &[&str], #[case] message: &str) {
    let out = athil(args, None);
    let stderr = usage_error(&out);
    // clap itself refuses values it cannot parse (`error: invalid value …`), also with exit 2.
    assert!(
        stderr.starts_with("athil sign: failed to ") || stderr.starts_with("error: "),
        "{stderr}"
    );
    assert!(stderr.contains(message), "{stderr}");
    if !message.contains("TOPSECRET1") {
        assert_no_secret(&out, "TOPSECRET1");
    }
}

#[test]
fn unknown_device_and_platform_mismatch() {
    let out = athil(&["--device", "aliyun/nope", "--devices", &devices()], None);
    let stderr = usage_error(&out);
    assert!(
        stderr.contains("aliyun/device2"),
        "lists known devices: {stderr}"
    );

    let out = athil(
        &[
            "--device",
            "onenet/657077",
            "--devices",
            &devices(),
            "--platform",
            "aliyun",
        ],
        None,
    );
    assert!(usage_error(&out).contains("is a onenet device"));

    let out = athil(
        &["--device", "aliyun/LY-1", "--devices", "/nonexistent/dir"],
        None,
    );
    assert!(usage_error(&out).contains("/nonexistent/dir"));
}
