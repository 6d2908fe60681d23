//! Literal exchanges for issue 8 item 3: `AT+PING`, ESP-AT's `AT+CIPSSLCCONF`, `ALREADY
//! CONNECTED` in both flavours, and the busy message for bytes past a send's length.

use super::testbench::{lab_config, Bench};
use crate::sim::config::{Flavour, SimConfig};

fn esp_at() -> SimConfig {
    SimConfig {
        firmware: Flavour::EspAt,
        ..lab_config()
    }
}

/// Issue 8.3: `AT+PING` answered ERROR on both firmwares; Adafruit's `ping()` reads
/// `+<ms>` (NonOS) or `+PING:<ms>` (ESP-AT) (adafruit issue #21 via `at-dialects.md`).
#[test]
fn ping_answers_in_each_flavours_format() {
    let mut b = Bench::lab();
    assert_eq!(
        b.run(b"AT+PING=\"localhost\"\r\n")[..],
        b"AT+PING=\"localhost\"\r\n\r\nERROR\r\n"[..],
        "not joined"
    );
    let mut b = Bench::lab().joined();
    assert_eq!(b.run(b"AT+PING=\"localhost\"\r\n"), b"+1\r\n\r\nOK\r\n");
    assert_eq!(
        b.run(b"AT+PING=\"a1.iot-as-mqtt.cn-shanghai.aliyuncs.com\"\r\n"),
        b"+1\r\n\r\nOK\r\n"
    );
    assert_eq!(b.run(b"AT+PING=\"nowhere.example\"\r\n"), b"\r\nERROR\r\n");
    let mut e = Bench::new(esp_at()).joined();
    assert_eq!(
        e.run(b"AT+PING=\"localhost\"\r\n"),
        b"+PING:1\r\n\r\nOK\r\n"
    );
    assert_eq!(
        e.run(b"AT+PING=\"8.8.8.8\"\r\n"),
        b"+PING:TIMEOUT\r\n\r\nERROR\r\n"
    );
}

/// Issue 8.3: ESP-AT answered `AT+CIPSSLCCONF?` with ERROR, and Adafruit's `begin()` (which
/// asks it once `AT+CIPSSLSIZE` fails, as it does on ESP-AT) never finished.
#[test]
fn esp_at_reports_its_ssl_client_settings() {
    let mut e = Bench::new(esp_at()).joined();
    assert_eq!(e.run(b"AT+CIPSSLSIZE=4096\r\n"), b"\r\nERROR\r\n");
    assert_eq!(
        e.run(b"AT+CIPSSLCCONF?\r\n"),
        b"+CIPSSLCCONF:0,0,0,0\r\n\r\nOK\r\n"
    );
    assert_eq!(e.run(b"AT+CIPSSLCCONF=0\r\n"), b"\r\nOK\r\n");
    assert_eq!(e.run(b"AT+CIPMUX=1\r\n"), b"\r\nOK\r\n");
    let all = e.run(b"AT+CIPSSLCCONF?\r\n");
    assert!(
        all.starts_with(b"+CIPSSLCCONF:0,0,0,0\r\n+CIPSSLCCONF:1,0,0,0\r\n"),
        "{all:?}"
    );
    assert_eq!(e.run(b"AT+CIPSSLCCONF=2,0\r\n"), b"\r\nOK\r\n");
    assert_eq!(e.run(b"AT+CIPSSLCCONF=2,9\r\n"), b"\r\nERROR\r\n");
    // NonOS 1.7 has no such command.
    let mut b = Bench::lab().joined();
    assert_eq!(b.run(b"AT+CIPSSLCCONF?\r\n"), b"\r\nERROR\r\n");
}

/// Issue 8.3: ESP-AT answered a second `AT+CIPSTART` on a busy link with a bare `ERROR`;
/// drivers (MB, RaceCapture) look for `ALREADY CONNECTED` to close and retry.
#[test]
fn an_open_link_is_already_connected_in_both_flavours() {
    for config in [lab_config(), esp_at()] {
        let mut b = Bench::new(config).joined();
        b.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n");
        b.accept(50000);
        assert_eq!(
            b.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n"),
            b"ALREADY CONNECTED\r\n\r\nERROR\r\n"
        );
    }
}

/// Issue 8.3: bytes typed past the length of an `AT+CIPSEND` (a println's CR LF) vanished
/// without a word on ESP-AT; the firmware drops them with `busy p...` after `Recv n bytes`.
#[test]
fn bytes_past_the_send_length_get_one_busy_message() {
    let mut e = Bench::new(esp_at()).joined();
    e.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n");
    e.accept(50000);
    e.run(b"AT+CIPSEND=4\r\n");
    assert_eq!(e.typed(b"ABCDE"), b"\r\nRecv 4 bytes\r\n\r\nbusy p...\r\n");
    assert_eq!(e.ack(), b"\r\nSEND OK\r\n");
    assert_eq!(e.sends[0].1, b"ABCD");
}
