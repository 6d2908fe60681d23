//! Looking for a secret in everything a run left behind: every file of the out directory,
//! stdout and stderr, in every form a report could print it.

use std::path::{Path, PathBuf};

use super::Ran;

/// Every file under `dir`, recursively.
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the out directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn spaced(b: &[u8], upper: bool) -> String {
    let each: Vec<String> = b
        .iter()
        .map(|x| {
            if upper {
                format!("{x:02X}")
            } else {
                format!("{x:02x}")
            }
        })
        .collect();
    each.join(" ")
}

/// The forms a secret could leak in: as written (and in the other case, when it is hex, as a
/// sign may be sent), as the hex of its characters (spaced upper and lower, unspaced), and, when
/// it is itself hex, as the bytes it spells (`5C AE EF …`, `5c ae ef …`). Each whole, and its
/// first six bytes, which survive a hex dump's line breaks (unless `whole_only`: a secret
/// starting with a public name shows that name).
pub fn leak_forms(secret: &str, whole_only: bool) -> Vec<String> {
    let head = |b: &[u8]| if whole_only { b.len() } else { 6.min(b.len()) };
    let mut texts = vec![secret.to_owned()];
    let is_hex = secret.len() % 2 == 0 && secret.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex {
        texts.push(secret.to_ascii_uppercase());
        texts.push(secret.to_ascii_lowercase());
    }
    let mut forms = Vec::new();
    for t in &texts {
        let b = t.as_bytes();
        for part in [b, &b[..head(b)]] {
            forms.push(String::from_utf8_lossy(part).into_owned());
            forms.push(spaced(part, true));
            forms.push(spaced(part, false));
            forms.push(spaced(part, true).replace(' ', ""));
            forms.push(spaced(part, false).replace(' ', ""));
        }
    }
    if is_hex {
        let bytes: Vec<u8> = (0..secret.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&secret[i..i + 2], 16).expect("hex"))
            .collect();
        for part in [&bytes[..], &bytes[..head(&bytes)]] {
            forms.push(spaced(part, true));
            forms.push(spaced(part, false));
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// stdout, stderr and every out file of `ran`, by name.
pub fn everything_written(ran: &Ran) -> Vec<(String, Vec<u8>)> {
    let mut outputs: Vec<(String, Vec<u8>)> = vec![
        ("stdout".into(), ran.stdout.clone().into_bytes()),
        ("stderr".into(), ran.stderr.clone().into_bytes()),
    ];
    for f in all_files(&ran.out_dir()) {
        let bytes = std::fs::read(&f).expect("read a report");
        outputs.push((f.display().to_string(), bytes));
    }
    outputs
}

/// Fails naming the output and the form if any of `secrets` (labelled) is in any output.
pub fn assert_no_leak(ran: &Ran, secrets: &[(&str, &str)]) {
    no_leak(ran, secrets, false);
}

/// [`assert_no_leak`] for whole copies only, for secrets that start with a public name.
pub fn assert_no_whole_leak(ran: &Ran, secrets: &[(&str, &str)]) {
    no_leak(ran, secrets, true);
}

fn no_leak(ran: &Ran, secrets: &[(&str, &str)], whole_only: bool) {
    let outputs = everything_written(ran);
    let mut found = Vec::new();
    for (what, bytes) in &outputs {
        for (label, secret) in secrets {
            for form in leak_forms(secret, whole_only) {
                if contains(bytes, form.as_bytes()) {
                    found.push(format!("{what} holds the {label} as `{form}`"));
                }
            }
        }
    }
    assert!(found.is_empty(), "{}\n{}", found.join("\n"), ran.both());
}
