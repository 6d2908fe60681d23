//! The MQTT 3.1.1 packet model: one typed value per control packet, shared by the codec,
//! the dissector, the scenario steps, the broker gateway and the virtual module.
//!
//! Values here are plain data with no framing knowledge; `encode`/`decode` live beside them.

use serde::{Deserialize, Serialize};

/// Quality of service as MQTT 3.1.1 defines it (two bits; 3 is not a QoS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum QoS {
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl TryFrom<u8> for QoS {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            2 => Ok(QoS::ExactlyOnce),
            other => Err(format!("QoS must be 0, 1 or 2, not {other}")),
        }
    }
}

impl From<QoS> for u8 {
    fn from(q: QoS) -> u8 {
        q as u8
    }
}

/// The 14 control packet types, numbered as in the fixed header's high nibble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PacketType {
    Connect = 1,
    Connack = 2,
    Publish = 3,
    Puback = 4,
    Pubrec = 5,
    Pubrel = 6,
    Pubcomp = 7,
    Subscribe = 8,
    Suback = 9,
    Unsubscribe = 10,
    Unsuback = 11,
    Pingreq = 12,
    Pingresp = 13,
    Disconnect = 14,
}

impl PacketType {
    /// The type for a fixed-header high nibble; 0 and 15 are reserved and have none.
    pub fn from_nibble(n: u8) -> Option<PacketType> {
        use PacketType::*;
        Some(match n {
            1 => Connect,
            2 => Connack,
            3 => Publish,
            4 => Puback,
            5 => Pubrec,
            6 => Pubrel,
            7 => Pubcomp,
            8 => Subscribe,
            9 => Suback,
            10 => Unsubscribe,
            11 => Unsuback,
            12 => Pingreq,
            13 => Pingresp,
            14 => Disconnect,
            _ => return None,
        })
    }

    /// The name as the specification writes it: `CONNECT`, `SUBACK`, ...
    pub fn name(self) -> &'static str {
        use PacketType::*;
        match self {
            Connect => "CONNECT",
            Connack => "CONNACK",
            Publish => "PUBLISH",
            Puback => "PUBACK",
            Pubrec => "PUBREC",
            Pubrel => "PUBREL",
            Pubcomp => "PUBCOMP",
            Subscribe => "SUBSCRIBE",
            Suback => "SUBACK",
            Unsubscribe => "UNSUBSCRIBE",
            Unsuback => "UNSUBACK",
            Pingreq => "PINGREQ",
            Pingresp => "PINGRESP",
            Disconnect => "DISCONNECT",
        }
    }
}

impl std::fmt::Display for PacketType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Last Will: sent by the broker if the link dies without DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Will {
    pub topic: String,
    pub message: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connect {
    /// `MQTT` for 3.1.1; kept so the dissector can show what a module really sent.
    pub protocol_name: String,
    /// 4 for 3.1.1.
    pub protocol_level: u8,
    pub clean_session: bool,
    pub keepalive: u16,
    pub client_id: String,
    pub will: Option<Will>,
    pub username: Option<String>,
    /// Bytes, not text: MQTT 3.1.1 allows binary passwords.
    pub password: Option<Vec<u8>>,
}

impl Connect {
    /// A 3.1.1 CONNECT with clean session, as the seeds and the cloud SDKs send it.
    pub fn new(client_id: impl Into<String>, keepalive: u16) -> Connect {
        Connect {
            protocol_name: "MQTT".into(),
            protocol_level: 4,
            clean_session: true,
            keepalive,
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
        }
    }
}

/// CONNACK return codes (3.1.1 table 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connack {
    pub session_present: bool,
    /// 0 accepted, 1 bad protocol level, 2 identifier rejected, 3 server unavailable,
    /// 4 bad user name or password, 5 not authorised. Kept as a byte so 6..=255 can be shown.
    pub return_code: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: String,
    /// Present exactly when `qos > 0`.
    pub packet_id: Option<u16>,
    pub payload: Vec<u8>,
}

impl Publish {
    /// Its fields, borrowed.
    pub fn borrowed(&self) -> PublishRef<'_> {
        PublishRef {
            dup: self.dup,
            qos: self.qos,
            retain: self.retain,
            topic: &self.topic,
            packet_id: self.packet_id,
            payload: &self.payload,
        }
    }
}

impl PublishRef<'_> {
    /// An owned copy.
    pub fn to_publish(&self) -> Publish {
        Publish {
            dup: self.dup,
            qos: self.qos,
            retain: self.retain,
            topic: self.topic.to_owned(),
            packet_id: self.packet_id,
            payload: self.payload.to_vec(),
        }
    }
}

/// A PUBLISH's fields, borrowed: what the cloud side encodes for a message rumqttd holds, with
/// no [`Publish`] (and its two allocations) built only to be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishRef<'a> {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: &'a str,
    /// Present exactly when `qos > 0`.
    pub packet_id: Option<u16>,
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeFilter {
    pub filter: String,
    pub qos: QoS,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribe {
    pub packet_id: u16,
    pub filters: Vec<SubscribeFilter>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suback {
    pub packet_id: u16,
    /// 0x00/0x01/0x02 granted QoS, 0x80 failure.
    pub return_codes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsubscribe {
    pub packet_id: u16,
    pub filters: Vec<String>,
}

/// One MQTT 3.1.1 control packet.
///
/// CONNECT is boxed: it is three times the size of any other packet, and every packet is
/// moved several times on the broker's hot path (session step, fault action, record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Packet {
    Connect(Box<Connect>),
    Connack(Connack),
    Publish(Publish),
    Puback { packet_id: u16 },
    Pubrec { packet_id: u16 },
    Pubrel { packet_id: u16 },
    Pubcomp { packet_id: u16 },
    Subscribe(Subscribe),
    Suback(Suback),
    Unsubscribe(Unsubscribe),
    Unsuback { packet_id: u16 },
    Pingreq,
    Pingresp,
    Disconnect,
}

impl From<Connect> for Packet {
    fn from(connect: Connect) -> Packet {
        Packet::Connect(Box::new(connect))
    }
}

impl Packet {
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::Connack(_) => PacketType::Connack,
            Packet::Publish(_) => PacketType::Publish,
            Packet::Puback { .. } => PacketType::Puback,
            Packet::Pubrec { .. } => PacketType::Pubrec,
            Packet::Pubrel { .. } => PacketType::Pubrel,
            Packet::Pubcomp { .. } => PacketType::Pubcomp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::Suback(_) => PacketType::Suback,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::Unsuback { .. } => PacketType::Unsuback,
            Packet::Pingreq => PacketType::Pingreq,
            Packet::Pingresp => PacketType::Pingresp,
            Packet::Disconnect => PacketType::Disconnect,
        }
    }
}
