//! The RT-Thread dump reader on seed 004's own lines (an EC200U-style module under RT-Thread's
//! AT client, talking to OneNET), on RT-Thread's unsquashed layout, and on broken lines.

use rstest::rstest;

use super::*;

/// Seed 004's dump lines as the write-up printed them (whitespace collapsed by the web page).
const SEED_004: &str = "\
以下是使用at组件登录OneNET平台时,打印的RAW数据:
[D/AT] sendline: 0000-0020: 41 54 2B 51 49 53 45 4E 44 3D 30 2C 33 37 AT+QISEND=0,37
[D/AT] recvline: 0000-0020: 0D 0A ..
[D/AT] recvline: 0000-0020: 3E >
[D/AT] sendline: 0000-0020: 10 23 00 04 4D 51 54 54 04 C2 00 1E 00 06 36 35 37 30 37 37 00 08 32 30 31 39 30 31 35 36 00 05 .#..MQTT......657077..20190156..
[D/AT] sendline: 0020-0040: 73 6E 38 38 38 sn888
[D/AT] recvline: 0000-0020: 20 0D 0A ..
[D/AT] recvline: 0000-0020: 53 45 4E 44 20 4F 4B 0D 0A SEND OK..
[D/AT] recvline: 0000-0020: 0D 0A ..
[D/AT] recvline: 0000-0020: 2B 51 49 55 52 43 3A 20 22 72 65 63 76 22 2C 30 2C 34 0D 0A +QIURC: \"recv\",0,4..
[D/AT] urc_recv: 0000-0020: 20 02 00 00 ...
[D/AT] recvline: 0000-0020: 0D 0A ..
使用mqtt进行登录的时候,实际发送的数据包为10 23 00 04
";

fn record(kind: DumpKind, first: usize, last: usize, bytes: &[u8]) -> LogRecord {
    LogRecord {
        kind,
        first_line: first,
        last_line: last,
        bytes: bytes.to_vec(),
    }
}

#[test]
fn seed_004_reads_into_twelve_buffers() {
    assert!(is_rt_log(SEED_004));
    let records = read_rt_log(SEED_004).unwrap();
    let mut connect = vec![
        0x10, 0x23, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0xC2, 0x00, 0x1E, 0x00, 0x06,
    ];
    connect.extend_from_slice(b"657077\x00\x0820190156\x00\x05sn888");
    use DumpKind::{RecvLine, SendLine, UrcRecv};
    assert_eq!(
        records,
        vec![
            record(SendLine, 2, 2, b"AT+QISEND=0,37"),
            record(RecvLine, 3, 3, b"\r\n"),
            record(RecvLine, 4, 4, b">"),
            record(SendLine, 5, 6, &connect),
            // The prompt's space, read with the CR LF before SEND OK: its ASCII ` ..` lost
            // its space to the page's whitespace collapsing.
            record(RecvLine, 7, 7, b" \r\n"),
            record(RecvLine, 8, 8, b"SEND OK\r\n"),
            record(RecvLine, 9, 9, b"\r\n"),
            record(RecvLine, 10, 10, b"+QIURC: \"recv\",0,4\r\n"),
            record(UrcRecv, 11, 11, &[0x20, 0x02, 0x00, 0x00]),
            record(RecvLine, 12, 12, b"\r\n"),
        ]
    );
    assert_eq!(records[3].bytes.len(), 37);
}

#[rstest]
// RT-Thread's own layout: padding for missing bytes, a space after every 8, two before ASCII.
#[case::unsquashed(
    "[D/AT] recvline: 0000-0020: 20 0D 0A                                                                                               ..",
    b" \r\n"
)]
// The ASCII column looks like hex: `41 42` renders `AB`.
#[case::hex_looking_ascii("[D/AT] sendline: 0000-0020: 41 42 AB", b"AB")]
#[case::ascii_with_spaces("[D/AT] recvline: 0000-0020: 53 45 4E 44 20 4F 4B SEND OK", b"SEND OK")]
#[case::all_spaces("[D/AT] urc_recv: 0000-0020: 20 20", b"  ")]
#[case::timestamp_before_the_tag("12:00:01.123 [D/AT] recvline: 0000-0020: 4F 4B OK", b"OK")]
#[case::crlf_line_end("[D/AT] recvline: 0000-0020: 4F 4B OK\r", b"OK")]
fn one_line(#[case] line: &str, #[case] want: &[u8]) {
    let records = read_rt_log(line).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].bytes, want);
}

#[test]
fn a_full_line_of_32_then_a_new_record() {
    let hex: Vec<String> = (0..32).map(|i| format!("{:02X}", 0x41 + i % 26)).collect();
    let ascii: String = (0..32).map(|i| (b'A' + i % 26) as char).collect();
    let log = format!(
        "[D/AT] sendline: 0000-0020: {} {ascii}\n[D/AT] sendline: 0000-0020: 4F 4B OK\n",
        hex.join(" ")
    );
    let records = read_rt_log(&log).unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].bytes.len(), 32);
    assert_eq!(records[1].bytes, b"OK");
}

#[test]
fn lines_that_are_not_dumps_are_skipped() {
    let log = "[D/AT] AT client(V1.3.1) on device uart2 initialize success.\n\
               [I/at.dev] ec20 device initialize success\n\
               [D/AT] recvline: 0000-0020: 4F 4B OK\n";
    assert!(is_rt_log(log));
    assert_eq!(read_rt_log(log).unwrap().len(), 1);
    assert!(!is_rt_log("0D 0A 4F 4B 0D 0A"));
    assert!(!is_rt_log("[D/AT] AT client initialize success"));
}

#[rstest]
#[case::no_range(
    "[D/AT] sendline: 41 54",
    1,
    18,
    "an offset range such as `0000-0020:`",
    "`41`"
)]
#[case::bad_range(
    "[D/AT] sendline: 0000_0020: 41 54 AT",
    1,
    18,
    "an offset range such as `0000-0020:`",
    "`0000_0020:`"
)]
#[case::empty_range(
    "[D/AT] sendline: 0020-0020: 41 54 AT",
    1,
    18,
    "an offset range whose end is 1 to 256 bytes past its start",
    "`0020-0020:`"
)]
#[case::no_bytes(
    "[D/AT] recvline: 0000-0020: OK",
    1,
    29,
    "hex bytes such as `41 54` after the offset range",
    "`OK`"
)]
#[case::no_bytes_at_all(
    "[D/AT] recvline: 0000-0020:",
    1,
    28,
    "hex bytes such as `41 54` after the offset range",
    "the end of the line"
)]
#[case::ascii_disagrees(
    "[D/AT] recvline: 0000-0020: 4F 4B NO",
    1,
    35,
    "the ASCII column after the hex bytes, showing them as `OK`",
    "`NO`"
)]
#[case::orphan_continuation(
    "[D/AT] sendline: 0020-0040: 73 6E sn",
    1,
    18,
    "`0000-`: a `sendline` line at offset 0020 continues a full `sendline` line just before it",
    "`0020-`"
)]
#[case::continuation_of_a_short_line(
    "[D/AT] sendline: 0000-0020: 41 54 AT\n[D/AT] sendline: 0020-0040: 73 6E sn",
    2,
    18,
    "`0000-`: a `sendline` line at offset 0020 continues a full `sendline` line just before it",
    "`0020-`"
)]
fn bad_lines_name_line_column_and_what_was_expected(
    #[case] log: &str,
    #[case] line: usize,
    #[case] column: usize,
    #[case] expected: &str,
    #[case] found: &str,
) {
    let errors = read_rt_log(log).unwrap_err().0;
    assert_eq!(
        errors,
        vec![RtLogError {
            line,
            column,
            expected: expected.to_string(),
            found: found.to_string(),
        }]
    );
}

#[test]
fn every_bad_line_is_reported_at_once() {
    let log = "prose\n[D/AT] recvline: 0000-0020: 4F 4B NO\n[D/AT] recvline: 0000-0020: 4F 4B OK\n\
               [D/AT] sendline: 41\n";
    let err = read_rt_log(log).unwrap_err();
    assert_eq!(err.0.len(), 2);
    assert_eq!((err.0[0].line, err.0[1].line), (2, 4));
    assert!(err
        .to_string()
        .starts_with("read the RT-Thread AT log: 2 problems\n  line 2, column 35: expected"));
}
