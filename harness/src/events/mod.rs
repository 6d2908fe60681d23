//! The event stream at the bottom of every layer: module, broker and the executor only emit
//! [`RunEvent`]s into an [`EventSink`]; every report (console, JUnit, transcript, pcap) consumes
//! the same stream, so what one report shows, all can. Every event says which slot of the rig
//! and which job (one scenario on one slot) it belongs to, so scenarios running side by side
//! interleave in the stream and still land in their own reports. Nothing here imports another
//! layer but `mqtt` (the packet vocabulary).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::mqtt::{Packet, PacketType};

/// A slot of the rig: one module position (a serial port, or one virtual module). Slot 0 is
/// the only slot of a one-module run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SlotId(pub u16);

/// One scenario run on one slot, numbered by the plan (0, 1, 2… in plan order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub u32);

/// One event with the moment it happened, both as wall-clock time (pcap, transcripts) and as
/// time since the run started (console, ordering), and where it belongs.
#[derive(Debug, Clone)]
pub struct Stamped {
    pub at: SystemTime,
    pub since_start: Duration,
    pub slot: SlotId,
    /// The job running on `slot` when the event happened; `None` between jobs.
    pub job: Option<JobId>,
    pub event: RunEvent,
}

impl Stamped {
    /// An event of slot 0 outside any job (tests and one-off tools).
    pub fn new(at: SystemTime, since_start: Duration, event: RunEvent) -> Stamped {
        Stamped {
            at,
            since_start,
            slot: SlotId::default(),
            job: None,
            event,
        }
    }
}

/// Identifies one TCP connection through the broker gateway, for the length of a run.
pub type ConnId = u64;

/// Which way bytes travelled on a TCP connection through the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpDirection {
    /// Module (client) to broker.
    Uplink,
    /// Broker to module (client).
    Downlink,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed(Failure),
    /// Not run because the run was interrupted or an earlier fatal error stopped it.
    Skipped {
        reason: String,
    },
}

impl Outcome {
    pub fn is_passed(&self) -> bool {
        matches!(self, Outcome::Passed)
    }
}

/// Why a step failed, written so a lab engineer can act on it without re-running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The step as written in the scenario, e.g. `receive: 20 02 00 00 (line 14)`.
    pub step: String,
    /// One line: "expected CONNACK return code 0, got 4".
    pub message: String,
    /// How `expected` and `actual` are rendered, so reports can diff them sensibly.
    pub kind: FailureKind,
    /// What was expected, rendered for side-by-side display (hex, fields or text).
    pub expected: String,
    /// What actually arrived, rendered the same way; empty when nothing did.
    pub actual: String,
    /// The last bytes seen on the serial line, for context: those of `last_serial_window`.
    pub last_serial: Vec<u8>,
    /// Which stretch of the serial line `last_serial` is from, as the failure block says.
    pub last_serial_window: SerialWindow,
}

/// Which serial bytes a [`Failure`] shows. A step's failure shows what arrived while it ran,
/// not the module's boot banner from before the scenario's first step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialWindow {
    /// The bytes since the failing step started; `total` of them arrived, the last ones are
    /// shown when there were more than the driver keeps.
    SinceStep { total: u64 },
    /// The last bytes of the module's reset and sync (a failure before any step ran).
    Sync,
}

/// What a failure compares; tells a report how to show `expected` beside `actual`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Both sides are hex as the seeds print it (`20 02 00 04`): diff byte by byte.
    Bytes,
    /// Both sides are `field: value` lines: diff line by line.
    Fields,
    /// Serial text: show both as text with control characters escaped.
    Text,
    /// A deadline fired: `expected` says what was awaited, `actual` what arrived meanwhile.
    Timeout,
    /// Anything else (an I/O error, a module ERROR): `message` says it all.
    Other,
}

#[derive(Debug, Clone)]
pub enum RunEvent {
    RunStarted {
        scenario_count: usize,
    },
    ScenarioStarted {
        name: String,
        file: PathBuf,
    },
    StepStarted {
        index: usize,
        /// Short description as written, e.g. `send AT+CIPSEND=118`.
        label: String,
        /// The step's `name:` in the scenario, saying why the step is there.
        name: Option<String>,
        /// Line of the step in its scenario file.
        line: usize,
    },
    /// Bytes the harness wrote to the module's serial line.
    SerialOut {
        bytes: Vec<u8>,
    },
    /// Bytes the module wrote on its serial line.
    SerialIn {
        bytes: Vec<u8>,
    },
    /// A TCP connection reached the broker gateway.
    TcpOpened {
        conn: ConnId,
        client: SocketAddr,
        server: SocketAddr,
    },
    TcpData {
        conn: ConnId,
        direction: TcpDirection,
        bytes: Vec<u8>,
    },
    /// The connection ended; `by_broker` tells which side closed it.
    TcpClosed {
        conn: ConnId,
        by_broker: bool,
    },
    /// A whole MQTT packet framed by the gateway, either way.
    MqttPacket {
        conn: ConnId,
        direction: TcpDirection,
        packet: Packet,
    },
    /// A connection's packets over the stand-alone broker's per-second budget of packet
    /// events, counted by type instead of sent one by one (`shown` of that second came first).
    PacketsNotShown {
        conn: ConnId,
        shown: u32,
        counts: Vec<(PacketType, u64)>,
    },
    /// Something the broker decided (refusal and its reason, a fault injected, a drop).
    BrokerNote {
        conn: Option<ConnId>,
        text: String,
    },
    StepFinished {
        index: usize,
        outcome: Outcome,
        elapsed: Duration,
    },
    ScenarioFinished {
        name: String,
        outcome: Outcome,
        elapsed: Duration,
    },
    RunFinished {
        passed: usize,
        failed: usize,
        skipped: usize,
        elapsed: Duration,
        interrupted: bool,
    },
}

/// What a [`RunEvent::PacketsNotShown`] says: `12 more packets not shown (PUBLISH 6, PUBACK 6)
/// after the first 100 of the second`.
pub fn packets_not_shown(shown: u32, counts: &[(PacketType, u64)]) -> String {
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    let kinds: Vec<String> = counts
        .iter()
        .map(|(kind, n)| format!("{} {n}", kind.name()))
        .collect();
    format!(
        "{total} more packets not shown ({}) after the first {shown} of the second",
        kinds.join(", ")
    )
}

/// Where layers send their events. Cheap to clone; stamping happens here so every layer shares
/// one clock. A sink whose receiver is gone drops events silently: reporting must never stop a
/// module or the broker.
///
/// A sink belongs to one slot ([`EventSink::for_slot`]); its clones (the slot's module
/// transport, its broker scope) share the slot's current job, which the runner sets as each
/// scenario starts and ends, so a layer that knows nothing of scenarios still tags its events.
#[derive(Debug, Clone)]
pub struct EventSink {
    start: std::time::Instant,
    tx: Option<tokio::sync::mpsc::UnboundedSender<Stamped>>,
    slot: SlotId,
    job: Arc<AtomicU32>,
}

/// The job cell's value for "no job".
const NO_JOB: u32 = u32::MAX;

impl EventSink {
    /// A sink and the receiver the reports read from.
    pub fn channel() -> (EventSink, tokio::sync::mpsc::UnboundedReceiver<Stamped>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (
            EventSink {
                start: std::time::Instant::now(),
                tx: Some(tx),
                slot: SlotId::default(),
                job: Arc::new(AtomicU32::new(NO_JOB)),
            },
            rx,
        )
    }

    /// A sink that discards everything (stand-alone tools, unit tests that do not look).
    pub fn discard() -> EventSink {
        EventSink {
            start: std::time::Instant::now(),
            tx: None,
            slot: SlotId::default(),
            job: Arc::new(AtomicU32::new(NO_JOB)),
        }
    }

    /// A sink into the same stream, with the same clock, for `slot`, with a job of its own.
    pub fn for_slot(&self, slot: SlotId) -> EventSink {
        EventSink {
            start: self.start,
            tx: self.tx.clone(),
            slot,
            job: Arc::new(AtomicU32::new(NO_JOB)),
        }
    }

    /// The slot this sink's events belong to.
    pub fn slot(&self) -> SlotId {
        self.slot
    }

    /// From now on this sink and its clones tag events with `job` (`None`: between jobs).
    pub fn set_job(&self, job: Option<JobId>) {
        self.job
            .store(job.map_or(NO_JOB, |j| j.0), Ordering::Release);
    }

    pub fn emit(&self, event: RunEvent) {
        if let Some(tx) = &self.tx {
            let job = self.job.load(Ordering::Acquire);
            let _ = tx.send(Stamped {
                at: SystemTime::now(),
                since_start: self.start.elapsed(),
                slot: self.slot,
                job: (job != NO_JOB).then_some(JobId(job)),
                event,
            });
        }
    }
}
