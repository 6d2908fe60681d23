//! athil: a hardware-in-the-loop test harness for AT-command Wi-Fi and cellular modules that
//! carry MQTT to a cloud IoT platform. See `ARCHITECTURE.md` for how the layers fit.

pub mod broker;
pub mod cli;
pub mod cloud;
pub mod events;
pub mod exit;
pub mod fuzz;
pub mod module;
pub mod mqtt;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sim;
