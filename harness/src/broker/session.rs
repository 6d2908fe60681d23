//! One device connection through the gateway, as a sans-IO state machine: [`Session`] takes
//! the bytes read from the device or from rumqttd and returns the [`Step`]s the gateway must
//! carry out (write these bytes there, open the upstream link, record this, close).
//!
//! What it changes on the way, and why:
//! - CONNECT is answered here per the cloud's rules ([`CloudPolicy`]); a refusal is CONNACK
//!   `20 02 00 0X` then close, as the cloud does (rumqttd alone would drop the socket). An
//!   accepted CONNECT goes upstream without credentials and under a per-device client id.
//! - SUBSCRIBE goes upstream asking QoS 1 for every filter, so every downlink arrives with a
//!   packet id; the SUBACK the device sees carries the cloud's grant (Alibaba Cloud: `01`
//!   whatever was asked, seeds 002/003), not rumqttd's echo of the request.
//! - A downlink PUBLISH reaches the device at the publisher's QoS ([`Origins`]): QoS 0 ones
//!   are acknowledged upstream here and delivered as `30 …`, as seed 002's property set was.

use crate::mqtt::framer::{FrameError, Framer};
use crate::mqtt::{decode, encode, Connect, Packet, Publish, QoS, Suback, Subscribe};
use crate::run::ConnId;

use super::origins::{Origin, Origins, Publisher};
use super::policy::{Admission, CloudPolicy, ConnectDecision, RefusalReason, UplinkVerdict};

/// Largest packet a device may send: Alibaba Cloud's 256 KB message limit plus room for the
/// topic and headers. Longer announcements close the link before the bytes arrive.
pub const MAX_UPLINK_PACKET: usize = 256 * 1024 + 1024;

/// What the gateway must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A whole packet arrived from the device (record it, emit it).
    FromDevice(Packet),
    /// Write `bytes` (exactly one packet, `packet`) to the device.
    ToDevice { bytes: Vec<u8>, packet: Packet },
    /// Write `bytes` to rumqttd.
    ToUpstream(Vec<u8>),
    /// Connect to rumqttd now; the `ToUpstream` steps that follow need it.
    OpenUpstream,
    /// The CONNECT was refused; a `ToDevice` CONNACK and a `Close` follow.
    Refused {
        client_id: String,
        code: u8,
        reason: RefusalReason,
    },
    /// A decision worth a line in the transcript.
    Note(String),
    /// Close the connection (the broker's side closes).
    Close,
}

/// The shared things a session consults; none of them does I/O.
pub struct Context<'a> {
    pub policy: &'a CloudPolicy,
    pub origins: &'a Origins,
}

#[derive(Debug)]
enum State {
    AwaitingConnect,
    Proxying(Admission),
    Closed,
}

/// One device connection's protocol state.
#[derive(Debug)]
pub struct Session {
    conn: ConnId,
    state: State,
    client_id: Option<String>,
    from_device: Framer,
    from_upstream: Framer,
}

impl Session {
    pub fn new(conn: ConnId) -> Session {
        Session {
            conn,
            state: State::AwaitingConnect,
            client_id: None,
            from_device: Framer::with_limit(MAX_UPLINK_PACKET),
            from_upstream: Framer::new(),
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

    /// Bytes the device sent.
    pub fn on_device_bytes(&mut self, bytes: &[u8], cx: &Context) -> Vec<Step> {
        let mut steps = Vec::new();
        if self.is_closed() {
            return steps;
        }
        self.from_device.push(bytes);
        while !self.is_closed() {
            match self.from_device.next_packet_at() {
                Ok(None) => break,
                Err(e) => self.malformed(&mut steps, "uplink", e),
                Ok(Some((at, raw))) => match decode(&raw) {
                    Ok((packet, _)) => {
                        steps.push(Step::FromDevice(packet.clone()));
                        self.on_device_packet(packet, raw, cx, &mut steps);
                    }
                    Err(e) => {
                        let what = describe_raw(&raw);
                        let problem_at = at + e.offset(raw.len());
                        self.close_with(
                            &mut steps,
                            format!(
                                "the {what} at uplink offset {at} is malformed at offset \
                                 {problem_at} ({e}); closing, as the cloud drops such a link"
                            ),
                        )
                    }
                },
            }
        }
        steps
    }

    /// Bytes rumqttd sent towards the device.
    pub fn on_upstream_bytes(&mut self, bytes: &[u8], cx: &Context) -> Vec<Step> {
        let mut steps = Vec::new();
        let State::Proxying(admission) = &self.state else {
            return steps;
        };
        let admission = admission.clone();
        self.from_upstream.push(bytes);
        while !self.is_closed() {
            match self.from_upstream.next_packet_at() {
                Ok(None) => break,
                Err(e) => self.malformed(&mut steps, "rumqttd's", e),
                Ok(Some((at, raw))) => match decode(&raw) {
                    Ok((packet, _)) => {
                        self.on_upstream_packet(packet, raw, &admission, cx, &mut steps)
                    }
                    Err(e) => self.close_with(
                        &mut steps,
                        format!("rumqttd sent a malformed packet at offset {at} ({e}); closing"),
                    ),
                },
            }
        }
        steps
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

    fn on_device_packet(
        &mut self,
        packet: Packet,
        raw: Vec<u8>,
        cx: &Context,
        steps: &mut Vec<Step>,
    ) {
        let admission = match &self.state {
            State::Closed => return,
            State::AwaitingConnect => return self.on_connect(packet, cx, steps),
            State::Proxying(a) => a.clone(),
        };
        match packet {
            Packet::Connect(_) => self.close_with(
                steps,
                "a second CONNECT on a connected link is a protocol violation; closing".to_owned(),
            ),
            Packet::Publish(publish) => match cx.policy.uplink(&admission, &publish) {
                UplinkVerdict::Disconnect(why) => self.close_with(steps, format!("{why}; closing")),
                UplinkVerdict::Forward => {
                    cx.origins.remember(
                        &publish.topic,
                        &publish.payload,
                        Origin {
                            publisher: Publisher::Device {
                                conn: self.conn,
                                client_id: self.client_id.clone(),
                            },
                            qos: publish.qos,
                        },
                    );
                    steps.push(Step::ToUpstream(raw));
                }
            },
            Packet::Subscribe(subscribe) => {
                let upstream = Subscribe {
                    packet_id: subscribe.packet_id,
                    filters: subscribe
                        .filters
                        .iter()
                        .map(|f| crate::mqtt::SubscribeFilter {
                            filter: f.filter.clone(),
                            qos: QoS::AtLeastOnce,
                        })
                        .collect(),
                };
                if upstream == subscribe {
                    steps.push(Step::ToUpstream(raw));
                } else {
                    self.encode_upstream(Packet::Subscribe(upstream), steps);
                }
            }
            Packet::Disconnect => {
                // MQTT 3.1.1 §3.14.4: the server closes the connection after DISCONNECT. Closing
                // here (not waiting for rumqttd to) makes the transcript say why.
                steps.push(Step::ToUpstream(raw));
                self.close_with(steps, "the device sent DISCONNECT; closing".to_owned());
            }
            _ => steps.push(Step::ToUpstream(raw)),
        }
    }

    fn on_connect(&mut self, packet: Packet, cx: &Context, steps: &mut Vec<Step>) {
        let Packet::Connect(connect) = packet else {
            return self.close_with(
                steps,
                format!(
                    "the first packet is {}, not CONNECT; closing",
                    packet.packet_type()
                ),
            );
        };
        self.client_id = Some(connect.client_id.clone());
        match cx.policy.decide_connect(&connect) {
            ConnectDecision::Refuse { code, reason } => {
                steps.push(Step::Refused {
                    client_id: connect.client_id.clone(),
                    code,
                    reason,
                });
                let connack = crate::mqtt::Connack {
                    session_present: false,
                    return_code: code,
                };
                steps.push(Step::ToDevice {
                    bytes: vec![0x20, 0x02, 0x00, code],
                    packet: Packet::Connack(connack),
                });
                steps.push(Step::Close);
                self.state = State::Closed;
            }
            ConnectDecision::Accept(admission) => {
                steps.push(Step::Note(format!(
                    "accepted client {:?} as device `{}` ({})",
                    connect.client_id, admission.device, admission.platform
                )));
                let upstream = upstream_connect(&connect, &admission);
                self.state = State::Proxying(admission);
                steps.push(Step::OpenUpstream);
                self.encode_upstream(Packet::Connect(upstream), steps);
            }
        }
    }

    fn on_upstream_packet(
        &mut self,
        packet: Packet,
        raw: Vec<u8>,
        admission: &Admission,
        cx: &Context,
        steps: &mut Vec<Step>,
    ) {
        match packet {
            Packet::Suback(suback) => {
                let granted = Suback {
                    packet_id: suback.packet_id,
                    return_codes: suback
                        .return_codes
                        .iter()
                        .map(|&c| cx.policy.granted(admission, c))
                        .collect(),
                };
                if granted == suback {
                    steps.push(Step::ToDevice {
                        bytes: raw,
                        packet: Packet::Suback(suback),
                    });
                } else {
                    self.encode_to_device(Packet::Suback(granted), steps);
                }
            }
            Packet::Publish(publish) => self.downlink(publish, raw, cx, steps),
            other => steps.push(Step::ToDevice {
                bytes: raw,
                packet: other,
            }),
        }
    }

    /// Delivers a downlink at its publisher's QoS (see the module doc).
    fn downlink(&mut self, publish: Publish, raw: Vec<u8>, cx: &Context, steps: &mut Vec<Step>) {
        let wanted = cx
            .origins
            .lookup(&publish.topic, &publish.payload)
            .map(|o| o.qos);
        match (publish.qos, publish.packet_id, wanted) {
            (QoS::AtLeastOnce, Some(id), Some(QoS::AtMostOnce)) => {
                let [hi, lo] = id.to_be_bytes();
                steps.push(Step::ToUpstream(vec![0x40, 0x02, hi, lo]));
                steps.push(Step::Note(format!(
                    "delivering the PUBLISH to {} at QoS 0 as it was published (rumqttd \
                     forwarded it at QoS 1 with id {id}, acknowledged upstream)",
                    publish.topic
                )));
                let device_copy = Publish {
                    dup: false,
                    qos: QoS::AtMostOnce,
                    packet_id: None,
                    ..publish
                };
                self.encode_to_device(Packet::Publish(device_copy), steps);
            }
            _ => {
                if wanted.is_none() {
                    steps.push(Step::Note(format!(
                        "no record of who published to {}; delivering at QoS {} as rumqttd did",
                        publish.topic, publish.qos as u8
                    )));
                }
                steps.push(Step::ToDevice {
                    bytes: raw,
                    packet: Packet::Publish(publish),
                });
            }
        }
    }

    fn encode_upstream(&mut self, packet: Packet, steps: &mut Vec<Step>) {
        match encode(&packet) {
            Ok(bytes) => steps.push(Step::ToUpstream(bytes)),
            Err(e) => self.close_with(
                steps,
                format!("encode the upstream {}: {e}; closing", packet.packet_type()),
            ),
        }
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

/// "CONNECT", "PUBLISH", … for a framed packet's first byte (framing guarantees a valid type).
fn describe_raw(raw: &[u8]) -> &'static str {
    raw.first()
        .and_then(|b| crate::mqtt::PacketType::from_nibble(b >> 4))
        .map_or("packet", |t| t.name())
}

/// The CONNECT rumqttd gets: MQTT 3.1.1, the device's session flag, keepalive and will, under
/// the per-device client id and without credentials (the gateway already checked them and
/// rumqttd has no auth configured). rumqttd refuses keepalive 0, which MQTT allows ("no
/// keepalive"), so 0 becomes the longest keepalive there is.
fn upstream_connect(connect: &Connect, admission: &Admission) -> Connect {
    Connect {
        protocol_name: "MQTT".to_owned(),
        protocol_level: 4,
        clean_session: connect.clean_session,
        keepalive: if connect.keepalive == 0 {
            u16::MAX
        } else {
            connect.keepalive
        },
        client_id: admission.upstream_client_id.clone(),
        will: connect.will.clone(),
        username: None,
        password: None,
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
