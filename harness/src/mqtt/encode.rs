//! The MQTT 3.1.1 encoder: [`encode`] turns a [`Packet`] into the bytes a module would send,
//! refusing (with [`EncodeError`]) anything a strict broker would reject, so a packet built by
//! athil is never the reason a test fails.

use crate::mqtt::packet::{Connect, Packet, PacketType, Publish, QoS};
use crate::mqtt::remaining_length::encode_remaining_length;
use crate::mqtt::topic::{check_topic_filter, check_topic_name, TopicError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("encode {packet}: the {field} is {len} bytes long; MQTT strings hold at most 65535")]
    StringTooLong {
        packet: PacketType,
        field: &'static str,
        len: usize,
    },
    #[error("encode {packet}: its remaining length {len} exceeds MQTT's 268435455")]
    TooLong { packet: PacketType, len: usize },
    #[error("encode PUBLISH: QoS {qos} needs a packet id")]
    MissingPacketId { qos: u8 },
    #[error("encode PUBLISH: QoS 0 carries no packet id, but {packet_id} was given")]
    UnexpectedPacketId { packet_id: u16 },
    #[error("encode PUBLISH: DUP must be 0 for QoS 0")]
    DupAtQos0,
    #[error("encode {packet}: packet id 0 is not allowed (1 to 65535)")]
    ZeroPacketId { packet: PacketType },
    #[error("encode {packet}: the {field} {topic:?} is not valid: {reason}")]
    InvalidTopic {
        packet: PacketType,
        field: &'static str,
        topic: String,
        reason: TopicError,
    },
    #[error("encode {packet}: it needs at least one topic filter")]
    NoFilters { packet: PacketType },
    #[error("encode SUBACK: it needs at least one return code")]
    NoReturnCodes,
    #[error("encode SUBACK: return code {code:02X} is not 00, 01, 02 or 80")]
    InvalidSubackCode { code: u8 },
    #[error("encode CONNACK: return code {code} is reserved (0 to 5 are defined)")]
    ReservedConnackCode { code: u8 },
    #[error("encode CONNACK: a refusal (return code {code}) must not claim session present")]
    SessionPresentOnRefusal { code: u8 },
    #[error("encode CONNECT: a password needs a user name in MQTT 3.1.1")]
    PasswordWithoutUsername,
    #[error("encode CONNECT: an empty client id needs clean session")]
    EmptyClientIdWithoutCleanSession,
    #[error("encode {packet}: the {field} contains U+0000, which MQTT strings must not")]
    NulInString {
        packet: PacketType,
        field: &'static str,
    },
}

/// Encodes `packet` as MQTT 3.1.1 bytes.
pub fn encode(packet: &Packet) -> Result<Vec<u8>, EncodeError> {
    let t = packet.packet_type();
    let mut body = Body { t, out: Vec::new() };
    let first: u8 = match packet {
        Packet::Connect(c) => {
            body.connect(c)?;
            0x10
        }
        Packet::Connack(c) => {
            if c.return_code > 5 {
                return Err(EncodeError::ReservedConnackCode {
                    code: c.return_code,
                });
            }
            if c.session_present && c.return_code != 0 {
                return Err(EncodeError::SessionPresentOnRefusal {
                    code: c.return_code,
                });
            }
            body.out
                .extend([u8::from(c.session_present), c.return_code]);
            0x20
        }
        Packet::Publish(p) => body.publish(p)?,
        Packet::Puback { packet_id } => body.id_only(*packet_id, 0x40)?,
        Packet::Pubrec { packet_id } => body.id_only(*packet_id, 0x50)?,
        Packet::Pubrel { packet_id } => body.id_only(*packet_id, 0x62)?,
        Packet::Pubcomp { packet_id } => body.id_only(*packet_id, 0x70)?,
        Packet::Subscribe(s) => {
            body.packet_id(s.packet_id)?;
            if s.filters.is_empty() {
                return Err(EncodeError::NoFilters { packet: t });
            }
            for f in &s.filters {
                body.filter(&f.filter)?;
                body.out.push(u8::from(f.qos));
            }
            0x82
        }
        Packet::Suback(s) => {
            body.packet_id(s.packet_id)?;
            if s.return_codes.is_empty() {
                return Err(EncodeError::NoReturnCodes);
            }
            if let Some(&code) = s
                .return_codes
                .iter()
                .find(|c| !matches!(c, 0x00 | 0x01 | 0x02 | 0x80))
            {
                return Err(EncodeError::InvalidSubackCode { code });
            }
            body.out.extend_from_slice(&s.return_codes);
            0x90
        }
        Packet::Unsubscribe(u) => {
            body.packet_id(u.packet_id)?;
            if u.filters.is_empty() {
                return Err(EncodeError::NoFilters { packet: t });
            }
            for f in &u.filters {
                body.filter(f)?;
            }
            0xA2
        }
        Packet::Unsuback { packet_id } => body.id_only(*packet_id, 0xB0)?,
        Packet::Pingreq => 0xC0,
        Packet::Pingresp => 0xD0,
        Packet::Disconnect => 0xE0,
    };
    let len = body.out.len();
    let rl = encode_remaining_length(len).map_err(|_| EncodeError::TooLong { packet: t, len })?;
    let mut out = Vec::with_capacity(1 + rl.len() + len);
    out.push(first);
    out.extend_from_slice(&rl);
    out.extend_from_slice(&body.out);
    Ok(out)
}

/// The variable header and payload under construction, for one packet type.
struct Body {
    t: PacketType,
    out: Vec<u8>,
}

impl Body {
    fn bytes(&mut self, field: &'static str, b: &[u8]) -> Result<(), EncodeError> {
        let len = u16::try_from(b.len()).map_err(|_| EncodeError::StringTooLong {
            packet: self.t,
            field,
            len: b.len(),
        })?;
        self.out.extend_from_slice(&len.to_be_bytes());
        self.out.extend_from_slice(b);
        Ok(())
    }

    fn string(&mut self, field: &'static str, s: &str) -> Result<(), EncodeError> {
        if s.contains('\0') {
            return Err(EncodeError::NulInString {
                packet: self.t,
                field,
            });
        }
        self.bytes(field, s.as_bytes())
    }

    fn packet_id(&mut self, id: u16) -> Result<(), EncodeError> {
        if id == 0 {
            return Err(EncodeError::ZeroPacketId { packet: self.t });
        }
        self.out.extend_from_slice(&id.to_be_bytes());
        Ok(())
    }

    fn id_only(&mut self, id: u16, first: u8) -> Result<u8, EncodeError> {
        self.packet_id(id)?;
        Ok(first)
    }

    fn topic(&mut self, field: &'static str, topic: &str) -> Result<(), EncodeError> {
        check_topic_name(topic).map_err(|reason| EncodeError::InvalidTopic {
            packet: self.t,
            field,
            topic: topic.to_string(),
            reason,
        })?;
        self.string(field, topic)
    }

    fn filter(&mut self, filter: &str) -> Result<(), EncodeError> {
        check_topic_filter(filter).map_err(|reason| EncodeError::InvalidTopic {
            packet: self.t,
            field: "topic filter",
            topic: filter.to_string(),
            reason,
        })?;
        self.string("topic filter", filter)
    }

    fn connect(&mut self, c: &Connect) -> Result<(), EncodeError> {
        if c.password.is_some() && c.username.is_none() {
            return Err(EncodeError::PasswordWithoutUsername);
        }
        if c.client_id.is_empty() && !c.clean_session {
            return Err(EncodeError::EmptyClientIdWithoutCleanSession);
        }
        self.string("protocol name", &c.protocol_name)?;
        self.out.push(c.protocol_level);
        let mut flags = 0u8;
        if c.username.is_some() {
            flags |= 0x80;
        }
        if c.password.is_some() {
            flags |= 0x40;
        }
        if let Some(w) = &c.will {
            flags |= 0x04 | (u8::from(w.qos) << 3);
            if w.retain {
                flags |= 0x20;
            }
        }
        if c.clean_session {
            flags |= 0x02;
        }
        self.out.push(flags);
        self.out.extend_from_slice(&c.keepalive.to_be_bytes());
        self.string("client identifier", &c.client_id)?;
        if let Some(w) = &c.will {
            self.topic("will topic", &w.topic)?;
            self.bytes("will message", &w.message)?;
        }
        if let Some(u) = &c.username {
            self.string("user name", u)?;
        }
        if let Some(p) = &c.password {
            self.bytes("password", p)?;
        }
        Ok(())
    }

    fn publish(&mut self, p: &Publish) -> Result<u8, EncodeError> {
        self.topic("topic name", &p.topic)?;
        match (p.qos, p.packet_id) {
            (QoS::AtMostOnce, Some(packet_id)) => {
                return Err(EncodeError::UnexpectedPacketId { packet_id })
            }
            (QoS::AtMostOnce, None) => {
                if p.dup {
                    return Err(EncodeError::DupAtQos0);
                }
            }
            (qos, None) => return Err(EncodeError::MissingPacketId { qos: u8::from(qos) }),
            (_, Some(id)) => self.packet_id(id)?,
        }
        self.out.extend_from_slice(&p.payload);
        Ok(0x30 | u8::from(p.dup) << 3 | u8::from(p.qos) << 1 | u8::from(p.retain))
    }
}
