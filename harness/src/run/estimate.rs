//! How long a scenario is expected to take, so a parallel run starts the long ones first and
//! a 10 s timer scenario does not start last: the previous run's time when there is one (the
//! [`History`] kept beside the runs under `--out`), else the scenario's own `estimate:`, else
//! its deliberate waits added up plus the module's bring-up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::scenario::{Action, Scenario};

/// What every scenario costs before its first step: a fresh module's boot, sync and join.
const BRING_UP: Duration = Duration::from_millis(700);

/// The file beside the runs that keeps each scenario's last time.
pub const HISTORY_FILE: &str = "durations.json";

/// Each scenario's time in earlier runs, by scenario name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    seconds: BTreeMap<String, f64>,
}

impl History {
    /// The history kept in `out` (empty when there is none, or it cannot be read: it is a
    /// hint, never a reason to stop a run).
    pub fn load(out: &Path) -> History {
        let path = out.join(HISTORY_FILE);
        let seconds = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        History { seconds }
    }

    pub fn get(&self, name: &str) -> Option<Duration> {
        self.seconds
            .get(name)
            .filter(|s| s.is_finite() && **s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
    }

    /// Keeps `elapsed` as `name`'s time (the longest, when one run ran it on several slots).
    pub fn record(&mut self, name: &str, elapsed: Duration) {
        let s = self.seconds.entry(name.to_owned()).or_insert(0.0);
        *s = s.max(elapsed.as_secs_f64());
    }

    /// Writes the history into `out`, whole or not at all.
    pub fn save(&self, out: &Path) -> std::io::Result<PathBuf> {
        let path = out.join(HISTORY_FILE);
        let text = serde_json::to_string_pretty(&self.seconds).map_err(std::io::Error::other)?;
        let tmp = out.join(format!(".{HISTORY_FILE}.{}", std::process::id()));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }
}

/// `s`'s expected time.
pub fn estimate(s: &Scenario, history: &History) -> Duration {
    if let Some(d) = history.get(&s.name) {
        return d;
    }
    if let Some(d) = s.estimate {
        return d;
    }
    let waits: Duration = s
        .steps
        .iter()
        .map(|step| match &step.action {
            Action::Wait(d) => *d,
            Action::ExpectNot { window, .. } => *window,
            _ => Duration::ZERO,
        })
        .sum();
    BRING_UP + waits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_round_trips_and_keeps_the_longest() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::default();
        h.record("a", Duration::from_millis(1500));
        h.record("a", Duration::from_millis(900));
        h.save(dir.path()).unwrap();
        let back = History::load(dir.path());
        assert_eq!(back.get("a"), Some(Duration::from_millis(1500)));
        assert_eq!(back.get("b"), None);
    }

    #[test]
    fn an_unreadable_history_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(HISTORY_FILE), "{not json").unwrap();
        assert_eq!(History::load(dir.path()), History::default());
    }
}
