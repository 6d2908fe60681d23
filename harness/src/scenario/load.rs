//! Loading: files and directories of scenarios into validated [`Scenario`]s, every problem of
//! every file collected ([`load_paths`], [`load_str`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::de::{read, Sink};
use super::error::{ErrorKind, ScenarioError};
use super::location::{Location, Source};
use super::model::Scenario;
use super::raw::RawScenario;
use super::validate::{self, Ctx};
use super::yaml::{self, NodeKind};

/// Loads one scenario from its text. `file` is only used in error messages and
/// [`Scenario::file`]; `known_devices` are the fixture names `device:` may use.
pub fn load_str(
    text: &str,
    file: &Path,
    known_devices: &BTreeSet<String>,
) -> Result<Scenario, Vec<ScenarioError>> {
    let source = Source::new(text);
    let error = |location: Location, kind: ErrorKind, message: String| ScenarioError {
        file: file.to_path_buf(),
        location: Some(location),
        kind,
        message,
    };
    let (root, problems) = match yaml::parse(text, &source) {
        Ok(parsed) => parsed,
        Err(p) => return Err(vec![error(p.location, ErrorKind::Yaml, p.message)]),
    };
    let mut ctx = Ctx {
        source: &source,
        file,
        errors: problems
            .into_iter()
            .map(|p| error(p.location, ErrorKind::Yaml, p.message))
            .collect(),
        vars: BTreeMap::new(),
        devices: known_devices,
    };
    if !matches!(root.kind, NodeKind::Map(_)) {
        ctx.error(
            root.mark.location,
            ErrorKind::Type,
            "expected a scenario: a mapping with `name`, `device` and `steps`",
        );
        return Err(ctx.errors);
    }
    let sink = Sink::default();
    let raw = read::<RawScenario>(&root, &sink);
    for e in sink.into_inner() {
        let at = e.location.unwrap_or(root.mark.location);
        ctx.errors.push(error(at, e.kind, e.message));
    }
    let scenario = raw.and_then(|raw| validate::scenario(raw, &root, &mut ctx));
    match scenario {
        Some(s) if ctx.errors.is_empty() => Ok(s),
        _ => {
            let mut errors = ctx.errors;
            errors.sort_by_key(|e| e.location);
            errors.dedup();
            Err(errors)
        }
    }
}

/// Loads every scenario under `paths`: files as given, directories searched recursively for
/// `*.yaml` and `*.yml` (names starting with `.` skipped), each directory's files sorted.
/// Returns the scenarios that are valid and every problem of every file; a scenario name
/// used twice is a problem too (reports key on names).
pub fn load_paths(
    paths: &[PathBuf],
    known_devices: &BTreeSet<String>,
) -> (Vec<Scenario>, Vec<ScenarioError>) {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect_dir(path, &mut files, &mut errors);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            errors.push(io_error(path, "read", "no such file or directory".into()));
        }
    }
    let mut seen = BTreeSet::new();
    files.retain(|f| seen.insert(f.clone()));

    let mut scenarios: Vec<Scenario> = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                errors.push(io_error(&file, "read", e.to_string()));
                continue;
            }
        };
        match load_str(&text, &file, known_devices) {
            Ok(s) => {
                if let Some(first) = scenarios.iter().find(|o| o.name == s.name) {
                    errors.push(ScenarioError {
                        file: s.file.clone(),
                        location: Some(s.location),
                        kind: ErrorKind::Value,
                        message: format!(
                            "scenario name `{}` is already used by `{}`; names must be unique",
                            s.name,
                            first.file.display()
                        ),
                    });
                } else {
                    scenarios.push(s);
                }
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    (scenarios, errors)
}

fn io_error(path: &Path, what: &str, detail: String) -> ScenarioError {
    ScenarioError {
        file: path.to_path_buf(),
        location: None,
        kind: ErrorKind::Io,
        message: format!("{what} `{}`: {detail}", path.display()),
    }
}

fn collect_dir(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<ScenarioError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(io_error(dir, "list directory", e.to_string()));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect_dir(&path, files, errors);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            files.push(path);
        }
    }
}
