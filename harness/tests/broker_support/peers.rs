//! Third-party peers the broker tests drive (mosquitto clients, paho): finding them, skipping
//! when absent (failing under `CI=true`), and running them to a deadline.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Whether a tool is usable; skips (or fails under CI) when it is not.
pub fn available(tool: &str, works: bool) -> bool {
    if works {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{tool} is not installed, and CI=true: .ci/run should have installed it");
    }
    eprintln!("skipped: {tool} is not installed (set CI=true to make this a failure)");
    false
}

pub fn has_command(name: &str) -> bool {
    Command::new(name)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A Python that can import paho-mqtt. Debian's package installs for the system Python, which
/// a pyenv shim earlier on PATH may hide, so both are tried.
pub fn python_with_paho() -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import paho.mqtt.client"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Runs a child to completion, killing it (and failing the test) past `within`.
pub fn finish(mut child: Child, within: Duration) -> Output {
    let deadline = Instant::now() + within;
    loop {
        match child.try_wait().expect("poll the child") {
            Some(_) => return child.wait_with_output().expect("collect output"),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("collect output");
                panic!(
                    "the tool did not finish within {within:?}; stdout {:?} stderr {:?}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            // A child process has no readiness signal to await; a short poll is the simplest
            // bounded wait.
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
