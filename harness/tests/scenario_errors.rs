//! Every kind of scenario problem is reported at its exact `file:line:column` with what was
//! expected, and every problem of every file is reported at once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use athil::scenario::{load_paths, load_str, ErrorKind, ScenarioError};
use rstest::rstest;

fn devices() -> BTreeSet<String> {
    BTreeSet::from(["aliyun/device2".to_string(), "aliyun/Air601".to_string()])
}

fn errors(text: &str) -> Vec<ScenarioError> {
    match load_str(text, Path::new("t.yaml"), &devices()) {
        Ok(s) => panic!("expected problems, got a valid scenario: {s:?}"),
        Err(e) => e,
    }
}

fn shown(text: &str) -> Vec<String> {
    errors(text).iter().map(|e| e.to_string()).collect()
}

/// A valid header, then `steps` as given (each line indented under `steps:`).
fn with_steps(steps: &str) -> String {
    format!("name: n\ndevice: aliyun/device2\nsteps:\n{steps}")
}

#[test]
fn bad_yaml_is_placed_where_the_parser_stopped() {
    assert_eq!(
        shown("name: x\nsteps:\n  - send: \"AT\n"),
        vec![
            "t.yaml:3:11: read YAML: while scanning a quoted scalar, found unexpected end of \
             stream"
        ]
    );
    let e = errors("name: x\n  steps: 1\n");
    assert_eq!(e[0].kind, ErrorKind::Yaml);
    assert_eq!(
        e[0].to_string(),
        "t.yaml:2:8: read YAML: mapping values are not allowed in this context"
    );
}

#[test]
fn an_unknown_step_kind_lists_the_kinds_and_suggests_the_closest() {
    assert_eq!(
        shown(&with_steps("  - wait: 1s\n  - sned: AT\n")),
        vec![
            "t.yaml:5:5: unknown step kind `sned`; a step is one of `send`, `write`, `expect`, \
             `expect_not`, `receive`, `mqtt`, `receive_mqtt`, `join`, `open`, `close`, \
             `expect_closed`, `broker_saw`, `broker_refused`, \
             `broker_fault`, `broker_dropped`, `cloud_publish`, `wait` (with optional `name`, `timeout`); did you mean `send`?"
        ]
    );
}

#[rstest]
#[case::plain(
    "  - write: 10 74 0G 04\n",
    "t.yaml:4:19: expected hex bytes: `0G` is not hex: 'G' is not a hex digit"
)]
#[case::folded_double_quoted(
    "  - write: \"10 74\n      00 4Z\"\n",
    "t.yaml:5:11: expected hex bytes: `4Z` is not hex: 'Z' is not a hex digit"
)]
#[case::block(
    "  - receive: |\n      20 02\n      00 x0\n",
    "t.yaml:6:10: expected hex bytes: `x0` is not hex: 'x' is not a hex digit"
)]
#[case::placeholder(
    "  - receive: 20 02 ?? 00\n",
    "t.yaml:4:20: expected hex bytes: `??` is a placeholder, not hex: fill in the real value"
)]
#[case::odd(
    "  - write: 10 7 00\n",
    "t.yaml:4:15: expected hex bytes: `7` has an odd number of hex digits: write every byte as two digits (07, not 7)"
)]
#[case::in_a_payload(
    "  - cloud_publish: {topic: t, payload_hex: '7B 7G'}\n",
    "t.yaml:4:49: expected hex bytes: `7G` is not hex: 'G' is not a hex digit"
)]
fn bad_hex_is_placed_at_the_offending_character(#[case] steps: &str, #[case] want: &str) {
    let e = errors(&with_steps(steps));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].kind, ErrorKind::Hex);
    assert_eq!(e[0].to_string(), want);
}

#[rstest]
#[case::no_unit("timeout: 5\n", "", "t.yaml:1:10: expected a duration with a unit such as `500ms`, `2s` or `1m`, found `5` (time unit needed, for example 5sec or 5ms)")]
#[case::step("", "  - wait: 2 parsecs\n", "t.yaml:5:11: expected a duration with a unit such as `500ms`, `2s` or `1m`, found `2 parsecs` (unknown time unit \"parsecs\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations))")]
fn bad_durations_name_the_units(#[case] head: &str, #[case] steps: &str, #[case] want: &str) {
    let text = format!("{head}name: n\ndevice: aliyun/device2\nsteps:\n  - wait: 1s\n{steps}");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].kind, ErrorKind::Duration);
    assert_eq!(e[0].to_string(), want);
}

#[test]
fn unknown_template_names_are_placed_at_their_braces() {
    let text = "name: n\ndevice: aliyun/device2\nvars:\n  topic: /sys/x\nsteps:\n  - send: \"AT {{vars.tpoic}} {{brokr.host}}\"\n";
    assert_eq!(
        shown(text),
        vec![
            "t.yaml:6:15: no variable `tpoic` in `vars`; defined are `topic`; did you mean \
             `topic`?",
            "t.yaml:6:30: unknown namespace `brokr` in `{{brokr.host}}`; expected one of \
             `broker`, `device`, `wifi`, `vars`, `env`; did you mean `broker`?",
        ]
    );
    assert!(errors(text).iter().all(|e| e.kind == ErrorKind::Template));
}

#[test]
fn an_unknown_device_lists_the_known_ones() {
    let e = errors("name: n\ndevice: aliyun/devce2\nsteps:\n  - wait: 1s\n");
    assert_eq!(e[0].kind, ErrorKind::Device);
    assert_eq!(
        e[0].to_string(),
        "t.yaml:2:9: unknown device `aliyun/devce2`; did you mean `aliyun/device2`?"
    );
}

#[rstest]
#[case::number_expected(
    "  - mqtt: {publish: {topic: t, qos: high}}\n",
    "t.yaml:4:37: expected a number from 0 to 255, found the text `high`",
    ErrorKind::Type
)]
#[case::string_expected(
    "  - send:\n",
    "t.yaml:4:5: expected a string, found nothing",
    ErrorKind::Type
)]
#[case::list_expected(
    "  - mqtt: {subscribe: {packet_id: 1, filters: a}}\n",
    "t.yaml:4:47: expected a list, found the text `a`",
    ErrorKind::Type
)]
#[case::unknown_field(
    "  - mqtt: {publish: {topic: t, qso: 1}}\n",
    "t.yaml:4:32: unknown key `qso`; expected one of `topic`, `payload`, `payload_hex`, `payload_json`, `qos`, `retain`, `dup`, `packet_id`; did you mean `qos`?",
    ErrorKind::UnknownKey
)]
#[case::unknown_packet(
    "  - mqtt: {subscibe: {packet_id: 1}}\n",
    "t.yaml:4:12: unknown `subscibe`; expected one of `connect`, `publish`, `subscribe`, `unsubscribe`, `puback`, `pubrec`, `pubrel`, `pubcomp`, `pingreq`, `disconnect`; did you mean `subscribe`?",
    ErrorKind::UnknownKey
)]
#[case::missing_field(
    "  - mqtt: {subscribe: {filters: [a]}}\n",
    "t.yaml:4:23: missing `packet_id`",
    ErrorKind::MissingKey
)]
#[case::qos_out_of_range(
    "  - cloud_publish: {topic: t, qos: 3}\n",
    "t.yaml:4:36: expected a QoS of 0, 1 or 2, found 3",
    ErrorKind::Value
)]
#[case::qos1_without_packet_id(
    "  - mqtt: {publish: {topic: t, qos: 1}}\n",
    "t.yaml:4:21: missing `packet_id`: a QoS 1 PUBLISH needs one",
    ErrorKind::MissingKey
)]
#[case::two_payloads(
    "  - cloud_publish: {topic: t, payload: x, payload_hex: '00'}\n",
    "t.yaml:4:20: give one payload: `payload`, `payload_hex` or `payload_json`, not several",
    ErrorKind::Value
)]
#[case::two_kinds(
    "  - send: AT\n    wait: 1s\n",
    "t.yaml:4:5: a step does one thing, found `send`, `wait`; split it into one step each",
    ErrorKind::Value
)]
#[case::expect_not_without_window(
    "  - expect_not: ERROR\n",
    "t.yaml:4:5: missing `for`: `expect_not` needs the window to watch, e.g. `for: 2s`",
    ErrorKind::MissingKey
)]
#[case::window_on_another_kind(
    "  - expect: OK\n    for: 2s\n",
    "t.yaml:5:10: `for` goes with `expect_not`, not with `expect`; use `timeout` here",
    ErrorKind::Value
)]
#[case::unknown_matcher(
    "  - expect: {lines: OK}\n",
    "t.yaml:4:14: unknown `lines`; expected one of `contains`, `line`, `regex`, `any_of`, `all_of`; did you mean `line`?",
    ErrorKind::UnknownKey
)]
#[case::bad_regex(
    "  - expect: {regex: \"(open\"}\n",
    "t.yaml:4:21: compile the regular expression `(open`: unclosed group",
    ErrorKind::Regex
)]
#[case::fields_on_a_bare_packet(
    "  - mqtt: {pingreq: {packet_id: 1}}\n",
    "t.yaml:4:21: `pingreq` takes no fields; write it alone or as `pingreq: {}`",
    ErrorKind::Value
)]
#[case::duplicate_key(
    "  - wait: 1s\n    wait: 2s\n",
    "t.yaml:5:5: read the mapping: key `wait` appears twice (first at line 4); remove one",
    ErrorKind::Yaml
)]
fn each_kind_of_problem_names_its_place_and_what_was_expected(
    #[case] steps: &str,
    #[case] want: &str,
    #[case] kind: ErrorKind,
) {
    let e = errors(&with_steps(steps));
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].to_string(), want);
    assert_eq!(e[0].kind, kind);
}

#[test]
fn a_scenario_without_its_required_keys_says_which() {
    assert_eq!(
        shown("description: d\n"),
        vec![
            "t.yaml:1:1: missing `name`: every scenario has a name, shown in reports",
            "t.yaml:1:1: missing `device`: name the device fixture, e.g. `device: \
             aliyun/device2`",
            "t.yaml:1:1: missing `steps`: a scenario is a list of steps",
        ]
    );
    assert_eq!(
        shown("- send: AT\n"),
        vec!["t.yaml:1:1: expected a scenario: a mapping with `name`, `device` and `steps`"]
    );
    assert_eq!(
        shown("name: n\ndevice: aliyun/device2\nsteps: []\n"),
        vec!["t.yaml:3:8: expected at least one step, found none"]
    );
    assert_eq!(
        shown("name: n\ndevice: aliyun/device2\nstep:\n  - wait: 1s\n"),
        vec![
            "t.yaml:1:1: missing `steps`: a scenario is a list of steps",
            "t.yaml:3:1: unknown key `step` in the scenario; expected one of `name`, \
             `description`, `device`, `vars`, `timeout`, `virtual_module`, `cloud`, `requires`, `estimate`, `tags`, \
             `steps`; \
             did you mean `steps`?",
        ]
    );
}

#[test]
fn every_problem_of_a_file_is_reported_in_file_order() {
    let text = "name: n\ndevice: aliyun/devce2\nsteps:\n  - write: 10 0G\n  - sned: AT\n  - wait: soon\n  - receive: 20 02 00 00\n";
    assert_eq!(
        shown(text),
        vec![
            "t.yaml:2:9: unknown device `aliyun/devce2`; did you mean `aliyun/device2`?",
            "t.yaml:4:16: expected hex bytes: `0G` is not hex: 'G' is not a hex digit",
            "t.yaml:5:5: unknown step kind `sned`; a step is one of `send`, `write`, `expect`, \
             `expect_not`, `receive`, `mqtt`, `receive_mqtt`, `join`, `open`, `close`, \
             `expect_closed`, `broker_saw`, `broker_refused`, \
             `broker_fault`, `broker_dropped`, `cloud_publish`, `wait` (with optional `name`, `timeout`); did you mean `send`?",
            "t.yaml:6:11: expected a duration with a unit such as `500ms`, `2s` or `1m`, found \
             `soon` (expected number at 0)",
        ]
    );
}

#[test]
fn every_problem_of_every_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("nested");
    std::fs::create_dir(&nested).unwrap();
    let good = "name: good\ndevice: aliyun/device2\nsteps:\n  - wait: 1s\n";
    std::fs::write(
        dir.path().join("b.yaml"),
        "name: b\ndevice: aliyun/device2\nsteps:\n  - write: 0G\n",
    )
    .unwrap();
    std::fs::write(
        nested.join("a.yml"),
        "name: a\ndevice: nope\nsteps:\n  - wait: 1s\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("c.yaml"), good).unwrap();
    std::fs::write(dir.path().join("scenario.schema.json"), "{}").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a scenario").unwrap();
    std::fs::write(dir.path().join(".hidden.yaml"), "not: [valid").unwrap();
    let extra: PathBuf = dir.path().join("missing.yaml");

    let (scenarios, errors) = load_paths(&[dir.path().to_path_buf(), extra.clone()], &devices());
    let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["good"]);
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let b = dir.path().join("b.yaml");
    let a = nested.join("a.yml");
    assert_eq!(
        shown,
        vec![
            format!("{}: read `{}`: no such file or directory", extra.display(), extra.display()),
            format!("{}:4:13: expected hex bytes: `0G` is not hex: 'G' is not a hex digit", b.display()),
            format!("{}:2:9: unknown device `nope`; known devices are `aliyun/Air601`, `aliyun/device2`", a.display()),
        ]
    );
    assert_eq!(errors[0].kind, ErrorKind::Io);
}

#[test]
fn a_scenario_name_used_twice_is_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let text = "name: same\ndevice: aliyun/device2\nsteps:\n  - wait: 1s\n";
    std::fs::write(dir.path().join("1.yaml"), text).unwrap();
    std::fs::write(dir.path().join("2.yaml"), text).unwrap();
    let (scenarios, errors) = load_paths(&[dir.path().to_path_buf()], &devices());
    assert_eq!(scenarios.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        format!(
            "{}:1:7: scenario name `same` is already used by `{}`; names must be unique",
            dir.path().join("2.yaml").display(),
            dir.path().join("1.yaml").display()
        )
    );
}

/// Went wrong: `AT+CIPSEND=117` before the seed's 118-byte CONNECT passed `check`, and the run
/// failed later with "nothing within 5s", never naming the byte that was cut.
#[test]
fn a_cipsend_length_that_differs_from_its_write_is_placed_at_the_number() {
    let connect = "10 74 00 04 4D 51 54 54 04 C2 00 64 00 29 64 65 76 69 63 65 32 7C 73 65 63 75 \
                   72 65 6D 6F 64 65 3D 33 2C 73 69 67 6E 6D 65 74 68 6F 64 3D 68 6D 61 63 73 68 \
                   61 31 7C 00 13 64 65 76 69 63 65 32 26 61 31 6E 64 50 51 48 63 58 37 66 00 28 \
                   35 63 61 65 65 66 35 62 39 32 35 31 39 34 30 36 39 36 62 30 32 64 63 38 30 62 \
                   36 31 35 63 33 66 37 33 39 66 34 36 62 63";
    let steps = format!(
        "  - send: AT+CIPSEND=117\n    expect: \">\"\n  - write: {connect}\n    expect: SEND OK\n\
         \x20 - send: AT+CIPSEND=0,5\n  - expect: \">\"\n  - wait: 10ms\n  - write: 01 02 03\n"
    );
    assert_eq!(
        shown(&with_steps(&steps)),
        vec![
            "t.yaml:4:22: AT+CIPSEND=117 announces 117 bytes but the write at line 6 carries \
             118; byte 118 (0x63) would be cut",
            "t.yaml:8:24: AT+CIPSEND=0,5 announces 5 bytes but the write at line 11 carries 3; \
             bytes 4 to 5 are missing: the module would wait for them until the step times out",
        ]
    );
    let e = errors(&with_steps(&steps));
    assert_eq!(e[0].kind, ErrorKind::Value);
    // A variable's length is known; it is placed at the start of the value.
    let var = with_steps("  - send: AT+CIPSEND={{vars.n}}\n  - write: 01 02\n")
        .replace("steps:", "vars: {n: \"3\"}\nsteps:");
    assert_eq!(
        shown(&var),
        vec![
            "t.yaml:5:11: AT+CIPSEND=3 announces 3 bytes but the write at line 6 carries 2; \
             byte 3 is missing: the module would wait for it until the step times out"
        ]
    );
    // What is not known before the run is left alone: a length from the environment, a send
    // in between.
    let fine = with_steps(
        "  - send: AT+CIPSEND={{env.LEN}}\n  - write: 01 02\n  - send: AT+CIPSEND=2\n  \
         - send: AT\n  - write: 01 02 03\n",
    );
    assert!(
        load_str(&fine, Path::new("t.yaml"), &devices()).is_ok(),
        "{:?}",
        load_str(&fine, Path::new("t.yaml"), &devices()).err()
    );
}

#[test]
fn neutral_link_steps_place_wrong_keys_and_misplaced_links() {
    assert_eq!(
        shown(&with_steps(
            "  - open: { host: example.com, prot: 1883 }\n  - close: { lnk: 1 }\n  - join: { apn: CMNET, ssid: lab }\n"
        )),
        vec![
            "t.yaml:4:11: missing `port`",
            "t.yaml:4:32: unknown key `prot`; expected one of `host`, `port`, `link`; did you \
             mean `port`?",
            "t.yaml:5:14: unknown key `lnk`; expected one of `link`; did you mean `link`?",
            "t.yaml:6:25: unknown key `ssid`; expected one of `apn`",
        ]
    );
    assert_eq!(
        shown(&with_steps(
            "  - open: { host: example.com, port: 1883 }\n    link: 1\n  - expect_closed: {}\n    link: 2\n"
        )),
        vec![
            "t.yaml:5:11: `link` of `open` goes inside it: `open: {link: 1}`",
            "t.yaml:7:11: `link` of `expect_closed` goes inside it: `expect_closed: {link: 2}`",
        ]
    );
    assert_eq!(
        shown(&with_steps(
            "  - open: { host: example.com, port: 70000 }\n  - open: { host: h, port: \"80x\" }\n  - open: { host: h, port: \"{{broker.port}}\" }\n"
        )),
        vec![
            "t.yaml:4:38: expected a port from 1 to 65535, found 70000",
            "t.yaml:5:28: expected a port from 1 to 65535, found `80x`",
        ]
    );
}
