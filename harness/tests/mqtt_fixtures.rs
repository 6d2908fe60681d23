//! Every packet fixture from the seeds (`fixtures/packets/`) through the real `athil decode
//! --format json` binary, against `fixtures/packets/expected.yaml` (and
//! `fixtures/packets/serial/expected.yaml` for AT-framing captures): exit code, packets, field
//! values, and each diagnostic at its byte offset.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/packets")
}

/// The keys `athil decode --format json` promises for each packet type; other tools rely on
/// exactly these.
fn documented_keys(packet_type: &str) -> &'static [&'static str] {
    match packet_type {
        "CONNECT" => &[
            "protocol_name",
            "protocol_level",
            "flags",
            "keepalive",
            "client_id",
            "will_topic",
            "will_message",
            "username",
            "password",
        ],
        "CONNACK" => &["session_present", "return_code"],
        "PUBLISH" => &[
            "dup",
            "qos",
            "retain",
            "topic",
            "packet_id",
            "payload_hex",
            "payload_text",
        ],
        "SUBSCRIBE" | "UNSUBSCRIBE" => &["packet_id", "filters"],
        "SUBACK" => &["packet_id", "return_codes"],
        "PUBACK" | "PUBREC" | "PUBREL" | "PUBCOMP" | "UNSUBACK" => &["packet_id"],
        "PINGREQ" | "PINGRESP" | "DISCONNECT" => &[],
        other => panic!("unknown packet type {other}"),
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn hex_files(dir: &Path, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.ends_with(".hex").then(|| format!("{prefix}{name}"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_fixture_decodes_as_expected() {
    let dir = fixtures();
    let expected: Value = serde_yaml::from_str(
        &std::fs::read_to_string(dir.join("expected.yaml")).expect("read expected.yaml"),
    )
    .expect("parse expected.yaml");
    let mut table = expected["fixtures"]
        .as_object()
        .expect("a `fixtures` map")
        .clone();
    // Captures that exercise the AT framing rather than a seed's packet keep their expectations
    // beside them, in the same format.
    let serial_expected = dir.join("serial/expected.yaml");
    if serial_expected.exists() {
        let more: Value = serde_yaml::from_str(
            &std::fs::read_to_string(&serial_expected).expect("read serial/expected.yaml"),
        )
        .expect("parse serial/expected.yaml");
        for (name, want) in more["fixtures"]
            .as_object()
            .expect("a `fixtures` map in serial/expected.yaml")
        {
            assert!(
                table.insert(name.clone(), want.clone()).is_none(),
                "{name} has expectations in both expected.yaml files"
            );
        }
    }

    let mut files = hex_files(&dir, "");
    files.extend(hex_files(&dir.join("serial"), "serial/"));
    let listed: Vec<String> = table.keys().cloned().collect();
    let mut sorted_listed = listed.clone();
    sorted_listed.sort();
    assert_eq!(
        files, sorted_listed,
        "every fixture has an expectation and vice versa"
    );

    for name in &listed {
        check(&dir, name, &table[name]);
    }
}

fn check(dir: &Path, name: &str, want: &Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_athil"));
    cmd.args(["decode", "--format", "json", "--file"])
        .arg(dir.join(name));
    if want["serial"] == Value::Bool(true) {
        cmd.arg("--serial");
    }
    let out = cmd.output().expect("run athil");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let exit = out.status.code().unwrap();
    assert_eq!(
        Some(exit as u64),
        want["exit"].as_u64(),
        "{name}: exit\n{stdout}\n{stderr}"
    );

    if exit == 2 {
        assert!(
            stdout.is_empty(),
            "{name}: nothing on stdout for unusable input"
        );
        for s in want["stderr"].as_array().unwrap() {
            let s = s.as_str().unwrap();
            assert!(stderr.contains(s), "{name}: stderr lacks {s:?}:\n{stderr}");
        }
        return;
    }

    let got: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{name}: stdout is not one JSON object ({e}):\n{stdout}"));
    assert_eq!(
        keys(&got),
        keys(&serde_json::json!({"valid":0,"packets":0,"diagnostics":0}))
    );
    assert_eq!(got["valid"], Value::Bool(exit == 0), "{name}: valid");

    let packets = got["packets"].as_array().unwrap();
    let want_packets = want["packets"].as_array().unwrap();
    assert_eq!(
        packets.len(),
        want_packets.len(),
        "{name}: packets\n{stdout}"
    );
    for (i, (p, w)) in packets.iter().zip(want_packets).enumerate() {
        assert_eq!(
            keys(p),
            ["fields", "length", "offset", "type"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            "{name}: packet {i} keys"
        );
        for k in ["offset", "length", "type"] {
            assert_eq!(p[k], w[k], "{name}: packet {i} {k}");
        }
        let fields = &p["fields"];
        for (k, v) in w["fields"].as_object().unwrap() {
            assert_eq!(&fields[k], v, "{name}: packet {i} field {k}");
        }
        if let (Some(text), None) = (
            fields["payload_text"].as_str(),
            w["fields"].get("payload_hex"),
        ) {
            assert_eq!(
                fields["payload_hex"].as_str().unwrap(),
                athil::mqtt::to_hex(text.as_bytes()),
                "{name}: payload_hex is the payload_text's bytes"
            );
        }
        if exit == 0 {
            let documented: BTreeSet<String> = documented_keys(p["type"].as_str().unwrap())
                .iter()
                .map(|s| s.to_string())
                .collect();
            assert_eq!(keys(fields), documented, "{name}: packet {i} field names");
            if p["type"] == "CONNECT" {
                assert_eq!(
                    keys(&fields["flags"]),
                    [
                        "clean_session",
                        "password",
                        "username",
                        "will",
                        "will_qos",
                        "will_retain"
                    ]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                    "{name}: CONNECT flags"
                );
            }
        }
    }

    let diags = got["diagnostics"].as_array().unwrap();
    let want_diags = want["diagnostics"].as_array().unwrap();
    assert_eq!(
        diags.len(),
        want_diags.len(),
        "{name}: diagnostics\n{stdout}"
    );
    for (d, w) in diags.iter().zip(want_diags) {
        assert_eq!(
            keys(d),
            keys(&serde_json::json!({"offset":0,"severity":0,"message":0}))
        );
        assert_eq!(d["offset"], w["offset"], "{name}: {d}");
        assert_eq!(d["severity"], w["severity"], "{name}: {d}");
        let says = w["says"].as_str().unwrap();
        assert!(
            d["message"].as_str().unwrap().contains(says),
            "{name}: message\n  got  {}\n  want {says}",
            d["message"]
        );
    }
}
