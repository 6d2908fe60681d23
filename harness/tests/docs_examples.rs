//! Every example in `README.md` and `docs/*.md` runs as written, so a doc example that stops
//! working fails CI (it used to be that most of `docs/scenario-format.md`'s examples failed on
//! the virtual module: no Wi-Fi joined before `AT+CIPSTART`, an environment variable nobody
//! sets, a `note:` key `athil check` refuses).
//!
//! The fenced code blocks are read from the markdown:
//! - ```` ```yaml ```` with `name:` and `steps:` is a scenario: all of them run in one
//!   `athil run` against the virtual module and must pass; ```` ```yaml hardware ```` ones need a
//!   real module and are only checked with `athil check`;
//! - any other ```` ```yaml ```` is a fragment of a scenario (a `cloud:` block): it is put into a
//!   minimal scenario and checked;
//! - ```` ```sh ```` lines that call athil (`athil …`, `cargo run [--release] -- …`) are run when
//!   they need nothing but this machine; `athil run` lines have their scenario paths checked
//!   instead (the shipped suite is run by `run_shipped.rs`, a real module is not here), and
//!   `cargo test` is this very suite;
//! - ```` ```text ```` and unlabelled blocks are output and diagrams, not examples.

mod run_support;

use std::process::Command;

use run_support::*;

/// One fenced block: where it starts, its info string and its text.
struct Block {
    file: String,
    line: usize,
    info: String,
    text: String,
}

fn blocks(file: &str) -> Vec<Block> {
    let path = root().join(file);
    let markdown =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in markdown.lines().enumerate() {
        match (open.take(), line.trim_start().strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    file: file.to_owned(),
                    line: i + 1,
                    info: info.trim().to_owned(),
                    text: String::new(),
                })
            }
            (Some(b), Some(_)) => out.push(b),
            (Some(mut b), None) => {
                b.text.push_str(line);
                b.text.push('\n');
                open = Some(b);
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "{file}: a code block is not closed");
    out
}

fn documents() -> Vec<String> {
    let mut files = vec!["README.md".to_owned()];
    let mut docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("read docs/")
        .map(|e| e.expect("a docs/ entry").file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

fn is_scenario(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("name:")) && text.lines().any(|l| l.starts_with("steps:"))
}

fn athil(args: &[String]) -> (Option<i32>, String) {
    let out = Command::new(ATHIL)
        .current_dir(ROOT)
        .args(args)
        .env_remove("ATHIL_LOG")
        .output()
        .expect("run athil");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The scenario paths of an `athil run` command line: its arguments that are not flags or
/// the values of flags.
fn run_paths(args: &[String]) -> Vec<String> {
    const WITH_VALUE: &[&str] = &[
        "--filter",
        "--out",
        "--junit",
        "--devices",
        "--rig",
        "--port",
        "--baud",
        "--module",
        "--sim-config",
        "--listen",
        "--profile",
        "--wifi-ssid",
        "--wifi-password-env",
        "--jobs",
        "-j",
    ];
    let mut paths = Vec::new();
    let mut skip = false;
    for a in &args[1..] {
        if skip {
            skip = false;
        } else if WITH_VALUE.contains(&a.as_str()) {
            skip = true;
        } else if !a.starts_with('-') {
            paths.push(a.clone());
        }
    }
    paths
}

/// The athil arguments of one shell line, or why it is not run here.
fn athil_line(line: &str) -> Result<Vec<String>, &'static str> {
    let command = line.split(" # ").next().unwrap_or("").trim();
    let words: Vec<String> = command
        .split_whitespace()
        .skip_while(|w| w.contains('=') && !w.starts_with('-'))
        .map(str::to_owned)
        .collect();
    match words.first().map(String::as_str) {
        Some("athil") => Ok(words[1..].to_vec()),
        Some("cargo") if words.get(1).map(String::as_str) == Some("test") => {
            Err("`cargo test` is this very suite")
        }
        Some("cargo") => match words.iter().position(|w| w == "--") {
            Some(at) if words.get(1).map(String::as_str) == Some("run") => {
                Ok(words[at + 1..].to_vec())
            }
            _ => Err("a cargo command other than `cargo run -- …`"),
        },
        _ => Err("not an athil command"),
    }
}

#[test]
fn every_example_in_the_readme_and_docs_runs_as_written() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let run_dir = tmp.path().join("run");
    let check_dir = tmp.path().join("check");
    std::fs::create_dir_all(&run_dir).unwrap();
    std::fs::create_dir_all(&check_dir).unwrap();
    let mut to_run: Vec<(String, String)> = Vec::new();
    let mut checked = 0;
    let mut commands = Vec::new();
    for doc in documents() {
        for b in blocks(&doc) {
            let place = format!("{}:{}", b.file, b.line);
            let stem = format!("{}-{}", b.file.replace(['/', '.'], "-"), b.line);
            let mut info = b.info.split_whitespace();
            match (info.next(), info.next()) {
                (Some("yaml"), flag) if is_scenario(&b.text) => {
                    let hardware = flag == Some("hardware");
                    let dir = if hardware { &check_dir } else { &run_dir };
                    std::fs::write(dir.join(format!("{stem}.yaml")), &b.text).unwrap();
                    if hardware {
                        checked += 1;
                    } else {
                        let name = b
                            .text
                            .lines()
                            .find_map(|l| l.strip_prefix("name: "))
                            .unwrap_or_default()
                            .trim_matches('"')
                            .to_owned();
                        to_run.push((place, name));
                    }
                }
                (Some("yaml"), _) => {
                    // A fragment: the keys it shows, inside a scenario that does nothing else.
                    let scenario = format!(
                        "name: fragment at {place}\ndevice: aliyun/device2\n{}steps:\n  - send: AT\n    expect: OK\n",
                        b.text
                    );
                    std::fs::write(check_dir.join(format!("{stem}.yaml")), scenario).unwrap();
                    checked += 1;
                }
                (Some("sh"), _) => {
                    for line in b.text.lines().filter(|l| !l.trim().is_empty()) {
                        match athil_line(line) {
                            Ok(args) => commands.push((place.clone(), line.to_owned(), args)),
                            Err(why) => eprintln!("{place}: not run: `{line}`: {why}"),
                        }
                    }
                }
                (Some("text") | None, _) => {}
                (Some(other), _) => panic!("{place}: a ```{other} block; say how to test it here"),
            }
        }
    }
    assert!(
        to_run.len() >= 10,
        "only {} scenario examples found",
        to_run.len()
    );

    if checked > 0 {
        let (code, out) = athil(&["check".into(), check_dir.display().to_string()]);
        assert_eq!(code, Some(0), "the check-only examples:\n{out}");
    }

    for (place, line, args) in &commands {
        let (code, out) = match args.first().map(String::as_str) {
            // The paths it names must exist and hold valid scenarios.
            Some("run") => {
                let mut check = vec!["check".to_owned()];
                check.extend(run_paths(args));
                athil(&check)
            }
            _ => athil(args),
        };
        assert_eq!(code, Some(0), "{place}: `{line}`:\n{out}");
    }

    let out = tmp.path().join("out");
    let ran = Command::new(ATHIL)
        .current_dir(ROOT)
        .arg("run")
        .arg(&run_dir)
        .arg("--out")
        .arg(&out)
        .env_remove("ATHIL_LOG")
        .output()
        .expect("run athil");
    let stdout = String::from_utf8_lossy(&ran.stdout);
    let failed: Vec<&String> = to_run
        .iter()
        .filter(|(_, name)| !stdout.contains(&format!("PASS  {name}")))
        .map(|(place, _)| place)
        .collect();
    assert!(
        failed.is_empty() && ran.status.code() == Some(0),
        "examples that do not pass as written: {failed:?}\n{stdout}\n{}",
        String::from_utf8_lossy(&ran.stderr)
    );
}
