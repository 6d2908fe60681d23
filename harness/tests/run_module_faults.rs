//! A module that misbehaves, through the virtual module's fault knobs in each scenario's
//! `virtual_module:` block: it answers ERROR (fail at once), goes silent (fail at the step's
//! deadline, then go on with the next scenario), or drops its link mid-flow (fail saying so).

mod run_support;

use std::time::Duration;

use athil::run::{Outcome, Totals};
use quick_junit::TestCaseStatus;
use run_support::*;

const SILENT: &str = "fail: the module goes silent on AT+CIPSEND";
const SEED_000: &str = "scenarios/seeds/000-air601-connect.yaml";

#[test]
fn a_module_answering_error_fails_at_once_saying_so() {
    let f = expect_step_failure(
        &data("fail/module-error.yaml"),
        "fail: the module answers ERROR to AT+CIPSTART",
        r#"send AT+CIPSTART="TCP","{{broker.host}}",{{broker.port}}"#,
        13,
    );
    f.shows("the module answered ERROR before `CONNECT` then `OK` appeared")
        .shows("expected: `CONNECT` then `OK`")
        .shows(r"actual:   \r\n\r\nERROR\r\n");
    // The step may wait 20 s for CONNECT; ERROR is an answer, so it must not.
    assert!(f.step_time < Duration::from_secs(2), "{:?}", f.step_time);
    assert!(
        f.ran.elapsed < Duration::from_secs(10),
        "{:?}",
        f.ran.elapsed
    );
}

#[test]
fn a_silent_module_fails_at_the_deadline_and_the_run_goes_on() {
    let ran = athil_run(&[&data("fail/module-silent.yaml"), SEED_000]);
    assert_eq!(ran.code, Some(1), "{}", ran.both());
    let (_, took) = failed_step_line(&ran.stdout, "send AT+CIPSEND=118", 15);
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_millis(2500),
        "the silent step took {took:?}, its timeout is 1 s"
    );
    let block = failure_block(&ran.stdout, "send AT+CIPSEND=118", 15);
    assert!(
        block.contains("`>` did not appear on the serial line within 1s")
            && block.contains("waited for: `>`"),
        "{block}"
    );
    assert!(
        ran.stdout
            .lines()
            .any(|l| l.starts_with("athil: 1 passed, 1 failed")),
        "{}",
        ran.stdout
    );

    let report = ran.junit();
    assert_eq!((report.tests, report.failures), (2, 1));
    let (message, _) = junit_failure(case(&report, SILENT));
    assert!(
        message.starts_with("step `send AT+CIPSEND=118` (line 15)"),
        "{message}"
    );
    assert!(message.contains("did not appear"), "{message}");
    let seed = case(
        &report,
        "seed 000: Air601 sends its hand-built CONNECT and reads +IPD,4: 20 02 00 00",
    );
    assert!(
        matches!(seed.status, TestCaseStatus::Success { .. }),
        "{:?}",
        seed.status
    );
}

/// The same run driven in-process: the executor's own events say the deadline fired at the
/// step's timeout, and the next scenario ran on a fresh module and passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_module_in_process_gives_the_awaited_prompt_and_moves_on() {
    let (totals, events) = run_in_process(
        &[&data("fail/module-silent.yaml"), SEED_000],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        totals,
        Totals {
            passed: 1,
            failed: 1,
            skipped: 0,
            interrupted: None
        }
    );
    let (label, line, failure, took) = the_failed_step(&events);
    assert_eq!((label.as_str(), line), ("send AT+CIPSEND=118", 15));
    assert_eq!(failure.step, "send AT+CIPSEND=118 (line 15)");
    assert_eq!(failure.expected, "`>`");
    assert!(failure.message.contains("within 1s"), "{}", failure.message);
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    let outcomes = scenario_outcomes(&events);
    assert_eq!(outcomes.len(), 2);
    assert_eq!(outcomes[0].0, SILENT);
    assert!(matches!(outcomes[0].1, Outcome::Failed(_)));
    assert_eq!(outcomes[1].1, Outcome::Passed, "{outcomes:?}");
}

#[test]
fn a_link_closed_mid_flow_fails_the_next_receive_at_once() {
    let f = expect_step_failure(
        &data("fail/closed-mid-flow.yaml"),
        "fail: the module's link closes in the middle of the flow",
        "receive_mqtt publish /{{device.product_key}}/{{device.device_name}}/user/get",
        19,
    );
    f.shows("the link closed");
    // The step's deadline is the default 5 s: the CLOSED must end it, not the clock.
    assert!(f.step_time < Duration::from_secs(2), "{:?}", f.step_time);
    let transcript = f.transcript();
    // The module said CLOSED (in whatever serial chunk it came).
    assert!(
        transcript
            .lines()
            .any(|l| l.contains("serial <") && l.contains(r"CLOSED\r\n")),
        "{transcript}"
    );
}

#[test]
fn a_send_after_the_link_closed_fails_at_once() {
    let f = expect_step_failure(
        &data("fail/link-closed.yaml"),
        "fail: the link closes in the middle of the flow",
        "mqtt pingreq",
        18,
    );
    assert!(f.step_time < Duration::from_secs(1), "{:?}", f.step_time);
    assert!(
        f.ran.elapsed < Duration::from_secs(10),
        "{:?}",
        f.ran.elapsed
    );
}

#[test]
fn a_send_after_the_link_closed_says_the_link_closed() {
    let f = expect_step_failure(
        &data("fail/link-closed.yaml"),
        "fail: the link closes in the middle of the flow",
        "mqtt pingreq",
        18,
    );
    let said = f.console.to_lowercase();
    assert!(said.contains("closed"), "console:\n{}", f.console);
    assert!(
        f.junit_message.to_lowercase().contains("closed"),
        "{}",
        f.junit_message
    );
}
