//! The virtual module: an ESP8266 AT firmware emulator that meets the harness only over a
//! pseudo-terminal, exactly as hardware would. [`firmware::Firmware`] is the sans-IO command
//! interpreter; the rest wires it to a real pty and real loopback TCP.

pub mod boot;
pub mod config;
pub mod error;
pub mod firmware;
pub mod flavour;
pub mod names;
mod net;
mod pty;
mod runtime;

pub use config::{
    AccessPoint, Faults, Flavour, JoinFailure, Password, Quirks, SimConfig, Station, Timing,
};
pub use error::{ConfigProblem, SimError};
pub use names::{Lookup, NameMap, NameRule, Target};
pub use runtime::{spawn, SimHandle};
