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
