//! Where `athil run` writes its reports, at the file layer: a report that cannot be written fails
//! the run and names the file; special files and symlinks are written through, not replaced.

mod run_support;

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use run_support::*;

const PASSES: &str = "terminate/1-passes.yaml";
const SLUG: &str = "terminate-the-first-scenario-passes";

/// A device node of this test's own (`c major minor`), so a writer that replaces device nodes
/// (the bug these tests pin) can only ever replace it, never the machine's `/dev/null` or
/// `/dev/full`. Without root, mknod fails, and so would replacing the system's node: the
/// system's is used then.
fn own_device(dir: &Path, name: &str, major: u32, minor: u32, system: &str) -> PathBuf {
    let path = dir.join(name);
    let made = Command::new("mknod")
        .arg(&path)
        .args(["c", &major.to_string(), &minor.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    if made {
        path
    } else {
        PathBuf::from(system)
    }
}

#[test]
fn a_full_disk_fails_the_run_and_names_every_report_it_could_not_write() {
    // Was: every transcript, pcap and the JUnit failed to write and the run exited 0.
    // The JUnit goes to a full device (`/dev/full`'s numbers: every write is ENOSPC, as on a
    // full disk). Transcripts and pcaps go into the run's own fresh folder, where nothing can
    // be planted beforehand, so their writes are made to fail by a file-size limit of a few
    // bytes (EFBIG; SIGXFSZ ignored so the write fails rather than the process dying).
    use std::os::unix::process::CommandExt;
    let out = tempfile::tempdir().unwrap();
    let full = own_device(out.path(), "full", 1, 7, "/dev/full");
    let dir = out.path().join("out");
    let mut cmd = Command::new(ATHIL);
    cmd.current_dir(ROOT)
        .args([
            "run",
            &data(PASSES),
            "--junit",
            full.to_str().unwrap(),
            "--out",
        ])
        .arg(&dir);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 8,
                rlim_max: 8,
            };
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let ran = cmd.output().unwrap();
    let both = format!(
        "{}\n{}",
        String::from_utf8_lossy(&ran.stdout),
        String::from_utf8_lossy(&ran.stderr)
    );
    assert_eq!(ran.status.code(), Some(3), "{both}");
    for name in [
        format!("{SLUG}.transcript.txt"),
        format!("{SLUG}.pcap"),
        full.display().to_string(),
    ] {
        assert!(both.contains(&name), "`{name}` not named:\n{both}");
    }
    assert!(both.contains("No space left on device"), "{both}");
    assert!(both.contains("File too large"), "{both}");
    let kind = std::fs::symlink_metadata(&full).unwrap().file_type();
    assert!(kind.is_char_device(), "{kind:?}");
}

#[test]
fn an_out_directory_under_a_regular_file_is_unusable_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain-file");
    std::fs::write(&file, "not a directory").unwrap();
    let out = file.join("out");
    let ran = Command::new(ATHIL)
        .current_dir(ROOT)
        .args(["run", &data(PASSES), "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&ran.stderr);
    assert_eq!(ran.status.code(), Some(2), "{err}");
    assert!(err.contains(&out.display().to_string()), "{err}");
}

#[test]
fn junit_to_a_character_device_writes_through_it_and_leaves_the_device() {
    // Was: `--junit /dev/null` as root replaced the device node with a regular file. The test
    // makes its own null device rather than risk the machine's.
    let tmp = tempfile::tempdir().unwrap();
    let null = own_device(tmp.path(), "null", 1, 3, "/dev/null");
    if !null.starts_with(tmp.path()) {
        eprintln!("skipped: mknod needs root (a normal user cannot replace a device either)");
        return;
    }
    let ran = athil_run(&[&data(PASSES), "--junit", null.to_str().unwrap()]);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    let meta = std::fs::symlink_metadata(&null).unwrap();
    assert!(meta.file_type().is_char_device(), "{:?}", meta.file_type());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["null"], "no temporary files beside the device");
}

#[test]
fn a_symlinked_junit_path_keeps_its_link_and_its_target_gets_the_report() {
    // Was: the report was renamed over the link, so the link became a plain file.
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("reports").join("latest.xml");
    std::fs::create_dir(target.parent().unwrap()).unwrap();
    std::fs::write(&target, "old").unwrap();
    let link = tmp.path().join("junit.xml");
    std::os::unix::fs::symlink(Path::new("reports/latest.xml"), &link).unwrap();
    let ran = athil_run(&[&data(PASSES), "--junit", link.to_str().unwrap()]);
    assert_eq!(ran.code, Some(0), "{}", ran.both());
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let xml = std::fs::read_to_string(&target).unwrap();
    assert!(
        xml.contains("terminate: the first scenario passes"),
        "{xml}"
    );
}
