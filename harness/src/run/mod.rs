//! The executor: runs validated scenarios against a module and the broker, emitting
//! [`RunEvent`]s that reports consume. It never prints.

pub mod blocks;
mod broker_steps;
pub mod compare;
pub mod executor;
pub mod rig;
pub mod secrets;
pub mod step;
pub mod target;
pub mod values;

pub use crate::events::*;
pub use blocks::{block_problems, cloud_override};
pub use executor::{Executor, Interrupt, StopReceiver, Totals, SYNC_DEADLINE};
pub use rig::{Rig, RigError, Wifi};
pub use secrets::RunSecrets;
pub use target::{virtual_overrides, ModuleTarget, VirtualOverrides};
pub use values::Values;
