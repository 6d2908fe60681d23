//! The semantic scenarios say what to do (`join`, `open`, `mqtt`, `receive_mqtt`,
//! `expect_closed`) and each module's dialect says how, so every one of them passes unchanged
//! on the three simulated firmwares: ESP8266 NonOS AT, ESP-AT 2.2 and a Quectel EC20.

mod run_support;

use quick_junit::TestCaseStatus;
use run_support::*;

#[test]
fn every_semantic_scenario_passes_on_esp8266_nonos() {
    every_semantic_scenario_passes(&[]);
}

#[test]
fn every_semantic_scenario_passes_on_esp_at() {
    every_semantic_scenario_passes(&["--sim-config", "fixtures/sim/esp-at.yaml"]);
}

#[test]
fn every_semantic_scenario_passes_on_quectel_ec20() {
    every_semantic_scenario_passes(&["--module", "quectel"]);
}

/// Runs `scenarios/semantic/` on the virtual module `module` picks; every scenario passes.
fn every_semantic_scenario_passes(module: &[&str]) {
    let files = scenario_files("scenarios/semantic");
    let n = files.len();
    assert!(n >= 3, "expected the semantic scenarios, found {files:?}");
    let mut args = module.to_vec();
    args.push("scenarios/semantic/");
    let ran = athil_run(&args);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    let summary = format!("athil: {n} passed, 0 failed, 0 skipped");
    assert!(
        ran.stdout.lines().any(|l| l.starts_with(&summary)),
        "no `{summary}` line:\n{}",
        ran.both()
    );
    let report = ran.junit();
    assert_eq!(report.tests, n, "JUnit tests");
    for c in report.test_suites.iter().flat_map(|s| s.test_cases.iter()) {
        assert!(
            matches!(c.status, TestCaseStatus::Success { .. }),
            "{}: {:?}",
            c.name.as_str(),
            c.status
        );
    }
}

#[test]
fn a_link_the_module_has_not_got_fails_the_open_before_anything_is_sent() {
    let f = expect_step_failure(
        &data("fail/open-no-such-link.yaml"),
        "fail: open names a link the ESP has not got",
        "open {{broker.host}}:{{broker.port}} on link 7",
        6,
    );
    f.shows("use link 7: the esp-at dialect has links 0 to 4");
    assert!(!f.transcript().contains("CIPSTART"), "nothing was sent");
}

#[test]
fn an_open_the_module_refuses_fails_with_its_answer() {
    let f = expect_step_failure(
        &data("fail/open-refused.yaml"),
        "fail: open to a port nobody listens on",
        "open 127.0.0.1:9",
        6,
    );
    f.shows("run `AT+CIPSTART=\"TCP\",\"127.0.0.1\",9`: the module answered ERROR");
}

/// All three firmwares at once: a rig of one virtual module each, every semantic scenario on
/// every slot, a JUnit suite per slot with every case passed.
#[test]
fn every_semantic_scenario_passes_on_all_three_slots_at_once() {
    let n = scenario_files("scenarios/semantic").len();
    let ran = athil_run(&[
        "--rig",
        "fixtures/rigs/virtual-firmwares.yaml",
        "--each-slot",
        "scenarios/semantic/",
    ]);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    let summary = format!("athil: {} passed, 0 failed, 0 skipped", 3 * n);
    assert!(ran.stdout.contains(&summary), "{}", ran.both());
    let report = ran.junit();
    let suites: Vec<&str> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(suites, ["nonos", "esp-at", "ec20"], "{}", ran.stdout);
    for suite in &report.test_suites {
        assert_eq!(suite.test_cases.len(), n, "{}", suite.name.as_str());
    }
}
