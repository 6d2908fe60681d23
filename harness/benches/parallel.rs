//! `cargo bench --bench parallel`: many modules at once (issue 9), measured with the release
//! `athil` binary, each figure printed beside what it is compared with:
//!
//! 1. the shipped suite run serially and with `--jobs 8`, beside the longest single scenario's
//!    time (target: the parallel run at most 1.15 x the longest scenario);
//! 2. 64 virtual modules in one `athil run` process, one short scenario each, beside one module
//!    running one such scenario, with the process's peak RSS (targets: at most 1.5 x and
//!    128 MB).
//!
//! Options (after `--`): `--jobs N` (default 8), `--modules N` (default 64).

#[allow(dead_code)]
#[path = "parallel_suite/mod.rs"]
mod parallel_suite;

use std::path::PathBuf;

fn main() -> std::process::ExitCode {
    let mut settings =
        parallel_suite::Settings::benchmark(PathBuf::from(env!("CARGO_BIN_EXE_athil")));
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--bench" {
            continue;
        }
        let value = args.next().and_then(|v| v.parse::<usize>().ok());
        match (flag.as_str(), value) {
            ("--jobs", Some(n)) if n > 0 => settings.jobs = n,
            ("--modules", Some(n)) if n > 0 => settings.modules = n,
            _ => {
                eprintln!("parallel benchmark: unknown option {flag} (--jobs N, --modules N)");
                return std::process::ExitCode::from(2);
            }
        }
    }
    match parallel_suite::run(&settings, &|l| eprintln!("parallel benchmark: {l}")) {
        Ok(figures) => {
            print!("{}", figures.table(&settings));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("parallel benchmark: failed to {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
