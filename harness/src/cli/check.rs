//! `athil check PATHS...`: validates scenario files without running them and lists every
//! problem of every file at once, as `path:line:column: message`; with `--module`, also what
//! that module's dialect cannot run (a link it has not got).

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::broker::CloudProfile;
use crate::cloud::DeviceRegistry;
use crate::exit::ExitCode;
use crate::module::dialect::DialectKind;
use crate::run::block_problems;
use crate::scenario::load_paths;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files, or directories searched recursively for `*.yaml` and `*.yml`.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The device fixtures directory that `device:` names refer to.
    #[arg(long, default_value = "fixtures/devices")]
    pub devices: PathBuf,
    /// Also check the scenarios against this module's dialect (esp-at, quectel): every link
    /// a step names must be one the module has.
    #[arg(long)]
    pub module: Option<DialectKind>,
}

/// Exit 0 when every scenario is valid, 2 when any problem was found (unusable input, per
/// the exit table).
pub fn run(args: Args) -> ExitCode {
    let registry = match DeviceRegistry::load_dir(&args.devices) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("athil check: failed to {e}");
            eprintln!("(point --devices at the device fixtures directory)");
            return ExitCode::Usage;
        }
    };
    let known: BTreeSet<String> = registry.names().map(str::to_string).collect();
    let (mut scenarios, mut errors) = load_paths(&args.paths, &known);
    // The blocks other layers own are checked with their types too; a `cloud:` block over the
    // default profile (a run's `--profile` is checked again by `athil run`).
    let profile = CloudProfile::default();
    scenarios.retain(|s| {
        let mut problems = block_problems(s, &profile);
        if let Some(kind) = args.module {
            problems.extend(s.link_problems(kind.dialect().links(), kind.name()));
        }
        let ok = problems.is_empty();
        errors.extend(problems);
        ok
    });
    for s in &scenarios {
        let env = s.env_names();
        let needs = if env.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = env.into_iter().collect();
            format!("; reads environment {}", names.join(", "))
        };
        println!(
            "ok: {}: {} ({} steps{needs})",
            s.file.display(),
            s.name,
            s.steps.len()
        );
    }
    for e in &errors {
        println!("{e}");
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if errors.is_empty() {
        println!("{} valid", plural(scenarios.len(), "scenario"));
        ExitCode::Success
    } else {
        println!(
            "{} found; {} valid",
            plural(errors.len(), "problem"),
            plural(scenarios.len(), "scenario")
        );
        ExitCode::Usage
    }
}
