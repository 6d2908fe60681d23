//! Regression tests for issue 8 items 1 and 2: what a send's `SEND OK` may and may not do to
//! what comes after it (a command typed right after `CLOSED`, the peer's reply).

use super::testbench::{lab_config, Bench};
use super::NetEvent;
use crate::sim::config::SimConfig;

fn connected(config: SimConfig) -> Bench {
    let mut b = Bench::new(config).joined();
    assert_eq!(b.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n"), b"");
    assert_eq!(b.accept(50000), b"CONNECT\r\n\r\nOK\r\n");
    b
}

fn sent_disconnect_then_peer_closed(b: &mut Bench) {
    assert_eq!(b.run(b"AT+CIPSEND=2\r\n"), b"\r\nOK\r\n> ");
    assert_eq!(b.typed(b"\xE0\x00"), b"\r\nRecv 2 bytes\r\n");
    let socket = b.last_socket();
    b.net(NetEvent::Sent { socket });
    b.net(NetEvent::Closed { socket });
}

/// Issue 8.1: with an ACK time set, `peer_closed()` printed `SEND OK` and the ACK timer still
/// fired later; `send_ok()` replaced the mode before checking it was sending, so the
/// `AT+CIPSTART` typed right after `CLOSED` lost its pending connect and `CONNECT` never came.
#[test]
fn a_connect_typed_right_after_closed_survives_the_old_send_ok_timer() {
    let mut config = lab_config();
    config.timing.send_ok_ms = 5;
    let mut b = connected(config);
    sent_disconnect_then_peer_closed(&mut b);
    assert_eq!(b.typed(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n"), b"");
    // The stale timer fires while the connect is pending.
    assert_eq!(b.settle(), b"");
    assert_eq!(b.accept(50001), b"CONNECT\r\n\r\nOK\r\n");
}

/// Issue 8.1, the payload form: the stale timer fired after the next `>` and threw the
/// payload collection away, so the MQTT CONNECT typed after the prompt vanished.
#[test]
fn a_payload_after_the_next_prompt_survives_the_old_send_ok_timer() {
    let mut config = lab_config();
    config.timing.send_ok_ms = 5;
    let mut b = connected(config);
    sent_disconnect_then_peer_closed(&mut b);
    b.typed(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n");
    assert_eq!(b.accept(50001), b"CONNECT\r\n\r\nOK\r\n");
    assert_eq!(b.typed(b"AT+CIPSEND=2\r\n"), b"\r\nOK\r\n> ");
    assert_eq!(b.settle(), b"");
    assert_eq!(b.typed(b"\xC0\x00"), b"\r\nRecv 2 bytes\r\n");
    assert_eq!(b.sends.last().unwrap().1, b"\xC0\x00");
}

/// Issue 8.2: by default the socket taking the bytes is the ACK on loopback, so `SEND OK`
/// comes out before the broker's reply can (Adafruit's driver waits for `SEND OK` and
/// swallows whatever comes before it).
#[test]
fn send_ok_comes_as_the_socket_takes_the_bytes_by_default() {
    let mut b = connected(SimConfig::default());
    b.run(b"AT+CIPSEND=2\r\n");
    b.typed(b"\xC0\x00");
    let socket = b.last_socket();
    assert_eq!(b.net(NetEvent::Sent { socket }), b"\r\nSEND OK\r\n");
    let pingresp = b.net(NetEvent::Received {
        socket,
        data: b"\xD0\x00".to_vec(),
    });
    assert_eq!(pingresp, b"\r\n+IPD,2:\xD0\x00");
}

/// Issue 8.2 with a slower ACK: a reply carries the ACK of what it answers, so the reply
/// that arrives within the ACK time brings `SEND OK` forward instead of overtaking it.
#[test]
fn a_reply_within_the_ack_time_follows_send_ok() {
    let mut config = lab_config();
    config.timing.send_ok_ms = 50;
    let mut b = connected(config);
    b.run(b"AT+CIPSEND=2\r\n");
    b.typed(b"\xC0\x00");
    let socket = b.last_socket();
    assert_eq!(b.net(NetEvent::Sent { socket }), b"");
    let out = b.net(NetEvent::Received {
        socket,
        data: b"\xD0\x00".to_vec(),
    });
    assert_eq!(out, b"\r\nSEND OK\r\n\r\n+IPD,2:\xD0\x00");
    assert_eq!(b.settle(), b"", "the ACK timer prints nothing more");
}

/// Issue 8.2: a reply read before the socket reported the write done waits for `SEND OK`.
#[test]
fn a_reply_seen_before_the_write_completed_waits_for_send_ok() {
    let mut b = connected(SimConfig::default());
    b.run(b"AT+CIPSEND=2\r\n");
    b.typed(b"\xC0\x00");
    let socket = b.last_socket();
    let early = b.net(NetEvent::Received {
        socket,
        data: b"\xD0\x00".to_vec(),
    });
    assert_eq!(early, b"");
    assert_eq!(
        b.net(NetEvent::Sent { socket }),
        b"\r\nSEND OK\r\n\r\n+IPD,2:\xD0\x00"
    );
}

/// The overtaking order stays available as a fault knob, for testing a host driver.
#[test]
fn late_send_ok_fault_lets_the_reply_overtake() {
    let mut config = lab_config();
    config.faults.late_send_ok_ms = Some(5);
    let mut b = connected(config);
    b.run(b"AT+CIPSEND=2\r\n");
    b.typed(b"\xC0\x00");
    let socket = b.last_socket();
    assert_eq!(b.net(NetEvent::Sent { socket }), b"");
    let out = b.net(NetEvent::Received {
        socket,
        data: b"\xD0\x00".to_vec(),
    });
    assert_eq!(out, b"\r\n+IPD,2:\xD0\x00");
    assert_eq!(b.settle(), b"\r\nSEND OK\r\n");
}
