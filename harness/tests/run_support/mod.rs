//! Shared helpers for the end-to-end tests of `athil run`: the real binary run from the
//! workspace root with a hard time limit (killed, never waited on forever), its console and JUnit
//! read back, and the executor driven in-process against the real broker and virtual module when
//! a test needs the structured events rather than their rendering.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus};

mod events;
mod leaks;
// Not every test binary drives the executor in-process, or looks for leaks.
#[allow(unused_imports)]
pub use events::*;
#[allow(unused_imports)]
pub use leaks::*;

/// The workspace root: `athil run` resolves `fixtures/devices` and `scenarios/` from here.
pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
/// This suite's scenarios, relative to [`ROOT`].
pub const DATA: &str = "harness/tests/data/run";
pub const ATHIL: &str = env!("CARGO_BIN_EXE_athil");

/// The longest any single `athil run` here may take before it is killed and the test fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(40);

/// A test scenario's path relative to [`ROOT`], e.g. `data("fail/module-silent.yaml")`.
pub fn data(rel: &str) -> String {
    format!("{DATA}/{rel}")
}

pub fn root() -> PathBuf {
    PathBuf::from(ROOT)
}

/// An `athil run` under way: its output is collected by threads so a full pipe never stalls it,
/// and dropping it kills the process, so a failing test leaves nothing behind.
pub struct Running {
    child: Child,
    started: Instant,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    out: Option<tempfile::TempDir>,
}

/// What a finished `athil run` left: exit code, output, time taken, and its `--out` directory.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub out: tempfile::TempDir,
}

impl Ran {
    /// The run's `--out` directory (`out/` inside a temp dir, so a run that writes nothing
    /// leaves it absent).
    pub fn out_root(&self) -> PathBuf {
        self.out.path().join("out")
    }

    /// The run's own report folder: `<out>/latest`, the link to the folder the run created.
    pub fn out_dir(&self) -> PathBuf {
        self.out_root().join("latest")
    }

    /// Console and error output together, for failure messages.
    pub fn both(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }

    pub fn junit(&self) -> Report {
        let path = self.out_dir().join("junit.xml");
        let xml = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}\n{}", path.display(), self.both()));
        Report::deserialize_from_str(&xml)
            .unwrap_or_else(|e| panic!("parse {}: {e}\n{xml}", path.display()))
    }

    /// Files of the out directory whose names end with `suffix`, sorted.
    pub fn files_ending(&self, suffix: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.out_dir())
            .expect("read the out directory")
            .map(|e| e.expect("read an out directory entry").path())
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .collect();
        files.sort();
        files
    }
}

/// Starts `athil run <args> --out <fresh temp dir>` in the workspace root.
pub fn spawn(args: &[&str]) -> Running {
    spawn_with_env(args, &[])
}

pub fn spawn_with_env(args: &[&str], env: &[(&str, &str)]) -> Running {
    let out = tempfile::tempdir().expect("create a temp dir");
    let mut cmd = Command::new(ATHIL);
    cmd.current_dir(ROOT)
        .arg("run")
        .args(args)
        .arg("--out")
        .arg(out.path().join("out"))
        .env_remove("ATHIL_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start athil");
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let readers = vec![
        pump(child.stdout.take().expect("piped stdout"), stdout.clone()),
        pump(child.stderr.take().expect("piped stderr"), stderr.clone()),
    ];
    Running {
        child,
        started: Instant::now(),
        stdout,
        stderr,
        readers,
        out: Some(out),
    }
}

fn pump(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock()
                .expect("output buffer")
                .extend_from_slice(&buf[..n]);
        }
    })
}

impl Running {
    /// The run's own report folder: `<out>/latest`, the link to the folder the run created.
    pub fn out_dir(&self) -> PathBuf {
        self.out
            .as_ref()
            .expect("the out directory")
            .path()
            .join("out/latest")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().expect("output buffer")).into_owned()
    }

    /// Waits until stdout holds `needle`; false if the process ends or `limit` passes first.
    pub fn wait_for_stdout(&mut self, needle: &str, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if self.stdout_so_far().contains(needle) {
                return true;
            }
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return self.stdout_so_far().contains(needle);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Whether the process has not exited yet.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal` (e.g. `-INT`) to this process only, by its id.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {} failed", self.pid());
    }

    /// Waits for the exit, at most `limit`; past it the process is killed and the test fails.
    pub fn finish(mut self, limit: Duration) -> Ran {
        let until = Instant::now() + limit;
        let code = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.code(),
                Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
                Ok(None) | Err(_) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!(
                        "athil run did not end within {limit:?}; killed it.\n--- stdout so far\n{}",
                        self.stdout_so_far()
                    );
                }
            }
        };
        let elapsed = self.started.elapsed();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let text = |b: &Arc<Mutex<Vec<u8>>>| {
            String::from_utf8_lossy(&b.lock().expect("output buffer")).into_owned()
        };
        Ran {
            code,
            stdout: text(&self.stdout),
            stderr: text(&self.stderr),
            elapsed,
            out: self.out.take().expect("the out directory is taken once"),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `athil run <args>` to its end, within [`RUN_LIMIT`].
pub fn athil_run(args: &[&str]) -> Ran {
    spawn(args).finish(RUN_LIMIT)
}

/// The JUnit test case of scenario `name`.
pub fn case<'a>(report: &'a Report, name: &str) -> &'a TestCase {
    report
        .test_suites
        .iter()
        .flat_map(|s| s.test_cases.iter())
        .find(|c| c.name.as_str() == name)
        .unwrap_or_else(|| {
            let names: Vec<&str> = report
                .test_suites
                .iter()
                .flat_map(|s| s.test_cases.iter().map(|c| c.name.as_str()))
                .collect();
            panic!("no JUnit test case `{name}`; there are {names:?}")
        })
}

/// The `<failure>` of a test case: its message attribute and its text.
pub fn junit_failure(case: &TestCase) -> (String, String) {
    match &case.status {
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Failure,
            message,
            description,
            ..
        } => (
            message
                .as_ref()
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default(),
            description
                .as_ref()
                .map(|d| d.as_str().to_owned())
                .unwrap_or_default(),
        ),
        other => panic!(
            "test case `{}` is not a failure: {other:?}",
            case.name.as_str()
        ),
    }
}

/// The console's line for a failed step, `  FAIL    1.001s  <label> (line N)`, and the time it
/// shows.
pub fn failed_step_line(stdout: &str, label: &str, line: usize) -> (String, Duration) {
    let tail = format!("{label} (line {line})");
    let found = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("FAIL ") && l.ends_with(&tail) && l.starts_with("  "))
        .unwrap_or_else(|| panic!("no console line `FAIL … {tail}` in:\n{stdout}"));
    let secs = found
        .split_whitespace()
        .nth(1)
        .and_then(|t| t.strip_suffix('s'))
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no step time on `{found}`"));
    (found.to_owned(), Duration::from_secs_f64(secs))
}

/// The indented block the console prints under a failed step (message, expected, actual),
/// without the serial dump that follows it.
pub fn failure_block(stdout: &str, label: &str, line: usize) -> String {
    let (step_line, _) = failed_step_line(stdout, label, line);
    stdout
        .lines()
        .skip_while(|l| *l != step_line)
        .skip(1)
        .take_while(|l| {
            let l2 = l.trim_start();
            l.starts_with("        ")
                && !l2.starts_with("last serial")
                && !l2.starts_with("serial bytes")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `*.yaml` files under `dir` (relative to [`ROOT`]), recursively.
pub fn scenario_files(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read a scenario directory") {
            let path = entry.expect("read a directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(dir), &mut out);
    out.sort();
    out
}

/// A run of one scenario that must fail at one step, checked the same way for every case: exit
/// code 1, the step's `FAIL` line on the console, and the step named in JUnit's failure message
/// and text.
pub struct StepFailure {
    pub ran: Ran,
    /// The console's block under the failed step (message, expected, actual).
    pub console: String,
    /// How long the console says the step took.
    pub step_time: Duration,
    /// JUnit's failure message attribute and failure text.
    pub junit_message: String,
    pub junit_text: String,
}

pub fn expect_step_failure(file: &str, scenario: &str, label: &str, line: usize) -> StepFailure {
    let ran = athil_run(&[file]);
    assert_eq!(ran.code, Some(1), "{}", ran.both());
    let (_, step_time) = failed_step_line(&ran.stdout, label, line);
    let console = failure_block(&ran.stdout, label, line);
    let scenario_line = format!("FAIL  {scenario}");
    assert!(
        ran.stdout.lines().any(|l| l.starts_with(&scenario_line)),
        "no `{scenario_line}` line:\n{}",
        ran.stdout
    );
    let report = ran.junit();
    assert_eq!((report.tests, report.failures), (1, 1));
    let (junit_message, junit_text) = junit_failure(case(&report, scenario));
    let named = format!("step `{label}` (line {line})");
    assert!(junit_message.starts_with(&named), "{junit_message}");
    assert!(junit_text.starts_with(&named), "{junit_text}");
    StepFailure {
        ran,
        console,
        step_time,
        junit_message,
        junit_text,
    }
}

impl StepFailure {
    /// Asserts `needle` is on the console under the failed step and in JUnit's failure text.
    pub fn shows(&self, needle: &str) -> &StepFailure {
        assert!(
            self.console.contains(needle),
            "console block lacks `{needle}`:\n{}",
            self.console
        );
        assert!(
            self.junit_text.contains(needle),
            "JUnit failure text lacks `{needle}`:\n{}",
            self.junit_text
        );
        self
    }

    /// The transcript of the one scenario of the run.
    pub fn transcript(&self) -> String {
        let files = self.ran.files_ending(".transcript.txt");
        assert_eq!(files.len(), 1, "{files:?}");
        std::fs::read_to_string(&files[0]).expect("read the transcript")
    }
}

pub fn find_transcript(dir: &Path, stem_start: &str) -> PathBuf {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(stem_start))
                && p.to_string_lossy().ends_with(".transcript.txt")
            {
                return p;
            }
        }
    }
    panic!(
        "no transcript starting {stem_start} under {}",
        dir.display()
    );
}
