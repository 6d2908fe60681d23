//! Issue 10: a run with `--module quectel` and no port runs the virtual Quectel EC20 (it used
//! to run the virtual ESP8266 silently), seed 004 replays byte for byte against it and the
//! OneNET broker, a contradiction between `--module` and the sim config is an error, and a
//! rig's virtual slots pick their firmware. Real pieces: the athil binary, its virtual modules
//! on real pseudo-terminals, the embedded broker on loopback.

mod run_support;

use run_support::*;

const SEED_004: &str = "scenarios/seeds/004-rtthread-quectel-onenet-connect.yaml";

#[test]
fn seed_004_and_its_negatives_pass_on_the_virtual_quectel() {
    let ran = athil_run(&[
        "--module",
        "quectel",
        SEED_004,
        "scenarios/negative/seed004-wrong-auth-info.yaml",
        "scenarios/negative/seed004-anonymous-connect.yaml",
    ]);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    assert!(
        ran.stdout.contains("athil: 3 passed, 0 failed"),
        "{}",
        ran.both()
    );
    // The module side of seed 004's log, in the transcript: the prompt with its space, and
    // the CONNACK inside the +QIURC the RT-Thread client read.
    let transcript = find_transcript(&ran.out_dir(), "seed-004");
    let text = std::fs::read_to_string(transcript).unwrap();
    assert!(text.contains("0D 0A 3E 20"), "{text}");
    assert!(
        text.contains(r#"\r\n+QIURC: "recv",0,4\r\n \x02\x00\x00\r\n"#),
        "{text}"
    );
    let junit = ran.junit();
    assert!(
        junit.test_suites[0]
            .properties
            .iter()
            .any(|p| p.value.as_str().contains("virtual Quectel EC20")),
        "the module is named in the report: {:?}",
        junit.test_suites[0].properties
    );
}

/// Without `--module quectel` the same scenario is skipped with the reason (the ESP8266 cannot
/// run it), never run against the wrong module.
#[test]
fn seed_004_on_the_virtual_esp8266_is_skipped_with_the_reason() {
    let ran = athil_run(&[SEED_004]);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    assert!(
        ran.stdout.contains("0 passed, 0 failed, 1 skipped"),
        "{}",
        ran.both()
    );
    assert!(ran.stdout.contains("it speaks quectel"), "{}", ran.both());
}

#[test]
fn a_quectel_sim_config_with_module_esp_at_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ec20.yaml");
    std::fs::write(&config, "quectel: { model: ec20 }\n").unwrap();
    let ran = athil_run(&["--sim-config", config.to_str().unwrap(), SEED_004]);
    assert_eq!(ran.code, Some(2), "{}", ran.both());
    assert!(
        ran.stderr.contains("give --module quectel"),
        "{}",
        ran.both()
    );
}

#[test]
fn a_rig_slot_whose_firmware_contradicts_its_module_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rig = dir.path().join("rig.yaml");
    std::fs::write(
        &rig,
        "slots:\n  - { name: a, firmware: nonos }\n  - { name: b, firmware: quectel-bg96 }\n",
    )
    .unwrap();
    let ran = athil_run(&["--rig", rig.to_str().unwrap(), SEED_004]);
    assert_eq!(ran.code, Some(2), "{}", ran.both());
    assert!(
        ran.stderr
            .contains("slot `b`: its firmware speaks quectel, but its `module:` is esp-at"),
        "{}",
        ran.both()
    );
}

/// A scenario's `virtual_module.firmware` picks the model within the slot's personality; a
/// switch of personality is an error that says how a scenario picks its module instead.
#[test]
fn a_scenario_picks_the_quectel_model_but_not_another_personality() {
    let ran = athil_run(&[
        "--module",
        "quectel",
        "harness/tests/data/run/quectel/bg96.yaml",
    ]);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    let ran = athil_run(&[
        "--module",
        "quectel",
        "harness/tests/data/run/quectel/esp-on-quectel.yaml",
    ]);
    assert_eq!(ran.code, Some(1), "{}", ran.both());
    assert!(
        ran.stdout.contains(
            "virtual_module.firmware asks for an ESP8266, but this slot's virtual module is a Quectel"
        ),
        "{}",
        ran.both()
    );
}
