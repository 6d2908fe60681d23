//! Loading: files and directories of scenarios into validated [`Scenario`]s, every problem of
//! every file collected ([`load_paths`], [`load_str`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::de::{read, Sink};
use super::error::{ErrorKind, ScenarioError};
use super::limits::{MAX_FILE_BYTES, MAX_FILE_TEXT};
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
        captures: BTreeSet::new(),
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
/// used twice is a problem too (reports key on names). A file past [`MAX_FILE_BYTES`], a byte
/// that is not UTF-8, a symlink loop: each is a problem naming the path, never a hang.
pub fn load_paths(
    paths: &[PathBuf],
    known_devices: &BTreeSet<String>,
) -> (Vec<Scenario>, Vec<ScenarioError>) {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                let mut search = Search {
                    files: &mut files,
                    errors: &mut errors,
                    ancestors: Vec::new(),
                };
                search.dir(path);
            }
            Ok(_) => files.push(path.clone()),
            Err(e) => errors.push(io_error(path, "read", describe(path, &e))),
        }
    }
    let mut seen = BTreeSet::new();
    files.retain(|f| seen.insert(f.clone()));

    let mut scenarios: Vec<Scenario> = Vec::new();
    for file in files {
        let text = match read_text(&file) {
            Ok(t) => t,
            Err(e) => {
                errors.push(e);
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

/// A scenario file's text: at most [`MAX_FILE_BYTES`] read (a wrong path such as `/dev/zero`
/// or a firmware image is refused, not read to its end), and UTF-8, with the place of the
/// first byte that is not.
fn read_text(file: &Path) -> Result<String, ScenarioError> {
    let mut bytes = Vec::new();
    let read =
        std::fs::File::open(file).and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        return Err(io_error(file, "read", describe(file, &e)));
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(io_error(
            file,
            "read",
            format!("the file is larger than {MAX_FILE_TEXT}; a scenario file may be at most {MAX_FILE_TEXT}"),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        // The prefix is valid UTF-8, so its characters can be counted as an editor does.
        let prefix = std::str::from_utf8(valid).unwrap_or_default();
        let line = prefix.matches('\n').count() + 1;
        let column = prefix.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        ScenarioError {
            file: file.to_path_buf(),
            location: Some(Location::new(line, column)),
            kind: ErrorKind::Io,
            message: format!(
                "read the file as UTF-8: byte 0x{:02X} is not UTF-8; save the file as UTF-8",
                e.as_bytes()[valid.len()]
            ),
        }
    })
}

/// What went wrong reaching `path`, said plainly for the cases the OS words obscurely.
fn describe(path: &Path, e: &std::io::Error) -> String {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if e.raw_os_error() == Some(libc::ELOOP) {
        return "a symbolic link that leads back to itself (a symbolic link loop)".into();
    }
    if e.kind() == std::io::ErrorKind::NotFound {
        if is_link {
            let to = std::fs::read_link(path).unwrap_or_default();
            return format!(
                "a symbolic link to `{}`, which does not exist",
                to.display()
            );
        }
        return "no such file or directory".into();
    }
    e.to_string()
}

fn io_error(path: &Path, what: &str, detail: String) -> ScenarioError {
    ScenarioError {
        file: path.to_path_buf(),
        location: None,
        kind: ErrorKind::Io,
        message: format!("{what} `{}`: {detail}", path.display()),
    }
}

/// A recursive search of one directory argument.
struct Search<'a> {
    files: &'a mut Vec<PathBuf>,
    errors: &'a mut Vec<ScenarioError>,
    /// The real paths of the directories being searched, outermost first: a directory (through
    /// a symlink) that is one of them, or contains one, would be searched forever.
    ancestors: Vec<PathBuf>,
}

impl Search<'_> {
    fn dir(&mut self, dir: &Path) {
        let real = match std::fs::canonicalize(dir) {
            Ok(r) => r,
            Err(e) => {
                let detail = describe(dir, &e);
                self.errors.push(io_error(dir, "search directory", detail));
                return;
            }
        };
        if let Some(outer) = self.ancestors.iter().find(|a| a.starts_with(&real)) {
            let message = format!(
                "a symbolic link loop: it leads to `{}`, which holds `{}`, already being \
                 searched; not searched again",
                real.display(),
                outer.display()
            );
            self.errors.push(io_error(dir, "search directory", message));
            return;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                let detail = describe(dir, &e);
                self.errors.push(io_error(dir, "list directory", detail));
                return;
            }
        };
        self.ancestors.push(real);
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
            let scenario_name = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            );
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => self.dir(&path),
                Ok(_) if scenario_name => self.files.push(path),
                Ok(_) => {}
                // A broken link named like a scenario is a problem; anything else is not ours.
                Err(e) if scenario_name || e.raw_os_error() == Some(libc::ELOOP) => {
                    let detail = describe(&path, &e);
                    self.errors.push(io_error(&path, "read", detail));
                }
                Err(_) => {}
            }
        }
        self.ancestors.pop();
    }
}
