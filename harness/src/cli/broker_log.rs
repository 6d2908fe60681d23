//! The stand-alone broker's log: one line per connection, refusal, note and packet, with a
//! per-connection budget of packet lines ([`BrokerLog`]).
//!
//! Why a budget: a device flooding 100,000 PUBLISHes a second would otherwise get as many
//! lines, which nobody reads and which cost the broker a quarter of its CPU (dissecting,
//! formatting and printing each one). Each connection shows its first `per_second` packets of
//! every second in full; the rest of that second are counted and summed up in one line by
//! packet type. Connections, refusals and notes are never counted away. `--log-packets 0`
//! shows every packet.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::events::ConnId;
use crate::mqtt::{encode, to_hex, Packet};
use crate::run::{RunEvent, Stamped, TcpDirection};

/// How long a connection's budget lasts before it is renewed.
const BUDGET_PERIOD: Duration = Duration::from_secs(1);

/// Packet lines each connection may print per period by default.
pub const DEFAULT_PACKETS_PER_SECOND: u32 = 100;

/// The log's state: each connection's budget for the current period.
#[derive(Debug)]
pub struct BrokerLog {
    /// `None`: every packet is shown.
    per_period: Option<u32>,
    budgets: HashMap<ConnId, Budget>,
}

#[derive(Debug)]
struct Budget {
    /// When the current period began (time since the broker started).
    since: Duration,
    shown: u32,
    /// Packets not shown this period, by packet type name.
    hidden: BTreeMap<&'static str, u64>,
}

impl BrokerLog {
    /// `per_second` packet lines per connection per second; 0 shows every packet.
    pub fn new(per_second: u32) -> BrokerLog {
        BrokerLog {
            per_period: (per_second > 0).then_some(per_second),
            budgets: HashMap::new(),
        }
    }

    /// The lines `s` adds to the log (none, one, or a summary of what a period hid first).
    pub fn lines(&mut self, s: &Stamped, out: &mut Vec<String>) {
        let at = s.since_start;
        match &s.event {
            RunEvent::MqttPacket {
                conn,
                direction,
                packet,
            } => {
                if self.admits(*conn, at, packet, out) {
                    out.push(stamp(at, packet_line(*conn, *direction, packet)));
                }
            }
            RunEvent::TcpClosed { conn, by_broker } => {
                // What the connection's last period hid is told before it closes.
                if let Some(budget) = self.budgets.remove(conn) {
                    budget.summary(*conn, at, out);
                }
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

    /// The summaries of periods that ended by `now` with packets hidden, so a flood that
    /// stops is still summed up within about a period (called on a timer).
    pub fn tick(&mut self, now: Duration, out: &mut Vec<String>) {
        let mut ended: Vec<ConnId> = self
            .budgets
            .iter()
            .filter(|(_, b)| now.saturating_sub(b.since) >= BUDGET_PERIOD)
            .map(|(c, _)| *c)
            .collect();
        ended.sort_unstable();
        for conn in ended {
            if let Some(budget) = self.budgets.remove(&conn) {
                budget.summary(conn, now, out);
            }
        }
    }

    /// Every summary still owed, when the broker stops.
    pub fn finish(&mut self, now: Duration, out: &mut Vec<String>) {
        let mut conns: Vec<ConnId> = self.budgets.keys().copied().collect();
        conns.sort_unstable();
        for conn in conns {
            if let Some(budget) = self.budgets.remove(&conn) {
                budget.summary(conn, now, out);
            }
        }
    }

    /// Whether this packet gets a line of its own; renews the connection's budget when its
    /// period is over (summing up the one that ended).
    fn admits(
        &mut self,
        conn: ConnId,
        at: Duration,
        packet: &Packet,
        out: &mut Vec<String>,
    ) -> bool {
        let Some(limit) = self.per_period else {
            return true;
        };
        let budget = self.budgets.entry(conn).or_insert_with(|| Budget::new(at));
        if at.saturating_sub(budget.since) >= BUDGET_PERIOD {
            let ended = std::mem::replace(budget, Budget::new(at));
            ended.summary(conn, at, out);
        }
        if budget.shown < limit {
            budget.shown += 1;
            return true;
        }
        *budget
            .hidden
            .entry(packet.packet_type().name())
            .or_insert(0) += 1;
        false
    }
}

impl Budget {
    fn new(since: Duration) -> Budget {
        Budget {
            since,
            shown: 0,
            hidden: BTreeMap::new(),
        }
    }

    fn summary(self, conn: ConnId, at: Duration, out: &mut Vec<String>) {
        let total: u64 = self.hidden.values().sum();
        if total == 0 {
            return;
        }
        let kinds: Vec<String> = self
            .hidden
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        out.push(stamp(
            at,
            format!(
                "conn {conn} {total} more packets not shown ({}) after the first {} of the \
                 second from {:.3}s (--log-packets sets how many)",
                kinds.join(", "),
                self.shown,
                self.since.as_secs_f64()
            ),
        ));
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
    use crate::mqtt::Connect;

    #[test]
    fn connect_password_is_masked_byte_for_byte() {
        let mut c = Connect::new("657077", 30);
        c.username = Some("20190156".into());
        c.password = Some(b"sn888".to_vec());
        let hex = redacted_hex(&Packet::Connect(c));
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

    fn at(ms: u64, event: RunEvent) -> Stamped {
        Stamped::new(
            std::time::SystemTime::now(),
            Duration::from_millis(ms),
            event,
        )
    }

    fn pingreq(conn: ConnId, ms: u64) -> Stamped {
        at(
            ms,
            RunEvent::MqttPacket {
                conn,
                direction: TcpDirection::Uplink,
                packet: Packet::Pingreq,
            },
        )
    }

    #[test]
    fn a_flood_shows_the_budget_then_one_summary_per_period() {
        let mut log = BrokerLog::new(3);
        let mut out = Vec::new();
        for i in 0..10 {
            log.lines(&pingreq(7, i), &mut out);
        }
        // Another connection has a budget of its own.
        log.lines(&pingreq(8, 20), &mut out);
        assert_eq!(out.len(), 4, "{out:#?}");
        log.tick(Duration::from_millis(500), &mut out);
        assert_eq!(out.len(), 4, "nothing is summed up before the period ends");
        log.tick(Duration::from_millis(1_000), &mut out);
        assert_eq!(out.len(), 5, "{out:#?}");
        assert!(
            out[4].contains("conn 7 7 more packets not shown (PINGREQ 7) after the first 3"),
            "{}",
            out[4]
        );
        // A new period has a fresh budget.
        log.lines(&pingreq(7, 1_200), &mut out);
        assert!(
            out[5].contains("conn 7 device -> broker C0 00"),
            "{}",
            out[5]
        );
    }

    #[test]
    fn a_close_tells_what_was_hidden_before_the_close() {
        let mut log = BrokerLog::new(1);
        let mut out = Vec::new();
        log.lines(&pingreq(3, 0), &mut out);
        log.lines(&pingreq(3, 1), &mut out);
        log.lines(
            &at(
                2,
                RunEvent::TcpClosed {
                    conn: 3,
                    by_broker: false,
                },
            ),
            &mut out,
        );
        assert_eq!(out.len(), 3, "{out:#?}");
        assert!(
            out[1].contains("1 more packets not shown (PINGREQ 1)"),
            "{}",
            out[1]
        );
        assert!(
            out[2].ends_with("conn 3 closed by the device"),
            "{}",
            out[2]
        );
    }

    #[test]
    fn zero_shows_every_packet() {
        let mut log = BrokerLog::new(0);
        let mut out = Vec::new();
        for i in 0..500 {
            log.lines(&pingreq(1, i), &mut out);
        }
        log.tick(Duration::from_secs(5), &mut out);
        assert_eq!(out.len(), 500);
    }
}
