//! The broker-side keys of issue 4: the scenario's `cloud:` block, the `broker_fault:` and
//! `broker_dropped:` steps. They load into the model the runner matches on; the blocks owned
//! by the broker layer stay opaque here and read into any type with exact positions; every
//! problem of their shape is reported at its `file:line:column`.
//!
//! The types the blocks are read into below stand in for the broker's `Fault` and
//! `ProfileOverride` (this test is about the scenario layer's carrying, not about the broker's
//! rules): the same serde shapes, fewer fields.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use athil::mqtt::PacketType;
use athil::scenario::{
    load_str, Action, BrokerDropped, ErrorKind, FaultDevice, Location, Opaque, Scenario,
    ScenarioError,
};
use rstest::rstest;
use serde::Deserialize;

fn devices() -> BTreeSet<String> {
    BTreeSet::from(["aliyun/device2".to_string(), "aliyun/Air601".to_string()])
}

fn load(text: &str) -> Scenario {
    match load_str(text, Path::new("t.yaml"), &devices()) {
        Ok(s) => s,
        Err(errors) => {
            let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            panic!("expected a valid scenario:\n{}", lines.join("\n"))
        }
    }
}

fn errors(text: &str) -> Vec<ScenarioError> {
    match load_str(text, Path::new("t.yaml"), &devices()) {
        Ok(s) => panic!("expected problems, got a valid scenario: {s:?}"),
        Err(e) => e,
    }
}

fn shown(errors: &[ScenarioError]) -> Vec<String> {
    errors.iter().map(|e| e.to_string()).collect()
}

/// A valid header, then `steps` as given (each line indented under `steps:`).
fn with_steps(steps: &str) -> String {
    format!("name: n\ndevice: aliyun/device2\nsteps:\n{steps}")
}

const BROKER: &str = r#"name: faults and drops
device: aliyun/device2
cloud:
  login: {sign_mismatch_code: 5}
  keepalive:
    min: 60
steps:
  - broker_fault: {delay: {packet: connack, by: 2s}}
  - broker_fault:
      split_next: {segments: 2, gap: 50ms}
    device: aliyun/Air601
  - broker_fault: {drop_link: {}}
    device: all
    name: every link drops
  - broker_dropped: {packet: publish, reason: topic, client_id: "{{device.client_id}}"}
  - broker_dropped: {}
    timeout: 2s
virtual_module:
  echo: false
"#;

fn fault_of(s: &Scenario, i: usize) -> (&FaultDevice, &Opaque) {
    match &s.steps[i].action {
        Action::BrokerFault { device, fault } => (device, fault),
        other => panic!("step {i} is {other:?}"),
    }
}

#[test]
fn broker_faults_carry_their_device_and_the_fault_as_written() {
    let s = load(BROKER);
    let (device, fault) = fault_of(&s, 0);
    assert_eq!(device, &FaultDevice::Scenario);
    assert_eq!(fault.key(), Some("delay"));
    assert_eq!(fault.location, Location::new(8, 19));
    assert_eq!(fault.value["delay"]["by"], serde_yaml::Value::from("2s"));
    assert_eq!(s.steps[0].label, "broker_fault delay");
    assert_eq!(s.steps[0].action.kind(), "broker_fault");

    let (device, fault) = fault_of(&s, 1);
    assert_eq!(device, &FaultDevice::Named("aliyun/Air601".into()));
    assert_eq!(fault.location, Location::new(10, 7));
    assert_eq!(s.steps[1].label, "broker_fault split_next on aliyun/Air601");

    let (device, fault) = fault_of(&s, 2);
    assert_eq!(device, &FaultDevice::All);
    assert_eq!(fault.key(), Some("drop_link"));
    assert_eq!(s.steps[2].label, "broker_fault drop_link on all devices");
    assert_eq!(s.steps[2].name.as_deref(), Some("every link drops"));
}

#[test]
fn broker_dropped_checks_only_what_is_given() {
    let s = load(BROKER);
    let Action::BrokerDropped(d) = &s.steps[3].action else {
        panic!("{:?}", s.steps[3].action)
    };
    assert_eq!(
        d.client_id.as_ref().map(|t| t.source()),
        Some("{{device.client_id}}")
    );
    assert_eq!(d.packet, Some(PacketType::Publish));
    assert_eq!(d.reason.as_deref(), Some("topic"));
    assert_eq!(s.steps[3].label, "broker_dropped publish");
    assert_eq!(s.steps[3].action.kind(), "broker_dropped");
    assert_eq!(
        s.steps[4].action,
        Action::BrokerDropped(BrokerDropped {
            client_id: None,
            packet: None,
            reason: None
        })
    );
    assert_eq!(s.steps[4].label, "broker_dropped");
    assert_eq!(s.steps[4].timeout, Duration::from_secs(2));
}

#[test]
fn the_opaque_blocks_are_listed_in_file_order_with_their_keys() {
    let s = load(BROKER);
    let cloud = s.cloud.as_ref().unwrap();
    assert_eq!(cloud.location, Location::new(4, 3));
    assert_eq!(cloud.file(), Path::new("t.yaml"));
    let blocks: Vec<(&str, Location)> = s
        .opaque_blocks()
        .into_iter()
        .map(|(k, o)| (k, o.location))
        .collect();
    assert_eq!(
        blocks,
        vec![
            ("cloud", Location::new(4, 3)),
            ("broker_fault", Location::new(8, 19)),
            ("broker_fault", Location::new(10, 7)),
            ("broker_fault", Location::new(12, 19)),
            ("virtual_module", Location::new(19, 3)),
        ]
    );
    let plain = load("name: n\ndevice: aliyun/device2\nsteps:\n  - wait: 1s\n");
    assert!(plain.cloud.is_none());
    assert!(plain.opaque_blocks().is_empty());
}

/// Stands in for the broker's `Fault`: the same externally tagged, snake_case shape.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Fault {
    Delay {
        packet: String,
        by: String,
        #[serde(default)]
        count: Option<u32>,
    },
    DropLink {
        #[serde(default)]
        after_next_packet: bool,
    },
    SplitNext {
        segments: u32,
        gap: String,
    },
    SendRaw {
        hex: String,
    },
}

/// Stands in for the broker's `ProfileOverride`: optional sections of optional keys.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Override {
    login: Option<Login>,
    keepalive: Option<Keepalive>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    sign_mismatch_code: Option<u8>,
    unknown_device_code: Option<u8>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Keepalive {
    min: Option<u16>,
    max: Option<u16>,
}

#[test]
fn opaque_blocks_read_into_their_owners_types() {
    let s = load(BROKER);
    assert_eq!(
        s.cloud.as_ref().unwrap().read::<Override>().unwrap(),
        Override {
            login: Some(Login {
                sign_mismatch_code: Some(5),
                unknown_device_code: None
            }),
            keepalive: Some(Keepalive {
                min: Some(60),
                max: None
            }),
        }
    );
    let faults: Vec<Fault> = s
        .opaque_blocks()
        .into_iter()
        .filter(|(k, _)| *k == "broker_fault")
        .map(|(_, o)| o.read::<Fault>().unwrap())
        .collect();
    assert_eq!(
        faults,
        vec![
            Fault::Delay {
                packet: "connack".into(),
                by: "2s".into(),
                count: None
            },
            Fault::SplitNext {
                segments: 2,
                gap: "50ms".into()
            },
            Fault::DropLink {
                after_next_packet: false
            },
        ]
    );
}

#[test]
fn problems_inside_opaque_blocks_are_placed_exactly_when_read() {
    let text = "name: n\ndevice: aliyun/device2\ncloud:\n  login: {sign_mismatch_cod: 5}\n  keepalive: {min: lots}\nsteps:\n  - broker_fault: {dealy: {packet: connack, by: 2s}}\n  - broker_fault:\n      split_next: {segments: -2, gap: 5ms}\n";
    let s = load(text);
    assert_eq!(
        shown(&s.cloud.as_ref().unwrap().read::<Override>().unwrap_err()),
        vec![
            "t.yaml:4:11: unknown key `sign_mismatch_cod`; expected one of \
             `sign_mismatch_code`, `unknown_device_code`; did you mean `sign_mismatch_code`?",
            "t.yaml:5:20: expected a number from 0 to 65535, found the text `lots`",
        ]
    );
    let (_, fault) = fault_of(&s, 0);
    let e = fault.read::<Fault>().unwrap_err();
    assert_eq!(
        shown(&e),
        vec![
            "t.yaml:7:20: unknown `dealy`; expected one of `delay`, `drop_link`, `split_next`, \
             `send_raw`; did you mean `delay`?"
        ]
    );
    assert_eq!(e[0].kind, ErrorKind::UnknownKey);
    let (_, fault) = fault_of(&s, 1);
    assert_eq!(
        shown(&fault.read::<Fault>().unwrap_err()),
        vec!["t.yaml:9:30: expected a whole number, found the number -2"]
    );
}

#[test]
fn the_owner_places_its_own_checks_with_locate() {
    let text = with_steps("  - broker_fault:\n      send_raw:\n        hex: 20 0G\n");
    let s = load(&text);
    let (_, fault) = fault_of(&s, 0);
    assert_eq!(fault.locate(&[]), Location::new(5, 7));
    assert_eq!(fault.locate(&["send_raw"]), Location::new(6, 9));
    assert_eq!(fault.locate(&["send_raw", "hex"]), Location::new(6, 14));
    // A key that is not there: the deepest one that is.
    assert_eq!(fault.locate(&["send_raw", "bytes"]), Location::new(6, 9));
    let e = fault.error(&["send_raw", "hex"], "expected hex bytes: `0G` is not hex");
    assert_eq!(
        e.to_string(),
        "t.yaml:6:14: expected hex bytes: `0G` is not hex"
    );
    assert_eq!(e.kind, ErrorKind::Value);
}

const PACKETS: &str = "`connect`, `connack`, `publish`, `puback`, `pubrec`, `pubrel`, `pubcomp`, \
    `subscribe`, `suback`, `unsubscribe`, `unsuback`, `pingreq`, `pingresp`, `disconnect`";

#[rstest]
#[case::two_faults_in_one_step(
    "  - broker_fault: {delay: {packet: connack, by: 2s}, drop_link: {}}\n",
    "t.yaml:4:54: a `broker_fault` step injects one fault, found `delay`, `drop_link`; split it \
     into one step each",
    ErrorKind::Value
)]
#[case::two_faults_in_block_style(
    "  - broker_fault:\n      drop_link: {}\n      send_raw: {hex: '00'}\n",
    "t.yaml:6:7: a `broker_fault` step injects one fault, found `drop_link`, `send_raw`; split it \
     into one step each",
    ErrorKind::Value
)]
#[case::unknown_device(
    "  - broker_fault: {drop_link: {}}\n    device: aliyun/devce2\n",
    "t.yaml:5:13: unknown device `aliyun/devce2`; did you mean `aliyun/device2`?",
    ErrorKind::Device
)]
#[case::a_fault_name_alone(
    "  - broker_fault: drop_link\n",
    "t.yaml:4:19: expected a fault as a mapping with its name as the only key, e.g. `{delay: \
     {packet: connack, by: 2s}}` or `{drop_link: {}}`, found the text `drop_link`; write \
     `{drop_link: {}}` for a fault with no fields",
    ErrorKind::Type
)]
#[case::no_fault(
    "  - broker_fault: {}\n",
    "t.yaml:4:19: expected one fault, e.g. `{delay: {packet: connack, by: 2s}}` or \
     `{drop_link: {}}`, found an empty mapping",
    ErrorKind::MissingKey
)]
#[case::nothing_at_all(
    "  - broker_fault:\n",
    "t.yaml:4:5: expected a fault, e.g. `{delay: {packet: connack, by: 2s}}` or \
     `{drop_link: {}}`, found nothing",
    ErrorKind::Type
)]
#[case::a_list_of_faults(
    "  - broker_fault: [{drop_link: {}}]\n",
    "t.yaml:4:19: expected one fault, e.g. `{delay: {packet: connack, by: 2s}}` or \
     `{drop_link: {}}`, found a list; write one `broker_fault` step per fault",
    ErrorKind::Type
)]
#[case::device_on_another_step(
    "  - wait: 1s\n    device: all\n",
    "t.yaml:5:13: `device` goes with `broker_fault`, not with `wait`; other steps are about the \
     scenario's device",
    ErrorKind::Value
)]
#[case::device_not_a_name(
    "  - broker_fault: {drop_link: {}}\n    device: [all]\n",
    "t.yaml:5:13: expected a string, found a list",
    ErrorKind::Type
)]
#[case::unknown_packet_type(
    "  - broker_dropped: {packet: publsh}\n",
    &format!("t.yaml:4:30: unknown packet type `publsh`; expected one of {PACKETS}; did you mean `publish`?"),
    ErrorKind::UnknownKey
)]
#[case::packet_type_in_capitals(
    "  - broker_dropped: {packet: SUBSCRIBE}\n",
    &format!("t.yaml:4:30: unknown packet type `SUBSCRIBE`; expected one of {PACKETS}; did you mean `subscribe`?"),
    ErrorKind::UnknownKey
)]
#[case::packet_type_as_a_number(
    "  - broker_dropped: {packet: 3}\n",
    &format!("t.yaml:4:30: unknown packet type `3`; expected one of {PACKETS}"),
    ErrorKind::UnknownKey
)]
#[case::unknown_dropped_field(
    "  - broker_dropped: {packet: publish, reson: topic}\n",
    "t.yaml:4:39: unknown key `reson`; expected one of `client_id`, `packet`, `reason`; did you \
     mean `reason`?",
    ErrorKind::UnknownKey
)]
#[case::bad_client_id_template(
    "  - broker_dropped: {client_id: \"{{device.clientid}}\"}\n",
    "t.yaml:4:34: unknown name `device.clientid`; expected one of `device.product_key`, \
     `device.device_name`, `device.client_id`, `device.username`, `device.password`; did you \
     mean `device.client_id`?",
    ErrorKind::Template
)]
fn each_broker_step_problem_names_its_place(
    #[case] steps: &str,
    #[case] want: &str,
    #[case] kind: ErrorKind,
) {
    let e = errors(&with_steps(steps));
    assert_eq!(shown(&e), vec![want.to_string()]);
    assert_eq!(e[0].kind, kind);
}

#[test]
fn a_cloud_block_must_be_a_mapping() {
    let e = errors("name: n\ndevice: aliyun/device2\ncloud: strict\nsteps:\n  - wait: 1s\n");
    assert_eq!(
        shown(&e),
        vec!["t.yaml:3:8: expected a mapping of cloud profile settings"]
    );
    assert_eq!(e[0].kind, ErrorKind::Type);
}

#[test]
fn every_broker_step_problem_of_a_file_is_reported_at_once() {
    let text = with_steps(
        "  - broker_fault: {delay: {}, drop_link: {}}\n    device: aliyun/devce2\n  - wait: 1s\n  \
         - broker_dropped: {packet: pubak}\n  - broker_fault: {send_raw: {hex: '00'}}\n    \
         device: all\n",
    );
    assert_eq!(
        shown(&errors(&text)),
        vec![
            "t.yaml:4:31: a `broker_fault` step injects one fault, found `delay`, `drop_link`; \
             split it into one step each",
            "t.yaml:5:13: unknown device `aliyun/devce2`; did you mean `aliyun/device2`?",
            &format!(
                "t.yaml:7:30: unknown packet type `pubak`; expected one of {PACKETS}; did you \
                 mean `puback`?"
            ),
        ]
    );
}
