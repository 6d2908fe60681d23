//! Transparent transmission (`AT+CIPMODE=1`, §2.12): packets cut by 20 ms of silence or at
//! 2048 bytes, no `SEND OK`, the peer's bytes raw, and the `+++` escape. The bench's clock only
//! moves in `settle`, so "silence" is a `settle` between two `typed` calls.

use super::testbench::Bench;
use super::NetEvent;
use crate::sim::config::{Flavour, SimConfig};

fn connected(flavour: Flavour) -> Bench {
    let config = SimConfig {
        firmware: flavour,
        ..super::testbench::lab_config()
    };
    let mut b = Bench::new(config).joined();
    assert_eq!(b.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n"), b"");
    assert_eq!(b.accept(50000), b"CONNECT\r\n\r\nOK\r\n");
    b
}

fn sent(b: &Bench) -> Vec<Vec<u8>> {
    b.sends.iter().map(|(_, data)| data.clone()).collect()
}

#[test]
fn cipmode_needs_single_connection_mode_and_blocks_cipmux() {
    let mut b = Bench::lab().joined();
    assert_eq!(b.run(b"AT+CIPMODE?\r\n"), b"+CIPMODE:0\r\n\r\nOK\r\n");
    assert_eq!(b.run(b"AT+CIPMODE=1\r\n"), b"\r\nOK\r\n");
    assert_eq!(b.run(b"AT+CIPMODE?\r\n"), b"+CIPMODE:1\r\n\r\nOK\r\n");
    assert_eq!(b.run(b"AT+CIPMUX=1\r\n"), b"\r\nERROR\r\n");
    assert_eq!(b.run(b"AT+CIPMODE=0\r\n"), b"\r\nOK\r\n");
    assert_eq!(b.run(b"AT+CIPMUX=1\r\n"), b"\r\nOK\r\n");
    assert_eq!(b.run(b"AT+CIPMODE=1\r\n"), b"\r\nERROR\r\n");
    assert_eq!(b.run(b"AT+CIPMODE=2\r\n"), b"\r\nERROR\r\n");
}

#[test]
fn cipsend_without_length_needs_mode_1_and_a_link() {
    let mut b = Bench::lab().joined();
    assert_eq!(b.run(b"AT+CIPSEND\r\n"), b"\r\nERROR\r\n", "CIPMODE=0");
    assert_eq!(b.run(b"AT+CIPMODE=1\r\n"), b"\r\nOK\r\n");
    assert!(
        b.run(b"AT+CIPSEND\r\n").ends_with(b"\r\nERROR\r\n"),
        "no link"
    );
}

#[test]
fn passthrough_cuts_packets_at_silence_and_2048_bytes_without_send_ok() {
    let mut b = connected(Flavour::Nonos);
    assert_eq!(b.run(b"AT+CIPMODE=1\r\n"), b"\r\nOK\r\n");
    assert_eq!(b.run(b"AT+CIPSEND\r\n"), b"\r\nOK\r\n> ");
    // Two writes with no silence between them make one packet.
    assert_eq!(b.typed(b"\x10\x0c\x00"), b"");
    assert_eq!(b.typed(b"\x04MQTT\r\n"), b"");
    assert!(
        b.sends.is_empty(),
        "nothing goes out before 20 ms of silence"
    );
    assert_eq!(b.settle(), b"");
    assert_eq!(sent(&b), [b"\x10\x0c\x00\x04MQTT\r\n".to_vec()]);
    let socket = b.last_socket();
    // The socket's confirmation prints nothing (no SEND OK in passthrough).
    assert_eq!(b.ack(), b"");
    // 2100 bytes at once: a packet at 2048, the rest after the silence.
    let big: Vec<u8> = (0..2100u32).map(|i| i as u8).collect();
    assert_eq!(b.typed(&big), b"");
    assert_eq!(sent(&b)[1], big[..2048]);
    assert_eq!(b.sends.len(), 2);
    assert_eq!(b.ack(), b"");
    assert_eq!(sent(&b)[2], big[2048..]);
    assert_eq!(b.ack(), b"");
    // The peer's bytes come out raw: no +IPD header.
    assert_eq!(
        b.net(NetEvent::Received {
            socket,
            data: b"\x20\x02\x00\x00".to_vec()
        }),
        b"\x20\x02\x00\x00"
    );
}

#[test]
fn a_packet_in_flight_holds_the_next_until_sent() {
    let mut b = connected(Flavour::EspAt);
    b.run(b"AT+CIPMODE=1\r\n");
    assert_eq!(b.run(b"AT+CIPSEND\r\n"), b"\r\nOK\r\n\r\n>");
    b.typed(b"one");
    b.settle();
    b.typed(b"two");
    b.settle();
    assert_eq!(sent(&b), [b"one".to_vec()], "one write at a time, in order");
    assert_eq!(b.ack(), b"");
    assert_eq!(sent(&b), [b"one".to_vec(), b"two".to_vec()]);
}

#[test]
fn plus_plus_plus_alone_leaves_passthrough_and_the_link_stays() {
    let mut b = connected(Flavour::EspAt);
    b.run(b"AT+CIPMODE=1\r\n");
    b.run(b"AT+CIPSEND\r\n");
    // `+++` inside a packet is data.
    b.typed(b"a+++");
    b.settle();
    // `+++` followed by more bytes before the silence is data too.
    b.ack();
    b.typed(b"+++");
    b.typed(b"b");
    b.settle();
    b.ack();
    assert_eq!(sent(&b), [b"a+++".to_vec(), b"+++b".to_vec()]);
    // Alone between two silences: no reply, nothing sent, command mode.
    assert_eq!(b.typed(b"+++"), b"");
    assert_eq!(b.settle(), b"");
    assert_eq!(b.sends.len(), 2);
    assert!(b.closes.is_empty(), "the link stays up");
    assert_eq!(b.run(b"AT\r\n"), b"\r\nOK\r\n");
    assert!(b.run(b"AT+CIPSTATUS\r\n").starts_with(b"STATUS:3\r\n"));
    // AT+CIPSEND enters again.
    assert_eq!(b.run(b"AT+CIPSEND\r\n"), b"\r\nOK\r\n\r\n>");
    b.typed(b"again");
    b.settle();
    assert_eq!(sent(&b)[2], b"again");
}

#[test]
fn plus_plus_plus_right_after_a_2048_cut_is_data() {
    let mut b = connected(Flavour::Nonos);
    b.run(b"AT+CIPMODE=1\r\n");
    b.run(b"AT+CIPSEND\r\n");
    let mut burst = vec![b'x'; 2048];
    burst.extend_from_slice(b"+++");
    b.typed(&burst);
    b.ack();
    assert_eq!(sent(&b)[1], b"+++", "no silence before it: sent as data");
}

#[test]
fn a_link_dropped_in_passthrough_returns_to_command_mode() {
    let mut b = connected(Flavour::Nonos);
    b.run(b"AT+CIPMODE=1\r\n");
    b.run(b"AT+CIPSEND\r\n");
    let socket = b.last_socket();
    b.typed(b"lost");
    assert_eq!(b.net(NetEvent::Closed { socket }), b"CLOSED\r\n");
    b.settle();
    assert!(b.sends.is_empty(), "bytes of a dropped link are not sent");
    assert_eq!(b.run(b"AT\r\n"), b"\r\nOK\r\n");
}
