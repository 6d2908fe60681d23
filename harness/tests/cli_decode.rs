//! `athil decode` as a user runs it: the built binary, hex from arguments, files and stdin,
//! the annotated text, the exact JSON shape other tools parse, `--serial`, and exit codes
//! 0 (valid), 1 (error found) and 2 (unusable input).

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

fn athil(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_athil"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run athil");
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = athil(args, None);
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn json_of(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["decode", "--format", "json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run(&all);
    let v = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not one JSON object ({e}):\n{stdout}\n{stderr}"));
    (code, v)
}

const SEED_002_CONNECT: &str = "10 74 00 04 4D 51 54 54 04 C2 00 64 00 29 64 65 76 69 63 65 32 7C 73 65 63 75 72 65 6D 6F 64 65 3D 33 2C 73 69 67 6E 6D 65 74 68 6F 64 3D 68 6D 61 63 73 68 61 31 7C 00 13 64 65 76 69 63 65 32 26 61 31 6E 64 50 51 48 63 58 37 66 00 28 35 63 61 65 65 66 35 62 39 32 35 31 39 34 30 36 39 36 62 30 32 64 63 38 30 62 36 31 35 63 33 66 37 33 39 66 34 36 62 63";

#[test]
fn text_breakdown_of_seed_002_connect() {
    let (code, out, _) = run(&["decode", SEED_002_CONNECT]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("CONNECT at offset 0, 118 bytes\n"), "{out}");
    for line in [
        "       1  74                          remaining length",
        "116 bytes",
        "       9  C2                          connect flags",
        "C2 = 1100 0010",
        "bit 7   user name flag  1",
        "bit 6   password flag   1",
        "bit 1   clean session   1",
        "bit 0   reserved        0",
        "100 s",
        "\"device2|securemode=3,signmethod=hmacsha1|\"",
        "\"5caeef5b9251940696b02dc80b615c3f739f46bc\"",
        "1 packet, 0 errors, 0 warnings: valid",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
}

#[test]
fn text_works_out_two_byte_lengths_and_pretty_prints_json_payloads() {
    // Seed 002's property-set downlink, read from stdin.
    let hex = "30 9A 01 00 33 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 66 2F 64 65 76 69 63 65 32 2F 74 68 69 6E 67 2F 73 65 72 76 69 63 65 2F 70 72 6F 70 65 72 74 79 2F 73 65 74 7B 22 6D 65 74 68 6F 64 22 3A 22 74 68 69 6E 67 2E 73 65 72 76 69 63 65 2E 70 72 6F 70 65 72 74 79 2E 73 65 74 22 2C 22 69 64 22 3A 22 34 31 30 37 34 39 36 34 33 22 2C 22 70 61 72 61 6D 73 22 3A 7B 22 50 6F 77 65 72 53 77 69 74 63 68 22 3A 31 7D 2C 22 76 65 72 73 69 6F 6E 22 3A 22 31 2E 30 2E 30 22 7D";
    for args in [&["decode"][..], &["decode", "-"][..]] {
        let out = athil(args, Some(hex));
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(text.contains("9A 01 → 26 + 1×128 = 154"), "{text}");
        assert!(text.contains("\"PowerSwitch\": 1"), "{text}");
        assert!(
            text.contains("\"method\": \"thing.service.property.set\","),
            "{text}"
        );
    }
}

#[test]
fn json_shapes_are_exact() {
    // CONNECT with a will, built to cover every CONNECT key with a value.
    let connect = "10 20 00 04 4D 51 54 54 04 EE 00 0A 00 03 64 65 76 00 03 6C 77 74 00 03 62 79 65 00 01 75 00 02 70 77";
    let (code, v) = json_of(&[connect]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        v,
        json!({
            "valid": true,
            "packets": [{
                "offset": 0, "length": 34, "type": "CONNECT",
                "fields": {
                    "protocol_name": "MQTT", "protocol_level": 4,
                    "flags": {"username": true, "password": true, "will_retain": true,
                              "will_qos": 1, "will": true, "clean_session": true},
                    "keepalive": 10, "client_id": "dev",
                    "will_topic": "lwt", "will_message": "bye",
                    "username": "u", "password": "pw"
                }
            }],
            "diagnostics": []
        })
    );

    let stream = "20 02 01 00 32 08 00 01 74 00 0A 68 69 21 40 02 00 0A 82 0A 00 0B 00 01 74 01 00 01 2B 00 \
                  90 04 00 0B 01 80 A2 05 00 0C 00 01 74 B0 02 00 0C 50 02 00 0D 62 02 00 0D 70 02 00 0D \
                  C0 00 D0 00 E0 00";
    let (code, v) = json_of(&[stream]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        v,
        json!({
            "valid": true,
            "packets": [
                {"offset": 0, "length": 4, "type": "CONNACK",
                 "fields": {"session_present": true, "return_code": 0}},
                {"offset": 4, "length": 10, "type": "PUBLISH",
                 "fields": {"dup": false, "qos": 1, "retain": false, "topic": "t",
                            "packet_id": 10, "payload_hex": "68 69 21", "payload_text": "hi!"}},
                {"offset": 14, "length": 4, "type": "PUBACK", "fields": {"packet_id": 10}},
                {"offset": 18, "length": 12, "type": "SUBSCRIBE",
                 "fields": {"packet_id": 11, "filters": [{"filter": "t", "qos": 1},
                                                        {"filter": "+", "qos": 0}]}},
                {"offset": 30, "length": 6, "type": "SUBACK",
                 "fields": {"packet_id": 11, "return_codes": [1, 128]}},
                {"offset": 36, "length": 7, "type": "UNSUBSCRIBE",
                 "fields": {"packet_id": 12, "filters": ["t"]}},
                {"offset": 43, "length": 4, "type": "UNSUBACK", "fields": {"packet_id": 12}},
                {"offset": 47, "length": 4, "type": "PUBREC", "fields": {"packet_id": 13}},
                {"offset": 51, "length": 4, "type": "PUBREL", "fields": {"packet_id": 13}},
                {"offset": 55, "length": 4, "type": "PUBCOMP", "fields": {"packet_id": 13}},
                {"offset": 59, "length": 2, "type": "PINGREQ", "fields": {}},
                {"offset": 61, "length": 2, "type": "PINGRESP", "fields": {}},
                {"offset": 63, "length": 2, "type": "DISCONNECT", "fields": {}}
            ],
            "diagnostics": []
        })
    );
}

#[test]
fn binary_payload_has_no_text() {
    let (code, v) = json_of(&["30 05 00 01 74 FF 00"]);
    assert_eq!(code, 0);
    assert_eq!(v["packets"][0]["fields"]["payload_hex"], "FF 00");
    assert_eq!(v["packets"][0]["fields"]["payload_text"], Value::Null);
    assert_eq!(v["packets"][0]["fields"]["packet_id"], Value::Null);
}

#[test]
fn errors_exit_1_with_offset_and_diagnosis() {
    // Seed 003's SUBACK "failure" written as 08.
    let (code, v) = json_of(&["90 03 00 0A 08"]);
    assert_eq!(code, 1);
    assert_eq!(v["valid"], false);
    assert_eq!(
        v["diagnostics"],
        json!([{"offset": 4, "severity": "error",
                "message": "SUBACK return code 08 is not defined: failure is 80 (bit 7), not 08"}])
    );
    let (code, out, _) = run(&["decode", "90 03 00 0A 08"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("  error at offset 4: SUBACK return code 08 is not defined"),
        "{out}"
    );
    assert!(
        out.ends_with("1 packet, 1 error, 0 warnings: INVALID\n"),
        "{out}"
    );
}

#[test]
fn warnings_alone_still_exit_0() {
    // A padded remaining length is legal 3.1.1, but worth a word.
    let (code, v) = json_of(&["D0 80 00"]);
    assert_eq!(code, 0);
    assert_eq!(v["valid"], true);
    assert_eq!(v["diagnostics"][0]["severity"], "warning");
}

#[test]
fn unusable_input_exits_2() {
    let (code, out, err) = run(&["decode", "10 ?? 00 04"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("athil decode: failed to read hex: `??` is a placeholder"),
        "{err}"
    );
    assert!(
        err.contains("line 1, column 4 (byte 1 of the data)"),
        "{err}"
    );

    let (code, _, err) = run(&["decode", "--file", "/nonexistent/athil-test.hex"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("failed to read hex file `/nonexistent/athil-test.hex`"),
        "{err}"
    );

    let (code, _, err) = run(&["decode", "--format", "json", "# nothing\n"]);
    assert_eq!(code, 2);
    assert!(err.contains("no hex bytes found"), "{err}");

    let (code, _, _) = run(&["decode", "--format", "yaml", "20 02 00 00"]);
    assert_eq!(code, 2, "clap rejects unknown formats with exit 2");
}

#[test]
fn file_input_with_comments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.hex");
    std::fs::write(&path, "# PINGREQ\nC0 00 # then PINGRESP\nD0 00\n").unwrap();
    let (code, v) = json_of(&["--file", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(v["packets"][1]["type"], "PINGRESP");
}

#[test]
fn serial_capture_of_seed_000_points_into_the_capture() {
    let capture = "0D 0A 2B 49 50 44 2C 34 3A 20 02 00 00 0D 0A";
    let (code, v) = json_of(&["--serial", capture]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        v,
        json!({"valid": true, "packets": [{"offset": 9, "length": 4, "type": "CONNACK",
               "fields": {"session_present": false, "return_code": 0}}], "diagnostics": []})
    );
    let (code, out, _) = run(&["decode", "--serial", capture]);
    assert_eq!(code, 0);
    assert!(out.starts_with("CONNACK at offset 9, 4 bytes\n"), "{out}");
    assert!(
        out.contains("      12  00                          return code"),
        "{out}"
    );

    // The same capture without --serial: the AT text is named, and nothing decodes cleanly.
    let (code, v) = json_of(&[capture]);
    assert_eq!(code, 1);
    assert_eq!(v["diagnostics"][0]["offset"], 0);
    assert!(v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["message"].as_str().unwrap().contains("--serial")));
}

#[test]
fn serial_capture_of_seed_004_quectel() {
    let capture = "0D 0A 3E 20 0D 0A 53 45 4E 44 20 4F 4B 0D 0A 0D 0A 2B 51 49 55 52 43 3A 20 22 72 65 63 76 22 2C 30 2C 34 0D 0A 20 02 00 00 0D 0A";
    let (code, v) = json_of(&["--serial", capture]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["packets"][0]["offset"], 37);
    assert_eq!(v["packets"][0]["type"], "CONNACK");
}

#[test]
fn serial_packet_split_over_two_notices_keeps_capture_offsets() {
    // `+IPD,2:` 20 02 `\r\n` `+IPD,2:` 00 04 `\r\n`: one CONNACK (refused) in two pieces.
    let capture = "2B 49 50 44 2C 32 3A 20 02 0D 0A 2B 49 50 44 2C 32 3A 00 04 0D 0A";
    let (code, v) = json_of(&["--serial", capture]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["packets"][0]["offset"], 7);
    assert_eq!(v["packets"][0]["fields"]["return_code"], 4);
    let (_, out, _) = run(&["decode", "--serial", capture]);
    assert!(
        out.contains("      18  00                          acknowledge flags"),
        "{out}"
    );
    assert!(
        out.contains("      19  04                          return code"),
        "{out}"
    );
}

#[test]
fn serial_truncated_payload_is_reported_at_its_capture_offset() {
    // `+IPD,4:` announces 4 bytes, the capture stops after 3.
    let (code, v) = json_of(&["--serial", "0D 0A 2B 49 50 44 2C 34 3A 20 02 00"]);
    assert_eq!(code, 1);
    assert_eq!(v["diagnostics"][0]["offset"], 10);
    assert!(v["diagnostics"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("remaining length says 2 but only 1 byte follows"));
    // After the MQTT errors, the AT framing's own: the notice promised a 4th byte.
    let last = v["diagnostics"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last,
        json!({"offset": 12, "severity": "error", "message": "`+IPD,4:` announces 4 bytes but \
               the capture ends after 3: the capture was cut off, or the module's length is wrong"})
    );
}

#[test]
fn serial_notice_announcing_more_than_the_capture_holds_is_an_error() {
    // `+IPD,10:` announces 10 bytes, only a whole CONNACK (4) follows: the MQTT is fine, the
    // capture is not.
    let capture = "2B 49 50 44 2C 31 30 3A 20 02 00 00";
    let (code, v) = json_of(&["--serial", capture]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(
        v,
        json!({"valid": false,
               "packets": [{"offset": 8, "length": 4, "type": "CONNACK",
                            "fields": {"session_present": false, "return_code": 0}}],
               "diagnostics": [{"offset": 12, "severity": "error",
                                "message": "`+IPD,10:` announces 10 bytes but the capture ends \
                                            after 4: the capture was cut off, or the module's \
                                            length is wrong"}]})
    );
    let (code, out, _) = run(&["decode", "--serial", capture]);
    assert_eq!(code, 1);
    assert!(
        out.contains(
            "error at offset 12: `+IPD,10:` announces 10 bytes but the capture ends after 4"
        ),
        "{out}"
    );
    assert!(
        out.ends_with("1 packet, 1 error, 0 warnings: INVALID\n"),
        "{out}"
    );
}

#[test]
fn serial_quectel_notice_announcing_more_than_the_capture_holds_is_an_error() {
    // `\r\n+QIURC: "recv",0,10\r\n` then the 4 bytes of a CONNACK.
    let capture =
        "0D 0A 2B 51 49 55 52 43 3A 20 22 72 65 63 76 22 2C 30 2C 31 30 0D 0A 20 02 00 00";
    let (code, v) = json_of(&["--serial", capture]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(
        v,
        json!({"valid": false,
               "packets": [{"offset": 23, "length": 4, "type": "CONNACK",
                            "fields": {"session_present": false, "return_code": 0}}],
               "diagnostics": [{"offset": 27, "severity": "error",
                                "message": "`+QIURC: \"recv\",0,10` announces 10 bytes but the \
                                            capture ends after 4: the capture was cut off, or \
                                            the module's length is wrong"}]})
    );
}

#[test]
fn serial_capture_cut_right_after_the_notice_is_an_error_not_unusable() {
    // `\r\n+IPD,4:` and nothing after: there was socket data, and it is missing.
    let (code, v) = json_of(&["--serial", "0D 0A 2B 49 50 44 2C 34 3A"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(
        v,
        json!({"valid": false, "packets": [],
               "diagnostics": [{"offset": 9, "severity": "error",
                                "message": "`+IPD,4:` announces 4 bytes but the capture ends \
                                            after 0: the capture was cut off, or the module's \
                                            length is wrong"}]})
    );
}

#[test]
fn serial_capture_without_socket_data_exits_2() {
    let (code, _, err) = run(&["decode", "--serial", "41 54 0D 0A 0D 0A 4F 4B 0D 0A"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("failed to find socket data in the serial capture"),
        "{err}"
    );
}

fn fixture(name: &str) -> String {
    format!(
        "{}/../fixtures/packets/serial/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn serial_rt_thread_log_of_seed_004_shows_the_exchange_and_both_packets() {
    let log = fixture("seed004_rtthread_at_log.txt");
    let (code, out, err) = run(&["decode", "--serial", "--file", &log]);
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "RT-Thread AT log, 10 buffers:",
        "  line 5      host → module  AT+QISEND=0,37",
        "  line 7      module → host  >",
        "  lines 8-9   host → module  10 23 00 04 4D 51 54 54 04 C2 00 1E 00 06 36 35 37 30 37 37 00 08 32 30 31 39 30 31 35 36 00 05 73 6E 38 38 38  (37 bytes)",
        "  line 10     module → host   \\r\\n",
        "  line 13     module → host  +QIURC: \"recv\",0,4\\r\\n",
        "  line 14     module → host  20 02 00 00  (4 bytes)",
        "CONNECT at offset 14, 37 bytes",
        "30 s",
        "\"657077\"",
        "\"20190156\"",
        "CONNACK at offset 37, 4 bytes",
        "0 (connection accepted)",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    // `athil decode` shows passwords as they are (seed 002's too): it is a debugging tool
    // for the bytes a device sent, not a report.
    assert!(out.contains("\"sn888\""), "{out}");

    let (code, v) = json_of(&["--serial", "--file", &log]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["valid"], json!(true));
    assert_eq!(v["exchange"].as_array().unwrap().len(), 10);
    assert_eq!(
        v["exchange"][0],
        json!({"line": 5, "direction": "host_to_module", "dump": "sendline",
               "hex": "41 54 2B 51 49 53 45 4E 44 3D 30 2C 33 37"})
    );
    let connect = &v["host_to_module"]["packets"][0];
    assert_eq!(connect["type"], json!("CONNECT"));
    assert_eq!(connect["offset"], json!(14));
    assert_eq!(connect["fields"]["client_id"], json!("657077"));
    assert_eq!(connect["fields"]["username"], json!("20190156"));
    assert_eq!(connect["fields"]["keepalive"], json!(30));
    let connack = &v["module_to_host"]["packets"][0];
    assert_eq!(connack["type"], json!("CONNACK"));
    assert_eq!(connack["fields"]["return_code"], json!(0));
}

#[test]
fn serial_rt_thread_log_with_a_bad_dump_line_exits_2_naming_line_and_column() {
    let log = "boot\n[D/AT] recvline: 0000-0020: 4F 4B NO\n[D/AT] sendline: 0000-0020 41 54 AT\n";
    let out = athil(&["decode", "--serial", "-"], Some(log));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err,
        "athil decode: failed to read the RT-Thread AT log: 2 problems\n  \
         line 2, column 35: expected the ASCII column after the hex bytes, showing them as \
         `OK`, found `NO`\n  \
         line 3, column 18: expected an offset range such as `0000-0020:`, found `0000-0020`\n"
    );
}
