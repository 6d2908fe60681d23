//! The virtual module's typed errors: [`SimError`] for starting it, [`ConfigProblem`] for one
//! thing wrong in a config. Messages read after "failed to".

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

/// Why the virtual module could not start (or its config could not be used).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("read sim config `{}`", path.display())]
    ReadConfig {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("parse sim config `{}`", path.display())]
    ParseConfig {
        path: PathBuf,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("accept the sim config: {}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
    InvalidConfig { problems: Vec<ConfigProblem> },
    #[error("open a pseudo-terminal pair")]
    Pty(#[source] serialport::Error),
    #[error("start the sim's `{name}` thread")]
    Thread {
        name: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("create the symlink `{}` to the sim's pseudo-terminal", path.display())]
    Link {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// One thing wrong in a [`super::SimConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigProblem {
    #[error("use baud 0 (the AT port needs a rate)")]
    Baud,
    #[error("use wifi_mode {0} (NonOS accepts 1..3, ESP-AT 0..3)")]
    WifiMode(u8),
    #[error("use SSID `{0}` (1 to 32 bytes)")]
    Ssid(String),
    #[error("parse MAC `{0}` (expected aa:bb:cc:dd:ee:ff)")]
    Mac(String),
    #[error("map `{host}` to {target}: only loopback 127.0.0.0/8 is allowed")]
    NotLoopback { host: String, target: IpAddr },
    #[error("use host pattern `{0}` (empty, or `*` in a place other than a whole label part)")]
    Pattern(String),
    #[error("parse name-map entry `{0}` (expected HOST=IP or HOST=IP:PORT)")]
    MapEntry(String),
    #[error("use quectel.{field} `{value}` ({expected})")]
    Quectel {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
}
