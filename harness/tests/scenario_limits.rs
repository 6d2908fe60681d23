//! Malformed scenario input that used to get through `athil check` and `athil run`: an alias
//! bomb, absurd durations, an impossible cloud profile, a non-UTF-8 byte, symlink loops and
//! oversized files. Each is refused with exit 2 and a message that says where.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const ATHIL: &str = env!("CARGO_BIN_EXE_athil");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The peak memory the process may reach on hostile input.
const MEMORY_LIMIT_KB: u64 = 100 * 1024;

fn athil(args: &[&str]) -> Output {
    Command::new(ATHIL)
        .current_dir(ROOT)
        .args(args)
        .env_remove("ATHIL_LOG")
        .output()
        .expect("run athil")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn write(dir: &Path, name: &str, body: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

/// `VmHWM` (peak resident set) of a running process, in kB.
fn peak_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs athil with `args`, polling its peak memory; kills it past [`MEMORY_LIMIT_KB`] or 20 s.
/// Returns the exit code, its output and the highest peak seen.
fn run_watching_memory(args: &[&str]) -> (Option<i32>, String, u64) {
    let mut child = Command::new(ATHIL)
        .current_dir(ROOT)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start athil");
    let pid = child.id();
    let until = Instant::now() + Duration::from_secs(20);
    let mut peak = 0;
    let status = loop {
        if let Some(kb) = peak_kb(pid) {
            peak = peak.max(kb);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if peak > MEMORY_LIMIT_KB || Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("athil reached {peak} kB (limit {MEMORY_LIMIT_KB} kB) or ran 20 s; killed it");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (status.code(), out, peak)
}

fn alias_bomb() -> String {
    let mut s = String::from("name: lol\ndevice: aliyun/device2\n");
    s.push_str("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(",");
        s.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
    }
    s.push_str("steps:\n  - send: AT\n");
    s
}

#[test]
fn an_alias_bomb_is_refused_by_check_and_run_while_memory_stays_small() {
    // Was: athil grew to 8 GB in 15 s, printing nothing.
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "lol.yaml", alias_bomb().as_bytes());
    let file = file.to_str().unwrap();
    for command in ["check", "run"] {
        let out_dir = dir.path().join("out");
        let args: Vec<&str> = match command {
            "run" => vec!["run", file, "--out", out_dir.to_str().unwrap()],
            _ => vec!["check", file],
        };
        let (code, out, peak) = run_watching_memory(&args);
        assert_eq!(code, Some(2), "athil {command}: {out}");
        assert!(out.contains(&format!("{file}:")), "{out}");
        assert!(out.contains("alias"), "{out}");
        assert!(
            peak < MEMORY_LIMIT_KB,
            "athil {command} peaked at {peak} kB"
        );
    }
}

#[test]
fn absurd_durations_are_errors_at_check_time_with_their_position() {
    // Was: `timeout: 9999999999999h` passed check and blocked run until killed.
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "long.yaml",
        b"name: long\ndevice: aliyun/device2\ntimeout: 25h\nsteps:\n  - send: AT\n    \
          expect: OK\n    timeout: 9999999999999h\n  - wait: 9999999999999h\n  \
          - expect_not: CLOSED\n    for: 2d\n",
    );
    let out = athil(&["check", file.to_str().unwrap()]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    let f = file.display();
    for at in [":3:10:", ":7:14:", ":8:11:", ":10:10:"] {
        assert!(
            all.contains(&format!("{f}{at}")),
            "no problem at {at}:\n{all}"
        );
    }
    assert!(all.contains("at most 24h"), "{all}");
}

#[test]
fn an_impossible_keepalive_window_is_an_error_at_check_time_with_its_position() {
    // Was: `cloud: { keepalive: { min: 600, max: 60 } }` passed and ran.
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "window.yaml",
        b"name: window\ndevice: aliyun/device2\ncloud:\n  keepalive: { min: 600, max: 60 }\n\
          steps:\n  - send: AT\n",
    );
    let out = athil(&["check", file.to_str().unwrap()]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains(&format!(
            "{}:4:21: keepalive.min 600 is above keepalive.max 60",
            file.display()
        )),
        "{all}"
    );
}

#[test]
fn a_non_utf8_byte_is_reported_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "latin1.yaml",
        b"name: caf\xc3\xa9\ndevice: aliyun/device2\nsteps:\n  - send: AT+X=\"\xe9t\xe9\"\n",
    );
    let out = athil(&["check", file.to_str().unwrap()]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains(&format!("{}:4:17: ", file.display())), "{all}");
    assert!(all.contains("UTF-8"), "{all}");
}

#[test]
fn a_symlink_to_itself_is_named_as_a_loop_not_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("self.yaml");
    std::os::unix::fs::symlink("self.yaml", &link).unwrap();
    let out = athil(&["check", link.to_str().unwrap()]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains(&link.display().to_string()), "{all}");
    assert!(all.contains("symbolic link"), "{all}");
    assert!(!all.contains("no such file"), "{all}");
}

#[test]
fn a_directory_symlink_loop_is_reported_once_naming_the_link() {
    // Was: the search went round the loop until the OS stopped it after 40 levels.
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir(&scenarios).unwrap();
    write(
        &scenarios,
        "ok.yaml",
        b"name: ok\ndevice: aliyun/device2\nsteps:\n  - send: AT\n",
    );
    let back = scenarios.join("back");
    std::os::unix::fs::symlink("..", &back).unwrap();
    let out = athil(&["check", scenarios.to_str().unwrap()]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains(&back.display().to_string()), "{all}");
    assert!(all.contains("loop"), "{all}");
    assert!(!all.contains("back/scenarios/back"), "{all}");
    assert!(
        all.contains("1 scenario valid") || all.contains("1 valid"),
        "{all}"
    );
}

#[test]
fn a_file_over_the_size_limit_is_refused_without_reading_it_all() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = b"name: big\ndevice: aliyun/device2\nsteps:\n  - send: AT\n".to_vec();
    body.extend(vec![b'#'; 2 * 1024 * 1024]);
    let file = write(dir.path(), "big.yaml", &body);
    let out = athil(&["check", file.to_str().unwrap()]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("at most 1 MiB"), "{all}");
}
