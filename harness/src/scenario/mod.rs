//! Scenarios: YAML files parsed in two stages into a validated [`Scenario`] the executor runs.
//!
//! 1. [`yaml`] reads the file into a tree with a position on every node;
//! 2. [`de`] deserializes the raw serde structs of [`raw`] from that tree (shape only);
//! 3. [`validate`] turns them into the [`model`] (hex, durations, templates, the device),
//!    collecting every problem of every file with its `file:line:column`.
//!
//! Blocks owned by other layers (`virtual_module:`, `cloud:`, a step's `broker_fault:`) are
//! carried as [`Opaque`] YAML with positions; [`Scenario::opaque_blocks`] lists them and
//! [`Opaque::read`] reads one into its owner's type.
//!
//! Entry points: [`load_paths`] and [`load_str`]; [`schema::schema_json`] for editors.
//! The format is documented in `docs/scenario-format.md`.

mod broker_steps;
mod capture;
mod de;
mod error;
mod label;
mod limits;
mod load;
mod location;
mod matching;
mod model;
mod network_steps;
mod opaque;
mod packets;
mod raw;
mod raw_broker;
mod raw_network;
mod raw_packets;
pub mod schema;
mod send_lengths;
mod template;
mod validate;
mod wrap;
mod yaml;

pub use error::{ErrorKind, ScenarioError};
pub use limits::{MAX_DURATION, MAX_FILE_BYTES};
pub use load::{load_paths, load_str};
pub use location::Location;
pub use matching::{json_subset, Mismatch, TextMatch};
pub use model::{
    Action, BrokerDropped, BrokerRefused, BrokerSaw, Capture, CloudPublish, ConnectSpec,
    FaultDevice, FilterMatch, FilterSpec, Join, Matcher, MqttExpect, MqttSend, Open, PacketId,
    Pattern, Payload, PayloadMatch, PublishMatch, PublishSpec, Scenario, SeenPacket, Step,
    DEFAULT_STEP_TIMEOUT,
};
pub use opaque::{Opaque, VirtualModule};
pub use template::{DeviceField, Part, Template, TemplateError, Var};
