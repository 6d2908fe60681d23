//! The broker side: a gateway that impersonates Alibaba Cloud and OneNET (each a
//! [`platform::CloudPlatform`]) in front of an embedded rumqttd reached only through in-process links, one per device connection and one
//! for the cloud. Main types: [`Broker`], [`BrokerConfig`], [`BrokerHandle`]. Only this folder
//! imports rumqttd (STYLE.md rule 7).
//!
//! ```text
//! module ──TCP──▶ gateway (session: frame, record, cloud policy) ──link──▶ rumqttd ◀──link── cloud
//! ```

mod capacity;
mod cloud;
pub mod cloud_api;
mod envelope;
pub mod error;
pub mod fault;
pub mod gateway;
mod handle;
mod namespace;
pub mod observed;
mod packet_budget;
mod plain;
pub mod platform;
pub mod policy;
pub mod profile;
mod reach;
mod rumqttd;
pub mod session;

pub use cloud_api::{CloudApiConfig, CloudCredential};
pub use error::BrokerError;
pub use fault::{DelayedPacket, Direction, Fault, FaultTarget};
pub use gateway::Listen;
pub use handle::{Broker, BrokerConfig, BrokerHandle};
pub use observed::{Dropped, Mark, Observed, Refusal, SeenDirection, SeenPacket, Window};
pub use plain::serve_plain_rumqttd;
pub use platform::{CloudPlatform, SubscribeVerdict};
pub use policy::{Admission, CloudPolicy, ConnectDecision, RefusalKind, RefusalReason};
pub use profile::{CloudProfile, OneNetProfile, ProfileOverride};
