//! The one way reports reach the disk ([`write_report`]): through symlinks and special files,
//! never over them.
//!
//! A path given by the user may be a symlink (`junit.xml -> reports/latest.xml`) or a special
//! file (`--junit /dev/null`, a FIFO a CI agent reads). Renaming a temporary file over such a
//! path replaces the link or the device node (as root, `/dev/null` became a regular file). So
//! the path's symlinks are followed first; a regular file (or a new one) is then written through
//! a temporary file beside it and renamed, so a reader, or a run killed mid-write, never sees
//! half a report; anything else is opened and written in place.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// Symlinks followed before giving up: the kernel's own limit (Linux's MAXSYMLINKS).
const MAX_LINKS: usize = 40;

/// Writes `bytes` to `path` as described in the module's documentation. The error is the
/// operating system's, for the caller to wrap with the path it was given.
pub fn write_report(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let target = resolve_links(path)?;
    match std::fs::metadata(&target) {
        Ok(m) if m.file_type().is_file() => replace_regular(&target, bytes, Some(m.permissions())),
        Ok(m) if is_special(&m.file_type()) => write_in_place(&target, bytes),
        Ok(_) => Err(io::Error::other(format!(
            "`{}` is a directory",
            target.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => replace_regular(&target, bytes, None),
        Err(e) => Err(e),
    }
}

fn is_special(t: &std::fs::FileType) -> bool {
    t.is_char_device() || t.is_block_device() || t.is_fifo() || t.is_socket()
}

/// The path `path`'s chain of symlinks ends at (which need not exist yet); relative link
/// targets are read against the link's own directory.
fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("more than {MAX_LINKS} symbolic links in a row (a symbolic link loop)"),
    ))
}

/// A device, FIFO or socket: opened for writing and written, never truncated by a rename.
fn write_in_place(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).open(target)?;
    f.write_all(bytes)?;
    f.flush()
}

/// A regular file: a temporary beside it, synced, then renamed over it, keeping its permissions.
fn replace_regular(
    target: &Path,
    bytes: &[u8],
    permissions: Option<std::fs::Permissions>,
) -> io::Result<()> {
    let mut tmp = target.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        // Without the sync a full disk may only show at close, which `File` ignores on drop.
        f.sync_all()?;
        if let Some(p) = permissions {
            f.set_permissions(p)?;
        }
        std::fs::rename(&tmp, target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_is_created_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junit.xml");
        write_report(&path, b"<x/>").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"<x/>");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_dangling_relative_link_gets_its_target_created() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("junit.xml");
        std::os::unix::fs::symlink("real.xml", &link).unwrap();
        write_report(&link, b"<x/>").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(dir.path().join("real.xml")).unwrap(), b"<x/>");
    }

    #[test]
    fn a_link_loop_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("self.xml");
        std::os::unix::fs::symlink("self.xml", &link).unwrap();
        let e = write_report(&link, b"<x/>").unwrap_err();
        assert!(e.to_string().contains("symbolic link loop"), "{e}");
    }

    #[test]
    fn a_full_device_is_an_error() {
        let full = Path::new("/dev/full");
        // Only on a sane machine: if /dev/full were a regular file, this would replace it.
        if !std::fs::symlink_metadata(full).is_ok_and(|m| m.file_type().is_char_device()) {
            eprintln!("skipped: /dev/full is not a character device here");
            return;
        }
        let e = write_report(full, b"<x/>").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28), "{e}");
    }

    #[test]
    fn a_regular_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junit.xml");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_report(&path, b"new").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }
}
