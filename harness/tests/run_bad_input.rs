//! Bad scenarios stop `athil run` before anything starts: exit 2, every problem of every file
//! on stderr at its file:line:column, no module, no broker, no report.

mod run_support;

use std::time::Duration;

use run_support::*;

#[test]
fn every_problem_of_every_file_is_listed_and_nothing_runs() {
    let bad = data("bad");
    // A valid scenario beside the bad ones must not run either.
    let ran = athil_run(&[&bad, "scenarios/seeds/000-air601-connect.yaml"]);
    assert_eq!(ran.code, Some(2), "{}", ran.both());

    let steps = format!("athil run: {bad}/broken-steps.yaml");
    let yaml = format!("athil run: {bad}/broken-yaml.yaml");
    let expected = [
        format!("{steps}:2:9: unknown device `aliyun/devce2`; did you mean `aliyun/device2`?"),
        format!("{steps}:6:5: unknown step kind `sned`;"),
        format!("{steps}:7:16: expected hex bytes: `0G` is not hex"),
        format!("{yaml}:5:15: read YAML: mapping values are not allowed in this context"),
    ];
    let lines: Vec<&str> = ran.stderr.lines().collect();
    for want in &expected {
        assert!(
            lines.iter().any(|l| l.starts_with(want.as_str())),
            "stderr lacks `{want}`:\n{}",
            ran.stderr
        );
    }
    assert_eq!(
        lines.len(),
        expected.len(),
        "one line per problem:\n{}",
        ran.stderr
    );

    // Nothing ran: no console, no out directory, and no time spent on modules.
    assert_eq!(ran.stdout, "", "nothing may run");
    assert!(
        !ran.out_dir().exists(),
        "{} was created",
        ran.out_dir().display()
    );
    assert!(ran.elapsed < Duration::from_secs(5), "{:?}", ran.elapsed);
}

#[test]
fn a_bad_virtual_module_block_is_a_usage_error_at_its_position() {
    let ran = athil_run(&[&data("bad-module/unknown-fault.yaml")]);
    assert_eq!(ran.code, Some(2), "{}", ran.both());
    let want = format!(
        "athil run: {}:6:5: unknown key `mute`; expected one of `silent`, `error`",
        data("bad-module/unknown-fault.yaml")
    );
    assert!(
        ran.stderr.starts_with(&want),
        "want `{want}`:\n{}",
        ran.stderr
    );
    assert_eq!(ran.stdout, "");
    assert!(!ran.out_dir().exists());
}

/// An unplugged adapter is one usage error before the run, not a set-up failure per scenario.
#[test]
fn a_missing_serial_port_is_a_usage_error_before_anything_runs() {
    let ran = spawn_with_env(
        &[
            "scenarios/seeds/000-air601-connect.yaml",
            "--port",
            "/dev/athil-no-such-port",
            "--wifi-ssid",
            "lab",
        ],
        &[("ATHIL_WIFI_PASSWORD", "not-a-real-password")],
    )
    .finish(RUN_LIMIT);
    assert_eq!(ran.code, Some(2), "{}", ran.both());
    assert!(
        ran.stderr
            .contains("open serial port `/dev/athil-no-such-port`: no such device"),
        "{}",
        ran.stderr
    );
    assert!(
        !ran.stdout.contains("scenario "),
        "nothing ran:\n{}",
        ran.stdout
    );
}

/// A scenario reading an unset environment variable is refused before the first scenario,
/// instead of failing at its step after Wi-Fi and TCP were set up.
#[test]
fn an_unset_environment_variable_is_a_usage_error_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env.yaml");
    std::fs::write(
        &path,
        "name: reads an unset variable\ndevice: aliyun/device2\nsteps:\n  \
         - send: AT+CWJAP=\"lab\",\"{{env.ATHIL_TEST_SURELY_UNSET}}\"\n",
    )
    .unwrap();
    let ran = athil_run(&[path.to_str().unwrap()]);
    assert_eq!(ran.code, Some(2), "{}", ran.both());
    assert!(
        ran.stderr.contains(
            "reads {{env.ATHIL_TEST_SURELY_UNSET}}, but $ATHIL_TEST_SURELY_UNSET is not set"
        ),
        "{}",
        ran.stderr
    );
}
