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
