//! What the run means to do, handed to the reports before the first event: the rig's slots
//! and the jobs (a scenario on a slot, or on whichever slot is free first). JUnit lists the
//! jobs not reached yet; the console counts progress and estimates the time left from them.

use std::path::PathBuf;
use std::time::Duration;

use crate::events::SlotId;

/// A slot as the reports name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    /// The rig's name for it (`v1`, `bench-esp`), used in console lines and folder names.
    pub name: String,
    /// What module sits there, e.g. `virtual ESP8266 (ESP-AT 2.x, 115200 baud)`.
    pub module: String,
}

/// A scenario the run means to run, by name and file, known before any event about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub name: String,
    pub file: PathBuf,
    /// The slot it is bound to; `None`: the first free slot that can run it.
    pub slot: Option<SlotId>,
    /// How long it is expected to take (for the time left).
    pub estimate: Duration,
}

impl Planned {
    /// A scenario on slot 0 of a one-module run, with no estimate.
    pub fn one(name: impl Into<String>, file: impl Into<PathBuf>) -> Planned {
        Planned {
            name: name.into(),
            file: file.into(),
            slot: None,
            estimate: Duration::ZERO,
        }
    }
}

/// The run's plan as the reports see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunPlan {
    /// Indexed by [`SlotId`]; empty is read as one unnamed slot.
    pub slots: Vec<SlotInfo>,
    pub jobs: Vec<Planned>,
}

impl RunPlan {
    /// Whether the reports must tell slots apart (console prefixes, a folder per slot).
    pub fn is_parallel(&self) -> bool {
        self.slots.len() > 1
    }

    /// The slot's name, or `slot N` for one the plan does not list.
    pub fn slot_name(&self, slot: SlotId) -> String {
        self.slots
            .get(slot.0 as usize)
            .map_or_else(|| format!("slot {}", slot.0), |s| s.name.clone())
    }
}
