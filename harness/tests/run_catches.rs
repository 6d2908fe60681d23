//! What `athil run` exists to catch, each as a small scenario under `tests/data/run/fail/`: a
//! wrong byte, a reply that never comes, a refused sign. Each run must exit 1, name the failing
//! step by label and line on the console and in JUnit, and show what was expected beside what
//! arrived.

mod run_support;

use std::time::Duration;

use run_support::*;

#[test]
fn one_wrong_byte_in_a_connack_fails_at_that_byte() {
    let f = expect_step_failure(
        &data("fail/wrong-connack-byte.yaml"),
        "fail: one wrong byte in the expected CONNACK",
        "receive 20 02 00 01",
        15,
    );
    f.shows("socket bytes differ at byte 3: expected 01, got 00")
        .shows("byte 3: expected 01, got 00")
        .shows("expected  20 02 00 01")
        .shows("actual    20 02 00 00");
    // The CONNACK is there at once: nothing waits for the 2 s deadline.
    assert!(f.step_time < Duration::from_secs(1), "{:?}", f.step_time);
    assert!(f.junit_message.contains("byte 3: expected 01, got 00"));
}

#[test]
fn a_suback_that_never_comes_fails_at_the_steps_deadline() {
    let f = expect_step_failure(
        &data("fail/missing-suback.yaml"),
        "fail: a SUBACK that never comes",
        "receive_mqtt suback 10",
        16,
    );
    f.shows("nothing within 1s");
    // The step's own `timeout: 1s`, not the scenario's 2 s nor a hang.
    assert!(
        f.step_time >= Duration::from_millis(950) && f.step_time < Duration::from_millis(2500),
        "the step took {:?}",
        f.step_time
    );
    assert!(
        f.ran.elapsed < Duration::from_secs(15),
        "{:?}",
        f.ran.elapsed
    );
    assert!(
        f.junit_message.contains("nothing within 1s"),
        "{}",
        f.junit_message
    );
}

#[test]
fn a_suback_that_never_comes_says_it_was_waiting_for_a_suback() {
    let f = expect_step_failure(
        &data("fail/missing-suback.yaml"),
        "fail: a SUBACK that never comes",
        "receive_mqtt suback 10",
        16,
    );
    // The label names the SUBACK already; the expectation under it must too.
    let below_label = |text: &str| -> bool {
        text.lines()
            .filter(|l| !l.contains("receive_mqtt suback 10"))
            .any(|l| l.to_ascii_uppercase().contains("SUBACK"))
    };
    assert!(below_label(&f.console), "console:\n{}", f.console);
    assert!(below_label(&f.junit_text), "JUnit:\n{}", f.junit_text);
    assert!(
        !f.console.contains("waited for: (nothing)"),
        "{}",
        f.console
    );
}

#[test]
fn a_wrong_sign_shows_the_return_code_and_the_brokers_reason() {
    let f = expect_step_failure(
        &data("fail/wrong-sign.yaml"),
        "fail: a CONNECT signed with the wrong secret, expected to be accepted",
        "receive_mqtt connack 0",
        15,
    );
    f.shows("return_code: expected 0, got 4")
        .shows("20 02 00 04");
    assert!(
        f.console.contains("! return_code: 0 | return_code: 4"),
        "{}",
        f.console
    );
    // Why the gateway refused, on record for the engineer.
    let transcript = f.transcript();
    assert!(
        transcript
            .contains("refused client \"device2|securemode=3,signmethod=hmacsha1|\" with code 4")
            && transcript.contains("sign did not match"),
        "the transcript lacks the refusal reason:\n{transcript}"
    );
}

#[test]
fn a_failing_steps_name_is_shown_with_its_label() {
    let f = expect_step_failure(
        &data("fail/wrong-connack-byte.yaml"),
        "fail: one wrong byte in the expected CONNACK",
        "receive 20 02 00 01",
        15,
    );
    let name = "the CONNACK with a wrong last byte";
    assert!(f.ran.stdout.contains(name), "console:\n{}", f.ran.stdout);
    assert!(f.junit_text.contains(name), "JUnit:\n{}", f.junit_text);
    assert!(f.transcript().contains(name));
}
