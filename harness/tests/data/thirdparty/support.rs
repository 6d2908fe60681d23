//! What the third-party tests share: `athil sim` and `athil broker` started as processes that
//! are stopped even when a test panics ([`Proc`]), their stdout read line by line with a
//! deadline ([`Lines`]), and the tools found or skipped ([`available`]).
//!
//! It lives beside the Python scripts it runs (`#[path]` from each test file) so the
//! third-party tests stay in the files their owner was given.

#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// The longest any one wait in these tests may take.
pub const DEADLINE: Duration = Duration::from_secs(5);

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

/// Whether `name` can be started at all.
pub fn has_command(name: &str, probe: &str) -> bool {
    Command::new(name)
        .arg(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A Python that can import pyserial. Debian's python3-serial installs for the system Python,
/// which a pyenv shim earlier on PATH may hide, so that one is tried first.
pub fn python_with_serial() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import serial"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// A script in `tests/data/thirdparty/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/thirdparty")
        .join(name)
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// A child process that is killed when dropped, so a failing test leaves nothing running.
pub struct Proc {
    child: Option<Child>,
    what: &'static str,
}

impl Proc {
    pub fn new(child: Child, what: &'static str) -> Proc {
        Proc {
            child: Some(child),
            what,
        }
    }

    /// Ctrl-C (SIGINT), as a user stops `athil sim` or `athil broker`; waits for the exit.
    pub fn interrupt(mut self) -> ExitStatus {
        let Some(child) = self.child.take() else {
            unreachable!("a Proc holds its child until it is stopped")
        };
        let sent = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        assert!(
            sent.is_ok_and(|s| s.success()),
            "send SIGINT to {}",
            self.what
        );
        let out = finish(child, DEADLINE, self.what);
        out.status
    }

    /// Whether the child already exited.
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_some())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs a child to completion, killing it (and failing the test) past `within`.
pub fn finish(mut child: Child, within: Duration, what: &str) -> Output {
    let deadline = Instant::now() + within;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().expect("collect output"),
            Ok(None) if Instant::now() < deadline => {
                // A child process has no readiness signal to await; a short poll is the
                // simplest bounded wait.
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("collect output");
                panic!(
                    "{what} did not finish within {within:?}; stdout {:?} stderr {:?}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

/// A child's stdout, line by line, read on a thread so every wait can have a deadline.
pub struct Lines {
    rx: Receiver<String>,
    /// Every line received so far, for assertions and failure messages.
    pub seen: Vec<String>,
}

impl Lines {
    pub fn of(child: &mut Child) -> Lines {
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// The first line (from now on) that `wanted` accepts, or `None` if none came within
    /// `within` or the stream ended.
    pub fn wait_for(&mut self, wanted: impl Fn(&str) -> bool, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.rx.recv_timeout(left).ok()?;
            self.seen.push(line.clone());
            if wanted(&line) {
                return Some(line);
            }
        }
    }
}

/// `athil sim` with `args`, linked at `link`; returns once it printed that the link is there.
pub fn start_sim(args: &[&str], link: &Path) -> (Proc, Lines) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_athil"))
        .arg("sim")
        .args(args)
        .arg("--link")
        .arg(link)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start athil sim");
    let mut lines = Lines::of(&mut child);
    let sim = Proc::new(child, "athil sim");
    let linked = lines.wait_for(|l| l.starts_with("athil sim: linked "), DEADLINE);
    assert!(linked.is_some(), "athil sim printed {:?}", lines.seen);
    (sim, lines)
}

/// Parses the `<label>: <HEX>` line a script printed for `label`.
pub fn hex_line(stdout: &str, label: &str) -> Vec<u8> {
    let prefix = format!("{label}: ");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no `{label}:` line in the script's output {stdout:?}"));
    athil::mqtt::parse_hex(line).unwrap_or_else(|e| panic!("`{label}:` is not hex: {e}"))
}

/// Types `typed` on a serial port (a pty opened with a short read timeout) and reads until the
/// bytes end with `end`, within [`DEADLINE`]; returns everything read.
pub fn exchange<P: std::io::Read + std::io::Write>(
    port: &mut P,
    typed: &[u8],
    end: &[u8],
) -> Vec<u8> {
    port.write_all(typed).unwrap();
    let deadline = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(end) {
        assert!(
            Instant::now() < deadline,
            "typed {:?}, got {:?}",
            String::from_utf8_lossy(typed),
            String::from_utf8_lossy(&got)
        );
        match port.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("pty read failed: {e}"),
        }
    }
    got
}

/// Reads from a serial port (a pty opened with a short read timeout) until `n` bytes arrived or
/// `within` passed; returns what arrived.
pub fn read_n<P: std::io::Read>(port: &mut P, n: usize, within: Duration) -> Vec<u8> {
    let end = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while got.len() < n && Instant::now() < end {
        let want = (n - got.len()).min(buf.len());
        match port.read(&mut buf[..want]) {
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("pty read failed: {e}"),
        }
    }
    got
}

/// Reads exactly `expected.len()` bytes (within [`DEADLINE`]) and asserts they are `expected`.
pub fn expect_bytes<P: std::io::Read>(port: &mut P, expected: &[u8]) {
    let got = read_n(port, expected.len(), DEADLINE);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected),
        "raw: {got:02X?}"
    );
}
