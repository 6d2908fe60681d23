//! Many modules at once: `athil run --jobs N` runs N virtual modules side by side, each slot
//! with its own broker scope; a rig file lists several slots; every run writes into a folder of
//! its own under `--out`. Real pieces throughout: the athil binary, real pseudo-terminals
//! (the rig's slots are `athil sim` processes), the embedded broker on loopback.

mod run_support;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use athil::broker::{Broker, BrokerConfig};
use athil::cloud::DeviceRegistry;
use athil::run::{EventSink, Executor, JobId, ModuleTarget, Outcome, Wifi};
use athil::scenario::load_paths;
use athil::sim::{SimConfig, CLOUD_HOSTS};
use run_support::*;

const PARALLEL: &str = "harness/tests/data/run/parallel";

#[test]
fn two_scenarios_on_one_device_fixture_at_once_see_nothing_of_each_other() {
    let ran = athil_run(&["--jobs", "2", PARALLEL]);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    assert!(
        ran.stdout.contains("athil: 2 passed, 0 failed"),
        "{}",
        ran.both()
    );
    // They did run at the same time: the run took about the longer one, not both.
    let report = ran.junit();
    let suites: Vec<&str> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(suites, ["v1", "v2"], "one JUnit suite per slot");
    for suite in &report.test_suites {
        assert_eq!(suite.test_cases.len(), 1, "each slot ran one of the two");
    }
    // Each slot's reports are in its own folder; B's transcript never shows A's downlink.
    let b = find_transcript(&ran.out_dir(), "parallel-b");
    let text = std::fs::read_to_string(&b).unwrap();
    assert!(!text.contains("for A only"), "{text}");
    let a = find_transcript(&ran.out_dir(), "parallel-a");
    assert!(std::fs::read_to_string(&a).unwrap().contains("for A only"));
    assert_ne!(a.parent(), b.parent(), "a folder per slot");
}

/// The control: the same two scenarios, run at the same time against ONE broker scope, must
/// fail. Without it the test above could pass for a reason that is not isolation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_two_scenarios_sharing_one_broker_scope_fail() {
    let registry = DeviceRegistry::load_dir(root().join("fixtures/devices")).expect("devices");
    let known = registry.names().map(str::to_owned).collect();
    let (mut scenarios, errors) = load_paths(&[root().join(PARALLEL)], &known);
    assert!(errors.is_empty(), "{errors:?}");
    scenarios.sort_by(|a, b| a.name.cmp(&b.name));
    let (events, _rx) = EventSink::channel();
    let broker = Broker::start(BrokerConfig::new(registry.clone()), events.clone())
        .await
        .expect("start the broker");
    let broker = Arc::new(broker);
    let registry = Arc::new(registry);
    let executor = |slot: u16| Executor {
        target: ModuleTarget::Virtual {
            base: Box::new(SimConfig::default()),
        },
        broker: broker.clone(),
        registry: registry.clone(),
        wifi: Some(Wifi::virtual_lab()),
        broker_host: broker.addr().ip().to_string(),
        events: events.for_slot(athil::run::SlotId(slot)),
    };
    let (a, b) = (executor(0), executor(1));
    let (_stop, stop_rx) = tokio::sync::watch::channel(None);
    let (mut sa, mut sb) = (stop_rx.clone(), stop_rx);
    let run = async {
        tokio::join!(
            a.run_job(JobId(0), &scenarios[0], &mut sa),
            b.run_job(JobId(1), &scenarios[1], &mut sb)
        )
    };
    let ((oa, _), (ob, _)) = tokio::time::timeout(RUN_LIMIT, run)
        .await
        .expect("both ended in time");
    assert!(
        !oa.is_passed() || !ob.is_passed(),
        "sharing a scope went unnoticed: {oa:?} {ob:?}"
    );
    assert!(matches!(ob, Outcome::Failed(_)), "B must notice A: {ob:?}");
    let _ = broker.shutdown(Duration::from_secs(3)).await;
}

#[test]
fn two_runs_sharing_one_out_folder_write_into_folders_of_their_own() {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().join("out");
    let out_arg = out_arg.to_str().unwrap();
    let seed = "scenarios/seeds/001-ly1-connect-disconnect.yaml";
    let first = run_with_out(&[seed], out_arg);
    let second = run_with_out(&[seed, "scenarios/seeds/000-air601-connect.yaml"], out_arg);
    assert_eq!(first, Some(0));
    assert_eq!(second, Some(0));
    let runs: Vec<PathBuf> = std::fs::read_dir(out.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.is_symlink())
        .collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let cases = |dir: &Path| {
        let xml = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
        quick_junit::Report::deserialize_from_str(&xml)
            .unwrap()
            .tests
    };
    let mut counts: Vec<usize> = runs.iter().map(|d| cases(d)).collect();
    counts.sort();
    assert_eq!(counts, [1, 2], "each run's JUnit holds its own cases");
    let latest = std::fs::canonicalize(out.path().join("out/latest")).unwrap();
    assert_eq!(cases(&latest), 2, "latest is the second run");
}

fn run_with_out(args: &[&str], out: &str) -> Option<i32> {
    let status = Command::new(ATHIL)
        .current_dir(ROOT)
        .arg("run")
        .args(args)
        .args(["--out", out])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run athil");
    status.code()
}

/// The README's main job: seven virtual ESP8266s and a virtual Quectel, every shipped scenario
/// on a slot that speaks its dialect, none skipped.
#[test]
fn the_shipped_suite_passes_on_the_virtual_lab_rig() {
    let ran = athil_run(&["--rig", "fixtures/rigs/virtual-lab.yaml", "scenarios"]);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    assert!(ran.stdout.contains(", 0 skipped"), "{}", ran.stdout);
    let report = ran.junit();
    assert_eq!(report.test_suites.len(), 8, "one suite per slot");
    let total: usize = report.test_suites.iter().map(|s| s.test_cases.len()).sum();
    assert_eq!(total as u64, ran_scenarios(&ran.stdout), "{}", ran.stdout);
    // Seed 004 ran on the Quectel.
    let ec20 = report
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == "ec20")
        .expect("a suite for the ec20 slot");
    assert!(
        ec20.test_cases
            .iter()
            .any(|c| c.name.as_str().starts_with("seed 004")),
        "{}",
        ran.stdout
    );
    // Progress and the slot on every result line.
    assert!(ran.stdout.contains(" | PASS  "), "{}", ran.stdout);
    assert!(ran.stdout.contains("left)"), "{}", ran.stdout);
}

/// `N` of `athil: N passed, …`.
fn ran_scenarios(stdout: &str) -> u64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("athil: ") && l.contains(" passed, "))
        .expect("a summary line");
    line["athil: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// An `athil sim` process on its own pseudo-terminal, its names pointing at `gateway`.
struct SimProcess {
    child: Child,
    link: PathBuf,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn athil_sim(gateway: SocketAddr, link: PathBuf) -> SimProcess {
    let mut cmd = Command::new(ATHIL);
    cmd.arg("sim").arg("--link").arg(&link);
    for host in CLOUD_HOSTS {
        cmd.arg("--map").arg(format!("{host}={gateway}"));
    }
    cmd.args(["--ap", "athil-lab:slots-wpa-key"]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start athil sim");
    // It says where it is once the pty and the link exist.
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let mut linked = false;
    for line in lines.by_ref().take(5) {
        if line.unwrap_or_default().contains("linked") {
            linked = true;
            break;
        }
    }
    assert!(linked, "athil sim did not report its link");
    // Keep reading its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    SimProcess { child, link }
}

fn free_gateway() -> SocketAddr {
    let probe = TcpListener::bind("127.0.0.1:0").expect("bind a probe");
    probe.local_addr().expect("its address")
}

#[test]
fn a_rig_of_two_athil_sim_slots_runs_every_scenario_on_each_slot() {
    let dir = tempfile::tempdir().unwrap();
    let (ga, gb) = (free_gateway(), free_gateway());
    let a = athil_sim(ga, dir.path().join("slot-a"));
    let b = athil_sim(gb, dir.path().join("slot-b"));
    let rig = dir.path().join("rig.yaml");
    std::fs::write(
        &rig,
        format!(
            "module: esp-at\nwifi: {{ ssid: athil-lab, password_env: ATHIL_TEST_SLOTS_WIFI }}\n\
             slots:\n\
             \x20 - name: bench-a\n    port: {}\n    broker: {{ listen: {ga} }}\n\
             \x20 - name: bench-b\n    port: {}\n    broker: {{ listen: {gb} }}\n",
            a.link.display(),
            b.link.display()
        ),
    )
    .unwrap();
    let ran = spawn_with_env(
        &[
            "--rig",
            rig.to_str().unwrap(),
            "--each-slot",
            "scenarios/seeds/000-air601-connect.yaml",
            "scenarios/seeds/001-ly1-connect-disconnect.yaml",
            "scenarios/seeds/002-device2-session.yaml",
        ],
        &[("ATHIL_TEST_SLOTS_WIFI", "slots-wpa-key")],
    )
    .finish(RUN_LIMIT);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    let report = ran.junit();
    let suites: Vec<(&str, usize)> = report
        .test_suites
        .iter()
        .map(|s| (s.name.as_str(), s.test_cases.len()))
        .collect();
    assert_eq!(suites, [("bench-a", 3), ("bench-b", 3)], "{}", ran.stdout);
    for s in &report.test_suites {
        let module = s
            .properties
            .iter()
            .find(|p| p.name.as_str() == "module")
            .map(|p| p.value.to_string());
        assert!(
            module
                .as_deref()
                .is_some_and(|m| m.contains("esp-at module on")),
            "{module:?}"
        );
    }
    assert!(
        std::fs::read_dir(ran.out_dir().join("bench-a"))
            .unwrap()
            .count()
            > 0
    );
    assert_no_secret(&ran.out_dir(), "slots-wpa-key");
}

#[test]
fn two_hardware_slots_on_one_gateway_address_are_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let g = free_gateway();
    let a = athil_sim(g, dir.path().join("slot-a"));
    let b = athil_sim(g, dir.path().join("slot-b"));
    let rig = dir.path().join("rig.yaml");
    std::fs::write(
        &rig,
        format!(
            "broker: {{ listen: {g} }}\nslots:\n\
             \x20 - {{ name: one, port: {} }}\n\
             \x20 - {{ name: two, port: {} }}\n",
            a.link.display(),
            b.link.display()
        ),
    )
    .unwrap();
    let ran = athil_run(&["--rig", rig.to_str().unwrap(), "scenarios/seeds"]);
    assert_eq!(ran.code, Some(2), "{}", ran.both());
    assert!(
        ran.stderr.contains("slots `one` and `two` both listen on"),
        "{}",
        ran.stderr
    );
}

/// No file under `dir` holds `secret`.
fn assert_no_secret(dir: &Path, secret: &str) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                let hit = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
                assert!(!hit, "{} holds the Wi-Fi password", p.display());
            }
        }
    }
}

#[test]
fn a_scenario_no_slot_can_run_is_skipped_with_each_slots_reason() {
    let ran = athil_run(&["--jobs", "2", "harness/tests/data/run/requires"]);
    assert_eq!(ran.code, Some(0), "skipped is not failed: {}", ran.both());
    assert!(
        ran.stdout.contains("athil: 1 passed, 0 failed, 2 skipped"),
        "{}",
        ran.stdout
    );
    let quectel = ran
        .stdout
        .lines()
        .find(|l| l.contains("SKIP  requires: a Quectel module"))
        .unwrap_or_else(|| panic!("{}", ran.stdout));
    assert!(
        quectel.contains(
            "no slot can run it (`v1`, `v2`: it speaks quectel and the slot's module esp-at)"
        ),
        "{quectel}"
    );
    assert!(
        ran.stdout.contains("the slot's firmware lacks ftp"),
        "{}",
        ran.stdout
    );
    let report = ran.junit();
    assert_eq!(report.tests, 3);
    let skipped = case(&report, "requires: a firmware with FTP");
    assert!(
        matches!(skipped.status, quick_junit::TestCaseStatus::Skipped { .. }),
        "{:?}",
        skipped.status
    );
}

#[test]
fn a_requirement_with_a_typo_is_placed_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.yaml");
    std::fs::write(
        &file,
        "name: typo\ndevice: aliyun/device2\nrequires: { dialekt: quectel }\nsteps:\n  - send: AT\n    expect: OK\n",
    )
    .unwrap();
    let ran = athil_run(&[file.to_str().unwrap()]);
    assert_eq!(ran.code, Some(2), "{}", ran.both());
    assert!(
        ran.stderr.contains("typo.yaml:3:") && ran.stderr.contains("dialekt"),
        "{}",
        ran.stderr
    );
}
