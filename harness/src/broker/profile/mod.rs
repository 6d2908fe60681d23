//! The Alibaba Cloud profile: every cloud rule the gateway applies, as data with the documented
//! behaviour as default ([`CloudProfile`]), switchable from a YAML file (`athil broker
//! --profile`, `fixtures/profiles/aliyun.yaml`) and per scenario ([`ProfileOverride`]).
//!
//! - `config`: the profile's sections and keys, load and override;
//! - `topics`: the per-device topic permission model (§2.6);
//! - `limits`: topic and payload limits (§2.7);
//! - `keepalive`: the keepalive window and idle limit (§2.4);
//! - `thing`: the Alink post replies (§2.8);
//! - `onenet`: the OneNET rules no source confirms ([`OneNetProfile`], its own file);
//! - `logins`: one connection per device (§2.2);
//! - `timers`: the connection task's deadlines (CONNECT, idle, replaced).

pub mod config;
pub mod keepalive;
pub mod limits;
pub mod logins;
pub mod onenet;
pub mod thing;
pub mod timers;
pub mod topics;

pub use config::{
    AboveMax, Access, CloudProfile, Implicit, Keepalive, Limits, Login, ProfileOverride, Protocol,
    RetainRule, Span, Thing, TopicClass, Topics, Violation, WillRule,
};
pub use onenet::OneNetProfile;

use std::path::Path;

use super::error::BrokerError;

/// Reads a profile file of either platform: an empty file is the defaults, absent keys keep
/// theirs, unknown keys are errors, and every problem `problems` finds is reported at once.
pub(crate) fn load_file<P>(
    path: &Path,
    problems: impl Fn(&P) -> Vec<String>,
) -> Result<P, BrokerError>
where
    P: Default + serde::de::DeserializeOwned,
{
    let fail = |reason: String| BrokerError::Profile {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let profile: P = if text.trim().is_empty() {
        P::default()
    } else {
        serde_yaml::from_str(&text).map_err(|e| fail(e.to_string()))?
    };
    let found = problems(&profile);
    if !found.is_empty() {
        return Err(fail(found.join("; ")));
    }
    Ok(profile)
}
