//! Secrets never reach a report: the Wi-Fi password typed in `AT+CWJAP` and device2's
//! DeviceSecret (carried as a payload up through the module and broker and back down from the
//! cloud, and quoted by a failing step) appear nowhere in the out directory, on stdout or on
//! stderr, neither as text nor as the hex the reports print.

mod run_support;

use std::path::{Path, PathBuf};

use athil::cloud::DeviceRegistry;
use athil::run::rig::VIRTUAL_WIFI_PASSWORD;
use run_support::*;

const SCENARIO: &str = "secrets/carries-secrets.yaml";

fn device2_secret() -> String {
    let registry = DeviceRegistry::load_dir(root().join("fixtures/devices")).expect("devices");
    let device = registry.get("aliyun/device2").expect("aliyun/device2");
    let secret = device.secret().expect("device2's secret");
    secret.expose().to_owned()
}

/// Every file under `dir`, recursively.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the out directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The forms a secret could leak in: as written, and as upper-case spaced hex (whole, and its
/// first six bytes, which survive a hex dump's line breaks).
fn forms(secret: &str) -> Vec<Vec<u8>> {
    let hex = |b: &[u8]| {
        b.iter()
            .map(|x| format!("{x:02X}"))
            .collect::<Vec<_>>()
            .join(" ")
            .into_bytes()
    };
    vec![
        secret.as_bytes().to_vec(),
        hex(secret.as_bytes()),
        hex(&secret.as_bytes()[..6]),
    ]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn neither_the_wifi_password_nor_the_device_secret_reaches_any_report() {
    let secret = device2_secret();
    assert_eq!(
        secret, "1448e1c58996469449813ed68e3b0fed",
        "the fixture changed"
    );
    let scenario = std::fs::read_to_string(root().join(data(SCENARIO))).expect("read");
    assert!(scenario.contains(&secret) && scenario.contains(VIRTUAL_WIFI_PASSWORD));

    let ran = athil_run(&[&data(SCENARIO)]);
    // The last step fails on purpose, so a failure report quotes the secret-bearing packet.
    assert_eq!(ran.code, Some(1), "{}", ran.both());

    // The secrets really went through: the module joined with the password, the broker saw the
    // DeviceSecret as a payload, and the failure quoted a packet carrying it (masked).
    for ok in [
        r#"send AT+CWJAP="{{wifi.ssid}}","{{wifi.password}}" (line 13)"#,
        "mqtt connect (line 17)",
        "broker_saw publish {{vars.topic}} (line 23)",
    ] {
        assert!(
            ran.stdout
                .lines()
                .any(|l| l.trim_start().starts_with("ok") && l.ends_with(ok)),
            "step `{ok}` did not pass:\n{}",
            ran.stdout
        );
    }
    let block = failure_block(&ran.stdout, "receive_mqtt publish {{vars.topic}}", 26);
    // The device's own echo (`k=<secret>`) normally comes first; the cloud's copy would do too.
    let actual_payload = block
        .lines()
        .find_map(|l| l.split("| payload: ").nth(1))
        .unwrap_or_else(|| panic!("no actual payload in:\n{block}"));
    assert!(actual_payload.contains("***"), "{block}");

    let files = all_files(&ran.out_dir());
    assert!(files.len() >= 3, "{files:?}");
    let mut outputs: Vec<(String, Vec<u8>)> = vec![
        ("stdout".into(), ran.stdout.clone().into_bytes()),
        ("stderr".into(), ran.stderr.clone().into_bytes()),
    ];
    for f in &files {
        outputs.push((
            f.display().to_string(),
            std::fs::read(f).expect("read a report"),
        ));
    }
    for (what, bytes) in &outputs {
        for secret in [secret.as_str(), VIRTUAL_WIFI_PASSWORD] {
            for form in forms(secret) {
                assert!(
                    !contains(bytes, &form),
                    "{what} holds `{}`",
                    String::from_utf8_lossy(&form)
                );
            }
        }
    }

    // The transcript still shows what was typed, with the password masked in place.
    let transcript = files
        .iter()
        .find(|f| f.to_string_lossy().ends_with(".transcript.txt"))
        .expect("a transcript");
    let text = std::fs::read_to_string(transcript).expect("read the transcript");
    assert!(
        text.contains(r#"serial >        AT+CWJAP="athil-lab","*"#),
        "{}",
        text.lines()
            .filter(|l| l.contains("CWJAP"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
