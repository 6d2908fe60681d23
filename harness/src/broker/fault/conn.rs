//! One connection's faults as a sans-IO state machine: [`ConnFaults`] takes the [`Step`]s the
//! session returned (and the faults the board hands over) and returns the [`Action`]s the
//! gateway carries out: the steps themselves, minus what a black hole swallows, with every
//! server→module packet turned into [`Write`]s that a delay holds or a split cuts up.

use std::time::{Duration, Instant};

use super::board::FaultBoard;
use super::outbox::Write;
use super::spec::{DelayedPacket, Direction, Fault};
use crate::broker::policy::{RefusalKind, RefusalReason};
use crate::broker::session::{refusal, Step};
use crate::cloud::DeviceRegistry;
use crate::events::ConnId;
use crate::mqtt::{decode, encode, frame_len, to_hex, Connect, Packet};

/// Where the steps came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Bytes the device sent.
    Device,
    /// Bytes rumqttd sent.
    Upstream,
}

/// What the gateway does, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Carry out a session step (`ToDevice` and `Close` go through the outbox).
    Step(Step),
    /// Queue a write to the device.
    Write(Write),
}

#[derive(Debug, Clone)]
struct ArmedDelay {
    packet: DelayedPacket,
    by: Duration,
    left: u32,
}

/// See the module doc.
#[derive(Debug)]
pub struct ConnFaults {
    conn: ConnId,
    /// Registry name, once an accepted CONNECT named it.
    device: Option<String>,
    client_id: Option<String>,
    epoch: u64,
    delays: Vec<ArmedDelay>,
    split: Option<(u32, Duration)>,
    black_holes: Vec<(Direction, Instant)>,
    drop_after_next: bool,
    /// A copy of the device's bytes until its first packet is whole (see [`ConnFaults::screen`]);
    /// None once it is.
    first: Option<Vec<u8>>,
}

/// The registry device a CONNECT claims to be, whether or not its credentials hold:
/// Alibaba Cloud's `DeviceName&ProductKey` username, or OneNET's product id and device.
pub fn claimed_device(connect: &Connect, devices: &DeviceRegistry) -> Option<String> {
    let username = connect.username.as_deref()?;
    let device = match crate::cloud::aliyun::split_username(username) {
        Some((dn, pk)) => devices.find_aliyun(pk, dn),
        None => devices.find_onenet(username, &connect.client_id),
    };
    device.map(|d| d.name.clone())
}

/// How a fault refusal is recorded.
pub fn fault_refusal() -> RefusalReason {
    RefusalReason {
        kind: RefusalKind::FaultInjected,
        detail: "fault injected".to_owned(),
    }
}

/// `bytes` cut into `k` pieces as even as possible (earlier pieces one byte longer), never
/// more pieces than bytes.
pub fn split_bytes(bytes: &[u8], k: u32) -> Vec<Vec<u8>> {
    let k = (k as usize).clamp(1, bytes.len().max(1));
    let (base, extra) = (bytes.len() / k, bytes.len() % k);
    let mut out = Vec::with_capacity(k);
    let mut at = 0;
    for i in 0..k {
        let len = base + usize::from(i < extra);
        out.push(bytes[at..at + len].to_vec());
        at += len;
    }
    out
}

fn note(text: String) -> Action {
    Action::Step(Step::Note(text))
}

fn human(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(d)
}

impl ConnFaults {
    pub fn new(conn: ConnId, board: &FaultBoard) -> ConnFaults {
        ConnFaults {
            conn,
            device: None,
            client_id: None,
            epoch: board.epoch(),
            delays: Vec::new(),
            split: None,
            black_holes: Vec::new(),
            drop_after_next: false,
            first: Some(Vec::new()),
        }
    }

    /// The device's bytes before the session sees them. Once they complete a first packet that
    /// is a CONNECT and a `refuse_next_connect` waits for the device it claims, returns what
    /// replaces the session's answer: the session never sees that CONNECT, so no cloud rule
    /// runs for it (a login that would kick the device's live connection, say). Otherwise
    /// `None`: hand the bytes to the session. Costs nothing after the first packet.
    pub fn screen(
        &mut self,
        bytes: &[u8],
        board: &FaultBoard,
        devices: &DeviceRegistry,
    ) -> Option<Vec<Action>> {
        let buf = self.first.as_mut()?;
        buf.extend_from_slice(bytes);
        let len = match frame_len(buf) {
            Ok(Some(len)) if buf[0] >> 4 == 1 => len,
            Ok(None) if buf[0] >> 4 == 1 => return None,
            // Not a CONNECT, or not framable: the session answers that.
            Ok(_) | Err(_) => {
                self.first = None;
                return None;
            }
        };
        let raw = self.first.take()?;
        let Ok((Packet::Connect(connect), _)) = decode(&raw[..len]) else {
            return None;
        };
        let claimed = claimed_device(&connect, devices);
        let code = board.take_refusal(claimed.as_deref())?;
        self.client_id = Some(connect.client_id.clone());
        let who = claimed.unwrap_or_else(|| format!("client {:?}", connect.client_id));
        let client_id = connect.client_id.clone();
        let connack = refusal(code);
        // The fault's code was checked when it was armed (1 to 5), so this always encodes.
        let answer = match encode(&connack) {
            Ok(bytes) => Action::Write(Write::packet(bytes, connack)),
            Err(e) => note(format!("fault: failed to {e}")),
        };
        Some(vec![
            Action::Step(Step::FromDevice(Packet::Connect(connect))),
            note(format!(
                "fault: refused the CONNECT of {who} with code {code}, whatever its credentials"
            )),
            Action::Step(Step::Refused {
                client_id,
                code,
                reason: fault_refusal(),
            }),
            answer,
            Action::Step(Step::Close),
        ])
    }

    /// The device as notes name it.
    fn who(&self) -> String {
        match (&self.device, &self.client_id) {
            (Some(d), _) => d.clone(),
            (None, Some(c)) => format!("client {c:?}"),
            (None, None) => format!("conn {}", self.conn),
        }
    }

    fn is_armed(&self) -> bool {
        !self.delays.is_empty()
            || self.split.is_some()
            || !self.black_holes.is_empty()
            || self.drop_after_next
    }

    /// After the board was cleared (a scenario boundary), forgets what was armed.
    fn sync_epoch(&mut self, board: &FaultBoard, out: &mut Vec<Action>) {
        let epoch = board.epoch();
        if epoch == self.epoch {
            return;
        }
        if self.is_armed() {
            out.push(note(format!(
                "fault: cleared the faults armed on {} (scenario boundary)",
                self.who()
            )));
        }
        self.epoch = epoch;
        self.delays.clear();
        self.split = None;
        self.black_holes.clear();
        self.drop_after_next = false;
    }

    /// Arms the faults the board delivered to this connection since it last asked.
    pub fn take_delivered(&mut self, board: &FaultBoard, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        self.sync_epoch(board, &mut out);
        for fault in board.take_mail(self.conn) {
            self.arm(fault, now, &mut out);
        }
        out
    }

    fn arm(&mut self, fault: Fault, now: Instant, out: &mut Vec<Action>) {
        let who = self.who();
        out.push(note(format!("fault: armed on {who}: {fault}")));
        match fault {
            Fault::RefuseNextConnect { code } => out.push(note(format!(
                "fault: refusing with code {code} applies to a CONNECT; {who} is past it"
            ))),
            Fault::Delay { packet, by, count } => self.delays.push(ArmedDelay {
                packet,
                by,
                left: count.unwrap_or(1),
            }),
            Fault::DropLink {
                after_next_packet: true,
            } => self.drop_after_next = true,
            Fault::DropLink {
                after_next_packet: false,
            } => {
                out.push(note(format!("fault: dropping the link to {who} now")));
                out.push(Action::Step(Step::Close));
            }
            Fault::BlackHole {
                direction,
                duration,
            } => self.black_holes.push((direction, now + duration)),
            Fault::SplitNext { segments, gap } => self.split = Some((segments, gap)),
            Fault::SendRaw { ref hex } => match fault.raw_bytes() {
                Some(bytes) => {
                    out.push(note(format!(
                        "fault: sent {} raw bytes to {who}: {}",
                        bytes.len(),
                        to_hex(&bytes)
                    )));
                    out.push(Action::Write(Write {
                        bytes,
                        packet: None,
                        hold: Duration::ZERO,
                        gap: Duration::ZERO,
                    }));
                }
                // Validated when injected; say so rather than send nothing silently.
                None => out.push(note(format!("fault: cannot read raw hex {hex:?}"))),
            },
        }
    }

    fn black_hole(&mut self, direction: Direction, now: Instant) -> bool {
        self.black_holes.retain(|(_, until)| *until > now);
        self.black_holes.iter().any(|(d, _)| *d == direction)
    }

    /// The session's steps for one batch of bytes from `side` (taken out of `steps`), with
    /// this connection's faults applied, appended to `out`. `devices` tells which device a
    /// CONNECT claims. Both buffers are the gateway's, reused every turn.
    pub fn on_steps(
        &mut self,
        steps: &mut Vec<Step>,
        side: Side,
        now: Instant,
        board: &FaultBoard,
        devices: &DeviceRegistry,
        out: &mut Vec<Action>,
    ) {
        self.sync_epoch(board, out);
        // Nothing armed and no CONNECT to learn the device from (nearly every turn): each
        // step passes as it is, a packet to the device as an unshaped write, with no trip
        // through the loop below (perf: 3 % of the broker's CPU under a flood).
        let connect = |s: &Step| matches!(s, Step::FromDevice(Packet::Connect(_)));
        if !self.is_armed() && !steps.iter().any(connect) {
            out.extend(steps.drain(..).map(|step| match step {
                Step::ToDevice { bytes, packet } => Action::Write(Write::packet(bytes, packet)),
                other => Action::Step(other),
            }));
            return;
        }
        // Whether the current device packet is being swallowed, and whether the link closes
        // once the current device packet's steps are done.
        let mut swallowing = false;
        let mut close_after: Option<String> = None;
        let mut steps = std::mem::take(steps).into_iter().peekable();
        while let Some(step) = steps.next() {
            match step {
                Step::FromDevice(packet) => {
                    if let Some(what) = close_after.take() {
                        return self.dropped_after(what, out);
                    }
                    swallowing = side == Side::Device && self.black_hole(Direction::Uplink, now);
                    let what = packet.packet_type();
                    if let Packet::Connect(connect) = &packet {
                        let rest: Vec<Step> = steps.by_ref().collect();
                        let accepted = rest.iter().any(|s| matches!(s, Step::OpenUpstream { .. }));
                        self.on_connect(connect, accepted, devices);
                        out.push(Action::Step(Step::FromDevice(packet)));
                        out.extend(self.claim(board, now));
                        steps = rest.into_iter().peekable();
                    } else {
                        out.push(Action::Step(Step::FromDevice(packet)));
                    }
                    if swallowing {
                        out.push(note(format!(
                            "fault: uplink black hole dropped the {what} from {}",
                            self.who()
                        )));
                    }
                    if self.drop_after_next {
                        self.drop_after_next = false;
                        close_after = Some(what.name().to_owned());
                    }
                }
                // The cloud never got the packet: nothing goes on, and nothing answers it.
                Step::ToUpstream(_)
                | Step::ToCloud(_)
                | Step::OpenUpstream { .. }
                | Step::ToDevice { .. }
                    if swallowing => {}
                // The packet went through, and the link drops before any answer to it.
                Step::ToDevice { .. } if close_after.is_some() => {}
                Step::ToDevice { bytes, packet } => self.downlink(bytes, packet, now, out),
                // Every other step (upstream writes, notes, refusals, close, and any the
                // session grows) passes unchanged: faults only touch what they name.
                other => out.push(Action::Step(other)),
            }
        }
        if let Some(what) = close_after {
            self.dropped_after(what, out);
        }
    }

    fn dropped_after(&self, what: String, out: &mut Vec<Action>) {
        out.push(note(format!(
            "fault: dropping the link to {} after its {what}",
            self.who()
        )));
        out.push(Action::Step(Step::Close));
    }

    /// A CONNECT the session answered: an accepted one names the device.
    fn on_connect(&mut self, connect: &Connect, accepted: bool, devices: &DeviceRegistry) {
        self.client_id = Some(connect.client_id.clone());
        if accepted {
            self.device = claimed_device(connect, devices);
        }
    }

    /// Registers an accepted connection with the board and arms what waited for it.
    fn claim(&mut self, board: &FaultBoard, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.device.is_none() {
            return out;
        }
        let (epoch, faults) = board.connected(self.conn, self.device.as_deref());
        self.epoch = epoch;
        for fault in faults {
            self.arm(fault, now, &mut out);
        }
        out
    }

    /// A packet for the device: swallowed by a downlink black hole, held by a delay, cut by a
    /// split, or queued as it is.
    fn downlink(&mut self, bytes: Vec<u8>, packet: Packet, now: Instant, out: &mut Vec<Action>) {
        let what = packet.packet_type();
        if self.black_hole(Direction::Downlink, now) {
            out.push(note(format!(
                "fault: downlink black hole dropped the {what} to {}",
                self.who()
            )));
            return;
        }
        let mut hold = Duration::ZERO;
        if let Some(d) = self
            .delays
            .iter_mut()
            .find(|d| d.left > 0 && d.packet.matches(&packet))
        {
            d.left -= 1;
            hold = d.by;
            out.push(note(format!(
                "fault: {what} to {} held {}",
                self.who(),
                human(hold)
            )));
        }
        self.delays.retain(|d| d.left > 0);
        let Some((segments, gap)) = self.split.take() else {
            out.push(Action::Write(Write {
                hold,
                ..Write::packet(bytes, packet)
            }));
            return;
        };
        let pieces = split_bytes(&bytes, segments);
        out.push(note(format!(
            "fault: {what} to {} split into {} segments, {} apart",
            self.who(),
            pieces.len(),
            human(gap)
        )));
        let last = pieces.len() - 1;
        let mut packet = Some(packet);
        for (i, piece) in pieces.into_iter().enumerate() {
            out.push(Action::Write(Write {
                bytes: piece,
                packet: if i == last { packet.take() } else { None },
                hold: if i == 0 { hold } else { Duration::ZERO },
                gap: if i == 0 { Duration::ZERO } else { gap },
            }));
        }
    }
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
