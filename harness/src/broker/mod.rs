//! The broker side: a gateway that impersonates Alibaba Cloud (and OneNET) in front of an
//! embedded rumqttd, with the cloud as an in-process rumqttd link. Only this folder imports
//! rumqttd (STYLE.md rule 7).

pub mod error;
pub mod observed;
pub mod origins;
pub mod policy;
mod rumqttd;

pub use error::BrokerError;
pub use observed::{Mark, Observed, Refusal, SeenDirection, SeenPacket};
pub use policy::{Admission, CloudPolicy, ConnectDecision, RefusalKind, RefusalReason};
