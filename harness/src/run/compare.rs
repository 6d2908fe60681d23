//! Checking packets against a scenario's field expectations, and rendering both sides as
//! aligned `field: value` rows so a report can show them side by side.

use crate::mqtt::{hex::to_hex, Packet, Publish};
use crate::scenario::{
    FilterMatch, MqttExpect, PayloadMatch, PublishMatch, SeenPacket, Template, TemplateError,
};

/// One checked field: its name, what was wanted and what the packet had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub field: String,
    pub expected: String,
    pub actual: String,
}

impl Row {
    fn ok(&self) -> bool {
        self.expected == self.actual
    }
}

/// The outcome of comparing one packet with an expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub rows: Vec<Row>,
    /// A field that did not match, as one line ("return_code: expected 0, got 4").
    pub first_mismatch: Option<String>,
}

impl Comparison {
    pub fn matches(&self) -> bool {
        self.first_mismatch.is_none()
    }

    /// The expected side, one `field: value` line per row.
    pub fn expected_text(&self) -> String {
        self.rows
            .iter()
            .map(|r| format!("{}: {}", r.field, r.expected))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The actual side, aligned with [`Comparison::expected_text`].
    pub fn actual_text(&self) -> String {
        self.rows
            .iter()
            .map(|r| format!("{}: {}", r.field, r.actual))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Collects rows, remembering the first that differs. Custom checks (JSON subsets) may pass
/// with different renderings, so they record their own verdict.
struct Rows {
    rows: Vec<Row>,
    first: Option<String>,
}

impl Rows {
    fn new(kind_expected: &str, packet: &Packet) -> Rows {
        let mut r = Rows {
            rows: Vec::new(),
            first: None,
        };
        r.push(
            "type",
            kind_expected.to_owned(),
            packet.packet_type().name().to_owned(),
        );
        r
    }

    fn push(&mut self, field: &str, expected: String, actual: String) {
        let row = Row {
            field: field.to_owned(),
            expected,
            actual,
        };
        if !row.ok() && self.first.is_none() {
            self.first = Some(format!(
                "{}: expected {}, got {}",
                row.field, row.expected, row.actual
            ));
        }
        self.rows.push(row);
    }

    fn push_verdict(&mut self, field: &str, expected: String, actual: String, ok: Option<String>) {
        if let Some(why) = ok {
            if self.first.is_none() {
                self.first = Some(why);
            }
        }
        self.rows.push(Row {
            field: field.to_owned(),
            expected,
            actual,
        });
    }

    fn opt<T: ToString>(&mut self, field: &str, want: &Option<T>, got: impl ToString) {
        if let Some(w) = want {
            self.push(field, w.to_string(), got.to_string());
        }
    }

    fn done(self) -> Comparison {
        Comparison {
            rows: self.rows,
            first_mismatch: self.first,
        }
    }

    fn type_differs(&self) -> bool {
        self.rows.first().is_some_and(|r| !r.ok())
    }
}

/// Compares a packet that arrived from the socket with a `receive_mqtt:` expectation.
pub fn compare_received(
    expect: &MqttExpect,
    packet: &Packet,
    lookup: Lookup,
) -> Result<Comparison, TemplateError> {
    let pid = |p: &Packet| packet_id(p).map_or("-".to_owned(), |i| i.to_string());
    let mut r = Rows::new(expected_type(expect), packet);
    if r.type_differs() {
        return Ok(r.done());
    }
    match (expect, packet) {
        (
            MqttExpect::Connack {
                session_present,
                return_code,
            },
            Packet::Connack(c),
        ) => {
            r.opt("session_present", session_present, c.session_present);
            r.opt("return_code", return_code, c.return_code);
        }
        (MqttExpect::Publish(m), Packet::Publish(p)) => publish_rows(&mut r, m, p, lookup)?,
        (
            MqttExpect::Suback {
                packet_id,
                return_codes,
            },
            Packet::Suback(s),
        ) => {
            r.opt("packet_id", packet_id, s.packet_id);
            if let Some(codes) = return_codes {
                r.push("return_codes", to_hex(codes), to_hex(&s.return_codes));
            }
        }
        (MqttExpect::Puback { packet_id }, p)
        | (MqttExpect::Pubrec { packet_id }, p)
        | (MqttExpect::Pubrel { packet_id }, p)
        | (MqttExpect::Pubcomp { packet_id }, p)
        | (MqttExpect::Unsuback { packet_id }, p) => r.opt("packet_id", packet_id, pid(p)),
        (MqttExpect::Pingresp, _) => {}
        // Types already agreed above; these pairs cannot occur.
        (MqttExpect::Connack { .. }, _)
        | (MqttExpect::Publish(_), _)
        | (MqttExpect::Suback { .. }, _) => {}
    }
    Ok(r.done())
}

/// Compares a packet the broker saw with a `broker_saw:` expectation (client id apart).
pub fn compare_seen(
    expect: &SeenPacket,
    packet: &Packet,
    lookup: Lookup,
) -> Result<Comparison, TemplateError> {
    let mut r = Rows::new(seen_type(expect), packet);
    if r.type_differs() {
        return Ok(r.done());
    }
    match (expect, packet) {
        (
            SeenPacket::Connect {
                username,
                keepalive,
                clean_session,
            },
            Packet::Connect(c),
        ) => {
            if let Some(u) = username {
                r.push(
                    "username",
                    u.render(lookup)?,
                    c.username.clone().unwrap_or_default(),
                );
            }
            r.opt("keepalive", keepalive, c.keepalive);
            r.opt("clean_session", clean_session, c.clean_session);
        }
        (SeenPacket::Publish(m), Packet::Publish(p)) => publish_rows(&mut r, m, p, lookup)?,
        (SeenPacket::Subscribe { packet_id, filters }, Packet::Subscribe(s)) => {
            r.opt("packet_id", packet_id, s.packet_id);
            if let Some(fs) = filters {
                let want = fs
                    .iter()
                    .map(|f| filter_text(f, lookup))
                    .collect::<Result<Vec<_>, _>>()?;
                let got = s
                    .filters
                    .iter()
                    .zip(
                        fs.iter()
                            .map(|f| f.qos.is_some())
                            .chain(std::iter::repeat(true)),
                    )
                    .map(|(g, with_qos)| {
                        if with_qos {
                            format!("{}:{}", g.filter, u8::from(g.qos))
                        } else {
                            g.filter.clone()
                        }
                    })
                    .collect::<Vec<_>>();
                r.push("filters", want.join(", "), got.join(", "));
            }
        }
        (SeenPacket::Unsubscribe { packet_id, filters }, Packet::Unsubscribe(u)) => {
            r.opt("packet_id", packet_id, u.packet_id);
            if let Some(fs) = filters {
                let want = render_all(fs, lookup)?;
                r.push("filters", want.join(", "), u.filters.join(", "));
            }
        }
        (SeenPacket::Puback { packet_id }, Packet::Puback { packet_id: got }) => {
            r.opt("packet_id", packet_id, got)
        }
        (SeenPacket::Pingreq, _) | (SeenPacket::Disconnect, _) => {}
        (SeenPacket::Connect { .. }, _)
        | (SeenPacket::Publish(_), _)
        | (SeenPacket::Subscribe { .. }, _)
        | (SeenPacket::Unsubscribe { .. }, _)
        | (SeenPacket::Puback { .. }, _) => {}
    }
    Ok(r.done())
}

fn publish_rows(
    r: &mut Rows,
    m: &PublishMatch,
    p: &Publish,
    lookup: Lookup,
) -> Result<(), TemplateError> {
    if let Some(t) = &m.topic {
        r.push("topic", t.render(lookup)?, p.topic.clone());
    }
    r.opt("qos", &m.qos.map(u8::from), u8::from(p.qos));
    r.opt("retain", &m.retain, p.retain);
    r.opt("dup", &m.dup, p.dup);
    r.opt(
        "packet_id",
        &m.packet_id,
        p.packet_id.map_or("-".to_owned(), |i| i.to_string()),
    );
    if let Some(pm) = &m.payload {
        let verdict = pm.check(&p.payload, lookup)?;
        let (expected, actual) = match (pm, &verdict) {
            (_, Err(mm)) => (mm.expected.clone(), mm.actual.clone()),
            (PayloadMatch::Bytes(b), Ok(())) => (to_hex(b), to_hex(&p.payload)),
            (PayloadMatch::Text(_) | PayloadMatch::JsonSubset(_), Ok(())) => {
                let text = String::from_utf8_lossy(&p.payload).into_owned();
                (text.clone(), text)
            }
        };
        let why = verdict.err().map(|mm| mm.to_string());
        r.push_verdict("payload", expected, actual, why);
    }
    Ok(())
}

fn filter_text(f: &FilterMatch, lookup: Lookup) -> Result<String, TemplateError> {
    let topic = f.filter.render(lookup)?;
    Ok(match f.qos {
        Some(q) => format!("{topic}:{}", u8::from(q)),
        None => topic,
    })
}

fn render_all(ts: &[Template], lookup: Lookup) -> Result<Vec<String>, TemplateError> {
    ts.iter().map(|t| t.render(lookup)).collect()
}

fn packet_id(p: &Packet) -> Option<u16> {
    match p {
        Packet::Puback { packet_id }
        | Packet::Pubrec { packet_id }
        | Packet::Pubrel { packet_id }
        | Packet::Pubcomp { packet_id }
        | Packet::Unsuback { packet_id } => Some(*packet_id),
        Packet::Subscribe(s) => Some(s.packet_id),
        Packet::Suback(s) => Some(s.packet_id),
        Packet::Unsubscribe(u) => Some(u.packet_id),
        Packet::Publish(p) => p.packet_id,
        Packet::Connect(_)
        | Packet::Connack(_)
        | Packet::Pingreq
        | Packet::Pingresp
        | Packet::Disconnect => None,
    }
}

fn expected_type(e: &MqttExpect) -> &'static str {
    match e {
        MqttExpect::Connack { .. } => "CONNACK",
        MqttExpect::Publish(_) => "PUBLISH",
        MqttExpect::Puback { .. } => "PUBACK",
        MqttExpect::Pubrec { .. } => "PUBREC",
        MqttExpect::Pubrel { .. } => "PUBREL",
        MqttExpect::Pubcomp { .. } => "PUBCOMP",
        MqttExpect::Suback { .. } => "SUBACK",
        MqttExpect::Unsuback { .. } => "UNSUBACK",
        MqttExpect::Pingresp => "PINGRESP",
    }
}

/// The packet type a `broker_saw:` expectation names.
pub fn seen_type(e: &SeenPacket) -> &'static str {
    match e {
        SeenPacket::Connect { .. } => "CONNECT",
        SeenPacket::Publish(_) => "PUBLISH",
        SeenPacket::Subscribe { .. } => "SUBSCRIBE",
        SeenPacket::Unsubscribe { .. } => "UNSUBSCRIBE",
        SeenPacket::Puback { .. } => "PUBACK",
        SeenPacket::Pingreq => "PINGREQ",
        SeenPacket::Disconnect => "DISCONNECT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::{decode, parse_hex};

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_refused_connack_differs_in_return_code_only() {
        let (p, _) = decode(&parse_hex("20 02 00 04").unwrap()).unwrap();
        let want = MqttExpect::Connack {
            session_present: None,
            return_code: Some(0),
        };
        let c = compare_received(&want, &p, &none).unwrap();
        assert_eq!(
            c.first_mismatch.as_deref(),
            Some("return_code: expected 0, got 4")
        );
        assert_eq!(c.expected_text(), "type: CONNACK\nreturn_code: 0");
        assert_eq!(c.actual_text(), "type: CONNACK\nreturn_code: 4");
    }

    #[test]
    fn the_seed_suback_matches_granted_qos_1() {
        let (p, _) = decode(&parse_hex("90 03 00 0A 01").unwrap()).unwrap();
        let want = MqttExpect::Suback {
            packet_id: Some(10),
            return_codes: Some(vec![1]),
        };
        assert!(compare_received(&want, &p, &none).unwrap().matches());
    }

    #[test]
    fn another_packet_type_stops_at_the_type_row() {
        let (p, _) = decode(&parse_hex("D0 00").unwrap()).unwrap();
        let want = MqttExpect::Suback {
            packet_id: Some(10),
            return_codes: None,
        };
        let c = compare_received(&want, &p, &none).unwrap();
        assert_eq!(
            c.first_mismatch.as_deref(),
            Some("type: expected SUBACK, got PINGRESP")
        );
        assert_eq!(c.rows.len(), 1);
    }
}
