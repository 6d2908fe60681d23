//! The parallel-run benchmark's measurements, shared by `benches/parallel.rs` (full counts)
//! and `tests/bench_parallel_short.rs` (tiny counts, correctness only, so the benchmark cannot
//! rot). Each measurement runs the real `athil run` as a child process and reads its wall time
//! and, through `wait4`, its peak RSS.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The shipped suite, relative to the workspace root.
const SUITE: &str = "scenarios";
/// The short scenario each of the many modules runs: seed 001 (CONNECT, CONNACK, DISCONNECT).
const SHORT: &str = "scenarios/seeds/001-ly1-connect-disconnect.yaml";

#[derive(Debug, Clone)]
pub struct Settings {
    pub athil: PathBuf,
    pub root: PathBuf,
    /// Slots of the parallel suite run.
    pub jobs: usize,
    /// Virtual modules in the one-process run.
    pub modules: usize,
    /// Whether to measure the shipped suite at all (the short test skips it).
    pub suite: bool,
}

impl Settings {
    pub fn benchmark(athil: PathBuf) -> Settings {
        Settings {
            athil,
            root: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/..")),
            jobs: 8,
            modules: 64,
            suite: true,
        }
    }
}

/// One `athil run`: its wall time, exit code, peak RSS, and its longest scenario.
#[derive(Debug, Clone)]
pub struct Ran {
    pub wall: Duration,
    pub code: i32,
    pub peak_rss_kib: u64,
    /// The longest test case in its JUnit, and how many cases it holds.
    pub longest: Duration,
    pub cases: usize,
}

#[derive(Debug, Clone)]
pub struct Figures {
    pub serial: Option<Ran>,
    pub parallel: Option<Ran>,
    pub one_module: Ran,
    pub many_modules: Ran,
}

/// Runs `athil run <args> --out <fresh dir>` in the workspace root and measures it.
pub fn athil_run(s: &Settings, args: &[String]) -> Result<Ran, String> {
    let out = tempfile::tempdir().map_err(|e| format!("create a temp dir: {e}"))?;
    let started = Instant::now();
    let child = Command::new(&s.athil)
        .current_dir(&s.root)
        .arg("run")
        .args(args)
        .arg("--out")
        .arg(out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start athil: {e}"))?;
    let (code, peak_rss_kib) = wait_with_rusage(child.id())?;
    let wall = started.elapsed();
    let (longest, cases) = junit_figures(&out.path().join("latest/junit.xml"))?;
    Ok(Ran {
        wall,
        code,
        peak_rss_kib,
        longest,
        cases,
    })
}

/// Waits for `pid` and returns its exit code and peak RSS (KiB), which only `wait4` gives for
/// one child.
fn wait_with_rusage(pid: u32) -> Result<(i32, u64), String> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 writes into the two locals only.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut usage) };
    if r < 0 {
        return Err(format!(
            "wait for athil: {}",
            std::io::Error::last_os_error()
        ));
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok((code, usage.ru_maxrss as u64))
}

fn junit_figures(path: &Path) -> Result<(Duration, usize), String> {
    let xml = std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let report = quick_junit::Report::deserialize_from_str(&xml)
        .map_err(|e| format!("parse {}: {e}", path.display()))?;
    let cases: Vec<_> = report
        .test_suites
        .iter()
        .flat_map(|s| s.test_cases.iter())
        .collect();
    let longest = cases
        .iter()
        .filter_map(|c| c.time)
        .max()
        .unwrap_or_default();
    Ok((longest, cases.len()))
}

/// `n` copies of the short scenario, each with a name of its own, in a fresh folder.
fn copies(s: &Settings, n: usize) -> Result<tempfile::TempDir, String> {
    let text =
        std::fs::read_to_string(s.root.join(SHORT)).map_err(|e| format!("read {SHORT}: {e}"))?;
    let dir = tempfile::tempdir().map_err(|e| format!("create a temp dir: {e}"))?;
    for i in 0..n {
        let renamed: String = text
            .lines()
            .map(|l| match l.strip_prefix("name: ") {
                Some(name) => format!("name: \"copy {i}: {}\"", name.trim_matches('"')),
                None => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(dir.path().join(format!("copy-{i:03}.yaml")), renamed)
            .map_err(|e| format!("write a copy: {e}"))?;
    }
    Ok(dir)
}

fn checked(what: &str, r: Ran, expected_cases: Option<usize>) -> Result<Ran, String> {
    if r.code != 0 {
        return Err(format!("{what}: athil run exited {}", r.code));
    }
    if let Some(n) = expected_cases {
        if r.cases != n {
            return Err(format!(
                "{what}: JUnit holds {} cases, expected {n}",
                r.cases
            ));
        }
    }
    Ok(r)
}

pub fn run(s: &Settings, progress: &dyn Fn(&str)) -> Result<Figures, String> {
    let (serial, parallel) = if s.suite {
        progress("the shipped suite, serially");
        let serial = checked("serial suite", athil_run(s, &[SUITE.into()])?, None)?;
        progress(&format!("the shipped suite, --jobs {}", s.jobs));
        let args = ["--jobs".into(), s.jobs.to_string(), SUITE.into()];
        let parallel = checked("parallel suite", athil_run(s, &args)?, Some(serial.cases))?;
        (Some(serial), Some(parallel))
    } else {
        (None, None)
    };
    progress("one virtual module, one short scenario");
    let one = copies(s, 1)?;
    let one_path = one.path().to_string_lossy().into_owned();
    let one_module = checked("one module", athil_run(s, &[one_path])?, Some(1))?;
    progress(&format!("{} virtual modules in one process", s.modules));
    let many = copies(s, s.modules)?;
    let args = [
        "--jobs".into(),
        s.modules.to_string(),
        many.path().to_string_lossy().into_owned(),
    ];
    let many_modules = checked("many modules", athil_run(s, &args)?, Some(s.modules))?;
    Ok(Figures {
        serial,
        parallel,
        one_module,
        many_modules,
    })
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn mib(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 / 1024.0)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "meets"
    } else {
        "MISSES"
    }
}

impl Figures {
    pub fn table(&self, s: &Settings) -> String {
        let mut out = String::new();
        if let (Some(serial), Some(par)) = (&self.serial, &self.parallel) {
            let ratio = par.wall.as_secs_f64() / serial.longest.as_secs_f64().max(1e-3);
            out.push_str(&format!(
                "shipped suite ({} scenarios)      serial            --jobs {}          longest scenario\n",
                serial.cases, s.jobs
            ));
            out.push_str(&format!(
                "  wall time                       {:<17} {:<17} {}\n",
                secs(serial.wall),
                secs(par.wall),
                secs(serial.longest)
            ));
            out.push_str(&format!(
                "  peak RSS                        {:<17} {}\n",
                mib(serial.peak_rss_kib),
                mib(par.peak_rss_kib)
            ));
            out.push_str(&format!(
                "  parallel / longest scenario: {ratio:.2} (target <= 1.15: {}); speed-up over serial {:.1} x\n\n",
                verdict(ratio <= 1.15),
                serial.wall.as_secs_f64() / par.wall.as_secs_f64().max(1e-3)
            ));
        }
        let (one, many) = (&self.one_module, &self.many_modules);
        let ratio = many.wall.as_secs_f64() / one.wall.as_secs_f64().max(1e-3);
        out.push_str(&format!(
            "virtual modules in one process    1 module          {} modules\n",
            s.modules
        ));
        out.push_str(&format!(
            "  wall time                       {:<17} {}\n",
            secs(one.wall),
            secs(many.wall)
        ));
        out.push_str(&format!(
            "  peak RSS                        {:<17} {}\n",
            mib(one.peak_rss_kib),
            mib(many.peak_rss_kib)
        ));
        out.push_str(&format!(
            "  {} modules / 1 module wall time: {ratio:.2} (target <= 1.5: {}); peak RSS target <= 128 MB: {}\n",
            s.modules,
            verdict(ratio <= 1.5),
            verdict(many.peak_rss_kib <= 128 * 1024)
        ));
        out
    }
}
