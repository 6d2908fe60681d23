//! Scenario semantics a user trips over (issue 8, item 6), each pinned by a real run of
//! `athil run` on the virtual module and the embedded broker: what text `expect_not` watches,
//! which link a socket step uses, what `broker_saw` may match, which serial bytes a failure
//! shows, and packet ids captured from a downlink.

mod run_support;

use std::time::Duration;

use run_support::*;

/// Went wrong: `expect_not: +IPD` with `for: 1s` failed at 0.000 s on the header of a
/// CONNACK that had arrived, unread, before the step started.
#[test]
fn expect_not_ignores_text_that_arrived_before_its_window() {
    let ran = athil_run(&[&data("semantics/expect-not-old-text.yaml")]);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
}

/// The other half of the rule: text arriving inside the window still fails the step, when it
/// arrives.
#[test]
fn expect_not_fails_on_text_that_arrives_inside_its_window() {
    let f = expect_step_failure(
        &data("semantics/expect-not-in-window.yaml"),
        "fail: a PINGRESP held 300 ms arrives inside the expect_not window",
        "expect_not +IPD for 3s",
        17,
    );
    f.shows("`+IPD` appeared on the serial line");
    assert!(
        f.step_time >= Duration::from_millis(250) && f.step_time < Duration::from_secs(2),
        "the step failed after {:?}",
        f.step_time
    );
}

/// Went wrong: in a reconnect loop, `broker_saw: {pingreq: {}}` of the second cycle passed on
/// the first connection's PINGREQ, so a second connection that never pinged went unnoticed.
/// Each `broker_saw` now looks only after the packet the previous one matched.
#[test]
fn broker_saw_in_a_reconnect_loop_does_not_match_the_first_connections_packet() {
    let f = expect_step_failure(
        &data("semantics/broker-saw-reconnect.yaml"),
        "fail: the second connection never pings, the first one did",
        "broker_saw pingreq",
        27,
    );
    f.shows("did not see the expected packet")
        .shows("since the last `broker_saw` match")
        .shows("a matching packet came earlier")
        .shows("(line 19)");
}

/// Issue 7: a scenario could not capture the id of a downlink it must acknowledge. Both ids
/// are captured and sent back in the other order; the broker must see exactly those PUBACKs.
#[test]
fn captured_downlink_packet_ids_are_acknowledged() {
    let ran = athil_run(&[&data("semantics/capture-packet-id.yaml")]);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
}

/// A QoS 0 PUBLISH has no packet id; capturing one says so at the capturing step.
#[test]
fn capturing_the_id_of_a_qos0_publish_fails_at_that_step() {
    let f = expect_step_failure(
        &data("semantics/capture-qos0.yaml"),
        "fail: a QoS 0 downlink has no packet id to capture",
        "receive_mqtt publish {{vars.set_topic}}",
        17,
    );
    f.shows("carries no packet id to capture as `id`");
}

/// Went wrong: `mqtt:` and `receive_mqtt:` could not name a link, so the CIPMUX=1 second-login
/// scenario wrote both 118-byte CONNECTs by hand. With `link:` the module layer's dialect
/// writes the link into the send command and reads it from the receive header.
#[test]
fn mqtt_steps_on_two_links_go_through_the_dialects_link_syntax() {
    let ran = athil_run(&["scenarios/cloud/second-login-kicks-first.yaml"]);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    let transcripts = ran.files_ending(".transcript.txt");
    assert_eq!(transcripts.len(), 1, "{transcripts:?}");
    let t = std::fs::read_to_string(&transcripts[0]).expect("read the transcript");
    for needle in [
        "AT+CIPSEND=0,",
        "AT+CIPSEND=1,",
        "+IPD,0,4:",
        "+IPD,1,4:",
        "0,CLOSED",
    ] {
        assert!(t.contains(needle), "the transcript lacks `{needle}`:\n{t}");
    }
    assert!(
        ran.stdout.contains("mqtt connect on link 1"),
        "the step label names its link:\n{}",
        ran.stdout
    );
}

/// Went wrong: the failure block's 512 "last serial bytes" were mostly the module's boot
/// banner (baud-rate noise, `ready`, the sync), not what the failing step saw. It now shows
/// the bytes since the step started, and says so.
#[test]
fn the_failure_block_shows_the_serial_bytes_of_the_failing_step() {
    let f = expect_step_failure(
        &data("semantics/expect-not-in-window.yaml"),
        "fail: a PINGRESP held 300 ms arrives inside the expect_not window",
        "expect_not +IPD for 3s",
        17,
    );
    let stdout = &f.ran.stdout;
    let heading = stdout
        .lines()
        .position(|l| {
            l.trim_start()
                .starts_with("serial bytes since the step started (")
        })
        .unwrap_or_else(|| panic!("no serial window heading:\n{stdout}"));
    let text = stdout.lines().nth(heading + 1).unwrap_or_default();
    assert!(text.trim_start().starts_with("text: "), "{stdout}");
    assert!(text.contains("+IPD,2:"), "the PINGRESP's header: {text}");
    for boot in ["ready", "WIFI GOT IP", "CONNECT"] {
        assert!(
            !text.contains(boot),
            "`{boot}` is from before the step: {text}"
        );
    }
    assert!(
        f.junit_text.contains("serial bytes since the step started"),
        "{}",
        f.junit_text
    );
}
