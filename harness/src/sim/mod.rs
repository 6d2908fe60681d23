//! The virtual module: an ESP8266 AT firmware emulator (and a Quectel EC20/BG96 one, see
//! [`quectel`] and [`personality`]) that meets the harness only over a
//! pseudo-terminal, exactly as hardware would. [`spawn`] starts one and returns a
//! [`SimHandle`]; open [`SimHandle::device_path`] with `serialport` like any device.
//!
//! Layout: [`firmware`] is the sans-IO command interpreter (bytes and socket events in, bytes
//! and socket actions out), [`flavour`] holds the bytes that differ between NonOS AT 1.7 and
//! ESP-AT 2.2, [`names`] stands in for DNS (loopback only), [`boot`] renders the 74880-baud
//! boot banner as a host at the AT rate sees it; `pty`, `net` and `runtime` wire the firmware
//! to a real pty and real loopback TCP and UDP on plain threads, so it does not depend on any async runtime.
//!
//! Like a real serial line, bytes the module prints while the host has the port closed wait
//! in the pty (the module keeps the slave open so reopening always works): clear the input
//! buffer after opening, as with hardware.

pub mod boot;
pub mod config;
pub mod error;
pub mod firmware;
pub mod flavour;
pub mod names;
mod net;
pub mod personality;
mod pty;
pub mod quectel;
mod runtime;

pub use config::{
    AccessPoint, Faults, FirmwareChoice, Flavour, JoinFailure, Password, Quirks, SimConfig,
    Station, Timing,
};
pub use error::{ConfigProblem, SimError};
pub use names::{apparent_ip, Lookup, NameMap, NameRule, Target, CLOUD_HOSTS};
pub use quectel::{QuectelConfig, QuectelModel};
pub use runtime::{spawn, SimHandle};
