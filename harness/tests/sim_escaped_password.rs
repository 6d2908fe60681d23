//! Issue 8.3: a Wi-Fi password holding `,` `"` or `\` was typed into `AT+CWJAP` unescaped, so
//! the module read a different password (or a malformed line) and the join failed. A value
//! filled into a quoted AT argument is now escaped as the dialect requires, the virtual module
//! unescapes it the same way, and neither spelling of the password reaches a report.
//!
//! The real `athil run` binary drives the virtual module on a real pty, with the password in an
//! environment variable named by a rig file, as a lab run would have it.

mod run_support;

use std::path::{Path, PathBuf};

use run_support::*;

/// Every character ESP AT firmware wants escaped inside a quoted argument.
const PASSWORD: &str = r#"p,a"s\s-wpa2"#;
/// The same as typed on the serial line.
const TYPED: &str = r#"p\,a\"s\\s-wpa2"#;
const SSID: &str = "esc-lab";

const SCENARIO: &str = r#"name: a password with a comma, a quote and a backslash joins
device: aliyun/device2
timeout: 3s
steps:
  - send: AT+CWMODE=1
    expect: OK
  - send: AT+CWJAP="{{wifi.ssid}}","{{wifi.password}}"
    expect: [WIFI GOT IP, OK]
  - send: AT+CWJAP?
    expect: '+CWJAP:"esc-lab"'
"#;

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

/// As text, as spaced upper-case hex, and the hex of the first six bytes.
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
fn a_wifi_password_with_comma_quote_and_backslash_joins_and_stays_secret() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let scenario = dir.path().join("join.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let rig = dir.path().join("rig.yaml");
    std::fs::write(
        &rig,
        format!("module: esp-at\nwifi: {{ ssid: {SSID}, password_env: ATHIL_TEST_ESC_PASS }}\n"),
    )
    .unwrap();
    let ran = spawn_with_env(
        &["--rig", &rig.to_string_lossy(), &scenario.to_string_lossy()],
        &[("ATHIL_TEST_ESC_PASS", PASSWORD)],
    )
    .finish(RUN_LIMIT);
    assert_eq!(ran.code, Some(0), "{}", ran.both());

    let mut outputs: Vec<(String, Vec<u8>)> = vec![
        ("stdout".into(), ran.stdout.clone().into_bytes()),
        ("stderr".into(), ran.stderr.clone().into_bytes()),
    ];
    for f in all_files(&ran.out_dir()) {
        outputs.push((f.display().to_string(), std::fs::read(&f).unwrap()));
    }
    assert!(outputs.len() >= 4, "no reports written: {}", ran.both());
    for (what, bytes) in &outputs {
        for secret in [PASSWORD, TYPED] {
            for form in forms(secret) {
                assert!(
                    !contains(bytes, &form),
                    "{what} holds `{}`",
                    String::from_utf8_lossy(&form)
                );
            }
        }
    }
    // The transcript shows the join as typed, the password masked in place.
    let transcript = outputs
        .iter()
        .find(|(name, _)| name.ends_with(".transcript.txt"))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .expect("a transcript");
    assert!(
        transcript.contains(r#"AT+CWJAP="esc-lab","*"#),
        "{}",
        transcript
            .lines()
            .filter(|l| l.contains("CWJAP"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
