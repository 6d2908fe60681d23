//! [`BrokerError`]: what can go wrong starting, driving or asking the broker, worded to read
//! after "failed to".

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// One error type for the broker layer; each variant names what was being attempted.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The benchmark's plain rumqttd peer stopped (`plain.rs`).
    #[error("serve plain rumqttd: {reason}")]
    PlainRumqttd { reason: String },

    /// A gateway connection's in-process link into rumqttd could not be opened.
    #[error("open an in-process link into rumqttd as `{client_id}`: {reason}")]
    Link { client_id: String, reason: String },

    /// rumqttd's router thread is gone (it never stops on its own).
    #[error("hand a packet to rumqttd's router: {reason}")]
    Router { reason: String },

    #[error("listen for the cloud side on {addr}: {source}")]
    CloudListen {
        addr: SocketAddr,
        source: std::io::Error,
    },

    #[error("read the cloud side's credential: {reason}")]
    CloudCredential { reason: String },

    #[error("listen for modules on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },

    #[error(
        "find a free loopback address for the gateway after {attempts} attempts on port {port}"
    )]
    NoFreeLoopback { port: u16, attempts: u32 },

    #[error("load the device registry from `{}`: {reason}", dir.display())]
    Devices { dir: PathBuf, reason: String },

    #[error("load the cloud profile from `{}`: {reason}", path.display())]
    Profile { path: PathBuf, reason: String },

    #[error("publish from the cloud to `{topic}`: {reason}")]
    Publish { topic: String, reason: String },

    /// `wait_seen` ran out of time; `seen` counts what the broker did see since the mark, so a
    /// lab engineer can tell "nothing at all" from "something else".
    #[error("see the expected packet within {waited:?} ({seen} packets seen since the mark{last})",
        last = last_seen.as_deref().map(|l| format!("; last: {l}")).unwrap_or_default())]
    NotSeen {
        waited: Duration,
        seen: usize,
        last_seen: Option<String>,
    },

    #[error("shut the broker down within {waited:?}")]
    ShutdownTimeout { waited: Duration },

    #[error("use the broker: it has been shut down")]
    ShutDown,

    /// `BrokerHandle::inject` got a fault it cannot carry out (see broker/fault).
    #[error("inject the fault `{fault}`: {reason}")]
    Fault { fault: String, reason: String },
}
