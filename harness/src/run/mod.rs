//! The runner as a library: the [`Plan`] (which scenario on which slot, checked before
//! anything starts), the [`session`] (one task per slot, each with its broker scope) and the
//! [`Executor`] that runs a slot's scenarios, emitting [`RunEvent`]s that reports consume. It
//! never prints.

pub mod blocks;
mod broker_steps;
pub mod compare;
pub mod estimate;
pub mod executor;
mod network_steps;
pub mod plan;
pub mod requires;
pub mod rig;
pub mod secrets;
pub mod session;
pub mod slot;
pub mod step;
pub mod target;
pub mod values;

pub use crate::events::*;
pub use blocks::{block_problems, cloud_override};
pub use estimate::History;
pub use executor::{Executor, Interrupt, StopReceiver, Totals, SYNC_DEADLINE};
pub use plan::{Job, Plan, PlanError, PlanInput};
pub use rig::{Rig, RigError, Wifi};
pub use secrets::RunSecrets;
pub use session::{JobResult, SessionError, SessionResult};
pub use slot::Slot;
pub use target::{virtual_overrides, ModuleTarget, VirtualOverrides};
pub use values::Values;
