//! Each run writes into a folder of its own under `--out`: `<out>/<run id>/`, with
//! `<out>/latest` pointing at the newest. Two runs sharing one `--out` (two CI jobs, a run
//! started while another is going) can then never write into the same files, and an old run's
//! transcripts never mix with a new one's.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::error::ReportError;

/// The name of the link to the newest run's folder.
pub const LATEST: &str = "latest";

/// Creates a fresh folder for this run under `out` and points `out/latest` at it. The id is
/// the UTC start time and the process id (`20261204T213012Z-4242`), so folders sort by time and
/// two runs started in the same second still differ.
pub fn create(out: &Path) -> Result<PathBuf, ReportError> {
    std::fs::create_dir_all(out).map_err(|source| ReportError::CreateDir {
        path: out.to_owned(),
        source,
    })?;
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(['-', ':'], "");
    let base = format!("{stamp}-{}", std::process::id());
    let mut n = 1;
    let dir = loop {
        let name = match n {
            1 => base.clone(),
            _ => format!("{base}-{n}"),
        };
        let dir = out.join(&name);
        // create_dir (not _all) fails if the folder exists: no two runs ever share one.
        match std::fs::create_dir(&dir) {
            Ok(()) => break dir,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(source) => return Err(ReportError::CreateDir { path: dir, source }),
        }
    };
    point_latest(out, &dir);
    Ok(dir)
}

/// Points `out/latest` at `dir`, replacing the link atomically (a new link renamed over the
/// old). A file system without symlinks just has no `latest`: the console names the folder.
fn point_latest(out: &Path, dir: &Path) {
    let Some(name) = dir.file_name() else { return };
    let tmp = out.join(format!(".{LATEST}.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    if std::os::unix::fs::symlink(name, &tmp).is_ok()
        && std::fs::rename(&tmp, out.join(LATEST)).is_err()
    {
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_runs_get_two_folders_and_latest_is_the_second() {
        let out = tempfile::tempdir().unwrap();
        let a = create(out.path()).unwrap();
        let b = create(out.path()).unwrap();
        assert_ne!(a, b);
        let latest = std::fs::canonicalize(out.path().join(LATEST)).unwrap();
        assert_eq!(latest, std::fs::canonicalize(&b).unwrap());
    }
}
