//! Reports: consumers of the run's event stream. A [`Reporter`] takes every [`Stamped`] event
//! once and fans it out to the console, the per-scenario transcript and pcap, and the JUnit XML,
//! all redacted by one [`Redactor`].
//!
//! [`Stamped`]: crate::events::Stamped

pub mod console;
pub mod diff;
pub mod error;
pub mod frame;
pub mod junit;
pub mod pcap;
pub mod planned;
pub mod redact;
pub mod reporter;
pub mod run_dir;
pub mod summary;
pub mod text;
pub mod transcript;
pub mod write;

pub use console::Console;
pub use error::ReportError;
pub use planned::{Planned, RunPlan, SlotInfo};
pub use redact::{Redactor, MIN_SECRET_LEN};
pub use reporter::{ReportPaths, Reporter, ScenarioFiles};
pub use summary::{RunSummary, ScenarioStatus, ScenarioSummary, Totals};
pub use write::write_report;
