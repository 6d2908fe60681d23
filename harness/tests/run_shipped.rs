//! `athil run scenarios/`: every shipped scenario passes against the virtual module and the
//! broker, and every report is there: the summary line, JUnit (parsed back), one transcript and
//! one pcap per scenario, and pcaps that tshark reads as MQTT.

mod run_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use athil::module::dialect::DialectKind;
use athil::report::text::slug;
use athil::run::requires::requires;
use athil::scenario::{Action, MqttExpect};
use quick_junit::TestCaseStatus;
use run_support::*;

/// How long the whole shipped suite may take before the run counts as hung.
const SHIPPED_LIMIT: Duration = Duration::from_secs(240);

#[test]
fn every_shipped_scenario_passes_with_every_report_written() {
    let files = scenario_files("scenarios");
    assert!(
        files.len() >= 9,
        "expected the shipped scenarios, found {files:?}"
    );
    // Seed 004 and its negatives need the virtual Quectel, the raw ESP scenarios the virtual
    // ESP8266, and the dialect-neutral ones run on either. Each run skips the other's.
    let registry =
        athil::cloud::DeviceRegistry::load_dir(root().join("fixtures/devices")).expect("devices");
    let known = registry.names().map(str::to_owned).collect();
    let (scenarios, errors) = athil::scenario::load_paths(&files, &known);
    assert!(errors.is_empty(), "{errors:?}");
    let needs = |dialect: DialectKind| -> Vec<PathBuf> {
        scenarios
            .iter()
            .filter(|s| requires(s).expect("requires").dialect == Some(dialect))
            .map(|s| s.file.clone())
            .collect()
    };
    let (quectel, esp) = (needs(DialectKind::Quectel), needs(DialectKind::EspAt));
    let neutral: Vec<PathBuf> = files
        .iter()
        .filter(|f| !quectel.contains(f) && !esp.contains(f))
        .cloned()
        .collect();
    assert!(
        quectel.len() >= 3,
        "seed 004 and its negatives: {quectel:?}"
    );
    assert!(neutral.len() >= 3, "the semantic scenarios: {neutral:?}");
    let with = |a: &[PathBuf]| [a, &neutral].concat();
    check_suite(&["scenarios/"], &with(&esp), quectel.len(), 7);
    check_suite(
        &["--module", "quectel", "scenarios/"],
        &with(&quectel),
        esp.len(),
        3,
    );
}

/// Runs the shipped suite with `args` (one module, file order) and checks that exactly `ran`
/// passed, with every report written, and `skipped` others were skipped; at least
/// `connecting` of them show CONNECT and CONNACK in their pcaps (when tshark is here).
fn check_suite(args: &[&str], ran_files: &[PathBuf], skipped: usize, connecting: usize) {
    let n = ran_files.len();
    // The suite holds deliberate waits (a link left silent for 10 s, keepalive timers), so it
    // gets its own bound, generous enough for a loaded 2-core CI machine: only a hang trips it.
    let ran = spawn(args).finish(SHIPPED_LIMIT);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    let summary = format!("athil: {n} passed, 0 failed, {skipped} skipped");
    assert!(
        ran.stdout.lines().any(|l| l.starts_with(&summary)),
        "no `{summary}` line:\n{}",
        ran.both()
    );
    assert_eq!(ran.stdout.matches("\nPASS  ").count(), n, "{}", ran.stdout);
    assert!(!ran.stdout.contains("FAIL"), "{}", ran.stdout);

    let report = ran.junit();
    assert_eq!(report.tests, n + skipped, "JUnit tests");
    assert_eq!(
        (report.failures, report.errors),
        (0, 0),
        "JUnit failures, errors"
    );
    let cases: Vec<_> = report
        .test_suites
        .iter()
        .flat_map(|s| s.test_cases.iter())
        .filter(|c| !matches!(c.status, TestCaseStatus::Skipped { .. }))
        .collect();
    assert_eq!(cases.len(), n);
    for c in &cases {
        assert!(
            matches!(c.status, TestCaseStatus::Success { .. }),
            "{}: {:?}",
            c.name.as_str(),
            c.status
        );
    }
    // Each case points back at its file.
    for f in ran_files {
        let rel = f
            .strip_prefix(root())
            .expect("under the root")
            .to_string_lossy()
            .into_owned();
        let rel = rel.trim_start_matches("./");
        assert!(
            cases.iter().any(|c| c
                .classname
                .as_ref()
                .is_some_and(|k| k.as_str().ends_with(rel))),
            "no JUnit case for {rel}"
        );
    }

    let transcripts = ran.files_ending(".transcript.txt");
    let pcaps = ran.files_ending(".pcap");
    let mut passed = 0;
    for t in &transcripts {
        let text = std::fs::read_to_string(t).expect("read a transcript");
        if text.contains("scenario ok") {
            assert!(
                text.contains("serial >"),
                "{} has no serial traffic",
                t.display()
            );
            passed += 1;
        }
    }
    assert_eq!(passed, n, "transcripts that end passed: {transcripts:?}");
    assert!(pcaps.len() >= n, "{pcaps:?}");
    for p in &pcaps {
        // A pcap starts with its magic number and holds at least the global header.
        let bytes = std::fs::read(p).expect("read a pcap");
        assert!(bytes.len() >= 24, "{} is empty", p.display());
        let magic = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
        assert!(
            [0xA1B2_C3D4, 0xA1B2_3C4D].contains(&magic),
            "{}: magic {magic:08X}",
            p.display()
        );
    }

    if let Some(tshark) = tshark() {
        let seen = check_pcaps_with_tshark(tshark, ran_files, &ran.out_dir());
        assert!(
            seen >= connecting,
            "the shipped scenarios that connect: {seen}"
        );
    }
}

/// Every pcap reads as MQTT; the pcap of each scenario that expects an accepted CONNACK holds
/// CONNECT (1) and CONNACK (2) as tshark dissects them.
fn check_pcaps_with_tshark(tshark: &str, files: &[PathBuf], out: &Path) -> usize {
    let registry =
        athil::cloud::DeviceRegistry::load_dir(root().join("fixtures/devices")).expect("devices");
    let known = registry.names().map(str::to_owned).collect();
    let (scenarios, errors) = athil::scenario::load_paths(files, &known);
    assert!(errors.is_empty(), "{errors:?}");
    let mut connecting = 0;
    for s in &scenarios {
        let pcap = out.join(format!("{}.pcap", slug(&s.name)));
        let types = mqtt_types(tshark, &pcap);
        // A scenario that never puts MQTT on the wire (a link left silent) has none to show.
        let sends = s
            .steps
            .iter()
            .any(|step| matches!(step.action, Action::Write { .. } | Action::Mqtt(_)));
        assert!(
            !sends || !types.is_empty(),
            "{}: no MQTT in it",
            pcap.display()
        );
        if s.steps
            .iter()
            .any(|step| expects_accepted_connack(&step.action))
        {
            connecting += 1;
            assert!(
                types.contains(&1) && types.contains(&2),
                "{}: MQTT types {types:?}, no CONNECT and CONNACK",
                pcap.display()
            );
        }
    }
    connecting
}

/// Whether a step waits for CONNACK 0, as bytes or by fields.
fn expects_accepted_connack(action: &Action) -> bool {
    match action {
        Action::Receive(bytes) => bytes.as_slice() == [0x20, 0x02, 0x00, 0x00],
        Action::ReceiveMqtt(MqttExpect::Connack { return_code, .. }) => *return_code == Some(0),
        _ => false,
    }
}

/// The MQTT message types tshark finds in `pcap`, in order.
fn mqtt_types(tshark: &str, pcap: &Path) -> Vec<u8> {
    let out = Command::new(tshark)
        .arg("-r")
        .arg(pcap)
        .args(["-Y", "mqtt", "-T", "fields", "-e", "mqtt.msgtype"])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark could not read {}: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split(['\n', ','])
        .filter_map(|t| t.trim().parse().ok())
        .collect()
}

/// tshark must be there in CI; elsewhere its absence skips the pcap dissection, saying so.
fn tshark() -> Option<&'static str> {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("tshark");
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "tshark is not installed but CI=true: .ci/run should have installed it"
    );
    println!("skipped: tshark is not installed (apt-get install tshark)");
    None
}
