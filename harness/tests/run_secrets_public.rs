//! Issue 7, item 5, the other half: redaction over-masked. Air601's made-up secret
//! `ksf1145141919810dj15ltc137666` starts with its ProductKey, so `ksf114514` (in the username,
//! the host, the topics and their hex) was `***` in the shipped suite's transcripts; and an SSID
//! `factory-lab` was masked when the password is `factory-lab-2024`. Public names now stay
//! readable while the secrets stay masked.

mod run_support;

use run_support::*;

const AIR601_SECRET: &str = "ksf1145141919810dj15ltc137666";
const PASSWORD_VAR: &str = "ATHIL_TEST_FACTORY_WIFI";
const PASSWORD: &str = "factory-lab-2024";

#[test]
fn air601s_product_key_and_an_ssid_prefixing_the_password_stay_readable() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let rig = dir.path().join("rig.yaml");
    // No port: the virtual module, with this network in the air.
    std::fs::write(
        &rig,
        format!("wifi:\n  ssid: factory-lab\n  password_env: {PASSWORD_VAR}\n"),
    )
    .expect("write the rig");
    let rig = rig.display().to_string();
    let ran = spawn_with_env(
        &[
            "--rig",
            &rig,
            "scenarios/seeds/000-air601-connect.yaml",
            "scenarios/semantic/air601-instance-endpoint.yaml",
        ],
        &[(PASSWORD_VAR, PASSWORD)],
    )
    .finish(RUN_LIMIT);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    // Whole copies only: the first six bytes of each secret are a public name's here.
    assert_no_whole_leak(
        &ran,
        &[
            ("DeviceSecret", AIR601_SECRET),
            ("DeviceSecret past the ProductKey", &AIR601_SECRET[9..]),
            ("Wi-Fi password", PASSWORD),
            ("Wi-Fi password past the SSID", &PASSWORD[8..]),
        ],
    );

    let transcripts = ran.files_ending(".transcript.txt");
    assert_eq!(transcripts.len(), 2, "{transcripts:?}");
    for t in &transcripts {
        let text = std::fs::read_to_string(t).expect("read a transcript");
        for public in [
            "Air601&ksf114514",
            "iot-ksf114514.mqtt.iothub.aliyuncs.com",
            r#"AT+CWJAP="factory-lab","****************""#,
        ] {
            assert!(text.contains(public), "{} lacks `{public}`", t.display());
        }
        // The only mask left is the password's, byte for byte on the CWJAP line: no `***`
        // over a public name in the text, in the packet fields or in the hex rows.
        let masked: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("***") && !l.contains(r#""****************""#))
            .collect();
        assert!(masked.is_empty(), "{}:\n{}", t.display(), masked.join("\n"));
    }
    let junit = std::fs::read_to_string(ran.out_dir().join("junit.xml")).expect("read JUnit");
    assert!(junit.contains("Air601&amp;ksf114514"), "{junit}");
}
