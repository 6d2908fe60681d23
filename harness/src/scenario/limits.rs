//! The limits a scenario file must keep, so hostile or mistaken input is refused with a message
//! instead of exhausting memory or blocking a run: the file's size, the YAML tree's size with
//! aliases expanded (a "billion laughs" file is a few hundred bytes that expand to gigabytes),
//! its nesting depth, and the longest duration a step may wait. `docs/scenario-format.md`
//! states each of them.

use std::time::Duration;

/// The largest scenario file read: far above any real scenario (the shipped ones are a few
/// kilobytes), small enough that a wrong path (a log, a firmware image, `/dev/zero`) is refused
/// at once.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The most YAML values (scalars, sequences, mappings) one file may hold, each alias counted
/// as the values it copies.
pub const MAX_NODES: usize = 100_000;

/// The most text (scalar bytes) one file may hold, each alias counted as the text it copies.
pub const MAX_TEXT_BYTES: usize = 4 * 1024 * 1024;

/// The deepest nesting of sequences and mappings: a scenario needs six or seven levels; the
/// limit keeps every recursive walk over the tree far from the end of the stack.
pub const MAX_DEPTH: usize = 64;

/// The longest `timeout`, `wait` or `for` a scenario may give. A day is longer than any test of
/// a module should wait; a value beyond it is a typo (`9999999999999h`) that would otherwise
/// block the run until someone kills it.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// How [`MAX_DURATION`] is written in messages and the docs.
pub const MAX_DURATION_TEXT: &str = "24h";

/// How [`MAX_FILE_BYTES`] is written in messages and the docs.
pub const MAX_FILE_TEXT: &str = "1 MiB";
