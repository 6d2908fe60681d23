//! The executor: runs validated scenarios against a module and the broker, emitting
//! [`RunEvent`]s that reports consume. It never prints.

pub mod event;

pub use event::*;
