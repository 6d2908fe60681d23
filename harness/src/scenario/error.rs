//! [`ScenarioError`]: one problem in one scenario file, with the place it was found, displayed
//! as `path:line:column: message` like a compiler's diagnostics.

use std::fmt;
use std::path::PathBuf;

use super::location::Location;

/// What sort of problem a [`ScenarioError`] is; lets tests and tools tell them apart without
/// matching on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The file or directory could not be read.
    Io,
    /// The text is not YAML (or is more than one document, or repeats a key).
    Yaml,
    /// A key that the format does not have, including an unknown step kind or packet.
    UnknownKey,
    /// A key that must be there is not.
    MissingKey,
    /// A value of the wrong shape: a list where text was expected, a word where a number was.
    Type,
    /// A value of the right shape that is still wrong (a QoS of 3, two payloads at once, ...).
    Value,
    /// Hex that does not read as bytes.
    Hex,
    /// A duration without a unit or that does not parse.
    Duration,
    /// A `{{...}}` that is malformed or names nothing athil knows.
    Template,
    /// A device fixture name that is not in the registry.
    Device,
    /// A regular expression that does not compile.
    Regex,
}

/// One problem in a scenario file. Displays as `path:line:column: message`, or `path: message`
/// when the problem has no single place (an unreadable file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    pub file: PathBuf,
    pub location: Option<Location>,
    pub kind: ErrorKind,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some(at) => write!(f, "{}:{}: {}", self.file.display(), at, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// The candidate closest to a misspelt `word`, if any is close enough to be what was meant.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `` `a`, `b`, `c` `` for messages that list what would have been accepted.
pub(crate) fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    quoted.join(", ")
}

/// `; did you mean `x`?` when a close candidate exists, else nothing.
pub(crate) fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    closest(word, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_a_compiler_diagnostic() {
        let e = ScenarioError {
            file: "scenarios/a.yaml".into(),
            location: Some(Location::new(7, 13)),
            kind: ErrorKind::Hex,
            message: "`0G` is not hex".into(),
        };
        assert_eq!(e.to_string(), "scenarios/a.yaml:7:13: `0G` is not hex");
        let e = ScenarioError {
            location: None,
            ..e
        };
        assert_eq!(e.to_string(), "scenarios/a.yaml: `0G` is not hex");
    }

    #[test]
    fn suggests_only_close_names() {
        let kinds = ["send", "write", "expect", "receive_mqtt", "subscribe"];
        assert_eq!(closest("sned", &kinds), Some("send"));
        assert_eq!(closest("recieve_mqtt", &kinds), Some("receive_mqtt"));
        assert_eq!(closest("subscibe", &kinds), Some("subscribe"));
        assert_eq!(closest("frobnicate", &kinds), None);
    }
}
