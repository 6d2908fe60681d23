//! The committed JSON Schema is what `athil schema` writes, and every example in
//! `docs/scenario-format.md` is a valid scenario that the schema accepts too.
//!
//! The schema check uses a small draft-07 validator below, covering the keywords schemars
//! emits (type, enum, properties, required, additionalProperties, minProperties,
//! maxProperties, items, anyOf, oneOf, allOf, $ref, pattern, minimum, maximum), rather than a
//! JSON Schema crate and its dependencies.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use athil::cloud::DeviceRegistry;
use athil::scenario::{load_str, schema::schema_json};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_committed_schema_is_what_athil_schema_writes() {
    let path = repo().join("scenarios/scenario.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == schema_json(),
        "scenarios/scenario.schema.json is stale: run `cargo run -- schema --out \
         scenarios/scenario.schema.json`"
    );
    let parsed: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(parsed["$schema"], "http://json-schema.org/draft-07/schema#");
}

/// The ```yaml blocks of the format documentation, with the line each starts on.
fn doc_examples() -> Vec<(usize, String)> {
    let doc = std::fs::read_to_string(repo().join("docs/scenario-format.md")).unwrap();
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        match (&mut current, line.trim_end()) {
            (None, "```yaml") => current = Some((i + 2, String::new())),
            (Some(_), "```") => out.extend(current.take()),
            (Some((_, text)), l) => {
                text.push_str(l);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

#[test]
fn every_doc_example_is_a_valid_scenario() {
    let registry = DeviceRegistry::load_dir(repo().join("fixtures/devices")).unwrap();
    let devices: BTreeSet<String> = registry.names().map(str::to_string).collect();
    let examples = doc_examples();
    assert!(examples.len() >= 12, "one example per step kind at least");
    let mut kinds = BTreeSet::new();
    for (line, text) in &examples {
        match load_str(text, Path::new("docs/scenario-format.md"), &devices) {
            Ok(s) => kinds.extend(s.steps.iter().map(|st| st.action.kind())),
            Err(e) => panic!("the example at docs line {line} is not valid: {e:#?}"),
        }
    }
    let all = [
        "send",
        "write",
        "expect",
        "expect_not",
        "receive",
        "mqtt",
        "receive_mqtt",
        "join",
        "open",
        "close",
        "expect_closed",
        "broker_saw",
        "broker_refused",
        "broker_fault",
        "broker_dropped",
        "cloud_publish",
        "wait",
    ];
    assert_eq!(kinds, all.into_iter().collect::<BTreeSet<_>>());
}

#[test]
fn every_doc_example_passes_the_schema() {
    let schema: Value = serde_json::from_str(&schema_json()).unwrap();
    for (line, text) in doc_examples() {
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        let mut problems = Vec::new();
        validate(&schema, &schema, &doc, "", &mut problems);
        assert!(problems.is_empty(), "docs line {line}: {problems:#?}");
    }
}

#[test]
fn the_schema_rejects_what_the_loader_rejects() {
    let schema: Value = serde_json::from_str(&schema_json()).unwrap();
    let bad = [
        "name: n\ndevice: d\nsteps:\n  - sned: AT\n",
        "name: n\ndevice: d\nsteps:\n  - send: AT\n    wait: 1s\n",
        "name: n\ndevice: d\nsteps:\n  - expect_not: ERROR\n",
        "name: n\ndevice: d\nsteps:\n  - mqtt: {publish: {topic: t, qso: 1}}\n",
        "name: n\ndevice: d\nsteps:\n  - write: 10 GG\n",
        "name: n\ndevice: d\nsteps:\n  - wait: soon\n",
        "name: n\nsteps:\n  - wait: 1s\n",
        "name: n\ndevice: d\nsteps:\n  - broker_fault: {delay: {}, drop_link: {}}\n",
        "name: n\ndevice: d\nsteps:\n  - broker_fault: {}\n",
        "name: n\ndevice: d\nsteps:\n  - broker_fault: drop_link\n",
        "name: n\ndevice: d\nsteps:\n  - broker_dropped: {packet: publsh}\n",
        "name: n\ndevice: d\nsteps:\n  - wait: 1s\n    device: all\n",
        "name: n\ndevice: d\ncloud: strict\nsteps:\n  - wait: 1s\n",
        "name: n\ndevice: d\nsteps:\n  - open: {host: h}\n",
        "name: n\ndevice: d\nsteps:\n  - open: {host: h, port: 70000}\n",
        "name: n\ndevice: d\nsteps:\n  - close: {lnk: 1}\n",
        "name: n\ndevice: d\nsteps:\n  - join: {ssid: lab}\n",
        "name: n\ndevice: d\nsteps:\n  - expect_closed: {}\n    link: 1\n",
    ];
    for text in bad {
        let doc: Value = serde_yaml::from_str(text).unwrap();
        let mut problems = Vec::new();
        validate(&schema, &schema, &doc, "", &mut problems);
        assert!(!problems.is_empty(), "the schema accepted:\n{text}");
    }
}

fn validate(root: &Value, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    let Some(s) = schema.as_object() else {
        if schema == &Value::Bool(false) {
            out.push(format!("{at}: not allowed"));
        }
        return;
    };
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/definitions/");
        validate(root, &root["definitions"][name], v, at, out);
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_u64() || v.is_i64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => true,
        });
        if !ok {
            out.push(format!("{at}: expected {types:?}, found {v}"));
            return;
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            out.push(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    if let (Some(min), Some(n)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if n < min {
            out.push(format!("{at}: {n} < {min}"));
        }
    }
    if let (Some(max), Some(n)) = (s.get("maximum").and_then(Value::as_f64), v.as_f64()) {
        if n > max {
            out.push(format!("{at}: {n} > {max}"));
        }
    }
    if let (Some(p), Some(text)) = (s.get("pattern").and_then(Value::as_str), v.as_str()) {
        if !regex::Regex::new(p).unwrap().is_match(text) {
            out.push(format!("{at}: {text:?} does not match {p}"));
        }
    }
    if let Some(obj) = v.as_object() {
        if let Some(min) = s.get("minProperties").and_then(Value::as_u64) {
            if (obj.len() as u64) < min {
                out.push(format!("{at}: fewer than {min} properties"));
            }
        }
        if let Some(max) = s.get("maxProperties").and_then(Value::as_u64) {
            if obj.len() as u64 > max {
                out.push(format!("{at}: more than {max} properties"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(req) = s.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    out.push(format!("{at}: missing {r}"));
                }
            }
        }
        for (k, val) in obj {
            let path = format!("{at}.{k}");
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(root, ps, val, &path, out),
                None => {
                    if let Some(extra) = s.get("additionalProperties") {
                        validate(root, extra, val, &path, out);
                    }
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            validate(root, items, item, &format!("{at}[{i}]"), out);
        }
    }
    let passes = |sub: &Value| {
        let mut p = Vec::new();
        validate(root, sub, v, at, &mut p);
        p.is_empty()
    };
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            validate(root, sub, v, at, out);
        }
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
        if !any.iter().any(passes) {
            out.push(format!("{at}: {v} matches none of anyOf"));
        }
    }
    if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
        let n = one.iter().filter(|sub| passes(sub)).count();
        if n != 1 {
            out.push(format!("{at}: {v} matches {n} of oneOf, not exactly one"));
        }
    }
}
