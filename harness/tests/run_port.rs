//! Pointing `athil run` at a module on a serial port, as a lab does: the module here is a
//! virtual one this test spawns itself on a pseudo-terminal, with its DNS sending the cloud's
//! host names to the broker address given by `--listen` (or the rig's `broker.listen`).

mod run_support;

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use athil::sim::{self, AccessPoint, NameMap, SimConfig, SimHandle};
use run_support::*;

const SEED_000: &str = "scenarios/seeds/000-air601-connect.yaml";
/// The lab network of these tests and its password (a secret: it must not reach the reports).
const SSID: &str = "athil-lab";
const PASSWORD: &str = "port-test-wpa-key";

/// A free port on 127.0.0.1 for the broker (freed again before athil binds it).
fn free_gateway() -> SocketAddr {
    let probe = TcpListener::bind("127.0.0.1:0").expect("bind a probe");
    probe.local_addr().expect("its address")
}

/// A virtual module on its own pty that resolves the cloud's names to `gateway` and sees the
/// lab network and an open one.
fn lab_module(gateway: SocketAddr) -> SimHandle {
    let config = SimConfig {
        names: NameMap::cloud(gateway),
        access_points: vec![
            AccessPoint::new(SSID, PASSWORD),
            AccessPoint::new("athil-open", ""),
        ],
        ..SimConfig::default()
    };
    sim::spawn(config).expect("spawn the virtual module")
}

fn pty(module: &SimHandle) -> String {
    module.device_path().to_string_lossy().into_owned()
}

#[test]
fn a_module_on_a_port_runs_a_scenario_that_needs_no_rig() {
    let gateway = free_gateway();
    let module = lab_module(gateway);
    let listen = gateway.to_string();
    let ran = athil_run(&[
        &data("port/open-network.yaml"),
        "--port",
        &pty(&module),
        "--listen",
        &listen,
    ]);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    assert!(
        ran.stdout.contains("athil: 1 passed, 0 failed"),
        "{}",
        ran.stdout
    );
    // The module was reached through the port given, and reset like any real one.
    let transcript = &ran.files_ending(".transcript.txt")[0];
    let text = std::fs::read_to_string(transcript).expect("read the transcript");
    assert!(text.contains(r"serial >        AT+RST\r\n"), "{text}");
    assert!(ran.elapsed < Duration::from_secs(15), "{:?}", ran.elapsed);
    assert!(module.shutdown(), "the virtual module's threads ended");
}

#[test]
fn a_rig_file_naming_the_port_runs_a_shipped_seed() {
    let gateway = free_gateway();
    let module = lab_module(gateway);
    let dir = tempfile::tempdir().expect("a temp dir");
    let rig = dir.path().join("rig.yaml");
    std::fs::write(
        &rig,
        format!(
            "module: esp-at\nport: {}\nwifi:\n  ssid: {SSID}\n  password_env: ATHIL_TEST_RIG_WIFI\n\
             broker:\n  listen: {gateway}\n",
            pty(&module)
        ),
    )
    .expect("write the rig file");
    let rig = rig.to_string_lossy().into_owned();
    let ran = spawn_with_env(
        &[SEED_000, "--rig", &rig],
        &[("ATHIL_TEST_RIG_WIFI", PASSWORD)],
    )
    .finish(RUN_LIMIT);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    assert!(
        ran.stdout.contains("athil: 1 passed, 0 failed"),
        "{}",
        ran.stdout
    );
    // The rig's password is a secret like any other.
    assert!(!ran.stdout.contains(PASSWORD));
    for f in ran.files_ending("") {
        let bytes = std::fs::read(&f).expect("read a report");
        assert!(
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "{} holds the rig's Wi-Fi password",
            f.display()
        );
    }
    assert!(module.shutdown(), "the virtual module's threads ended");
}

#[test]
fn a_module_on_a_port_runs_a_shipped_seed() {
    let gateway = free_gateway();
    let module = lab_module(gateway);
    let listen = gateway.to_string();
    // A lab names the network on the command line and keeps its password in the environment.
    let ran = spawn_with_env(
        &[
            SEED_000,
            "--port",
            &pty(&module),
            "--listen",
            &listen,
            "--wifi-ssid",
            SSID,
        ],
        &[("ATHIL_WIFI_PASSWORD", PASSWORD)],
    )
    .finish(RUN_LIMIT);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    assert!(
        ran.stdout.contains("athil: 1 passed, 0 failed"),
        "{}",
        ran.stdout
    );
    assert!(module.shutdown());
}

#[test]
fn a_port_that_is_not_a_terminal_is_unusable_input_with_exit_2() {
    // Was: a regular file given as --port failed each scenario's set-up and exited 1.
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("ttyUSB0");
    std::fs::write(&file, "").expect("write a plain file");
    let ran = athil_run(&[
        &data("port/open-network.yaml"),
        "--port",
        file.to_str().expect("a UTF-8 path"),
    ]);
    assert_eq!(ran.code, Some(2), "{}", ran.both());
    assert!(
        ran.stderr.contains(&file.display().to_string()),
        "{}",
        ran.both()
    );
    assert!(ran.stderr.contains("not a terminal"), "{}", ran.both());
}
