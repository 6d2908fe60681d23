//! The module driver against a scripted module on a real pseudo-terminal: commands, typed
//! errors, busy, the full CIPSEND sequence, `+IPD` reassembly, deadlines and CLOSED mid-send.
//! The module's bytes are the firmware literals from `at-dialects.md`.

mod module_support;

use std::time::{Duration, Instant};

use athil::module::at::{FinalResult, Urc};
use athil::module::DriverError;
use module_support::{esp, expect, pause, send};

const SHORT: Duration = Duration::from_secs(2);

#[tokio::test]
async fn command_returns_info_lines_and_ok() {
    let (mut driver, peer) = esp(vec![
        expect("AT+GMR\r\n"),
        send(
            "AT version:1.7.4.0(May 11 2020 19:13:04)\r\nSDK version:3.0.4(9532ceb)\r\n\
             compile time:May 27 2020 10:12:17\r\nBin version(Wroom 02):1.7.4\r\nOK\r\n",
        ),
    ]);
    let response = driver.command("AT+GMR", SHORT).await.unwrap();
    assert_eq!(response.result, FinalResult::Ok);
    assert_eq!(response.lines.len(), 4);
    assert_eq!(
        response.lines[0],
        "AT version:1.7.4.0(May 11 2020 19:13:04)"
    );
    assert_eq!(peer.finish(), b"AT+GMR\r\n");
}

#[tokio::test]
async fn echo_and_urcs_are_not_info_lines() {
    // Echo on (power-on default), and a Wi-Fi URC arriving while the command runs.
    let (mut driver, peer) = esp(vec![
        expect("AT+CIPSTATUS\r\n"),
        send("AT+CIPSTATUS\r\nWIFI GOT IP\r\nSTATUS:2\r\n\r\nOK\r\n"),
    ]);
    let mark = driver.urc_mark();
    let response = driver.command("AT+CIPSTATUS", SHORT).await.unwrap();
    assert_eq!(response.lines, vec!["STATUS:2".to_string()]);
    let urcs: Vec<_> = driver.urcs_since(mark).map(|u| u.urc.clone()).collect();
    assert_eq!(urcs, vec![Urc::WifiGotIp]);
    peer.finish();
}

#[tokio::test]
async fn a_late_send_ok_does_not_answer_the_next_command() {
    // mbed-os #11544: the previous transfer's SEND OK lands after the next command's echo.
    let (mut driver, peer) = esp(vec![
        expect("AT+CIPSTATUS\r\n"),
        send("AT+CIPSTATUS\r\n\r\nSEND OK\r\n"),
        pause(30),
        send("STATUS:3\r\n\r\nOK\r\n"),
    ]);
    let response = driver.command("AT+CIPSTATUS", SHORT).await.unwrap();
    assert_eq!(response.result, FinalResult::Ok);
    assert_eq!(response.lines, vec!["STATUS:3".to_string()]);
    peer.finish();
}

/// The runner spawns scenario tasks: the driver and its futures must be `Send`.
#[allow(dead_code)]
fn driver_futures_are_send(driver: &mut athil::module::ModuleDriver) {
    fn is_send<T: Send>(_: T) {}
    is_send(driver.command("AT", SHORT));
    is_send(driver.send_data(Some(0), b"", SHORT));
    is_send(driver.read_mqtt_packet(SHORT));
    is_send(driver.reset_and_sync(SHORT));
    is_send(driver.wait_text("x", |t: &str| t.find('x'), SHORT));
}

#[tokio::test]
async fn error_surfaces_as_a_typed_error_with_its_reason() {
    let (mut driver, peer) = esp(vec![
        expect("AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n"),
        send("ALREADY CONNECTED\r\n\r\nERROR\r\n"),
    ]);
    let err = driver
        .command("AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883", SHORT)
        .await
        .unwrap_err();
    match &err {
        DriverError::Rejected {
            result: FinalResult::Error,
            lines,
            ..
        } => assert_eq!(lines, &vec!["ALREADY CONNECTED".to_string()]),
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(err.to_string().contains("ALREADY CONNECTED"), "{err}");
    peer.finish();
}

#[tokio::test]
async fn cwjap_fail_is_an_error_and_the_password_stays_hidden() {
    let (mut driver, peer) = esp(vec![
        expect("AT+CWJAP_CUR=\"lab\",\"hunter22\"\r\n"),
        send("+CWJAP:2\r\n\r\nFAIL\r\n"),
    ]);
    let err = driver
        .command("AT+CWJAP_CUR=\"lab\",\"hunter22\"", SHORT)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            DriverError::Rejected {
                result: FinalResult::Fail,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("+CWJAP:2"), "{message}");
    assert!(!message.contains("hunter22"), "{message}");
    peer.finish();
}

#[tokio::test]
async fn busy_makes_the_driver_send_the_command_again() {
    let (mut driver, peer) = esp(vec![
        expect("AT+CIPSTATUS\r\n"),
        send("\r\nbusy p...\r\n"),
        expect("AT+CIPSTATUS\r\n"),
        send("STATUS:3\r\n+CIPSTATUS:0,\"TCP\",\"127.0.0.1\",1883,57363,0\r\n\r\nOK\r\n"),
    ]);
    let response = driver.command("AT+CIPSTATUS", SHORT).await.unwrap();
    assert_eq!(response.lines.len(), 2);
    assert_eq!(peer.finish(), b"AT+CIPSTATUS\r\nAT+CIPSTATUS\r\n");
}

#[tokio::test]
async fn a_silent_module_makes_the_deadline_fire() {
    let (mut driver, peer) = esp(vec![send("WIFI GOT IP\r\n"), expect("AT\r\n")]);
    let started = Instant::now();
    let err = driver
        .command("AT", Duration::from_millis(300))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(took >= Duration::from_millis(300), "fired early: {took:?}");
    assert!(
        took < Duration::from_secs(2),
        "did not fire in time: {took:?}"
    );
    let message = err.to_string();
    assert!(message.contains("final result of `AT`"), "{message}");
    assert!(
        message.contains("last serial bytes: WIFI GOT IP\\r\\n"),
        "shows what the module said last: {message}"
    );
    peer.finish();
}

#[tokio::test]
async fn send_data_full_nonos_sequence() {
    // CONNECT-like bytes holding CR, LF and 0x00.
    let payload = [0x10, 0x0D, 0x0A, 0x00];
    let (mut driver, peer) = esp(vec![
        expect("AT+CIPSEND=0,4\r\n"),
        send("\r\nOK\r\n> "),
        expect(payload),
        send("\r\nRecv 4 bytes\r\n"),
        pause(30),
        send("\r\nSEND OK\r\n"),
    ]);
    driver.send_data(Some(0), &payload, SHORT).await.unwrap();
    let mut want = b"AT+CIPSEND=0,4\r\n".to_vec();
    want.extend_from_slice(&payload);
    assert_eq!(peer.finish(), want, "exactly the bytes, nothing appended");
}

#[tokio::test]
async fn send_data_esp_at_2_prompt_and_ipd_between_ok_and_prompt() {
    let (mut driver, peer) = esp(vec![
        expect("AT+CIPSEND=2\r\n"),
        // esp-at #410: data may arrive between OK and the prompt; ESP-AT has no space.
        send(b"\r\nOK\r\n\r\n+IPD,2:\xD0\x00\r\n>"),
        expect([0xC0, 0x00]),
        send("\r\nRecv 2 bytes\r\n\r\nSEND OK\r\n"),
    ]);
    driver.send_data(None, &[0xC0, 0x00], SHORT).await.unwrap();
    assert_eq!(driver.read_socket(2, SHORT).await.unwrap(), [0xD0, 0x00]);
    peer.finish();
}

#[tokio::test]
async fn send_data_retries_after_busy_s() {
    let (mut driver, peer) = esp(vec![
        expect("AT+CIPSEND=0,1\r\n"),
        send("\r\nbusy s...\r\n"),
        expect("AT+CIPSEND=0,1\r\n"),
        send("\r\nOK\r\n> "),
        expect([0xE0]),
        send("\r\nRecv 1 bytes\r\n\r\nSEND OK\r\n"),
    ]);
    driver.send_data(Some(0), &[0xE0], SHORT).await.unwrap();
    peer.finish();
}

#[tokio::test]
async fn closed_in_the_middle_of_send_data_fails_clearly() {
    let (mut driver, peer) = esp(vec![
        expect("AT+CIPSEND=0,2\r\n"),
        send("\r\nOK\r\n> "),
        expect([0xC0, 0x00]),
        send("0,CLOSED\r\n"),
    ]);
    let mark = driver.urc_mark();
    let started = Instant::now();
    let err = driver
        .send_data(Some(0), &[0xC0, 0x00], Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DriverError::LinkClosed {
                link: 0,
                len: 2,
                phase: "waiting for SEND OK"
            }
        ),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "failed at the CLOSED, not the deadline"
    );
    assert!(driver.link_closed(Some(0)));
    assert!(driver
        .urcs_since(mark)
        .any(|u| u.urc == Urc::Closed { link: Some(0) }));
    assert_eq!(
        err.to_string(),
        "send 2 bytes on link 0: the link closed while waiting for SEND OK"
    );
    peer.finish();
}

#[tokio::test]
async fn send_fail_and_link_not_valid_are_typed() {
    let (mut driver, peer) = esp(vec![
        expect("AT+CIPSEND=0,1\r\n"),
        send("link is not valid\r\n\r\nERROR\r\n"),
        expect("AT+CIPSEND=0,1\r\n"),
        send("\r\nOK\r\n> "),
        expect([0xE0]),
        send("\r\nRecv 1 bytes\r\n\r\nSEND FAIL\r\n"),
    ]);
    let err = driver.send_data(Some(0), &[0xE0], SHORT).await.unwrap_err();
    assert!(
        matches!(&err, DriverError::Rejected { result: FinalResult::Error, lines, .. }
            if lines == &vec!["link is not valid".to_string()]),
        "{err:?}"
    );
    let err = driver.send_data(Some(0), &[0xE0], SHORT).await.unwrap_err();
    assert!(
        matches!(
            err,
            DriverError::SendFailed {
                result: FinalResult::SendFail,
                ..
            }
        ),
        "{err:?}"
    );
    peer.finish();
}

#[tokio::test]
async fn ipd_in_pieces_is_reassembled() {
    // Seed 000's CONNACK, with the header and payload cut across writes, then a PUBLISH split
    // over two +IPD notices, then two packets in one notice.
    let (mut driver, peer) = esp(vec![
        send("\r\n+IP"),
        pause(20),
        send("D,4:\x20\x02"),
        pause(20),
        send([0x00, 0x00]),
        send(b"\r\n+IPD,5:\x30\x07\x00\x01t"),
        pause(20),
        send(b"\r\n+IPD,4:\r\n\x00x"),
        send(b"\r\n+IPD,4:\xD0\x00\xD0\x00"),
    ]);
    assert_eq!(
        driver.read_socket(4, SHORT).await.unwrap(),
        [0x20, 0x02, 0x00, 0x00]
    );
    assert_eq!(
        driver.read_mqtt_packet(SHORT).await.unwrap(),
        [0x30, 0x07, 0x00, 0x01, b't', 0x0D, 0x0A, 0x00, b'x']
    );
    assert_eq!(driver.read_mqtt_packet(SHORT).await.unwrap(), [0xD0, 0x00]);
    assert_eq!(driver.read_mqtt_packet(SHORT).await.unwrap(), [0xD0, 0x00]);
    peer.finish();
}

#[tokio::test]
async fn reading_from_a_closed_link_fails_early_with_what_arrived() {
    let (mut driver, peer) = esp(vec![send(b"\r\n+IPD,0,2:\x20\x02"), send("0,CLOSED\r\n")]);
    let started = Instant::now();
    let err = driver
        .read_socket(4, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DriverError::ClosedWhileReading {
                link: 0,
                wanted: 4,
                pending: 2
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    peer.finish();
}

#[tokio::test]
async fn text_view_keeps_urcs_and_drops_payloads() {
    let (mut driver, peer) = esp(vec![
        send("WIFI CONNECTED\r\nWIFI GOT IP\r\n"),
        pause(30),
        send(b"\r\n+IPD,0,6:CLOSED0,CLOSED\r\n"),
    ]);
    let seen = driver
        .wait_text("`0,CLOSED`", |t| t.find("0,CLOSED").map(|i| i + 8), SHORT)
        .await
        .unwrap();
    assert_eq!(
        seen,
        "WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\n+IPD,0,6:0,CLOSED"
    );
    assert_eq!(driver.read_socket(6, SHORT).await.unwrap(), b"CLOSED");
    // What is left after the match is still there for the next step.
    assert_eq!(driver.pending_text(), "\r\n");
    peer.finish();
}

#[tokio::test]
async fn expect_absent_passes_quietly_and_catches_what_appears() {
    let (mut driver, peer) = esp(vec![pause(150), send("\r\nERROR\r\n")]);
    let find_error = |t: &str| t.find("ERROR").map(|i| i + 5);
    let error_after = |t: &str, start: usize| t[start..].find("ERROR").map(|i| start + i + 5);
    driver
        .expect_absent("`ERROR`", error_after, Duration::from_millis(80))
        .await
        .unwrap();
    let err = driver
        .expect_absent("`ERROR`", error_after, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, DriverError::Appeared { .. }), "{err:?}");
    // Nothing was consumed: a later step can still wait for it.
    driver
        .wait_text("`ERROR`", find_error, SHORT)
        .await
        .unwrap();
    peer.finish();
}

#[tokio::test]
async fn wait_text_timeout_names_the_expectation() {
    let (mut driver, peer) = esp(vec![send("WIFI DISCONNECT\r\n")]);
    let err = driver
        .wait_text(
            "`WIFI GOT IP`",
            |t| t.find("WIFI GOT IP"),
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    let message = err.to_string();
    assert!(
        message.starts_with("see `WIFI GOT IP` on the serial line"),
        "{message}"
    );
    assert!(message.contains("WIFI DISCONNECT\\r\\n"), "{message}");
    peer.finish();
}
