//! Byte-level tests of the receive state machine, with literal bytes from `at-dialects.md`
//! (§2.7, §2.9, §2.14 firmware literals, §4.5) and the seeds.

use std::sync::Arc;

use proptest::prelude::*;
use rstest::rstest;

use super::*;
use crate::module::at::{Busy, FinalResult, Urc};
use crate::module::dialect::{EspAt, Quectel};

fn esp() -> AtParser {
    AtParser::new(Arc::new(EspAt))
}

fn events(parser: &mut AtParser, chunks: &[&[u8]]) -> Vec<AtEvent> {
    chunks
        .iter()
        .flat_map(|c| parser.feed(c).events)
        .map(|l| l.event)
        .collect()
}

fn one_chunk(bytes: &[u8]) -> Vec<AtEvent> {
    events(&mut esp(), &[bytes])
}

fn line(s: &str) -> AtEvent {
    AtEvent::Line(s.to_string())
}

#[rstest]
#[case(b"\r\nOK\r\n", FinalResult::Ok)]
#[case(b"\r\nERROR\r\n", FinalResult::Error)]
#[case(b"\r\nFAIL\r\n", FinalResult::Fail)]
#[case(b"\r\nSEND OK\r\n", FinalResult::SendOk)]
#[case(b"\r\nSEND FAIL\r\n", FinalResult::SendFail)]
#[case(b"SEND FAIL\r\n", FinalResult::SendFail)]
#[case(b"\r\nSEND Canceled\r\n", FinalResult::SendCanceled)]
#[case(b"\r\n+CME ERROR: 516\r\n", FinalResult::CmeError("516".into()))]
#[case(b"\r\nCMD FORMAT ERR\r\n", FinalResult::VendorError("CMD FORMAT ERR".into()))]
fn every_final_result(#[case] bytes: &[u8], #[case] want: FinalResult) {
    assert_eq!(one_chunk(bytes), vec![AtEvent::Final(want)]);
}

#[rstest]
#[case(b"\r\nbusy p...\r\n", Busy::Processing)]
#[case(b"\r\nbusy s...\r\n", Busy::Sending)]
fn busy_messages(#[case] bytes: &[u8], #[case] want: Busy) {
    assert_eq!(one_chunk(bytes), vec![AtEvent::Busy(want)]);
}

/// What the firmware prints, byte for byte (at-dialects.md §2.14, F1 = NonOS 1.7, F2 = ESP-AT
/// 2.2.1), and how each reads.
#[rstest]
#[case::connect(b"CONNECT\r\n", AtEvent::Urc(Urc::Connect { link: None }))]
#[case::id_connect(b"0,CONNECT\r\n", AtEvent::Urc(Urc::Connect { link: Some(0) }))]
#[case::connect_fail(b"CONNECT FAIL\r\n", AtEvent::Urc(Urc::ConnectFail { link: None }))]
#[case::id_connect_fail(b"3,CONNECT FAIL\r\n", AtEvent::Urc(Urc::ConnectFail { link: Some(3) }))]
#[case::closed(b"CLOSED\r\n", AtEvent::Urc(Urc::Closed { link: None }))]
#[case::id_closed(b"4,CLOSED\r\n", AtEvent::Urc(Urc::Closed { link: Some(4) }))]
#[case::ready(b"\r\nready\r\n", AtEvent::Urc(Urc::Ready))]
#[case::wifi_connected(b"WIFI CONNECTED\r\n", AtEvent::Urc(Urc::WifiConnected))]
#[case::wifi_got_ip(b"WIFI GOT IP\r\n", AtEvent::Urc(Urc::WifiGotIp))]
#[case::wifi_disconnect(b"WIFI DISCONNECT\r\n", AtEvent::Urc(Urc::WifiDisconnect))]
#[case::recv(b"\r\nRecv 114 bytes\r\n", AtEvent::Urc(Urc::RecvBytes { count: 114 }))]
#[case::restart(b"Will force to restart!!!\r\n", AtEvent::Urc(Urc::Reboot { line: "Will force to restart!!!".into() }))]
#[case::already(b"ALREADY CONNECTED\r\n", line("ALREADY CONNECTED"))]
#[case::not_valid(b"link is not valid\r\n", line("link is not valid"))]
#[case::builded(b"link is builded\r\n", line("link is builded"))]
#[case::no_ip(b"no ip\r\n", line("no ip"))]
#[case::dns(b"DNS Fail\r\n", line("DNS Fail"))]
#[case::unlink(b"UNLINK\r\n", line("UNLINK"))]
#[case::cwjap(b"+CWJAP:3\r\n", line("+CWJAP:3"))]
#[case::dhcp(b"DHCP TIMEOUT\r\n", line("DHCP TIMEOUT"))]
#[case::status(b"STATUS:5\r\n", line("STATUS:5"))]
#[case::quitt(b"\r\n+QUITT\r\n", line("+QUITT"))]
#[case::err_code(b"ERR CODE:0x01090000\r\n", line("ERR CODE:0x01090000"))]
#[case::gmr_old(b"AT+GMR\r\r\n", line("AT+GMR"))]
fn firmware_literals(#[case] bytes: &[u8], #[case] want: AtEvent) {
    assert_eq!(one_chunk(bytes), vec![want]);
}

#[test]
fn busy_after_err_code_at_power_on() {
    // ESP-AT FAQ: the first command after power-on can get ERR CODE + busy p...
    let got = one_chunk(b"ERR CODE:0x010b0000\r\n\r\nbusy p...\r\n");
    assert_eq!(
        got,
        vec![line("ERR CODE:0x010b0000"), AtEvent::Busy(Busy::Processing)]
    );
}

#[rstest]
// NonOS hex capture `0D 0A 4F 4B 0D 0A 3E 20`; `|` separates the chunks as they arrive.
#[case::nonos("\r\nOK\r\n> ")]
// ESP-AT 2.x: `\r\nOK\r\n\r\n>` with no space.
#[case::esp_at("\r\nOK\r\n\r\n>")]
#[case::space_in_next_chunk("\r\nOK\r\n>| ")]
#[case::marker_alone("\r\nOK\r\n|>|")]
fn prompt_variants(#[case] chunks: &str) {
    let chunks: Vec<&[u8]> = chunks.split('|').map(str::as_bytes).collect();
    let mut p = esp();
    assert_eq!(
        events(&mut p, &chunks),
        vec![AtEvent::Final(FinalResult::Ok), AtEvent::Prompt]
    );
    // What follows the prompt reads as usual; the prompt's space is not a line.
    let after = events(&mut p, &[b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n"]);
    assert_eq!(
        after,
        vec![
            AtEvent::Urc(Urc::RecvBytes { count: 4 }),
            AtEvent::Final(FinalResult::SendOk)
        ]
    );
}

#[test]
fn quectel_prompt_then_send_ok_as_in_seed_004() {
    let mut p = AtParser::new(Arc::new(Quectel));
    let got = events(&mut p, &[b"\r\n", b">", b" \r\n", b"SEND OK\r\n"]);
    assert_eq!(
        got,
        vec![AtEvent::Prompt, AtEvent::Final(FinalResult::SendOk)]
    );
}

#[test]
fn a_greater_than_inside_a_line_is_not_a_prompt() {
    assert_eq!(one_chunk(b"a>b\r\n"), vec![line("a>b")]);
}

/// A multi-link `+IPD` whose payload holds CR, LF, 0x00, `OK` and another `+IPD`.
const TRICKY: &[u8] = b"\r\n+IPD,0,13:\r\nOK\r\n\x00+IPD,1\nAT\r\n0,CLOSED\r\n";

fn tricky_events() -> Vec<AtEvent> {
    vec![
        AtEvent::SocketData {
            link: Some(0),
            bytes: b"\r\nOK\r\n\x00+IPD,1".to_vec(),
        },
        line("AT"),
        AtEvent::Urc(Urc::Closed { link: Some(0) }),
    ]
}

#[test]
fn payload_bytes_are_counted_not_scanned() {
    assert_eq!(one_chunk(TRICKY), tricky_events());
}

#[test]
fn ipd_split_at_every_byte_position() {
    // Seed 000 `0D 0A 2B 49 50 44 2C 34 3A 20 02 00 00 0D 0A` and the tricky payload above.
    let seed = [
        0x0D, 0x0A, 0x2B, 0x49, 0x50, 0x44, 0x2C, 0x34, 0x3A, 0x20, 0x02, 0x00, 0x00, 0x0D, 0x0A,
    ];
    let seed_want = vec![AtEvent::SocketData {
        link: None,
        bytes: vec![0x20, 0x02, 0x00, 0x00],
    }];
    for (bytes, want) in [(&seed[..], seed_want), (TRICKY, tricky_events())] {
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(events(&mut esp(), &[a, b]), want, "cut at {cut}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(events(&mut esp(), &singles), want, "byte by byte");
    }
}

#[test]
fn payload_offsets_and_text_without_payload() {
    let mut p = esp();
    let feed = p.feed(b"\r\n+IPD,0,4:\x20\x02\x00\x00\r\nOK\r\n");
    assert_eq!(feed.text, b"\r\n+IPD,0,4:\r\nOK\r\n");
    assert_eq!(feed.events[0].serial_offset, 11);
    assert_eq!(feed.events[0].text_end, 11);
    assert_eq!(feed.events[1].serial_offset, 17);
    assert_eq!(feed.events[1].text_end, feed.text.len());
    assert_eq!(p.serial_offset(), 21);
    assert_eq!(p.text_offset(), 17);
}

#[test]
fn back_to_back_ipd_without_line_ends() {
    let got = one_chunk(b"\r\n+IPD,2:ab+IPD,1:c\r\n+IPD,0,2:\r\n");
    assert_eq!(
        got,
        vec![
            AtEvent::SocketData {
                link: None,
                bytes: b"ab".to_vec()
            },
            AtEvent::SocketData {
                link: None,
                bytes: b"c".to_vec()
            },
            AtEvent::SocketData {
                link: Some(0),
                bytes: b"\r\n".to_vec()
            },
        ]
    );
}

#[test]
fn ipd_between_ok_and_prompt() {
    // esp-at #410: data can arrive between the CIPSEND OK and the prompt.
    let got = one_chunk(b"\r\nOK\r\n\r\n+IPD,0,2:\xD0\x00\r\n> ");
    assert_eq!(
        got,
        vec![
            AtEvent::Final(FinalResult::Ok),
            AtEvent::SocketData {
                link: Some(0),
                bytes: vec![0xD0, 0x00]
            },
            AtEvent::Prompt
        ]
    );
}

#[test]
fn urc_inside_an_echo_nonos_59() {
    // ESP8266_NONOS_SDK #59: `1,CONNECT` printed in the middle of echoing `AT+CIPSEND=0,98`.
    let mut p = esp();
    p.expect_echo("AT+CIPSEND=0,98");
    let got = events(&mut p, &[b"AT+CIPSEND=0,1,CONNECT\r\n98\r\n\r\nOK\r\n> "]);
    assert_eq!(
        got,
        vec![
            AtEvent::Urc(Urc::Connect { link: Some(1) }),
            AtEvent::Echo("AT+CIPSEND=0,98".into()),
            AtEvent::Final(FinalResult::Ok),
            AtEvent::Prompt
        ]
    );
}

#[rstest]
// The URC starts with the character the echo expects next: the longest echo part is wrong.
#[case::ambiguous_split("AT+CIPSEND=0,1", b"AT+CIPSEND=0,1,CONNECT\r\n1\r\n")]
// A CR LF-led `+IPD` cuts the echo line; the rest of the echo follows the payload.
#[case::ipd_cuts_echo("AT+CIPSEND=0,4", b"AT+CIPSEN\r\n+IPD,1,1:xD=0,4\r\n")]
// A URC glued after the complete echo, before the echoed CR LF.
#[case::glued_after("AT+CIPSEND=0,4", b"AT+CIPSEND=0,40,CLOSED\r\n\r\n")]
fn echo_survives_interruptions(#[case] cmd: &str, #[case] bytes: &[u8]) {
    let mut p = esp();
    p.expect_echo(cmd);
    let got = events(&mut p, &[bytes]);
    assert_eq!(got.last(), Some(&AtEvent::Echo(cmd.into())), "{got:?}");
    assert!(
        !got.iter().any(|e| matches!(e, AtEvent::Line(_))),
        "no echo piece may leak as an info line: {got:?}"
    );
}

#[test]
fn echo_with_cr_only_terminator_quectel_style() {
    let mut p = AtParser::new(Arc::new(Quectel));
    p.expect_echo("AT");
    assert_eq!(
        events(&mut p, &[b"AT\r\r\nOK\r\n"]),
        vec![AtEvent::Echo("AT".into()), AtEvent::Final(FinalResult::Ok)]
    );
}

#[test]
fn echo_off_forgets_the_pending_echo_at_the_final() {
    let mut p = esp();
    p.expect_echo("AT+CIPCLOSE=0");
    let got = events(&mut p, &[b"0,CLOSED\r\n\r\nOK\r\nAT+CIPCLOSE=0\r\n"]);
    assert_eq!(
        got,
        vec![
            AtEvent::Urc(Urc::Closed { link: Some(0) }),
            AtEvent::Final(FinalResult::Ok),
            line("AT+CIPCLOSE=0"),
        ]
    );
}

#[test]
fn urcs_any_time_and_the_boot_banner() {
    // bbs.espressif.com t=1821: boot with auto-connect and no AP.
    let got = one_chunk(
        b"\r\n ets Jan  8 2013,rst cause:2, boot mode:(3,7)\r\n\r\nready\r\nWIFI DISCONNECT\r\n\
WIFI CONNECTED\r\nWIFI GOT IP\r\nCLOSED\r\n",
    );
    assert_eq!(
        got,
        vec![
            AtEvent::Urc(Urc::Reboot {
                line: " ets Jan  8 2013,rst cause:2, boot mode:(3,7)".into()
            }),
            AtEvent::Urc(Urc::Ready),
            AtEvent::Urc(Urc::WifiDisconnect),
            AtEvent::Urc(Urc::WifiConnected),
            AtEvent::Urc(Urc::WifiGotIp),
            AtEvent::Urc(Urc::Closed { link: None }),
        ]
    );
}

#[test]
fn cwjap_failure_nonos_and_gmr_lines() {
    let got = one_chunk(b"+CWJAP:2\r\n\r\nFAIL\r\nAT version:1.6.2.0(Apr 13 2018 11:10:59)\r\n");
    assert_eq!(
        got,
        vec![
            line("+CWJAP:2"),
            AtEvent::Final(FinalResult::Fail),
            line("AT version:1.6.2.0(Apr 13 2018 11:10:59)")
        ]
    );
}

#[test]
fn garbage_without_line_end_is_bounded() {
    let mut p = esp();
    let noise = vec![0xFFu8; MAX_LINE * 2 + 10];
    let got = events(&mut p, &[&noise, b"\r\nready\r\n"]);
    assert_eq!(
        got.len(),
        4,
        "two overflow lines, the noise tail, then ready: {got:?}"
    );
    assert_eq!(got[3], AtEvent::Urc(Urc::Ready));
}

#[test]
fn oversized_header_is_text_not_a_black_hole() {
    assert_eq!(
        one_chunk(b"+IPD,999999:x\r\nOK\r\n")[1],
        AtEvent::Final(FinalResult::Ok)
    );
}

#[test]
fn quectel_recv_seed_004() {
    let mut bytes = b"\r\n+QIURC: \"recv\",0,4\r\n".to_vec();
    bytes.extend_from_slice(&[0x20, 0x02, 0x00, 0x00, 0x0D, 0x0A]);
    bytes.extend_from_slice(b"\r\n+QIURC: \"closed\",0\r\n");
    for cut in 0..=bytes.len() {
        let (a, b) = bytes.split_at(cut);
        assert_eq!(
            events(&mut AtParser::new(Arc::new(Quectel)), &[a, b]),
            vec![
                AtEvent::SocketData {
                    link: Some(0),
                    bytes: vec![0x20, 0x02, 0x00, 0x00]
                },
                AtEvent::Urc(Urc::Closed { link: Some(0) }),
            ],
            "cut at {cut}"
        );
    }
    // The ESP rules do not read Quectel framing as socket data.
    assert!(!one_chunk(&bytes)
        .iter()
        .any(|e| matches!(e, AtEvent::SocketData { .. })));
}

fn quectel() -> AtParser {
    AtParser::new(Arc::new(Quectel))
}

#[test]
fn quectel_boot_urcs_then_a_cme_error() {
    // An EC20's boot notices (Quectel's TCP/IP manual, TinyGSM's BG96 wait for `APP RDY`),
    // then a command refused with AT+CMEE=1.
    let bytes = b"\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n\
\r\n+QIND: PB DONE\r\n\r\nAPP RDY\r\n\r\n+CME ERROR: 10\r\n";
    let status = |line: &str| AtEvent::Urc(Urc::BootStatus { line: line.into() });
    assert_eq!(
        events(&mut quectel(), &[bytes]),
        vec![
            AtEvent::Urc(Urc::Ready),
            AtEvent::Urc(Urc::SimReady),
            status("+QUSIM: 1"),
            status("+QIND: SMS DONE"),
            status("+QIND: PB DONE"),
            AtEvent::Urc(Urc::AppReady),
            AtEvent::Final(FinalResult::CmeError("10".into())),
        ]
    );
}

#[test]
fn quectel_open_then_late_qiopen() {
    let bytes = b"\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n\r\n+QIOPEN: 1,566\r\n";
    assert_eq!(
        events(&mut quectel(), &[bytes]),
        vec![
            AtEvent::Final(FinalResult::Ok),
            AtEvent::Urc(Urc::Opened { link: 0, error: 0 }),
            AtEvent::Urc(Urc::Opened {
                link: 1,
                error: 566
            }),
        ]
    );
}

#[test]
fn quectel_buffer_mode_announce_then_qird() {
    // Buffer access: the notice without a length, then `AT+QIRD=2,1500`'s answer with a
    // CONNACK, then the empty read that says the buffer is drained.
    let mut bytes = b"\r\n+QIURC: \"recv\",2\r\n".to_vec();
    let mut p = quectel();
    let announced = events(&mut p, &[&bytes]);
    assert_eq!(
        announced,
        vec![AtEvent::Urc(Urc::DataAvailable {
            link: Some(2),
            len: None
        })]
    );
    bytes.clear();
    bytes.extend_from_slice(b"\r\n+QIRD: 4\r\n");
    bytes.extend_from_slice(&[0x20, 0x02, 0x00, 0x00]);
    bytes.extend_from_slice(b"\r\n\r\nOK\r\n");
    for cut in 0..=bytes.len() {
        let (a, b) = bytes.split_at(cut);
        let mut p = quectel();
        p.expect_read_reply(2);
        assert_eq!(
            events(&mut p, &[a, b]),
            vec![
                AtEvent::SocketData {
                    link: Some(2),
                    bytes: vec![0x20, 0x02, 0x00, 0x00]
                },
                AtEvent::Final(FinalResult::Ok),
            ],
            "cut at {cut}"
        );
    }
    // Payload bytes that look like lines are still data: `OK\r\n` inside a read.
    let mut p = quectel();
    p.expect_read_reply(0);
    assert_eq!(
        events(
            &mut p,
            &[b"+QIRD: 4\r\nOK\r\n\r\nOK\r\n\r\n+QIRD: 0\r\n\r\nOK\r\n"]
        ),
        vec![
            AtEvent::SocketData {
                link: Some(0),
                bytes: b"OK\r\n".to_vec()
            },
            AtEvent::Final(FinalResult::Ok),
            AtEvent::Final(FinalResult::Ok),
        ]
    );
}

#[test]
fn a_read_reply_link_is_forgotten_at_the_final_result() {
    let mut p = quectel();
    p.expect_read_reply(3);
    let got = events(&mut p, &[b"\r\nERROR\r\n+QIRD: 1\r\nx\r\nOK\r\n"]);
    assert_eq!(
        got[1],
        AtEvent::SocketData {
            link: None,
            bytes: b"x".to_vec()
        }
    );
}

proptest! {
    /// However the stream is cut, the parser reports the same events and the same text.
    #[test]
    fn chunking_never_changes_the_result(cuts in proptest::collection::vec(0usize..80, 0..8)) {
        let stream: &[u8] = b"AT+CIPSEND=0,4\r\n\r\nOK\r\n> \r\nRecv 4 bytes\r\n\r\nSEND OK\r\n\
\r\n+IPD,0,4:\x20\x02\r\n\r\n+IPD,0,3:\x00\r\n0,CLOSED\r\nWIFI DISCONNECT\r\n";
        let mut whole = esp();
        whole.expect_echo("AT+CIPSEND=0,4");
        let want = whole.feed(stream);
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
        points.sort_unstable();
        let mut parser = esp();
        parser.expect_echo("AT+CIPSEND=0,4");
        let mut got = Feed::default();
        let mut from = 0;
        for to in points.into_iter().chain([stream.len()]) {
            let part = parser.feed(&stream[from..to]);
            got.events.extend(part.events);
            got.text.extend(part.text);
            from = to;
        }
        prop_assert_eq!(got, want);
    }
}
