//! The first packet of a device connection: the CONNECT the cloud admits or refuses
//! ([`CloudPolicy::decide_connect`]), one of another MQTT version, and the CONNECT that goes
//! upstream for an admitted device. Part of [`Session`].

use super::*;
use crate::mqtt::dissect_packet;

impl Session {
    pub(super) fn on_connect(&mut self, packet: Packet, cx: &Context, steps: &mut Vec<Step>) {
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
        let admission = match cx.policy.decide_connect(&connect) {
            ConnectDecision::Refuse { code, reason } => {
                return self.refuse(connect.client_id.clone(), code, reason, steps)
            }
            ConnectDecision::Close { reason } => {
                // No CONNACK: the drop record is what tells a test why the link closed.
                steps.push(Step::Dropped {
                    packet: PacketType::Connect,
                    reason: reason.clone(),
                });
                return self.close_with(steps, format!("{reason}; closing without CONNACK"));
            }
            ConnectDecision::Accept(admission) => admission,
        };
        steps.push(Step::Note(format!(
            "accepted client {:?} as device `{}` ({})",
            connect.client_id, admission.device, admission.platform
        )));
        steps.extend(admission.notes.iter().cloned().map(Step::Note));
        if let Some(old) = cx.policy.login(&admission.device, self.conn) {
            steps.push(Step::Note(format!(
                "device `{}` was logged in on conn {old}; this login takes over",
                admission.device
            )));
        }
        let profile = cx.policy.profile();
        self.idle_limit = keepalive::idle_limit(&profile.keepalive, admission.keepalive);
        self.heard = true;
        self.will = connect
            .will
            .as_ref()
            .filter(|_| admission.keep_will)
            .map(|w| Publish {
                dup: false,
                qos: w.qos,
                retain: w.retain,
                topic: w.topic.clone(),
                packet_id: None,
                payload: w.message.clone(),
            });
        let client_id = admission.upstream_client_id.clone();
        let implicit = admission.implicit_filters.clone();
        self.state = State::Proxying(Box::new(Proxy {
            admission,
            topic_memo: TopicMemo::default(),
            subs: Subscriptions::default(),
            downlinks: Downlinks::default(),
        }));
        steps.push(Step::OpenUpstream { client_id });
        if !implicit.is_empty() {
            steps.push(Step::Note(format!(
                "delivering {} to this device without SUBSCRIBE, as the cloud pushes them",
                implicit.join(", ")
            )));
            if let Some(p) = self.proxy() {
                p.subs.implicit = implicit.clone();
                p.subs.implicit_suback = Some(IMPLICIT_SUBSCRIBE_ID);
            }
            steps.push(Step::ToUpstream(Upward::Subscribe {
                packet_id: IMPLICIT_SUBSCRIBE_ID,
                filters: implicit,
            }));
        }
        // No session is kept between connections (docs/cloud-fidelity.md), so never "present".
        let accepted = Connack {
            session_present: false,
            return_code: 0,
        };
        self.encode_to_device(Packet::Connack(accepted), steps);
    }

    /// CONNACK `code`, then close, recorded as a refusal.
    fn refuse(
        &mut self,
        client_id: String,
        code: u8,
        reason: RefusalReason,
        steps: &mut Vec<Step>,
    ) {
        steps.push(Step::Refused {
            client_id,
            code,
            reason,
        });
        self.encode_to_device(refusal(code), steps);
        if !self.is_closed() {
            steps.push(Step::Close);
            self.state = State::Closed;
        }
    }

    /// A first CONNECT the strict 3.1.1 decoder refused: if only for its protocol name or
    /// level, the cloud decides it (MQTT 3.1 is accepted; MQTT 5 and the rest get CONNACK 1,
    /// even when the body is not 3.1.1's, as MQTT 5's properties are not). Returns whether
    /// it was handled; otherwise the link closes as malformed.
    pub(super) fn connect_of_another_protocol(
        &mut self,
        raw: &[u8],
        cx: &Context,
        steps: &mut Vec<Step>,
    ) -> bool {
        if !matches!(self.state, State::AwaitingConnect) {
            return false;
        }
        let Ok(d) = dissect_packet(raw) else {
            return false;
        };
        let field = |key: &str| d.json_fields.get(key);
        let (Some(name), Some(level)) = (
            field("protocol_name").and_then(|v| v.as_str()),
            field("protocol_level")
                .and_then(|v| v.as_u64())
                .and_then(|l| u8::try_from(l).ok()),
        ) else {
            return false;
        };
        let connect = match &d.packet {
            Some(Packet::Connect(c)) => Some(c.clone()),
            _ => None,
        };
        if let Some(ConnectDecision::Refuse { code, reason }) =
            cx.policy.decide_protocol(name, level)
        {
            let client_id = field("client_id")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            if let Some(c) = connect {
                steps.push(Step::FromDevice(Packet::Connect(c)));
            }
            self.client_id = Some(client_id.clone());
            self.refuse(client_id, code, reason, steps);
            return true;
        }
        // A protocol the cloud speaks (MQTT 3.1): only if the name and level were the problem.
        let Some(connect) = connect else { return false };
        let Ok(Some((name_at, _))) = crate::mqtt::framer::header(raw) else {
            return false;
        };
        let level_at = name_at + 2 + name.len();
        if d.errors()
            .any(|e| e.offset != name_at && e.offset != level_at)
        {
            return false;
        }
        steps.push(Step::FromDevice(Packet::Connect(connect.clone())));
        self.on_connect(Packet::Connect(connect), cx, steps);
        true
    }
}
