//! What a fault is, as a scenario or `athil broker --fault` writes it: [`Fault`] (read from YAML
//! with serde, or from the short command-line form with [`str::parse`]), aimed by a
//! [`FaultTarget`]. Validation happens while reading, so a bad fault in a scenario is reported
//! at its line and column, and again in [`Fault::validate`] for faults built in code.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::mqtt::{parse_hex, to_hex, Packet, PacketType};

/// One fault the gateway injects into a device's connection. In YAML a fault is a map with one
/// key naming it: `{ delay: { packet: connack, by: 2s } }` (see the `Deserialize` impl below).
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields, remote = "Self")]
pub enum Fault {
    /// Answer the next CONNECT with CONNACK `20 02 00 <code>` and close, whatever its sign.
    RefuseNextConnect {
        #[serde(deserialize_with = "refusal_code")]
        code: u8,
    },
    /// Hold the next `count` (default 1) server→module packets of one type for `by`.
    Delay {
        packet: DelayedPacket,
        #[serde(deserialize_with = "duration")]
        #[schemars(with = "String")]
        by: Duration,
        #[serde(default, deserialize_with = "count")]
        count: Option<u32>,
    },
    /// Close the link now, or right after the next packet the device sends.
    DropLink {
        #[serde(default)]
        after_next_packet: bool,
    },
    /// Stop forwarding one way for a while: what arrives is read and discarded, not kept.
    BlackHole {
        direction: Direction,
        /// How long (YAML key `for`).
        #[serde(rename = "for", deserialize_with = "duration")]
        #[schemars(with = "String")]
        duration: Duration,
    },
    /// Write the next server→module packet as `segments` TCP segments, `gap` apart.
    SplitNext {
        #[serde(deserialize_with = "segments")]
        segments: u32,
        #[serde(deserialize_with = "duration")]
        #[schemars(with = "String")]
        gap: Duration,
    },
    /// Send these bytes (hex as the seeds write it) to the module now.
    SendRaw {
        #[serde(deserialize_with = "hex_text")]
        hex: String,
    },
}

/// serde_yaml 0.9 reads enums from `!tag` syntax only; scenarios write the map form the rest of
/// the YAML world uses, so the derived reader (the `remote = "Self"` one) runs through
/// serde_yaml's singleton-map adapter. Positions in errors survive.
impl<'de> Deserialize<'de> for Fault {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fault, D::Error> {
        struct Derived(Fault);
        impl<'de> Deserialize<'de> for Derived {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Derived, D::Error> {
                Fault::deserialize(d).map(Derived)
            }
        }
        serde_yaml::with::singleton_map::deserialize::<Derived, D>(d).map(|Derived(f)| f)
    }
}

/// The server→module packets a [`Fault::Delay`] can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DelayedPacket {
    Connack,
    Suback,
    Puback,
    Unsuback,
    Pingresp,
    /// A downlink PUBLISH (cloud → device).
    Publish,
}

/// Which way a [`Fault::BlackHole`] stops traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Module → cloud: the device's packets reach the gateway (recorded as seen) but go no
    /// further, and nothing answers them.
    Uplink,
    /// Cloud → module: nothing reaches the device.
    Downlink,
}

/// Which connections a fault is aimed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultTarget {
    /// Every device.
    All,
    /// One device by registry name (`aliyun/device2`), matched at CONNECT time.
    Device(String),
}

impl DelayedPacket {
    pub fn packet_type(self) -> PacketType {
        match self {
            DelayedPacket::Connack => PacketType::Connack,
            DelayedPacket::Suback => PacketType::Suback,
            DelayedPacket::Puback => PacketType::Puback,
            DelayedPacket::Unsuback => PacketType::Unsuback,
            DelayedPacket::Pingresp => PacketType::Pingresp,
            DelayedPacket::Publish => PacketType::Publish,
        }
    }

    pub fn matches(self, packet: &Packet) -> bool {
        packet.packet_type() == self.packet_type()
    }
}

impl Fault {
    /// Checks what serde checks while reading, for faults built in code.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Fault::RefuseNextConnect { code } => check_code(*code),
            Fault::Delay { count, .. } => count.map_or(Ok(()), check_count),
            Fault::SplitNext { segments, .. } => check_segments(*segments),
            Fault::SendRaw { hex } => parse_raw(hex).map(drop),
            Fault::DropLink { .. } | Fault::BlackHole { .. } => Ok(()),
        }
    }

    /// The bytes of a [`Fault::SendRaw`] (None for other faults or unreadable hex).
    pub fn raw_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Fault::SendRaw { hex } => parse_raw(hex).ok(),
            _ => None,
        }
    }

    /// Whether the fault acts on a device's *next* CONNECT (a new connection) rather than on
    /// the connection it has now.
    pub fn waits_for_connect(&self) -> bool {
        matches!(
            self,
            Fault::RefuseNextConnect { .. }
                | Fault::Delay {
                    packet: DelayedPacket::Connack,
                    ..
                }
        )
    }
}

/// `delay CONNACK by 2s (next 1)`, `split the next packet into 2 segments 50ms apart`, …
impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::RefuseNextConnect { code } => {
                write!(f, "refuse the next CONNECT with code {code}")
            }
            Fault::Delay { packet, by, count } => write!(
                f,
                "hold the next {} {} for {}",
                count.unwrap_or(1),
                packet.packet_type(),
                humantime::format_duration(*by)
            ),
            Fault::DropLink {
                after_next_packet: false,
            } => f.write_str("drop the link now"),
            Fault::DropLink {
                after_next_packet: true,
            } => f.write_str("drop the link after the next packet from the device"),
            Fault::BlackHole {
                direction,
                duration,
            } => write!(
                f,
                "black-hole {} for {}",
                direction,
                humantime::format_duration(*duration)
            ),
            Fault::SplitNext { segments, gap } => write!(
                f,
                "split the next server→module packet into {segments} segments, {} apart",
                humantime::format_duration(*gap)
            ),
            Fault::SendRaw { hex } => match parse_raw(hex) {
                Ok(bytes) => write!(f, "send {} raw bytes: {}", bytes.len(), to_hex(&bytes)),
                Err(_) => write!(f, "send raw bytes {hex:?}"),
            },
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Uplink => "uplink",
            Direction::Downlink => "downlink",
        })
    }
}

impl fmt::Display for FaultTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultTarget::All => f.write_str("every device"),
            FaultTarget::Device(name) => f.write_str(name),
        }
    }
}

/// The short command-line form, one fault per `--fault`:
/// `refuse_next_connect 5`, `delay connack 2s [COUNT]`, `drop_link [after_next_packet]`,
/// `black_hole downlink 500ms`, `split_next 2 50ms`, `send_raw 20 02 00`. A text starting with
/// `{` is read as YAML instead (`{ delay: { packet: connack, by: 2s } }`).
impl FromStr for Fault {
    type Err = String;

    fn from_str(text: &str) -> Result<Fault, String> {
        let text = text.trim();
        if text.starts_with('{') {
            return serde_yaml::from_str(text).map_err(|e| e.to_string());
        }
        let (kind, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let args: Vec<&str> = rest.split_whitespace().collect();
        let fault = match (kind, args.as_slice()) {
            ("refuse_next_connect", [code]) => Fault::RefuseNextConnect {
                code: code
                    .parse()
                    .map_err(|_| format!("`{code}` is not a CONNACK code (1 to 5)"))?,
            },
            ("delay", [packet, by, more @ ..]) if more.len() <= 1 => Fault::Delay {
                packet: serde_yaml::from_str(packet).map_err(|_| {
                    format!(
                        "`{packet}` is not a packet a delay can hold (connack, suback, puback, \
                         unsuback, pingresp, publish)"
                    )
                })?,
                by: parse_duration(by)?,
                count: match more.first() {
                    Some(c) => Some(c.parse().map_err(|_| format!("`{c}` is not a count"))?),
                    None => None,
                },
            },
            ("drop_link", []) => Fault::DropLink {
                after_next_packet: false,
            },
            ("drop_link", ["after_next_packet"]) => Fault::DropLink {
                after_next_packet: true,
            },
            ("black_hole", [direction, duration]) => Fault::BlackHole {
                direction: serde_yaml::from_str(direction)
                    .map_err(|_| format!("`{direction}` is not uplink or downlink"))?,
                duration: parse_duration(duration)?,
            },
            ("split_next", [segments, gap]) => Fault::SplitNext {
                segments: segments
                    .parse()
                    .map_err(|_| format!("`{segments}` is not a number of segments"))?,
                gap: parse_duration(gap)?,
            },
            ("send_raw", [_, ..]) => Fault::SendRaw {
                hex: rest.trim().to_owned(),
            },
            _ => {
                return Err(format!(
                    "`{text}` is not a fault; write one of `refuse_next_connect CODE`, \
                     `delay PACKET DURATION [COUNT]`, `drop_link [after_next_packet]`, \
                     `black_hole uplink|downlink DURATION`, `split_next SEGMENTS GAP`, \
                     `send_raw HEX`, or YAML such as `{{ delay: {{ packet: connack, by: 2s }} }}`"
                ))
            }
        };
        fault.validate()?;
        Ok(fault)
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("expected a duration with a unit such as `500ms` or `2s`, found `{text}` ({e})")
    })
}

fn parse_raw(hex: &str) -> Result<Vec<u8>, String> {
    parse_hex(hex).map_err(|e| e.to_string())
}

fn check_code(code: u8) -> Result<(), String> {
    match code {
        0 => Err("a refusal needs a non-zero CONNACK code (0 means accepted)".to_owned()),
        // The codec writes only the codes MQTT 3.1.1 defines (table 3.1).
        6.. => Err(format!(
            "CONNACK code {code} is reserved; MQTT 3.1.1 defines refusals 1 to 5"
        )),
        _ => Ok(()),
    }
}

fn check_count(count: u32) -> Result<(), String> {
    if count == 0 {
        return Err("a delay's count must be at least 1".to_owned());
    }
    Ok(())
}

fn check_segments(segments: u32) -> Result<(), String> {
    if segments < 2 {
        return Err(format!(
            "a split needs at least 2 segments, found {segments}"
        ));
    }
    Ok(())
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

fn refusal_code<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let code = u8::deserialize(d)?;
    check_code(code).map_err(serde::de::Error::custom)?;
    Ok(code)
}

fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let count = u32::deserialize(d)?;
    check_count(count).map_err(serde::de::Error::custom)?;
    Ok(Some(count))
}

fn segments<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let segments = u32::deserialize(d)?;
    check_segments(segments).map_err(serde::de::Error::custom)?;
    Ok(segments)
}

fn hex_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    parse_raw(&text).map_err(serde::de::Error::custom)?;
    Ok(text)
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
