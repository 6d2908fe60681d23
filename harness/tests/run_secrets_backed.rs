//! Issue 7, item 5 ("the sign leaks"): for a device whose DeviceSecret lives outside the
//! registry file (`device_secret_env`, `device_secret_file`), the sign is a permanent login, so
//! neither the secret nor the sign may reach any report, in text or in hex; and a wrong sign is
//! refused by saying which input differs, never what the valid sign is.

mod run_support;

use std::path::Path;

use athil::cloud::{aliyun, DeviceSecret, SignMethod};
use athil::run::rig::VIRTUAL_WIFI_PASSWORD;
use run_support::*;

const ENV_VAR: &str = "ATHIL_TEST_ENV_LAMP_SECRET";
/// Made up for this test; a real device's secret would never be in a repository.
const ENV_SECRET: &str = "9f3b6c0e2a7d4185b6c9e0f1a2d3b4c5";
const FILE_SECRET: &str = "c4e8a1f07b3d496285e1f0a9b8c7d6e5";

/// A device directory with one env-backed and one file-backed Alibaba Cloud device.
fn devices(dir: &Path) {
    let aliyun = dir.join("aliyun");
    std::fs::create_dir_all(&aliyun).expect("create the device directory");
    let write = |name: &str, text: &str| {
        std::fs::write(aliyun.join(name), text).expect("write a device file");
    };
    write(
        "env-lamp.yaml",
        &format!(
            "platform: aliyun\nproduct_key: a1EnvLampPk\ndevice_name: env-lamp\n\
             device_secret_env: {ENV_VAR}\n"
        ),
    );
    write(
        "file-lamp.yaml",
        "platform: aliyun\nproduct_key: a1FileLmpPk\ndevice_name: file-lamp\n\
         device_secret_file: file-lamp.secret\n",
    );
    write("file-lamp.secret", &format!("{FILE_SECRET}\n"));
}

/// The sign a device with the default client id (`<dn>|securemode=3,signmethod=hmacsha1|`)
/// sends: what the harness computes for `mqtt: {connect: {}}`.
fn sign(pk: &str, dn: &str, secret: &str) -> String {
    let content = aliyun::sign_content(dn, dn, pk, None);
    aliyun::sign(&DeviceSecret::new(secret), SignMethod::HmacSha1, &content)
}

fn run(scenario: &str) -> Ran {
    let dir = tempfile::tempdir().expect("a temp dir");
    devices(dir.path());
    let devices = dir.path().display().to_string();
    let path = data(&format!("secrets/backed/{scenario}"));
    spawn_with_env(&[&path, "--devices", &devices], &[(ENV_VAR, ENV_SECRET)]).finish(RUN_LIMIT)
}

#[test]
fn an_env_backed_devices_sign_reaches_no_report() {
    let ran = run("env-device.yaml");
    assert_eq!(ran.code, Some(1), "{}", ran.both());
    // The login really happened with the harness's sign: CONNACK 0 came back.
    assert!(
        ran.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("ok") && l.contains("receive_mqtt connack")),
        "{}",
        ran.both()
    );
    let sign = sign("a1EnvLampPk", "env-lamp", ENV_SECRET);
    assert_no_leak(
        &ran,
        &[
            ("DeviceSecret", ENV_SECRET),
            ("sign", &sign),
            ("Wi-Fi password", VIRTUAL_WIFI_PASSWORD),
        ],
    );
    // Public names stay readable around the masked sign.
    let transcript = &ran.files_ending(".transcript.txt")[0];
    let text = std::fs::read_to_string(transcript).expect("read the transcript");
    assert!(text.contains("env-lamp&a1EnvLampPk"), "{text}");
}

#[test]
fn a_file_backed_devices_wrong_sign_is_refused_without_the_valid_one() {
    let ran = run("file-device-wrong-sign.yaml");
    assert_eq!(ran.code, Some(1), "{}", ran.both());
    let valid = sign("a1FileLmpPk", "file-lamp", FILE_SECRET);
    let wrong = sign(
        "a1FileLmpPk",
        "file-lamp",
        "0f0e0d0c0b0a09080706050403020100",
    );
    assert_no_leak(
        &ran,
        &[
            ("DeviceSecret", FILE_SECRET),
            ("valid sign", &valid),
            ("sign sent", &wrong),
        ],
    );
    // The refusal says what was compared and that the sign differs, not what it should be.
    let block = failure_block(
        &ran.stdout,
        "a reason the refusal does not give, so the failure quotes the real one: broker_refused 4",
        18,
    );
    for needle in [
        "the sign does not match",
        "clientIdfile-lampdeviceNamefile-lampproductKeya1FileLmpPk",
        "hmacsha1",
    ] {
        assert!(block.contains(needle), "no `{needle}` in:\n{block}");
    }
    assert!(
        !block.contains("expected 0") && !block.contains("got "),
        "{block}"
    );
    let (_, junit_text) = junit_failure(case(
        &ran.junit(),
        "secrets: a file-backed device's wrong sign is refused without the right one",
    ));
    assert!(
        junit_text.contains("the sign does not match"),
        "{junit_text}"
    );
}

/// A CONNECT written by hand (`write:` bytes) for a secret-backed device carries a sign the
/// harness never computed (here: another client id, with a timestamp). It was shown in every
/// report; it is a login like any other and is kept out of them now.
#[test]
fn a_hand_written_connects_sign_of_a_secret_backed_device_reaches_no_report() {
    use athil::mqtt::{encode, to_hex, Connect, Packet};
    let dir = tempfile::tempdir().expect("a temp dir");
    devices(dir.path());
    let client_id = "env-lamp|securemode=3,signmethod=hmacsha1,timestamp=1700000000|";
    let content = aliyun::sign_content("env-lamp", "env-lamp", "a1EnvLampPk", Some("1700000000"));
    let sign = aliyun::sign(
        &DeviceSecret::new(ENV_SECRET),
        SignMethod::HmacSha1,
        &content,
    );
    let mut connect = Connect::new(client_id, 60);
    connect.username = Some("env-lamp&a1EnvLampPk".into());
    connect.password = Some(sign.clone().into_bytes());
    let bytes = encode(&Packet::from(connect)).expect("the CONNECT encodes");
    // Beside, not inside, the device directory (every YAML file there is a device).
    let scenarios = tempfile::tempdir().expect("a temp dir");
    let scenario = scenarios.path().join("hand-written.yaml");
    std::fs::write(
        &scenario,
        format!(
            "name: a hand-written CONNECT of a secret-backed device\ndevice: aliyun/env-lamp\n\
             timeout: 2s\nsteps:\n  - send: AT+CWMODE=1\n    expect: OK\n\
             \x20 - send: AT+CWJAP=\"{{{{wifi.ssid}}}}\",\"{{{{wifi.password}}}}\"\n    expect: [WIFI GOT IP, OK]\n\
             \x20 - send: AT+CIPSTART=\"TCP\",\"{{{{broker.host}}}}\",{{{{broker.port}}}}\n    expect: [CONNECT, OK]\n\
             \x20 - send: AT+CIPSEND={}\n    expect: \">\"\n\
             \x20 - write: {}\n    expect: SEND OK\n\
             \x20 - receive: 20 02 00 00\n\
             \x20 - name: a wrong expectation, so the failure report quotes what the broker saw\n\
             \x20   broker_saw: {{ connect: {{ keepalive: 7 }} }}\n",
            bytes.len(),
            to_hex(&bytes)
        ),
    )
    .expect("write the scenario");
    let devices = dir.path().display().to_string();
    let path = scenario.display().to_string();
    let ran =
        spawn_with_env(&[&path, "--devices", &devices], &[(ENV_VAR, ENV_SECRET)]).finish(RUN_LIMIT);
    assert_eq!(ran.code, Some(1), "{}", ran.both());
    assert!(
        ran.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("ok") && l.contains("receive")),
        "the hand-written login was accepted: {}",
        ran.both()
    );
    assert_no_leak(
        &ran,
        &[("DeviceSecret", ENV_SECRET), ("hand-written sign", &sign)],
    );
}
