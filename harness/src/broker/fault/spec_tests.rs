//! Reading faults: every YAML form the contract names, the short command-line form, and the
//! mistakes each rejects.

use super::*;
use rstest::rstest;

fn yaml(text: &str) -> Result<Fault, String> {
    serde_yaml::from_str(text).map_err(|e| e.to_string())
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[rstest]
#[case("{ refuse_next_connect: { code: 5 } }", Fault::RefuseNextConnect { code: 5 })]
#[case("{ delay: { packet: connack, by: 2s } }",
    Fault::Delay { packet: DelayedPacket::Connack, by: ms(2000), count: None })]
#[case("{ delay: { packet: publish, by: 300ms, count: 3 } }",
    Fault::Delay { packet: DelayedPacket::Publish, by: ms(300), count: Some(3) })]
#[case("{ drop_link: {} }", Fault::DropLink { after_next_packet: false })]
#[case("{ drop_link: { after_next_packet: true } }", Fault::DropLink { after_next_packet: true })]
#[case("{ black_hole: { direction: downlink, for: 500ms } }",
    Fault::BlackHole { direction: Direction::Downlink, duration: ms(500) })]
#[case("{ split_next: { segments: 2, gap: 50ms } }",
    Fault::SplitNext { segments: 2, gap: ms(50) })]
#[case("{ send_raw: { hex: \"20 02 00\" } }", Fault::SendRaw { hex: "20 02 00".into() })]
fn yaml_forms_read(#[case] text: &str, #[case] expected: Fault) {
    assert_eq!(yaml(text).unwrap(), expected);
}

#[test]
fn block_yaml_reads_as_a_scenario_step_writes_it() {
    let text = "split_next:\n  segments: 3\n  gap: 1s\n";
    assert_eq!(
        yaml(text).unwrap(),
        Fault::SplitNext {
            segments: 3,
            gap: ms(1000)
        }
    );
}

#[rstest]
#[case("{ refuse_next_connect: { code: 0 } }", "non-zero CONNACK code")]
#[case("{ delay: { packet: connack, by: 2 } }", "found `2` (time unit needed")]
#[case(
    "{ delay: { packet: connack, by: soon } }",
    "expected a duration with a unit"
)]
#[case("{ delay: { packet: connect, by: 1s } }", "unknown variant `connect`")]
#[case(
    "{ delay: { packet: suback, by: 1s, count: 0 } }",
    "count must be at least 1"
)]
#[case("{ split_next: { segments: 1, gap: 1s } }", "at least 2 segments")]
#[case("{ send_raw: { hex: \"20 0\" } }", "odd number of hex digits")]
#[case("{ send_raw: { hex: \"20 ??\" } }", "placeholder")]
#[case("{ drop_link: { after: true } }", "unknown field `after`")]
#[case("{ explode: {} }", "unknown variant `explode`")]
#[case(
    "{ black_hole: { direction: sideways, for: 1s } }",
    "unknown variant `sideways`"
)]
fn yaml_mistakes_are_rejected_with_a_reason(#[case] text: &str, #[case] wanted: &str) {
    let err = yaml(text).unwrap_err();
    assert!(err.contains(wanted), "{err}");
}

/// serde_yaml places an error in a value read by a helper at the start of the map holding it
/// (the fault's body), which is still the right step of a scenario.
#[test]
fn yaml_errors_carry_a_position() {
    let text = "split_next:\n  segments: 2\n  gap: later\n";
    let err = serde_yaml::from_str::<Fault>(text).unwrap_err();
    let at = err.location().expect("a location");
    assert_eq!((at.line(), at.column()), (2, 3), "{err}");
    assert!(err.to_string().contains("found `later`"), "{err}");
}

#[rstest]
#[case("refuse_next_connect 5", Fault::RefuseNextConnect { code: 5 })]
#[case("delay connack 2s",
    Fault::Delay { packet: DelayedPacket::Connack, by: ms(2000), count: None })]
#[case("delay suback 300ms 2",
    Fault::Delay { packet: DelayedPacket::Suback, by: ms(300), count: Some(2) })]
#[case("drop_link", Fault::DropLink { after_next_packet: false })]
#[case("drop_link after_next_packet", Fault::DropLink { after_next_packet: true })]
#[case("black_hole uplink 1s",
    Fault::BlackHole { direction: Direction::Uplink, duration: ms(1000) })]
#[case("split_next 2 50ms", Fault::SplitNext { segments: 2, gap: ms(50) })]
#[case("send_raw 20 02 00", Fault::SendRaw { hex: "20 02 00".into() })]
#[case("{ delay: { packet: pingresp, by: 1s } }",
    Fault::Delay { packet: DelayedPacket::Pingresp, by: ms(1000), count: None })]
fn short_forms_parse(#[case] text: &str, #[case] expected: Fault) {
    assert_eq!(text.parse::<Fault>().unwrap(), expected);
}

#[rstest]
#[case("delay connack", "is not a fault")]
#[case("delay connect 1s", "not a packet a delay can hold")]
#[case("refuse_next_connect 0", "non-zero")]
#[case("refuse_next_connect 300", "not a CONNACK code")]
#[case("refuse_next_connect 6", "reserved")]
#[case("split_next 1 5ms", "at least 2 segments")]
#[case("send_raw 2", "odd number")]
#[case("black_hole down 1s", "not uplink or downlink")]
#[case("delay connack 2", "expected a duration with a unit")]
fn short_form_mistakes_say_why(#[case] text: &str, #[case] wanted: &str) {
    let err = text.parse::<Fault>().unwrap_err();
    assert!(err.contains(wanted), "{err}");
}

#[test]
fn validate_catches_faults_built_in_code() {
    assert!(Fault::SendRaw { hex: "zz".into() }.validate().is_err());
    assert!(Fault::RefuseNextConnect { code: 0 }.validate().is_err());
    assert!(Fault::SplitNext {
        segments: 0,
        gap: ms(1)
    }
    .validate()
    .is_err());
    assert!(Fault::Delay {
        packet: DelayedPacket::Puback,
        by: ms(1),
        count: Some(0)
    }
    .validate()
    .is_err());
    assert!(Fault::SendRaw {
        hex: "D0 00".into()
    }
    .validate()
    .is_ok());
}

#[test]
fn display_reads_as_a_transcript_line() {
    let f = Fault::Delay {
        packet: DelayedPacket::Suback,
        by: ms(2000),
        count: None,
    };
    assert_eq!(f.to_string(), "hold the next 1 SUBACK for 2s");
    let raw = Fault::SendRaw {
        hex: "20 02 00".into(),
    };
    assert_eq!(raw.to_string(), "send 3 raw bytes: 20 02 00");
}

#[test]
fn only_refusals_and_connack_delays_wait_for_the_next_connect() {
    assert!(Fault::RefuseNextConnect { code: 5 }.waits_for_connect());
    assert!(Fault::Delay {
        packet: DelayedPacket::Connack,
        by: ms(1),
        count: None
    }
    .waits_for_connect());
    assert!(!Fault::Delay {
        packet: DelayedPacket::Suback,
        by: ms(1),
        count: None
    }
    .waits_for_connect());
    assert!(!Fault::DropLink {
        after_next_packet: false
    }
    .waits_for_connect());
}

#[test]
fn the_schema_names_every_fault() {
    let schema = serde_json::to_string(&schemars::schema_for!(Fault)).unwrap();
    for name in [
        "refuse_next_connect",
        "delay",
        "drop_link",
        "black_hole",
        "split_next",
        "send_raw",
    ] {
        assert!(schema.contains(name), "{name} missing from {schema}");
    }
}

/// The scenario layer may hand the fault over as an already-parsed YAML value.
#[test]
fn reads_from_a_yaml_value_too() {
    let value: serde_yaml::Value = serde_yaml::from_str("{ drop_link: {} }").unwrap();
    let fault: Fault = serde_yaml::from_value(value).unwrap();
    assert_eq!(
        fault,
        Fault::DropLink {
            after_next_packet: false
        }
    );
}
