//! One device connection through the gateway, as a sans-IO state machine: [`Session`] takes
//! the bytes read from the device and what rumqttd hands its in-process link ([`Downward`]),
//! and returns the [`Step`]s the gateway must carry out (write these bytes to the device, open
//! the link, hand this to rumqttd, record this, close).
//!
//! The gateway, not rumqttd, speaks MQTT to the device: it answers CONNECT, SUBSCRIBE,
//! UNSUBSCRIBE, PUBLISH (PUBACK) and PINGREQ itself and numbers the QoS 1 downlinks with its own
//! packet ids (1, 2, 3… per connection, QoS 0 deliveries take none), so a device may
//! acknowledge late or out of order as MQTT allows. rumqttd only routes, at QoS 0
//! (`rumqttd.rs`).
//!
//! What it changes on the way, and why:
//! - CONNECT is answered here per the cloud's rules ([`CloudPolicy`]); a refusal is CONNACK
//!   `20 02 00 0X` then close, as the cloud does. An accepted CONNECT opens a link under a
//!   client id of this connection's own (the gateway decides which login of a device wins),
//!   and the gateway runs the cloud's idle timer.
//! - Downlinks the cloud pushes without SUBSCRIBE (`topics.implicit_filters`, §0.9) are
//!   subscribed upstream on the device's behalf right after its CONNECT; their SUBACK never
//!   reaches the device. A filter the device subscribes to that those cover is answered here
//!   and not sent upstream, where rumqttd would deliver every message twice (one copy per
//!   matching filter).
//! - SUBSCRIBE: a filter the device may not have gets `80` here (and a drop record), the rest
//!   go to rumqttd; the SUBACK (sent once rumqttd has the subscription in place, so the first
//!   downlink after it arrives) carries the cloud's grant (Alibaba Cloud: `01` whatever was
//!   asked, seeds 002/003).
//! - UNSUBSCRIBE: answered here with exactly one UNSUBACK (§3.10.4); only the filters really
//!   subscribed in rumqttd are dropped there.
//! - PUBLISH: the cloud's verdict ([`CloudPolicy::uplink`]) forwards (a QoS 1 one is
//!   acknowledged once rumqttd has it), drops (acknowledging a QoS 1 one) or disconnects.
//! - A downlink reaches the device at the publisher's QoS (its envelope's [`Stamp`]), as seed 002's
//!   property set arrived as `30 …`, or lower where the platform says so (OneNET: QoS 0).

use std::collections::HashMap;
use std::time::Duration;

use crate::events::ConnId;
use crate::mqtt::framer::{FrameError, Framer};
use crate::mqtt::{
    decode, encode, Connack, Packet, PacketType, Publish, QoS, Suback, Subscribe, Unsubscribe,
};

use super::envelope::{Publisher, Stamp};
use super::platform::SubscribeVerdict;
use super::policy::{
    Admission, CloudPolicy, ConnectDecision, RefusalReason, TopicMemo, UplinkVerdict,
};
use super::profile::keepalive;
use super::profile::timers::Fired;
use super::profile::topics::covers;
use super::rumqttd::{topic_text, Downward, Upward};

/// Largest packet a device may send: rumqttd's own payload limit (1 MiB) plus room for the
/// topic and headers. Longer announcements close the link before the bytes arrive; the
/// cloud's smaller limit (`limits.max_payload`, 256 KB) is the profile's to apply.
pub const MAX_UPLINK_PACKET: usize = 1024 * 1024 + 1024;

/// Packet id of the subscription the gateway makes for the implicit downlinks. Any id works:
/// it goes to rumqttd before anything of the device's, so its acknowledgement is the first.
const IMPLICIT_SUBSCRIBE_ID: u16 = 0xFFFF;

/// QoS 1 downlinks a device may leave unacknowledged before the gateway says so in a note
/// (the cloud keeps at most 100, aliyun-onenet.md §2.7); they are still delivered.
const UNACKED_NOTE_AT: usize = 100;

/// What the gateway must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A whole packet arrived from the device (record it, emit it).
    FromDevice(Packet),
    /// Write `bytes` (exactly one packet, `packet`) to the device.
    ToDevice { bytes: Vec<u8>, packet: Packet },
    /// Hand this to rumqttd through the connection's link.
    ToUpstream(Upward),
    /// Hand this PUBLISH of the device's to rumqttd: the cloud receives it (the gateway records
    /// it as seen at the cloud and lets the cloud answer a post), and subscribers get it.
    ToCloud(Publish),
    /// Open the connection's link into rumqttd now, under this client id; the `ToUpstream`
    /// steps that follow need it.
    OpenUpstream { client_id: String },
    /// The CONNECT was refused; a `ToDevice` CONNACK and a `Close` follow.
    Refused {
        client_id: String,
        code: u8,
        reason: RefusalReason,
    },
    /// The cloud did not take a packet from the device (record it for `drops()`); a `Note`
    /// with the same reason precedes it.
    Dropped { packet: PacketType, reason: String },
    /// A decision worth a line in the transcript.
    Note(String),
    /// Close the connection (the broker's side closes).
    Close,
}

/// The shared things a session consults; none of them does I/O.
pub struct Context<'a> {
    pub policy: &'a CloudPolicy,
}

/// What a connected device holds, as the gateway tracks it.
#[derive(Debug, Default)]
struct Subscriptions {
    /// Every filter granted to the device (for the per-connection limit and to tell a
    /// downlink it asked for from one pushed to it).
    granted: Vec<String>,
    /// Of those, the ones subscribed upstream (not covered by an implicit filter).
    upstream: Vec<String>,
    /// The implicit filters subscribed upstream on the device's behalf.
    implicit: Vec<String>,
    /// The implicit SUBSCRIBE's id until its SUBACK comes back (and is kept from the device).
    implicit_suback: Option<u16>,
    /// SUBSCRIBEs waiting for rumqttd: packet id → each filter's return code, `None` for
    /// those asked upstream, in the device's order.
    pending: HashMap<u16, Vec<Option<u8>>>,
    /// Copies rumqttd still owes of a message several upstream filters match, by the
    /// message's number ([`Stamp::message`]).
    duplicates: HashMap<u64, u32>,
}

/// The device-side packet ids of QoS 1 downlinks: the gateway's own, so a QoS 0 delivery never
/// advances them and the device may acknowledge in any order.
#[derive(Debug, Default)]
struct Downlinks {
    last_id: u16,
    unacked: Vec<u16>,
}

impl Downlinks {
    /// The next id (1, 2, … 65535, 1, …), skipping ids still unacknowledged.
    fn next_id(&mut self) -> u16 {
        loop {
            self.last_id = self.last_id.checked_add(1).unwrap_or(1);
            if !self.unacked.contains(&self.last_id) {
                self.unacked.push(self.last_id);
                return self.last_id;
            }
        }
    }

    /// Whether `id` was an unacknowledged downlink (it is forgotten now).
    fn acked(&mut self, id: u16) -> bool {
        let before = self.unacked.len();
        self.unacked.retain(|&u| u != id);
        self.unacked.len() != before
    }
}

#[derive(Debug)]
struct Proxy {
    admission: Admission,
    topic_memo: TopicMemo,
    subs: Subscriptions,
    downlinks: Downlinks,
}

#[derive(Debug)]
enum State {
    AwaitingConnect,
    Proxying(Box<Proxy>),
    Closed,
}

/// One device connection's protocol state.
#[derive(Debug)]
pub struct Session {
    conn: ConnId,
    state: State,
    client_id: Option<String>,
    from_device: Framer,
    /// The will to publish if the link ends without DISCONNECT (profile `protocol.will`).
    will: Option<Publish>,
    /// The device sent a packet that restarts the server's idle timer since the last look.
    heard: bool,
    /// How long the device may stay silent once connected.
    idle_limit: Option<Duration>,
}

impl Session {
    pub fn new(conn: ConnId) -> Session {
        Session {
            conn,
            state: State::AwaitingConnect,
            client_id: None,
            from_device: Framer::with_limit(MAX_UPLINK_PACKET),
            will: None,
            heard: false,
            idle_limit: None,
        }
    }

    /// The client id from the device's CONNECT, once read (refused or not).
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Proxying(_))
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// The filters that bring downlinks to the device now: the ones it was granted and the
    /// implicit ones pushed to it (empty until connected).
    pub fn downlink_filters(&self) -> impl Iterator<Item = &str> + Clone {
        let (granted, implicit): (&[String], &[String]) = match &self.state {
            State::Proxying(p) => (&p.subs.granted, &p.subs.implicit),
            State::AwaitingConnect | State::Closed => (&[], &[]),
        };
        granted.iter().chain(implicit).map(String::as_str)
    }

    /// Whether the device sent a packet that restarts the idle timer (accepted CONNECT,
    /// PUBLISH, SUBSCRIBE, PINGREQ, PUBACK: §2.4) since the last call.
    pub fn take_heard(&mut self) -> bool {
        std::mem::take(&mut self.heard) && self.is_connected()
    }

    /// How long the device may stay silent (`timeout_factor` × its keepalive), once connected.
    pub fn idle_limit(&self) -> Option<Duration> {
        self.idle_limit.filter(|_| self.is_connected())
    }

    /// A timer ran out (see `profile/timers.rs`): say why, and close.
    pub fn on_timer(&mut self, fired: Fired) -> Vec<Step> {
        let mut steps = Vec::new();
        if self.is_closed() {
            return steps;
        }
        let why = match (fired, &self.state) {
            (Fired::NoConnect(within), _) => {
                format!("no CONNECT within {within:?}; closing, as the cloud closes idle links")
            }
            (Fired::Silent(limit), State::Proxying(p)) => format!(
                "the device sent no PUBLISH, SUBSCRIBE, PINGREQ or PUBACK for {limit:?} \
                 ({:.1} × its keepalive of {} s); closing, as the cloud does (§2.4)",
                limit.as_secs_f64() / f64::from(p.admission.keepalive.max(1)),
                p.admission.keepalive
            ),
            (Fired::Replaced(newer), State::Proxying(p)) => format!(
                "device `{}` logged in again on conn {newer}; closing this older connection, \
                 as the cloud keeps one connection per device (§2.2)",
                p.admission.device
            ),
            (Fired::Silent(_) | Fired::Replaced(_), _) => return steps,
        };
        self.close_with(&mut steps, why);
        steps
    }

    /// Bytes the device sent: their steps are appended to `steps` (the gateway reuses one
    /// buffer for every turn; a Vec per call was a measurable share of a flood's CPU).
    pub fn on_device_bytes(&mut self, bytes: &[u8], cx: &Context, steps: &mut Vec<Step>) {
        if self.is_closed() {
            return;
        }
        self.from_device.push(bytes);
        while !self.is_closed() {
            match self.from_device.next_packet_ref() {
                Ok(None) => break,
                Err(e) => self.malformed(steps, "uplink", e),
                Ok(Some((at, raw))) => match decode(raw) {
                    Ok((packet, _)) => {
                        // Answered by reference, so the step that records it owns the only
                        // copy; the record of it goes before its answers.
                        let answers_from = steps.len();
                        self.on_device_packet(&packet, cx, steps);
                        steps.insert(answers_from, Step::FromDevice(packet));
                    }
                    // A copy, rare: what follows needs the session while the framer lends.
                    Err(e) => match raw.to_vec() {
                        raw if self.connect_of_another_protocol(&raw, cx, steps) => {}
                        raw => {
                            let what = describe_raw(&raw);
                            let problem_at = at + e.offset(raw.len());
                            self.close_with(
                                steps,
                                format!(
                                    "the {what} at uplink offset {at} is malformed at offset \
                                 {problem_at} ({e}); closing, as the cloud drops such a link"
                                ),
                            )
                        }
                    },
                },
            }
        }
    }

    /// What rumqttd handed the connection's link: its steps are appended to `steps`.
    pub fn on_upstream(&mut self, down: Downward, cx: &Context, steps: &mut Vec<Step>) {
        if !self.is_connected() {
            return;
        }
        match down {
            Downward::Subscribed {
                packet_id,
                return_codes,
            } => self.suback(packet_id, return_codes, cx, steps),
            Downward::Message {
                topic,
                payload,
                retain,
                stamp,
            } => {
                // rumqttd's topics are the gateway's own text (see `topic_text`).
                let Some(topic) = topic_text(&topic) else {
                    return;
                };
                self.downlink(topic.to_owned(), payload.to_vec(), retain, stamp, cx, steps)
            }
        }
    }

    /// The link ended (either side) without a DISCONNECT from the device: its will, if the
    /// profile keeps wills, to publish as the device (MQTT 3.1.1 §3.1.2.5).
    pub fn will_on_close(&mut self) -> Option<Publish> {
        self.will.take()
    }

    fn malformed(&mut self, steps: &mut Vec<Step>, stream: &str, e: FrameError) {
        self.close_with(
            steps,
            format!(
                "the {stream} stream cannot be framed at offset {} ({e}); closing",
                e.offset()
            ),
        );
    }

    fn close_with(&mut self, steps: &mut Vec<Step>, note: String) {
        steps.push(Step::Note(note));
        steps.push(Step::Close);
        self.state = State::Closed;
    }

    fn proxy(&mut self) -> Option<&mut Proxy> {
        match &mut self.state {
            State::Proxying(p) => Some(p),
            State::AwaitingConnect | State::Closed => None,
        }
    }

    fn on_device_packet(&mut self, packet: &Packet, cx: &Context, steps: &mut Vec<Step>) {
        if matches!(self.state, State::AwaitingConnect) {
            return self.on_connect(packet.clone(), cx, steps);
        }
        if self.is_closed() {
            return;
        }
        match packet {
            Packet::Connect(_) => self.close_with(
                steps,
                "a second CONNECT on a connected link is a protocol violation; closing".to_owned(),
            ),
            Packet::Publish(publish) => {
                self.heard = true;
                self.uplink(publish, cx, steps);
            }
            Packet::Subscribe(subscribe) => {
                self.heard = true;
                self.subscribe(subscribe, cx, steps);
            }
            Packet::Unsubscribe(unsubscribe) => self.unsubscribe(unsubscribe, steps),
            Packet::Disconnect => {
                // MQTT 3.1.1 §3.14.4: the server closes the connection after DISCONNECT, and
                // the will is discarded (§3.1.2.5).
                self.will = None;
                self.close_with(steps, "the device sent DISCONNECT; closing".to_owned());
            }
            Packet::Pingreq => {
                self.heard = true;
                self.encode_to_device(Packet::Pingresp, steps);
            }
            &Packet::Puback { packet_id } => {
                self.heard = true;
                let known = self.proxy().is_some_and(|p| p.downlinks.acked(packet_id));
                if !known {
                    steps.push(Step::Note(format!(
                        "the device acknowledged packet id {packet_id}, which no unacknowledged \
                         QoS 1 downlink carries; ignored, as the cloud keeps the link"
                    )));
                }
            }
            other => steps.push(Step::Note(format!(
                "the device sent a {}, which the cloud does not expect here; ignored",
                other.packet_type()
            ))),
        }
    }

    fn uplink(&mut self, publish: &Publish, cx: &Context, steps: &mut Vec<Step>) {
        let Some(p) = self.proxy() else { return };
        match cx.policy.uplink(&p.admission, publish, &mut p.topic_memo) {
            UplinkVerdict::Forward {
                publish: forwarded,
                note,
            } => {
                steps.extend(note.map(Step::Note));
                let ack = match (publish.qos, publish.packet_id) {
                    (QoS::AtLeastOnce, Some(id)) => Some(id),
                    _ => None,
                };
                steps.push(Step::ToCloud(forwarded));
                if let Some(id) = ack {
                    self.encode_to_device(Packet::Puback { packet_id: id }, steps);
                }
            }
            UplinkVerdict::Drop(why) => {
                drop_packet(steps, PacketType::Publish, why);
                if let (QoS::AtLeastOnce, Some(id)) = (publish.qos, publish.packet_id) {
                    // §5: the cloud acknowledges what it discards, so the device does not
                    // resend it for ever.
                    self.encode_to_device(Packet::Puback { packet_id: id }, steps);
                }
            }
            UplinkVerdict::Disconnect(why) => {
                steps.push(Step::Dropped {
                    packet: PacketType::Publish,
                    reason: why.clone(),
                });
                self.close_with(steps, format!("{why}; closing"));
            }
        }
    }

    fn subscribe(&mut self, subscribe: &Subscribe, cx: &Context, steps: &mut Vec<Step>) {
        let limits = cx.policy.profile().limits.clone();
        let Some(p) = self.proxy() else { return };
        let local_grant = cx.policy.granted(&p.admission, 0);
        let count = subscribe.filters.len();
        let mut codes: Vec<Option<u8>> = Vec::with_capacity(count);
        let mut ask: Vec<String> = Vec::new();
        if count > limits.max_filters_per_subscribe {
            drop_packet(
                steps,
                PacketType::Subscribe,
                format!(
                    "the SUBSCRIBE holds {count} filters; the cloud takes at most {} per \
                     SUBSCRIBE (§2.7), every one is refused",
                    limits.max_filters_per_subscribe
                ),
            );
            codes = vec![Some(0x80); count];
        } else {
            for f in &subscribe.filters {
                match cx.policy.subscription(&p.admission, &f.filter) {
                    SubscribeVerdict::Grant => {}
                    SubscribeVerdict::Refuse(why) => {
                        drop_packet(steps, PacketType::Subscribe, why);
                        codes.push(Some(0x80));
                        continue;
                    }
                    SubscribeVerdict::Disconnect(why) => {
                        steps.push(Step::Dropped {
                            packet: PacketType::Subscribe,
                            reason: why.clone(),
                        });
                        return self.close_with(steps, format!("{why}; closing"));
                    }
                }
                let known = p.subs.granted.contains(&f.filter);
                if !known && p.subs.granted.len() >= limits.max_subscriptions {
                    drop_packet(
                        steps,
                        PacketType::Subscribe,
                        format!(
                            "{} would be subscription {} of this connection; the cloud allows {} \
                             (§2.7)",
                            f.filter,
                            p.subs.granted.len() + 1,
                            limits.max_subscriptions
                        ),
                    );
                    codes.push(Some(0x80));
                    continue;
                }
                if !known {
                    p.subs.granted.push(f.filter.clone());
                }
                if p.subs.implicit.iter().any(|i| covers(i, &f.filter)) {
                    codes.push(Some(local_grant));
                } else {
                    if !p.subs.upstream.contains(&f.filter) {
                        p.subs.upstream.push(f.filter.clone());
                    }
                    codes.push(None);
                    ask.push(f.filter.clone());
                }
            }
        }
        if ask.is_empty() {
            let suback = Suback {
                packet_id: subscribe.packet_id,
                return_codes: codes.into_iter().map(|c| c.unwrap_or(0x80)).collect(),
            };
            return self.encode_to_device(Packet::Suback(suback), steps);
        }
        p.subs.pending.insert(subscribe.packet_id, codes);
        steps.push(Step::ToUpstream(Upward::Subscribe {
            packet_id: subscribe.packet_id,
            filters: ask,
        }));
    }

    /// Answered here, always with exactly one UNSUBACK (MQTT 3.1.1 §3.10.4). Only the filters
    /// really subscribed in rumqttd go there (none covered by an implicit filter, so rumqttd
    /// never loses an implicit filter of the same name).
    fn unsubscribe(&mut self, unsubscribe: &Unsubscribe, steps: &mut Vec<Step>) {
        let Some(p) = self.proxy() else { return };
        let subs = &mut p.subs;
        let mut ask: Vec<String> = Vec::new();
        for f in &unsubscribe.filters {
            if subs.upstream.contains(f) && !ask.contains(f) {
                ask.push(f.clone());
            }
        }
        subs.granted.retain(|g| !unsubscribe.filters.contains(g));
        subs.upstream.retain(|g| !unsubscribe.filters.contains(g));
        if !ask.is_empty() {
            steps.push(Step::ToUpstream(Upward::Unsubscribe { filters: ask }));
        }
        let id = unsubscribe.packet_id;
        self.encode_to_device(Packet::Unsuback { packet_id: id }, steps);
    }

    fn suback(&mut self, packet_id: u16, upstream: Vec<u8>, cx: &Context, steps: &mut Vec<Step>) {
        let Some(p) = self.proxy() else { return };
        if p.subs.implicit_suback == Some(packet_id) {
            p.subs.implicit_suback = None;
            if upstream.iter().any(|c| c & 0x80 != 0) {
                steps.push(Step::Note(format!(
                    "rumqttd refused an implicit subscription ({}); some pushed downlinks will \
                     not arrive",
                    crate::mqtt::to_hex(&upstream)
                )));
            }
            return;
        }
        let Some(codes) = p.subs.pending.remove(&packet_id) else {
            return;
        };
        let mut upstream = upstream.into_iter();
        let return_codes: Vec<u8> = codes
            .into_iter()
            .map(|c| match c {
                Some(local) => local,
                None => cx
                    .policy
                    .granted(&p.admission, upstream.next().unwrap_or(0x80)),
            })
            .collect();
        let granted = Suback {
            packet_id,
            return_codes,
        };
        self.encode_to_device(Packet::Suback(granted), steps);
    }

    /// Delivers a downlink once, at its publisher's QoS (see the module doc), numbered with
    /// the gateway's own packet id when that is 1.
    fn downlink(
        &mut self,
        topic: String,
        payload: Vec<u8>,
        retain: bool,
        stamp: Stamp,
        cx: &Context,
        steps: &mut Vec<Step>,
    ) {
        let Some(p) = self.proxy() else { return };
        let subs = &mut p.subs;
        let asked = subs.granted.iter().any(|g| covers(g, &topic));
        let from_device = matches!(stamp.origin.publisher, Publisher::Device { .. });
        let owed = subs.duplicates.get(&stamp.message).copied().unwrap_or(0);
        // rumqttd sends one copy per matching filter; the device gets one. Implicit filters
        // bring what the cloud pushes, not what devices publish (the device's own uplinks on
        // /sys/… would otherwise come back to it).
        let skip = if owed > 0 {
            if owed == 1 {
                subs.duplicates.remove(&stamp.message);
            } else {
                subs.duplicates.insert(stamp.message, owed - 1);
            }
            true
        } else {
            let matching = subs
                .upstream
                .iter()
                .chain(&subs.implicit)
                .filter(|f| covers(f, &topic))
                .count();
            if matching > 1 {
                subs.duplicates.insert(stamp.message, (matching - 1) as u32);
            }
            // What the device no longer asks for (it unsubscribed while the message was on
            // its way) is not delivered; pushed downlinks need no asking.
            let pushed = !from_device && subs.implicit.iter().any(|f| covers(f, &topic));
            !(asked || pushed)
        };
        if skip {
            return;
        }
        // The platform may deliver below the publisher's QoS (OneNET: always 0).
        let qos = cx.policy.delivery_qos(&p.admission, stamp.origin.qos);
        let packet_id = match qos {
            QoS::AtMostOnce => None,
            _ => {
                let id = p.downlinks.next_id();
                let unacked = p.downlinks.unacked.len();
                if unacked == UNACKED_NOTE_AT {
                    steps.push(Step::Note(format!(
                        "the device has left {unacked} QoS 1 downlinks unacknowledged; the \
                         cloud keeps at most {UNACKED_NOTE_AT} (§2.7)"
                    )));
                }
                Some(id)
            }
        };
        let delivery = Publish {
            dup: false,
            qos: if packet_id.is_some() {
                QoS::AtLeastOnce
            } else {
                QoS::AtMostOnce
            },
            retain,
            topic,
            packet_id,
            payload,
        };
        self.encode_to_device(Packet::Publish(delivery), steps);
    }

    fn encode_to_device(&mut self, packet: Packet, steps: &mut Vec<Step>) {
        match encode(&packet) {
            Ok(bytes) => steps.push(Step::ToDevice { bytes, packet }),
            Err(e) => self.close_with(
                steps,
                format!(
                    "encode the {} for the device: {e}; closing",
                    packet.packet_type()
                ),
            ),
        }
    }
}

/// CONNACK `code` with no session: what a refused CONNECT gets (`20 02 00 0X`).
pub(crate) fn refusal(code: u8) -> Packet {
    Packet::Connack(Connack {
        session_present: false,
        return_code: code,
    })
}

/// A note and a drop record with the same reason.
fn drop_packet(steps: &mut Vec<Step>, packet: PacketType, reason: String) {
    steps.push(Step::Note(format!(
        "dropped the {}: {reason}",
        packet.name()
    )));
    steps.push(Step::Dropped { packet, reason });
}

/// "CONNECT", "PUBLISH", … for a framed packet's first byte (framing guarantees a valid type).
fn describe_raw(raw: &[u8]) -> &'static str {
    raw.first()
        .and_then(|b| crate::mqtt::PacketType::from_nibble(b >> 4))
        .map_or("packet", |t| t.name())
}

#[path = "session_connect.rs"]
mod connect;

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
