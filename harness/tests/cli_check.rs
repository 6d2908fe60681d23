//! `athil check` and `athil schema` as a user runs them: the real binary, real files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn athil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_athil"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const DATA: &str = "harness/tests/data/scenarios";

#[test]
fn valid_scenarios_pass_with_exit_0() {
    let out = athil(&["check", &format!("{DATA}/good")]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "ok: {DATA}/good/connect.yaml: cli check fixture, valid (4 steps; reads \
             environment WIFI_PASSWORD)\n1 scenario valid\n"
        )
    );
}

#[test]
fn every_problem_of_every_file_is_listed_with_exit_2() {
    let out = athil(&["check", &format!("{DATA}/bad"), &format!("{DATA}/good")]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        vec![
            format!("ok: {DATA}/good/connect.yaml: cli check fixture, valid (4 steps; reads environment WIFI_PASSWORD)"),
            format!("{DATA}/bad/nested/unknown_step.yml:5:5: unknown step kind `recieve`; a step is one of `send`, `write`, `expect`, `expect_not`, `receive`, `mqtt`, `receive_mqtt`, `join`, `open`, `close`, `expect_closed`, `broker_saw`, `broker_refused`, `broker_fault`, `broker_dropped`, `cloud_publish`, `wait` (with optional `name`, `timeout`); did you mean `receive`?"),
            format!("{DATA}/bad/two_problems.yaml:2:9: unknown device `aliyun/devce2`; did you mean `aliyun/device2`?"),
            format!("{DATA}/bad/two_problems.yaml:6:16: expected hex bytes: `0O` is not hex: 'O' is not a hex digit"),
            "3 problems found; 1 scenario valid".to_string(),
        ]
    );
}

#[test]
fn a_missing_devices_directory_is_unusable_input() {
    let out = athil(&["check", DATA, "--devices", "no/such/dir"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/dir"), "{err}");
}

#[test]
fn a_missing_path_is_a_problem() {
    let out = athil(&["check", "no/such/scenario.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).starts_with(
        "no/such/scenario.yaml: read `no/such/scenario.yaml`: no such file or directory\n"
    ));
}

#[test]
fn schema_goes_to_stdout_or_a_file() {
    let out = athil(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), athil::scenario::schema::schema_json());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.json");
    let out = athil(&["schema", "--out", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        athil::scenario::schema::schema_json()
    );
}

/// `athil check` reads every opaque block (`cloud`, `broker_fault`, `virtual_module`) into
/// the type of the layer that owns it, so their problems show before a run, at their places.
#[test]
fn opaque_blocks_are_checked_by_their_owners() {
    let file = format!("{DATA}/opaque/bad_blocks.yaml");
    let out = athil(&["check", &file]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with(&format!("{file}:7:11: unknown key `sign_mismatch_cod`;"))
            && lines[0].ends_with("did you mean `sign_mismatch_code`?"),
        "{text}"
    );
    assert!(
        lines[1].starts_with(&format!("{file}:10:20: unknown `dealy`;"))
            && lines[1].ends_with("did you mean `delay`?"),
        "{text}"
    );
    assert_eq!(lines[2], "2 problems found; 0 scenarios valid");
}

#[test]
fn with_a_module_every_link_it_has_not_got_is_placed() {
    let file = format!("{DATA}/links/numbered.yaml");
    let out = athil(&["check", "--module", "esp-at", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stdout(&out),
        format!(
            "{file}:5:49: link 5: the esp-at dialect has links 0 to 4\n\
             {file}:7:11: link 12: the esp-at dialect has links 0 to 4\n\
             {file}:10:19: link 12: the esp-at dialect has links 0 to 4\n\
             3 problems found; 0 scenarios valid\n"
        )
    );
    let out = athil(&["check", "--module", "quectel", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).starts_with(&format!(
        "{file}:7:11: link 12: the quectel dialect has links 0 to 11\n"
    )));
    // Without a module the links are only numbers: the file is valid.
    assert_eq!(athil(&["check", &file]).status.code(), Some(0));
    // Every shipped scenario fits the module it is meant for.
    for module in ["esp-at", "quectel"] {
        let out = athil(&["check", "--module", module, "scenarios/semantic"]);
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    }
}
