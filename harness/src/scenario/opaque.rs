//! [`Opaque`]: a block of a scenario this layer carries without knowing its type (the
//! `virtual_module:` settings, the `cloud:` profile override, a step's `broker_fault:`), kept
//! as YAML with its positions so the layer that does know the type reads it with
//! `file:line:column` on every problem, as for the rest of the scenario.
//!
//! The scenario layer sits below the simulator and the broker, so it cannot name their types;
//! it checks only the block's shape (a mapping, one key for a fault) and hands the rest on.

use std::path::{Path, PathBuf};

use super::de::{read, Sink};
use super::error::{ErrorKind, ScenarioError};
use super::location::Location;
use super::yaml::{Node, NodeKind};

/// A block read later by another layer into its own type with [`Opaque::read`].
#[derive(Debug, Clone, PartialEq)]
pub struct Opaque {
    /// The block as plain YAML, for a quick look (`value["faults"]`).
    pub value: serde_yaml::Value,
    /// Where the block starts, to place errors about it as a whole.
    pub location: Location,
    node: Node,
    file: PathBuf,
}

/// The `virtual_module:` block: the simulator layer reads it into its overrides type. The
/// old name of [`Opaque`], kept for the code that reads that block.
pub type VirtualModule = Opaque;

impl Opaque {
    pub(crate) fn new(value: serde_yaml::Value, node: Node, file: &Path) -> Opaque {
        Opaque {
            value,
            location: node.mark.location,
            node,
            file: file.to_path_buf(),
        }
    }

    /// The file the block was read from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Reads the block into the owning layer's type, reporting every problem with its
    /// `file:line:column` (unknown keys and variants with a suggestion). Enums read as the
    /// rest of the format writes them: `{delay: {packet: connack, by: 2s}}`, or a variant
    /// name alone.
    pub fn read<T: serde::de::DeserializeOwned>(&self) -> Result<T, Vec<ScenarioError>> {
        let sink = Sink::default();
        let value = read::<T>(&self.node, &sink);
        let errors: Vec<ScenarioError> = sink
            .into_inner()
            .into_iter()
            .map(|e| ScenarioError {
                file: self.file.clone(),
                location: e.location.or(Some(self.location)),
                kind: e.kind,
                message: e.message,
            })
            .collect();
        match value {
            Some(v) if errors.is_empty() => Ok(v),
            // Every failure records its reason; should one not, the block still fails visibly.
            None if errors.is_empty() => Err(vec![self.error(
                &[],
                "expected a block its owner can read; no reason was given",
            )]),
            _ => Err(errors),
        }
    }

    /// The block's first key (its only one for a fault: `delay` in `{delay: {...}}`).
    pub fn key(&self) -> Option<&str> {
        match &self.node.kind {
            NodeKind::Map(entries) => entries
                .first()
                .and_then(|(k, _)| Some(k.scalar()?.value.as_str())),
            NodeKind::Scalar(_) | NodeKind::Seq(_) => None,
        }
    }

    /// Where the value under a path of keys starts (`["send_raw", "hex"]`), or where the
    /// deepest key of the path that exists starts; `[]` is the block itself. For problems the
    /// owning layer finds after [`Opaque::read`] (a hex string that does not parse).
    pub fn locate(&self, path: &[&str]) -> Location {
        let mut node = &self.node;
        for key in path {
            match node.get(key) {
                Some(next) => node = next,
                None => break,
            }
        }
        node.mark.location
    }

    /// Whether the block writes every key of `path` (`["keepalive", "min"]`).
    pub fn has(&self, path: &[&str]) -> bool {
        let mut node = &self.node;
        for key in path {
            match node.get(key) {
                Some(next) => node = next,
                None => return false,
            }
        }
        true
    }

    /// A problem with the value under `path` (see [`Opaque::locate`]), placed there, for the
    /// owning layer's checks beyond reading. `message` reads after "failed to" or states what
    /// was expected, as the loader's own messages do.
    pub fn error(&self, path: &[&str], message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.clone(),
            location: Some(self.locate(path)),
            kind: ErrorKind::Value,
            message: message.into(),
        }
    }
}
