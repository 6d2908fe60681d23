//! Literal exchanges for the TCP/IP commands (`at-dialects.md` §2.5–2.9, §2.11) and seed
//! 000's Air601 session.

use super::testbench::{lab_config, Bench};
use super::NetEvent;
use crate::sim::config::{Flavour, SimConfig};

/// Seed 000's 114-byte CONNECT for device Air601 (`10 70 …`).
const SEED_000_CONNECT: &str = "10 70 00 04 4D 51 54 54 04 C2 00 64 00 28 41 69 72 36 30 31 7C 73 65 63 75 72 65 6D 6F 64 65 3D 33 2C 73 69 67 6E 6D 65 74 68 6F 64 3D 68 6D 61 63 73 68 61 31 7C 00 10 41 69 72 36 30 31 26 6B 73 66 31 31 34 35 31 34 00 28 65 34 62 39 33 31 66 33 38 30 33 37 65 66 37 32 34 31 34 35 35 37 30 39 34 35 38 62 34 62 36 33 30 62 32 32 65 61 63 32";

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn connected_single() -> Bench {
    let mut b = Bench::lab().joined();
    assert_eq!(b.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n"), b"");
    assert_eq!(b.accept(50000), b"CONNECT\r\n\r\nOK\r\n");
    b
}

#[test]
fn seed_000_air601_session_byte_for_byte() {
    let mut b = Bench::lab().joined();
    let typed = b"AT+CIPSTART=\"TCP\",\"iot-ksf114514.mqtt.iothub.aliyuncs.com\",1883\r\n";
    assert_eq!(b.run(typed), b"");
    // The seed's cloud host goes through the name map to the local gateway.
    assert_eq!(b.connects[0].1, "127.0.0.7:1883".parse().unwrap());
    assert_eq!(b.accept(50001), b"CONNECT\r\n\r\nOK\r\n");
    assert_eq!(b.run(b"AT+CIPSEND=114\r\n"), b"\r\nOK\r\n> ");
    let connect = hex(SEED_000_CONNECT);
    assert_eq!(connect.len(), 114);
    // The payload holds 00 bytes and is not echoed; exactly 114 bytes complete it.
    assert_eq!(b.typed(&connect[..100]), b"");
    assert_eq!(b.typed(&connect[100..]), b"\r\nRecv 114 bytes\r\n");
    assert_eq!(b.sends, [(b.last_socket(), connect.clone())]);
    assert_eq!(b.ack(), b"\r\nSEND OK\r\n");
    // `[Rx] 0D 0A 2B 49 50 44 2C 34 3A 20 02 00 00` (the seed's trailing 0D 0A is the
    // serial tool's; the firmware prints nothing after the data).
    let socket = b.last_socket();
    let out = b.net(NetEvent::Received {
        socket,
        data: hex("20 02 00 00"),
    });
    assert_eq!(out, hex("0D 0A 2B 49 50 44 2C 34 3A 20 02 00 00"));
    // The cloud drops an idle link after ~10 s: `CLOSED` with no CR LF before it.
    assert_eq!(b.net(NetEvent::Closed { socket }), b"CLOSED\r\n");
    assert_eq!(b.run(b"AT+CIPCLOSE\r\n"), b"UNLINK\r\n\r\nERROR\r\n");
}

#[test]
fn multi_link_connect_receive_and_close() {
    let mut b = Bench::lab().joined();
    assert_eq!(b.run(b"AT+CIPMUX=1\r\n"), b"\r\nOK\r\n");
    b.run(b"AT+CIPSTART=3,\"TCP\",\"a1.iot-as-mqtt.cn-shanghai.aliyuncs.com\",1883,120\r\n");
    assert_eq!(b.accept(50002), b"3,CONNECT\r\n\r\nOK\r\n");
    let socket = b.last_socket();
    let data = b"\r\nOK\r\n\x00+IPD,9:CLOSED".to_vec();
    let out = b.net(NetEvent::Received {
        socket,
        data: data.clone(),
    });
    let mut expected = format!("\r\n+IPD,3,{}:", data.len()).into_bytes();
    expected.extend(&data);
    assert_eq!(out, expected);
    assert_eq!(
        b.run(b"AT+CIPMUX=0\r\n"),
        b"link is builded\r\n\r\nERROR\r\n"
    );
    // The host's apparent address, never the gateway's loopback one (issue 8.3).
    assert_eq!(
        b.run(b"AT+CIPSTATUS\r\n"),
        b"STATUS:3\r\n+CIPSTATUS:3,\"TCP\",\"203.0.113.86\",1883,50002,0\r\n\r\nOK\r\n"
    );
    assert_eq!(b.run(b"AT+CIPSEND=3,2\r\n"), b"\r\nOK\r\n> ");
    assert_eq!(b.typed(b"hi"), b"\r\nRecv 2 bytes\r\n");
    b.ack();
    assert_eq!(b.run(b"AT+CIPCLOSE=3\r\n"), b"3,CLOSED\r\n\r\nOK\r\n");
    assert_eq!(b.closes, [socket]);
    assert_eq!(b.run(b"AT+CIPSTATUS\r\n"), b"STATUS:4\r\n\r\nOK\r\n");
    assert_eq!(b.run(b"AT+CIPCLOSE\r\n"), b"MUX=1\r\n\r\nERROR\r\n");
}

#[test]
fn large_receives_are_split_into_segments() {
    let mut b = connected_single();
    let socket = b.last_socket();
    let out = b.net(NetEvent::Received {
        socket,
        data: vec![0xAB; 2000],
    });
    assert!(out.starts_with(b"\r\n+IPD,1460:"));
    let second = 12 + 1460;
    assert_eq!(&out[second..second + 11], b"\r\n+IPD,540:");
    assert_eq!(out.len(), 12 + 1460 + 11 + 540);
}

#[test]
fn cipdinfo_adds_the_peer_unquoted_on_nonos_and_quoted_on_esp_at() {
    let mut b = connected_single();
    b.run(b"AT+CIPDINFO=1\r\n");
    let socket = b.last_socket();
    let out = b.net(NetEvent::Received {
        socket,
        data: b"x".to_vec(),
    });
    assert_eq!(out, b"\r\n+IPD,1,127.0.0.1,1883:x");
    let mut e = Bench::new(SimConfig {
        firmware: Flavour::EspAt,
        ..lab_config()
    })
    .joined();
    e.run(b"AT+CIPDINFO=1\r\n");
    e.run(b"AT+CIPSTART=\"TCP\",\"localhost\",1883\r\n");
    e.accept(50003);
    let socket = e.last_socket();
    let out = e.net(NetEvent::Received {
        socket,
        data: b"x".to_vec(),
    });
    assert_eq!(out, b"\r\n+IPD,1,\"127.0.0.1\",1883:x");
}

#[test]
fn cipstart_refusals() {
    let mut b = Bench::lab();
    b.run(b"ATE0\r\n");
    assert_eq!(
        b.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n"),
        b"no ip\r\n\r\nERROR\r\n"
    );
    let mut b = b.joined();
    assert_eq!(
        b.run(b"AT+CIPSTART=\"TCP\",\"example.com\",80\r\n"),
        b"DNS Fail\r\n\r\nERROR\r\n"
    );
    assert_eq!(
        b.run(b"AT+CIPSTART=\"TCPX\",\"localhost\",80\r\n"),
        b"Link type ERROR\r\n\r\nERROR\r\n"
    );
    assert_eq!(
        b.run(b"AT+CIPSTART=\"TCP\",\"localhost\",0\r\n"),
        b"\r\nERROR\r\n"
    );
    assert_eq!(
        b.run(b"AT+CIPSTART=\"TCP\",\"localhost\",80,7201\r\n"),
        b"\r\nERROR\r\n"
    );
    // Off-loopback: refused like a failed connect, and no connect is ever requested.
    assert_eq!(
        b.run(b"AT+CIPSTART=\"TCP\",\"8.8.8.8\",53\r\n"),
        b"\r\nERROR\r\nCLOSED\r\n"
    );
    assert!(b.connects.is_empty());
    // A refused connect (nobody listening).
    b.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",9\r\n");
    let socket = b.last_socket();
    assert_eq!(
        b.net(NetEvent::ConnectFailed { socket }),
        b"\r\nERROR\r\nCLOSED\r\n"
    );
    assert_eq!(b.run(b"AT+CIPSTATUS\r\n"), b"STATUS:2\r\n\r\nOK\r\n");
    // Already connected: the same answer whatever the parameters.
    b.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n");
    b.accept(50004);
    assert_eq!(
        b.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.2\",8883\r\n"),
        b"ALREADY CONNECTED\r\n\r\nERROR\r\n"
    );
}

#[test]
fn a_pending_connect_answers_busy_p() {
    let mut b = Bench::lab().joined();
    b.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n");
    assert_eq!(b.typed(b"AT\r\n"), b"\r\nbusy p...\r\n");
    assert_eq!(b.accept(50005), b"CONNECT\r\n\r\nOK\r\n");
}

#[test]
fn cipsend_without_a_link_or_with_a_bad_length() {
    let mut b = Bench::lab().joined();
    assert_eq!(
        b.run(b"AT+CIPSEND=4\r\n"),
        b"link is not valid\r\n\r\nERROR\r\n"
    );
    let mut b = connected_single();
    assert_eq!(b.run(b"AT+CIPSEND=2049\r\n"), b"\r\nERROR\r\n");
    assert_eq!(b.run(b"AT+CIPSEND=0\r\n"), b"\r\nERROR\r\n");
    assert_eq!(
        b.run(b"AT+CIPSEND=0,4\r\n"),
        b"\r\nERROR\r\n",
        "an id in single mode"
    );
    let mut e = Bench::new(SimConfig {
        firmware: Flavour::EspAt,
        ..lab_config()
    })
    .joined();
    assert_eq!(e.run(b"AT+CIPSEND=4\r\n"), b"\r\nERROR\r\n");
}

#[test]
fn esp_at_prompt_has_no_space() {
    let mut e = Bench::new(SimConfig {
        firmware: Flavour::EspAt,
        ..lab_config()
    })
    .joined();
    e.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n");
    e.accept(50006);
    assert_eq!(e.run(b"AT+CIPSEND=1\r\n"), b"\r\nOK\r\n\r\n>");
}

#[test]
fn input_while_sending_is_busy_s_on_nonos() {
    let mut b = connected_single();
    b.run(b"AT+CIPSEND=4\r\n");
    // Serial.println adds CR LF: the excess is dropped with a busy message (mbed-os#11817).
    assert_eq!(
        b.typed(b"ABCD\r\n"),
        b"\r\nRecv 4 bytes\r\n\r\nbusy s...\r\n"
    );
    assert_eq!(b.typed(b"AT+CIPSEND=1\r\n"), b"\r\nbusy s...\r\n");
    assert_eq!(b.ack(), b"\r\nSEND OK\r\n");
    assert_eq!(b.sends[0].1, b"ABCD");
}

#[test]
fn cipsendex_stops_at_backslash_zero_and_unescapes() {
    let mut b = connected_single();
    assert_eq!(b.run(b"AT+CIPSENDEX=20\r\n"), b"\r\nOK\r\n> ");
    // `\\` is one backslash, `\x` is x, and `\0` ends the data early.
    assert_eq!(b.typed(b"a\\\\b\\,c\\0"), b"\r\nRecv 5 bytes\r\n");
    assert_eq!(b.sends[0].1, b"a\\b,c");
    b.ack();
    // A raw 00 byte is data on Espressif firmware…
    b.run(b"AT+CIPSENDEX=3\r\n");
    assert_eq!(b.typed(b"\x10\x00\x04"), b"\r\nRecv 3 bytes\r\n");
    assert_eq!(b.sends[1].1, b"\x10\x00\x04");
    b.ack();
    // …and ends the send with the Air601 quirk (seed 000).
    let mut config = lab_config();
    config.quirks.cipsendex_nul_byte_ends = true;
    let mut q = Bench::new(config).joined();
    q.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n");
    q.accept(50007);
    q.run(b"AT+CIPSENDEX=114\r\n");
    let connect = hex(SEED_000_CONNECT);
    // `10 70 00 …`: the 00 ends it after two bytes; the rest arrives while sending.
    let out = q.typed(&connect);
    assert!(out.starts_with(b"\r\nRecv 2 bytes\r\n"), "{out:?}");
    assert_eq!(q.sends[0].1, [0x10, 0x70]);
}

#[test]
fn peer_close_and_send_failures() {
    let mut b = connected_single();
    b.run(b"AT+CIPSEND=3\r\n");
    b.typed(b"abc");
    let socket = b.last_socket();
    assert_eq!(b.net(NetEvent::SendFailed { socket }), b"\r\nSEND FAIL\r\n");
    assert_eq!(b.net(NetEvent::Closed { socket }), b"CLOSED\r\n");
    assert_eq!(
        b.run(b"AT+CIPSEND=3\r\n"),
        b"link is not valid\r\n\r\nERROR\r\n"
    );
}

#[test]
fn wifi_loss_closes_links() {
    let mut b = connected_single();
    assert_eq!(
        b.run(b"AT+CWQAP\r\n"),
        b"\r\nOK\r\nWIFI DISCONNECT\r\nCLOSED\r\n"
    );
    assert_eq!(b.closes.len(), 1);
    assert_eq!(b.run(b"AT+CIPSTATUS\r\n"), b"STATUS:5\r\n\r\nOK\r\n");
}

/// Regression: a broker that answers a refused CONNECT (or a DISCONNECT) by closing made the
/// sim print `CLOSED` before the `SEND OK` of the data it had already delivered, and the
/// driver rightly failed the send. The peer's ACK precedes its FIN, so `SEND OK` comes first.
#[test]
fn peer_close_right_after_a_send_prints_send_ok_before_closed() {
    let mut config = lab_config();
    config.timing.send_ok_ms = 5;
    let mut b = Bench::new(config).joined();
    b.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n");
    b.accept(50000);
    assert_eq!(b.run(b"AT+CIPSEND=2\r\n"), b"\r\nOK\r\n> ");
    assert_eq!(b.typed(&hex("E0 00")), b"\r\nRecv 2 bytes\r\n");
    let socket = b.last_socket();
    // The socket took the bytes; the ACK time has not passed when the FIN arrives.
    assert_eq!(b.net(NetEvent::Sent { socket }), b"");
    assert_eq!(
        b.net(NetEvent::Closed { socket }),
        b"\r\nSEND OK\r\nCLOSED\r\n"
    );
    // The ACK timer firing later prints nothing more.
    assert_eq!(b.settle(), b"");
}
