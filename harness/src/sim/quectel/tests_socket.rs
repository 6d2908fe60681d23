//! Sockets of the virtual Quectel byte for byte: seed 004's exchange, both access modes, the
//! peer's close, `AT+QISTATE`, `AT+QIDNSGIP`.

use super::bench::Bench;
use super::QuectelModel::Ec20;
use crate::sim::firmware::NetEvent;

/// Seed 004's CONNECT: 37 bytes, client id 657077, user 20190156, password sn888.
const SEED_004_CONNECT: &[u8] =
    b"\x10\x23\x00\x04MQTT\x04\xc2\x00\x1e\x00\x06657077\x00\x0820190156\x00\x05sn888";

fn opened(access: u8) -> Bench {
    let mut b = Bench::attached(Ec20);
    let open = format!("AT+QIOPEN=1,0,\"TCP\",\"mqtt.heclouds.com\",6002,0,{access}\r\n");
    assert_eq!(b.run(open.as_bytes()), b"\r\nOK\r\n");
    assert_eq!(b.connects[0].1, "127.0.0.9:6002".parse().unwrap());
    assert_eq!(b.accept(50123), b"\r\n+QIOPEN: 0,0\r\n");
    b
}

#[test]
fn seed_004_send_and_pushed_receive() {
    let mut b = opened(1);
    assert_eq!(b.typed(b"AT+QISEND=0,37\r\n"), b"\r\n> ");
    assert_eq!(b.typed(SEED_004_CONNECT), b"");
    assert_eq!(b.sends, [(b.last_socket(), SEED_004_CONNECT.to_vec())]);
    let socket = b.last_socket();
    assert_eq!(b.net(NetEvent::Sent { socket }), b"\r\nSEND OK\r\n");
    assert_eq!(
        b.net(NetEvent::Received {
            socket,
            data: vec![0x20, 0x02, 0x00, 0x00]
        }),
        b"\r\n+QIURC: \"recv\",0,4\r\n\x20\x02\x00\x00\r\n"
    );
}

#[test]
fn a_ctrl_z_after_a_fixed_length_payload_is_dropped() {
    let mut b = opened(1);
    b.typed(b"AT+QISEND=0,2\r");
    assert_eq!(b.typed(b"hi\x1a"), b"");
    let socket = b.last_socket();
    assert_eq!(b.net(NetEvent::Sent { socket }), b"\r\nSEND OK\r\n");
    assert_eq!(b.sends[0].1, b"hi");
    // And one arriving after SEND OK is not echoed either, even with echo on.
    b.run(b"ATE1\r");
    assert_eq!(b.typed(b"\x1aAT\r"), b"AT\r\r\nOK\r\n");
}

#[test]
fn variable_length_send_ends_at_ctrl_z_and_esc_cancels() {
    let mut b = opened(1);
    assert_eq!(b.typed(b"AT+QISEND=0\r"), b"\r\n> ");
    b.typed(b"abc\x1a");
    assert_eq!(b.sends[0].1, b"abc");
    let socket = b.last_socket();
    b.net(NetEvent::Sent { socket });
    assert_eq!(b.typed(b"AT+QISEND=0\r"), b"\r\n> ");
    assert_eq!(b.typed(b"xy\x1b"), b"\r\nOK\r\n");
    assert_eq!(b.sends.len(), 1);
    assert_eq!(
        b.run(b"AT+QISEND=0,0\r"),
        b"\r\n+QISEND: 3,3,0\r\n\r\nOK\r\n"
    );
}

#[test]
fn send_fail_when_the_socket_refuses() {
    let mut b = opened(1);
    b.typed(b"AT+QISEND=0,1\r");
    b.typed(b"x");
    let socket = b.last_socket();
    assert_eq!(b.net(NetEvent::SendFailed { socket }), b"\r\nSEND FAIL\r\n");
}

#[test]
fn buffer_mode_announces_once_and_qird_reads() {
    let mut b = opened(0);
    let socket = b.last_socket();
    let recv = |b: &mut Bench, data: &[u8]| {
        b.net(NetEvent::Received {
            socket,
            data: data.to_vec(),
        })
    };
    assert_eq!(recv(&mut b, b"hello"), b"\r\n+QIURC: \"recv\",0\r\n");
    assert_eq!(recv(&mut b, b"world"), b"");
    assert_eq!(b.run(b"AT+QIRD=0,0\r"), b"\r\n+QIRD: 10,0,10\r\n\r\nOK\r\n");
    assert_eq!(b.run(b"AT+QIRD=0,4\r"), b"\r\n+QIRD: 4\r\nhell\r\nOK\r\n");
    assert_eq!(b.run(b"AT+QIRD=0\r"), b"\r\n+QIRD: 6\r\noworld\r\nOK\r\n");
    assert_eq!(b.run(b"AT+QIRD=0,1500\r"), b"\r\n+QIRD: 0\r\n\r\nOK\r\n");
    // Emptied, so the next data is announced again.
    assert_eq!(recv(&mut b, b"!"), b"\r\n+QIURC: \"recv\",0\r\n");
}

#[test]
fn peer_close_keeps_the_id_until_qiclose() {
    let mut b = opened(1);
    let socket = b.last_socket();
    assert_eq!(
        b.net(NetEvent::Closed { socket }),
        b"\r\n+QIURC: \"closed\",0\r\n"
    );
    let state = b.run(b"AT+QISTATE=1,0\r");
    let text = String::from_utf8(state).unwrap();
    assert!(text.contains(",4,1,0,1,\"uart1\""), "{text}");
    assert_eq!(b.run(b"AT+QISEND=0,4\r"), b"\r\nERROR\r\n");
    assert_eq!(
        b.run(b"AT+QIOPEN=1,0,\"TCP\",\"mqtt.heclouds.com\",6002,0,1\r"),
        b"\r\nOK\r\n\r\n+QIOPEN: 0,563\r\n"
    );
    assert_eq!(b.run(b"AT+QICLOSE=0\r"), b"\r\nOK\r\n");
    assert_eq!(b.closes, [socket]);
    assert_eq!(b.run(b"AT+QISTATE?\r"), b"\r\nOK\r\n");
}

#[test]
fn qistate_lists_a_connected_link_with_its_apparent_address() {
    let mut b = opened(1);
    let ip = crate::sim::names::apparent_ip("mqtt.heclouds.com");
    let expected =
        format!("\r\n+QISTATE: 0,\"TCP\",\"{ip}\",6002,50123,2,1,0,1,\"uart1\"\r\n\r\nOK\r\n");
    assert_eq!(
        String::from_utf8(b.run(b"AT+QISTATE?\r")).unwrap(),
        expected
    );
}

#[test]
fn open_failures_come_as_qiopen_errors() {
    let mut b = Bench::attached(Ec20);
    assert_eq!(
        b.run(b"AT+QIOPEN=1,1,\"TCP\",\"nowhere.example\",1883,0,1\r"),
        b"\r\nOK\r\n\r\n+QIOPEN: 1,565\r\n"
    );
    assert_eq!(
        b.run(b"AT+QIOPEN=2,1,\"TCP\",\"127.0.0.1\",1883,0,1\r"),
        b"\r\nOK\r\n\r\n+QIOPEN: 1,561\r\n"
    );
    b.run(b"AT+QIOPEN=1,1,\"TCP\",\"127.0.0.1\",1,0,1\r");
    let socket = b.last_socket();
    assert_eq!(
        b.net(NetEvent::ConnectFailed { socket }),
        b"\r\n+QIOPEN: 1,566\r\n"
    );
}

#[test]
fn dns_lookup_answers_with_urcs() {
    let mut b = Bench::attached(Ec20);
    let ip = crate::sim::names::apparent_ip("mqtt.heclouds.com");
    let expected =
        format!("\r\nOK\r\n\r\n+QIURC: \"dnsgip\",0,1,0\r\n\r\n+QIURC: \"dnsgip\",\"{ip}\"\r\n");
    assert_eq!(
        String::from_utf8(b.run(b"AT+QIDNSGIP=1,\"mqtt.heclouds.com\"\r")).unwrap(),
        expected
    );
    assert_eq!(
        b.run(b"AT+QIDNSGIP=1,\"nowhere.example\"\r"),
        b"\r\nOK\r\n\r\n+QIURC: \"dnsgip\",565\r\n"
    );
}

#[test]
fn qideact_drops_the_contexts_sockets() {
    let mut b = opened(1);
    let socket = b.last_socket();
    assert_eq!(b.run(b"AT+QIDEACT=1\r"), b"\r\nOK\r\n");
    assert_eq!(b.closes, [socket]);
}
