//! The stand-alone broker's log: one line per connection, refusal, note and packet event
//! ([`log_lines`]).
//!
//! A flood does not get a line per packet: the broker itself makes events of only each
//! connection's first `--log-packets` packets of every second and counts the rest by type
//! (`broker/packet_budget.rs`), which this log shows as one line. Connections, refusals and
//! notes are never counted away.

use std::time::Duration;

use crate::events::ConnId;
use crate::mqtt::{encode, to_hex, Packet};
use crate::run::{RunEvent, Stamped, TcpDirection};

/// Packet lines each connection may print per second by default.
pub const DEFAULT_PACKETS_PER_SECOND: u32 = 100;

/// The line the broker's event `s` adds to the log, if any.
pub fn log_lines(s: &Stamped, out: &mut Vec<String>) {
    let at = s.since_start;
    match &s.event {
        RunEvent::MqttPacket {
            conn,
            direction,
            packet,
        } => out.push(stamp(at, packet_line(*conn, *direction, packet))),
        RunEvent::PacketsNotShown {
            conn,
            shown,
            counts,
        } => out.push(stamp(
            at,
            format!(
                "conn {conn} {} (--log-packets sets how many)",
                crate::events::packets_not_shown(*shown, counts)
            ),
        )),
        RunEvent::TcpClosed { conn, by_broker } => {
            let by = if *by_broker {
                "the broker"
            } else {
                "the device"
            };
            out.push(stamp(at, format!("conn {conn} closed by {by}")));
        }
        RunEvent::TcpOpened {
            conn,
            client,
            server,
        } => out.push(stamp(
            at,
            format!("conn {conn} opened {client} -> {server}"),
        )),
        RunEvent::BrokerNote {
            conn: Some(c),
            text,
        } => out.push(stamp(at, format!("conn {c} {text}"))),
        RunEvent::BrokerNote { conn: None, text } => out.push(stamp(at, text.clone())),
        // Raw TCP chunks: every packet is shown whole instead. The rest is the runner's.
        RunEvent::TcpData { .. }
        | RunEvent::RunStarted { .. }
        | RunEvent::ScenarioStarted { .. }
        | RunEvent::StepStarted { .. }
        | RunEvent::SerialOut { .. }
        | RunEvent::SerialIn { .. }
        | RunEvent::StepFinished { .. }
        | RunEvent::ScenarioFinished { .. }
        | RunEvent::RunFinished { .. } => {}
    }
}

fn stamp(at: Duration, text: String) -> String {
    format!("[{:9.3}s] {text}", at.as_secs_f64())
}

fn packet_line(conn: ConnId, direction: TcpDirection, packet: &Packet) -> String {
    let arrow = match direction {
        TcpDirection::Uplink => "device -> broker",
        TcpDirection::Downlink => "broker -> device",
    };
    format!(
        "conn {conn} {arrow} {}  [{}]",
        redacted_hex(packet),
        summary(packet)
    )
}

/// Bytes of a packet the log shows as hex; a longer packet's hex ends with how many more
/// there are (its summary gives topic and length). Keeps a flood's log, and its cost, bounded.
const HEX_SHOWN: usize = 64;

/// The packet as hex, with a CONNECT's password (the sign, or OneNET's auth info, which *is*
/// the device secret) shown as `**` per byte. The password is the CONNECT's last field.
fn redacted_hex(packet: &Packet) -> String {
    let Ok(bytes) = encode(packet) else {
        return "(cannot be re-encoded)".to_owned();
    };
    let hidden = match packet {
        Packet::Connect(c) => c.password.as_ref().map_or(0, Vec::len),
        _ => 0,
    };
    let shown = bytes.len().saturating_sub(hidden);
    if hidden == 0 && shown > HEX_SHOWN {
        return format!(
            "{} … (+{} bytes)",
            to_hex(&bytes[..HEX_SHOWN]),
            shown - HEX_SHOWN
        );
    }
    let mut hex = to_hex(&bytes[..shown]);
    for _ in 0..hidden {
        hex.push_str(" **");
    }
    hex
}

fn summary(packet: &Packet) -> String {
    match packet {
        Packet::Connect(c) => format!(
            "CONNECT client {:?} user {:?} keepalive {}",
            c.client_id,
            c.username.as_deref().unwrap_or(""),
            c.keepalive
        ),
        Packet::Connack(c) => format!("CONNACK code {}", c.return_code),
        Packet::Publish(p) => format!(
            "PUBLISH QoS {} to {} ({} bytes)",
            p.qos as u8,
            p.topic,
            p.payload.len()
        ),
        Packet::Subscribe(s) => {
            let filters: Vec<String> = s
                .filters
                .iter()
                .map(|f| format!("{} QoS {}", f.filter, f.qos as u8))
                .collect();
            format!("SUBSCRIBE id {}: {}", s.packet_id, filters.join(", "))
        }
        Packet::Suback(s) => format!("SUBACK id {}: {}", s.packet_id, to_hex(&s.return_codes)),
        Packet::Unsubscribe(u) => {
            format!("UNSUBSCRIBE id {}: {}", u.packet_id, u.filters.join(", "))
        }
        other => other.packet_type().name().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::{Connect, PacketType};

    #[test]
    fn connect_password_is_masked_byte_for_byte() {
        let mut c = Connect::new("657077", 30);
        c.username = Some("20190156".into());
        c.password = Some(b"sn888".to_vec());
        let hex = redacted_hex(&Packet::from(c));
        // Seed 004's CONNECT up to the password's length prefix, then five masked bytes.
        assert!(
            hex.starts_with("10 23 00 04 4D 51 54 54 04 C2 00 1E 00 06 36 35 37 30 37 37"),
            "{hex}"
        );
        assert!(hex.ends_with("00 05 ** ** ** ** **"), "{hex}");
        assert!(!hex.contains("73 6E 38 38 38"), "{hex}");
    }

    #[test]
    fn other_packets_print_as_the_seeds_do() {
        let p = Packet::Pingresp;
        assert_eq!(redacted_hex(&p), "D0 00");
    }

    #[test]
    fn a_count_of_packets_not_shown_is_one_line() {
        let mut out = Vec::new();
        let event = RunEvent::PacketsNotShown {
            conn: 7,
            shown: 3,
            counts: vec![(PacketType::Publish, 5), (PacketType::Puback, 2)],
        };
        let stamped = Stamped::new(std::time::SystemTime::now(), Duration::from_secs(2), event);
        log_lines(&stamped, &mut out);
        assert_eq!(
            out,
            ["[    2.000s] conn 7 7 more packets not shown (PUBLISH 5, PUBACK 2) after the first \
              3 of the second (--log-packets sets how many)"]
        );
    }
}
