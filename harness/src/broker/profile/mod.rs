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
