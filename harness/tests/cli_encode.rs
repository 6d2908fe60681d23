//! `athil encode` as a user runs it: all 14 packet types from flags, printed as the seeds print
//! hex with the AT send lines, the JSON keys tools read, and exit 2 for flags that make no valid
//! packet. Every packet encoded here is also decoded back with `athil decode --format json`.

use std::process::Command;

use serde_json::{json, Value};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_athil"))
        .args(args)
        .output()
        .expect("run athil");
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Encodes with `--format json` and checks the keys and AT lines; returns the hex.
fn encode_hex(args: &[&str]) -> String {
    let mut all = vec!["encode"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let (code, out, err) = run(&all);
    assert_eq!(code, 0, "{args:?}: {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["at_send", "hex", "length", "type"]);
    let n = v["length"].as_u64().unwrap();
    assert_eq!(v["at_send"], format!("AT+CIPSEND={n}"));
    let hex = v["hex"].as_str().unwrap().to_string();
    assert_eq!(hex.split(' ').count() as u64, n);
    assert_eq!(v["type"], args[0].to_uppercase());
    hex
}

/// The fields `athil decode` reads back from `hex`; the packet must be valid.
fn decoded_fields(hex: &str) -> Value {
    let (code, out, _) = run(&["decode", "--format", "json", hex]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["packets"].as_array().unwrap().len(), 1);
    v["packets"][0]["fields"].clone()
}

#[test]
fn seed_000_connect_is_rebuilt_byte_for_byte() {
    let args = [
        "encode",
        "connect",
        "--client-id",
        "Air601|securemode=3,signmethod=hmacsha1|",
        "--username",
        "Air601&ksf114514",
        "--password",
        "e4b931f38037ef7241455709458b4b630b22eac2",
        "--keepalive",
        "100",
    ];
    let (code, out, _) = run(&args);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "10 70 00 04 4D 51 54 54 04 C2 00 64 00 28 41 69 72 36 30 31 7C 73 65 63 75 72 65 6D 6F 64 \
         65 3D 33 2C 73 69 67 6E 6D 65 74 68 6F 64 3D 68 6D 61 63 73 68 61 31 7C 00 10 41 69 72 36 \
         30 31 26 6B 73 66 31 31 34 35 31 34 00 28 65 34 62 39 33 31 66 33 38 30 33 37 65 66 37 32 \
         34 31 34 35 35 37 30 39 34 35 38 62 34 62 36 33 30 62 32 32 65 61 63 32\n\
         114 bytes\nAT+CIPSEND=114\n"
    );
}

#[test]
fn the_send_line_is_the_chosen_modules() {
    let (code, out, err) = run(&["encode", "--module", "quectel", "pingreq"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "C0 00\n2 bytes\nAT+QISEND=0,2\n");
    let (code, out, _) = run(&[
        "encode", "pingreq", "--module", "esp-at", "--format", "json",
    ]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["at_send"], "AT+CIPSEND=2");
    // Longer than one QISEND (1460 bytes): a line per piece, as the driver sends it.
    let payload = "x".repeat(1500);
    let (code, out, _) = run(&[
        "encode",
        "--module",
        "quectel",
        "publish",
        "--topic",
        "t",
        "--payload",
        &payload,
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().skip(1).collect::<Vec<_>>(),
        ["1506 bytes", "AT+QISEND=0,1460", "AT+QISEND=0,46"]
    );
    let (code, _, err) = run(&["encode", "--module", "sim800", "pingreq"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown module dialect `sim800`"), "{err}");
}

#[test]
fn seed_packets_from_flags() {
    assert_eq!(
        encode_hex(&["connack", "--return-code", "4"]),
        "20 02 00 04"
    );
    assert_eq!(
        encode_hex(&["suback", "--packet-id", "10", "--return-code", "1"]),
        "90 03 00 0A 01"
    );
    assert_eq!(
        encode_hex(&["unsuback", "--packet-id", "10"]),
        "B0 02 00 0A"
    );
    assert_eq!(encode_hex(&["pingreq"]), "C0 00");
    assert_eq!(encode_hex(&["pingresp"]), "D0 00");
    assert_eq!(encode_hex(&["disconnect"]), "E0 00");
    let set = "/sys/a1ndPQHcX7f/device2/thing/service/property/set";
    let sub = encode_hex(&[
        "subscribe",
        "--packet-id",
        "10",
        "--filter",
        &format!("{set}:0"),
    ]);
    assert!(sub.starts_with("82 38 00 0A 00 33 2F 73 79 73"), "{sub}");
    assert!(sub.ends_with("73 65 74 00"), "{sub}");
    let unsub = encode_hex(&["unsubscribe", "--packet-id", "10", "--filter", set]);
    assert!(unsub.starts_with("A2 37 00 0A 00 33"), "{unsub}");
    // Seed 004's OneNET CONNECT.
    assert_eq!(
        encode_hex(&[
            "connect",
            "--client-id",
            "657077",
            "--username",
            "20190156",
            "--password",
            "sn888",
            "--keepalive",
            "30"
        ]),
        "10 23 00 04 4D 51 54 54 04 C2 00 1E 00 06 36 35 37 30 37 37 00 08 32 30 31 39 30 31 35 36 \
         00 05 73 6E 38 38 38"
    );
}

#[test]
fn all_fourteen_types_decode_back_to_their_flags() {
    let cases: Vec<(Vec<&str>, Value)> = vec![
        (
            vec![
                "connect",
                "--client-id",
                "dev",
                "--username",
                "u",
                "--password-hex",
                "FF 00",
                "--keepalive",
                "10",
                "--will-topic",
                "lwt",
                "--will-message",
                "bye",
                "--will-qos",
                "1",
                "--will-retain",
            ],
            json!({"protocol_name": "MQTT", "protocol_level": 4,
                   "flags": {"username": true, "password": true, "will_retain": true,
                             "will_qos": 1, "will": true, "clean_session": true},
                   "keepalive": 10, "client_id": "dev", "will_topic": "lwt",
                   "will_message": "bye", "username": "u", "password": "FF 00"}),
        ),
        (
            vec!["connack", "--session-present"],
            json!({"session_present": true, "return_code": 0}),
        ),
        (
            vec![
                "publish",
                "--topic",
                "T",
                "--payload",
                "P",
                "--qos",
                "1",
                "--packet-id",
                "10",
                "--retain",
            ],
            json!({"dup": false, "qos": 1, "retain": true, "topic": "T", "packet_id": 10,
                   "payload_hex": "50", "payload_text": "P"}),
        ),
        (
            vec![
                "publish",
                "--topic",
                "T",
                "--payload-hex",
                "01 02",
                "--qos",
                "2",
                "--packet-id",
                "7",
                "--dup",
            ],
            json!({"dup": true, "qos": 2, "retain": false, "topic": "T", "packet_id": 7,
                   "payload_hex": "01 02", "payload_text": "\u{1}\u{2}"}),
        ),
        (
            vec!["puback", "--packet-id", "10"],
            json!({"packet_id": 10}),
        ),
        (
            vec!["pubrec", "--packet-id", "11"],
            json!({"packet_id": 11}),
        ),
        (
            vec!["pubrel", "--packet-id", "12"],
            json!({"packet_id": 12}),
        ),
        (
            vec!["pubcomp", "--packet-id", "13"],
            json!({"packet_id": 13}),
        ),
        (
            vec![
                "subscribe",
                "--packet-id",
                "10",
                "--filter",
                "T:1",
                "--filter",
                "a/+/#",
            ],
            json!({"packet_id": 10, "filters": [{"filter": "T", "qos": 1},
                                                {"filter": "a/+/#", "qos": 0}]}),
        ),
        (
            vec![
                "suback",
                "--packet-id",
                "10",
                "--return-code",
                "1",
                "--return-code",
                "0x80",
            ],
            json!({"packet_id": 10, "return_codes": [1, 128]}),
        ),
        (
            vec!["unsubscribe", "--packet-id", "10", "--filter", "T"],
            json!({"packet_id": 10, "filters": ["T"]}),
        ),
        (
            vec!["unsuback", "--packet-id", "10"],
            json!({"packet_id": 10}),
        ),
        (vec!["pingreq"], json!({})),
        (vec!["pingresp"], json!({})),
        (vec!["disconnect"], json!({})),
    ];
    let mut types = std::collections::BTreeSet::new();
    for (args, want) in cases {
        types.insert(args[0]);
        let hex = encode_hex(&args);
        assert_eq!(decoded_fields(&hex), want, "{args:?} → {hex}");
    }
    assert_eq!(types.len(), 14);
}

#[test]
fn flags_that_make_no_valid_packet_exit_2() {
    for (args, says) in [
        (
            &["encode", "publish", "--topic", "T", "--qos", "1"][..],
            "failed to encode PUBLISH: QoS 1 needs a packet id",
        ),
        (
            &["encode", "publish", "--topic", "a/#"][..],
            "failed to encode PUBLISH: the topic name \"a/#\" is not valid",
        ),
        (
            &["encode", "connect", "--client-id", "x", "--password", "p"][..],
            "failed to encode CONNECT: a password needs a user name in MQTT 3.1.1",
        ),
        (
            &["encode", "connack", "--return-code", "6"][..],
            "failed to encode CONNACK: return code 6 is reserved",
        ),
        (
            &["encode", "puback", "--packet-id", "0"][..],
            "failed to encode PUBACK: packet id 0 is not allowed",
        ),
        (
            &["encode", "subscribe", "--packet-id", "1", "--filter", "t:3"][..],
            "QoS must be 0, 1 or 2, not 3",
        ),
        (
            &["encode", "suback", "--packet-id", "1", "--return-code", "8"][..],
            "`8` is not a SUBACK return code",
        ),
        (
            &["encode", "publish", "--topic", "T", "--payload-hex", "0G"][..],
            "`0G` is not hex",
        ),
    ] {
        let (code, out, err) = run(args);
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
