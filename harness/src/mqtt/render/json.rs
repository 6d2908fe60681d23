//! The `athil decode --format json` shape, which other tools parse:
//! `{"valid", "packets": [{"offset", "length", "type", "fields"}], "diagnostics": [{"offset",
//! "severity", "message"}]}`. The per-type field names are filled in by the decoders
//! (`decode/*.rs`, `Reader::set`) and fixed by `harness/tests/cli_decode.rs` and
//! `harness/tests/mqtt_fixtures.rs`.

use serde_json::{json, Value};

use crate::mqtt::Dissection;

/// The dissection as one JSON object; `offset` maps dissected-input offsets to the offsets
/// to show (identity for plain hex input).
pub fn to_json(d: &Dissection, offset: &dyn Fn(usize) -> usize) -> Value {
    let packets: Vec<Value> = d
        .packets
        .iter()
        .map(|p| {
            json!({
                "offset": offset(p.offset),
                "length": p.length,
                "type": p.packet_type.name(),
                "fields": Value::Object(p.json_fields.clone()),
            })
        })
        .collect();
    let diagnostics: Vec<Value> = d
        .diagnostics()
        .into_iter()
        .map(|x| {
            json!({
                "offset": offset(x.offset),
                "severity": x.severity,
                "message": x.message,
            })
        })
        .collect();
    json!({
        "valid": d.is_valid(),
        "packets": packets,
        "diagnostics": diagnostics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::dissect;

    #[test]
    fn connack_of_seed_000_has_the_documented_shape() {
        let d = dissect(&[0x20, 0x02, 0x00, 0x00]);
        assert_eq!(
            to_json(&d, &|o| o),
            json!({
                "valid": true,
                "packets": [{
                    "offset": 0, "length": 4, "type": "CONNACK",
                    "fields": {"session_present": false, "return_code": 0}
                }],
                "diagnostics": []
            })
        );
    }

    #[test]
    fn offsets_are_mapped_for_display() {
        let d = dissect(&[0xC0, 0x00, 0xD0, 0x01]);
        let v = to_json(&d, &|o| o + 9);
        assert_eq!(v["packets"][1]["offset"], 11);
        assert_eq!(v["diagnostics"][0]["offset"], 12);
        assert_eq!(v["diagnostics"][0]["severity"], "error");
        assert_eq!(v["valid"], false);
    }
}
