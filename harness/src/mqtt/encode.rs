//! The MQTT 3.1.1 encoder: [`encode`] turns a [`Packet`] into the bytes a module would send,
//! refusing (with [`EncodeError`]) anything a strict broker would reject, so a packet built by
//! athil is never the reason a test fails.

use crate::mqtt::packet::{Connect, Packet, PacketType, PublishRef, QoS};
use crate::mqtt::remaining_length::{encode_remaining_length, MAX_REMAINING_LENGTH};
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
    let mut out = Vec::with_capacity(size_hint(packet));
    encode_into(packet, &mut out)?;
    Ok(out)
}

/// Appends `packet`'s bytes to `out` (a broker writing a burst encodes it straight into its
/// write buffer, with no allocation per packet). On an error `out` is left as it was.
pub fn encode_into(packet: &Packet, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    let encoded = encode_at(packet, out);
    if encoded.is_err() {
        out.truncate(start);
    }
    encoded
}

/// Room for the fixed header: the first byte and up to four of remaining length.
const HEADER_ROOM: usize = 5;

/// A capacity that holds the packet without growing (bodies are small but for PUBLISH and
/// CONNECT).
fn size_hint(packet: &Packet) -> usize {
    HEADER_ROOM
        + 16
        + match packet {
            Packet::Publish(p) => p.topic.len() + p.payload.len(),
            Packet::Connect(c) => {
                c.client_id.len()
                    + c.username.as_ref().map_or(0, String::len)
                    + c.password.as_ref().map_or(0, Vec::len)
                    + 64
            }
            _ => 16,
        }
}

/// Appends a PUBLISH from borrowed fields to `out`, as [`encode_into`] would the same
/// [`Packet::Publish`]. On an error `out` is left as it was.
pub fn encode_publish_into(p: PublishRef, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    let encoded = framed(PacketType::Publish, out, |body| body.publish(p));
    if encoded.is_err() {
        out.truncate(start);
    }
    encoded
}

fn encode_at(packet: &Packet, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    framed(packet.packet_type(), out, |body| body.packet(packet))
}

/// Writes the body after room for the header, then the header just before the body, and
/// closes the gap the header did not use. `body` writes the body and says the first byte.
fn framed(
    t: PacketType,
    out: &mut Vec<u8>,
    body: impl FnOnce(&mut Body) -> Result<u8, EncodeError>,
) -> Result<(), EncodeError> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_ROOM]);
    let body_at = out.len();
    let first = body(&mut Body {
        t,
        out,
        start: body_at,
    })?;
    let len = out.len() - body_at;
    let rl = encode_remaining_length(len).map_err(|_| EncodeError::TooLong { packet: t, len })?;
    let header_at = body_at - 1 - rl.len();
    out[header_at] = first;
    out[header_at + 1..body_at].copy_from_slice(&rl);
    out.drain(start..header_at);
    Ok(())
}

/// The variable header and payload under construction, for one packet type, appended to the
/// output.
struct Body<'a> {
    t: PacketType,
    out: &'a mut Vec<u8>,
    /// Where this packet's body starts in `out`.
    start: usize,
}

impl Body<'_> {
    /// Any packet's body; its first byte.
    fn packet(&mut self, packet: &Packet) -> Result<u8, EncodeError> {
        Ok(match packet {
            Packet::Connect(c) => {
                self.connect(c)?;
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
                self.out
                    .extend([u8::from(c.session_present), c.return_code]);
                0x20
            }
            Packet::Publish(p) => self.publish(p.borrowed())?,
            Packet::Puback { packet_id } => self.id_only(*packet_id, 0x40)?,
            Packet::Pubrec { packet_id } => self.id_only(*packet_id, 0x50)?,
            Packet::Pubrel { packet_id } => self.id_only(*packet_id, 0x62)?,
            Packet::Pubcomp { packet_id } => self.id_only(*packet_id, 0x70)?,
            Packet::Subscribe(s) => {
                self.packet_id(s.packet_id)?;
                if s.filters.is_empty() {
                    return Err(EncodeError::NoFilters { packet: self.t });
                }
                for f in &s.filters {
                    self.filter(&f.filter)?;
                    self.out.push(u8::from(f.qos));
                }
                0x82
            }
            Packet::Suback(s) => {
                self.packet_id(s.packet_id)?;
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
                self.out.extend_from_slice(&s.return_codes);
                0x90
            }
            Packet::Unsubscribe(u) => {
                self.packet_id(u.packet_id)?;
                if u.filters.is_empty() {
                    return Err(EncodeError::NoFilters { packet: self.t });
                }
                for f in &u.filters {
                    self.filter(f)?;
                }
                0xA2
            }
            Packet::Unsuback { packet_id } => self.id_only(*packet_id, 0xB0)?,
            Packet::Pingreq => 0xC0,
            Packet::Pingresp => 0xD0,
            Packet::Disconnect => 0xE0,
        })
    }

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
        // The check above has refused U+0000 already.
        self.bytes(field, topic.as_bytes())
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

    fn publish(&mut self, p: PublishRef) -> Result<u8, EncodeError> {
        self.topic("topic name", p.topic)?;
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
        // Checked before copying, so an oversized payload is refused without touching it.
        let len = self.out.len() - self.start + p.payload.len();
        if len > MAX_REMAINING_LENGTH {
            return Err(EncodeError::TooLong {
                packet: self.t,
                len,
            });
        }
        self.out.extend_from_slice(p.payload);
        Ok(0x30 | u8::from(p.dup) << 3 | u8::from(p.qos) << 1 | u8::from(p.retain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::hex::to_hex;
    use crate::mqtt::packet::{
        Connack, Publish, Suback, Subscribe, SubscribeFilter, Unsubscribe, Will,
    };
    use rstest::rstest;

    /// The borrowed PUBLISH the cloud side writes encodes exactly as the packet does, after
    /// whatever is already in the buffer, and an invalid one leaves the buffer as it was.
    #[rstest]
    #[case::qos_0(QoS::AtMostOnce, None, false, "/a1/dev/user/get", 0)]
    #[case::qos_1(
        QoS::AtLeastOnce,
        Some(7),
        false,
        "/sys/a1/dev/thing/service/property/set",
        200
    )]
    #[case::two_length_bytes(QoS::AtLeastOnce, Some(65535), true, "t", 300)]
    #[case::wildcard(QoS::AtMostOnce, None, false, "a/+", 1)]
    #[case::missing_id(QoS::AtLeastOnce, None, false, "a", 1)]
    fn a_borrowed_publish_encodes_as_the_packet(
        #[case] qos: QoS,
        #[case] packet_id: Option<u16>,
        #[case] dup: bool,
        #[case] topic: &str,
        #[case] payload_len: usize,
    ) {
        let publish = Publish {
            dup,
            qos,
            retain: true,
            topic: topic.to_owned(),
            packet_id,
            payload: (0..payload_len).map(|i| i as u8).collect(),
        };
        let mut by_packet = vec![0xAB];
        let mut borrowed = vec![0xAB];
        let a = encode_into(&Packet::Publish(publish.clone()), &mut by_packet);
        let b = encode_publish_into(publish.borrowed(), &mut borrowed);
        assert_eq!(a, b);
        assert_eq!(to_hex(&by_packet), to_hex(&borrowed));
        if a.is_err() {
            assert_eq!(borrowed, [0xAB]);
        }
    }

    fn aliyun(client_id: &str, username: &str, sign: &str) -> Packet {
        Packet::from(Connect {
            username: Some(username.into()),
            password: Some(sign.as_bytes().to_vec()),
            ..Connect::new(client_id, 100)
        })
    }

    const SET_TOPIC: &str = "/sys/a1ndPQHcX7f/device2/thing/service/property/set";

    #[rstest]
    #[case::seed_000_connect(aliyun("Air601|securemode=3,signmethod=hmacsha1|", "Air601&ksf114514",
        "e4b931f38037ef7241455709458b4b630b22eac2"),
        "10 70 00 04 4D 51 54 54 04 C2 00 64 00 28 41 69 72 36 30 31 7C 73 65 63 75 72 65 6D 6F 64 65 3D 33 2C 73 69 67 6E 6D 65 74 68 6F 64 3D 68 6D 61 63 73 68 61 31 7C 00 10 41 69 72 36 30 31 26 6B 73 66 31 31 34 35 31 34 00 28 65 34 62 39 33 31 66 33 38 30 33 37 65 66 37 32 34 31 34 35 35 37 30 39 34 35 38 62 34 62 36 33 30 62 32 32 65 61 63 32")]
    #[case::seed_004_connect(Packet::from(Connect {
            username: Some("20190156".into()),
            password: Some(b"sn888".to_vec()),
            ..Connect::new("657077", 30)
        }),
        "10 23 00 04 4D 51 54 54 04 C2 00 1E 00 06 36 35 37 30 37 37 00 08 32 30 31 39 30 31 35 36 00 05 73 6E 38 38 38")]
    #[case::connack(Packet::Connack(Connack { session_present: false, return_code: 0 }), "20 02 00 00")]
    #[case::connack_refused(Packet::Connack(Connack { session_present: false, return_code: 4 }), "20 02 00 04")]
    #[case::subscribe(Packet::Subscribe(Subscribe { packet_id: 10, filters: vec![SubscribeFilter {
            filter: SET_TOPIC.into(), qos: QoS::AtMostOnce }] }),
        "82 38 00 0A 00 33 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 66 2F 64 65 76 69 63 65 32 2F 74 68 69 6E 67 2F 73 65 72 76 69 63 65 2F 70 72 6F 70 65 72 74 79 2F 73 65 74 00")]
    #[case::suback(Packet::Suback(Suback { packet_id: 10, return_codes: vec![1] }), "90 03 00 0A 01")]
    #[case::unsubscribe(Packet::Unsubscribe(Unsubscribe { packet_id: 10, filters: vec![SET_TOPIC.into()] }),
        "A2 37 00 0A 00 33 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 66 2F 64 65 76 69 63 65 32 2F 74 68 69 6E 67 2F 73 65 72 76 69 63 65 2F 70 72 6F 70 65 72 74 79 2F 73 65 74")]
    #[case::unsuback(Packet::Unsuback { packet_id: 10 }, "B0 02 00 0A")]
    #[case::puback(Packet::Puback { packet_id: 0x1234 }, "40 02 12 34")]
    #[case::pubrec(Packet::Pubrec { packet_id: 1 }, "50 02 00 01")]
    #[case::pubrel(Packet::Pubrel { packet_id: 1 }, "62 02 00 01")]
    #[case::pubcomp(Packet::Pubcomp { packet_id: 1 }, "70 02 00 01")]
    #[case::pingreq(Packet::Pingreq, "C0 00")]
    #[case::pingresp(Packet::Pingresp, "D0 00")]
    #[case::disconnect(Packet::Disconnect, "E0 00")]
    #[case::rumqttd_downlink(Packet::Publish(Publish { dup: false, qos: QoS::AtLeastOnce, retain: false,
            topic: "foo".into(), packet_id: Some(1), payload: b"hi".to_vec() }),
        "32 09 00 03 66 6F 6F 00 01 68 69")]
    fn builds_the_bytes_the_seeds_print(#[case] packet: Packet, #[case] hex: &str) {
        assert_eq!(to_hex(&encode(&packet).unwrap()), hex);
    }

    #[test]
    fn seed_002_property_post_gets_98_01() {
        let payload = br#"{"method":"thing.event.property.post","id":"803381017","params":{"PowerSwitch":1},"version":"1.0.0"}"#;
        let bytes = encode(&Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "/sys/a1ndPQHcX7f/device2/thing/event/property/post".into(),
            packet_id: None,
            payload: payload.to_vec(),
        }))
        .unwrap();
        assert_eq!(&bytes[..3], [0x30, 0x98, 0x01]);
        assert_eq!(bytes.len(), 155);
    }

    #[test]
    fn flags_of_seed_000_example_ce() {
        // Seed 000's non-normative example: user name, password, will QoS 1, will, clean.
        let packet = Packet::from(Connect {
            will: Some(Will {
                topic: "w".into(),
                message: vec![],
                qos: QoS::AtLeastOnce,
                retain: false,
            }),
            username: Some("u".into()),
            password: Some(vec![]),
            ..Connect::new("c", 10)
        });
        let bytes = encode(&packet).unwrap();
        assert_eq!(to_hex(&bytes[9..12]), "CE 00 0A");
    }

    fn publish(qos: QoS, packet_id: Option<u16>, dup: bool, topic: &str) -> Packet {
        Packet::Publish(Publish {
            dup,
            qos,
            retain: false,
            topic: topic.into(),
            packet_id,
            payload: vec![],
        })
    }

    #[rstest]
    #[case::qos1_without_id(publish(QoS::AtLeastOnce, None, false, "t"), EncodeError::MissingPacketId { qos: 1 })]
    #[case::qos0_with_id(publish(QoS::AtMostOnce, Some(3), false, "t"), EncodeError::UnexpectedPacketId { packet_id: 3 })]
    #[case::dup_qos0(publish(QoS::AtMostOnce, None, true, "t"), EncodeError::DupAtQos0)]
    #[case::id_zero(publish(QoS::ExactlyOnce, Some(0), false, "t"), EncodeError::ZeroPacketId { packet: PacketType::Publish })]
    #[case::wildcard_topic(publish(QoS::AtMostOnce, None, false, "a/+"), EncodeError::InvalidTopic {
        packet: PacketType::Publish, field: "topic name", topic: "a/+".into(),
        reason: TopicError::WildcardInName { index: 2, wildcard: '+' } })]
    #[case::empty_topic(publish(QoS::AtMostOnce, None, false, ""), EncodeError::InvalidTopic {
        packet: PacketType::Publish, field: "topic name", topic: "".into(), reason: TopicError::Empty })]
    #[case::no_filters(Packet::Subscribe(Subscribe { packet_id: 1, filters: vec![] }), EncodeError::NoFilters { packet: PacketType::Subscribe })]
    #[case::no_unsub_filters(Packet::Unsubscribe(Unsubscribe { packet_id: 1, filters: vec![] }), EncodeError::NoFilters { packet: PacketType::Unsubscribe })]
    #[case::suback_code(Packet::Suback(Suback { packet_id: 1, return_codes: vec![8] }), EncodeError::InvalidSubackCode { code: 8 })]
    #[case::suback_empty(Packet::Suback(Suback { packet_id: 1, return_codes: vec![] }), EncodeError::NoReturnCodes)]
    #[case::connack_code(Packet::Connack(Connack { session_present: false, return_code: 6 }), EncodeError::ReservedConnackCode { code: 6 })]
    #[case::connack_sp(Packet::Connack(Connack { session_present: true, return_code: 5 }), EncodeError::SessionPresentOnRefusal { code: 5 })]
    #[case::ack_zero(Packet::Pubrel { packet_id: 0 }, EncodeError::ZeroPacketId { packet: PacketType::Pubrel })]
    #[case::password_alone(Packet::from(Connect { password: Some(b"p".to_vec()), ..Connect::new("c", 0) }), EncodeError::PasswordWithoutUsername)]
    #[case::empty_id(Packet::from(Connect { clean_session: false, ..Connect::new("", 0) }), EncodeError::EmptyClientIdWithoutCleanSession)]
    #[case::nul(Packet::from(Connect::new("a\0b", 0)), EncodeError::NulInString { packet: PacketType::Connect, field: "client identifier" })]
    fn refuses_what_a_strict_broker_would(#[case] packet: Packet, #[case] want: EncodeError) {
        assert_eq!(encode(&packet), Err(want));
    }

    #[test]
    fn strings_over_65535_bytes_are_refused() {
        let long = "a".repeat(65_536);
        assert_eq!(
            encode(&Packet::from(Connect::new(long, 0))),
            Err(EncodeError::StringTooLong {
                packet: PacketType::Connect,
                field: "client identifier",
                len: 65_536
            })
        );
        // 65535 is the most a string holds.
        assert!(encode(&Packet::from(Connect::new("a".repeat(65_535), 0))).is_ok());
    }

    #[test]
    fn packets_over_the_remaining_length_limit_are_refused() {
        let packet = Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "t".into(),
            packet_id: None,
            payload: vec![0; 268_435_455 - 3 + 1],
        });
        assert_eq!(
            encode(&packet),
            Err(EncodeError::TooLong {
                packet: PacketType::Publish,
                len: 268_435_456
            })
        );
    }

    #[test]
    fn error_messages_read_after_failed_to() {
        let e = encode(&publish(QoS::AtLeastOnce, None, false, "t")).unwrap_err();
        assert_eq!(
            format!("failed to {e}"),
            "failed to encode PUBLISH: QoS 1 needs a packet id"
        );
    }
}
