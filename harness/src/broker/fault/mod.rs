//! Broker-side fault injection: a test aims a [`Fault`] at one device or all
//! ([`FaultTarget`]) through `BrokerHandle::inject`, and the gateway carries it out on the real
//! TCP link (a refused CONNECT, a held SUBACK, a CONNACK in two segments, a dropped link, a
//! black hole, raw bytes). Every injection and every firing is a `RunEvent::BrokerNote`
//! starting `fault:`; split and raw writes are separate `RunEvent::TcpData` events, so the pcap
//! shows them as separate segments.
//!
//! The pieces: [`spec`] (what a fault is, read from YAML or the command line), [`board`]
//! (faults shared by all connections: which wait for a CONNECT, which go to a live one),
//! [`conn`] (one connection's faults as a sans-IO state machine over the session's steps) and
//! [`outbox`] (the timed server→module queue the gateway drains).

pub mod board;
pub mod conn;
pub mod outbox;
pub mod spec;

pub use board::{FaultBoard, Placement};
pub use conn::{Action, ConnFaults, Side};
pub use outbox::{Out, Outbox, Write};
pub use spec::{DelayedPacket, Direction, Fault, FaultTarget};
