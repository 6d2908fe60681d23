//! The per-scenario transcript ([`render`]): serial both ways, TCP both ways, the MQTT packets the
//! gateway framed, broker notes and step starts and ends, on one timeline with millisecond times
//! since the scenario started, each chunk as escaped text and seed-style hex.
//!
//! It renders events that were already redacted (the reporter does that for the whole scenario
//! at once, so a secret split across chunks is masked too).

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::events::{Outcome, RunEvent, Stamped, TcpDirection};
use crate::mqtt::Packet;

use super::diff::failure_lines;
use super::text::{escape, hex, secs};

/// Width of the direction column, so payloads line up.
const WHAT: usize = 14;
/// Bytes per hex line.
const HEX_ROW: usize = 16;
/// MQTT payload bytes shown inline in a packet line; the TCP hex above it has all of them.
const PAYLOAD_SHOWN: usize = 96;

/// What the transcript is of, for its header.
#[derive(Debug, Clone, Copy)]
pub struct Heading<'a> {
    /// `scenario connect-ok`, or `after the last scenario`.
    pub title: &'a str,
    pub file: Option<&'a Path>,
    /// Wall-clock time of time zero.
    pub started_at: SystemTime,
    /// Time zero, as time since the run started; events before it show negative times.
    pub origin: Duration,
}

/// The transcript text of `events`, ordered by time (stable, so same-instant events keep the
/// order they were emitted in).
pub fn render(heading: &Heading<'_>, events: &[Stamped]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "athil transcript: {}", heading.title);
    if let Some(f) = heading.file {
        let _ = writeln!(out, "file:    {}", f.display());
    }
    let _ = writeln!(
        out,
        "started: {} (UTC)",
        humantime::format_rfc3339_millis(heading.started_at)
    );
    let _ = writeln!(
        out,
        "times are seconds since then; serial > harness to module, serial < module to harness,"
    );
    let _ = writeln!(
        out,
        "tcp/mqtt ↑ module to broker, tcp/mqtt ↓ broker to module; bytes as text, then hex"
    );
    let _ = writeln!(out);
    let mut order: Vec<&Stamped> = events.iter().collect();
    order.sort_by_key(|e| e.since_start);
    for ev in order {
        entry(&mut out, heading.origin, ev);
    }
    out
}

fn time(origin: Duration, at: Duration) -> String {
    if at >= origin {
        format!("{:>10.3}", (at - origin).as_secs_f64())
    } else {
        format!("{:>10}", format!("-{:.3}", (origin - at).as_secs_f64()))
    }
}

fn head(out: &mut String, t: &str, what: &str, text: &str) {
    let _ = writeln!(out, "{t}  {what:<WHAT$}  {text}");
}

fn more(out: &mut String, text: &str) {
    let _ = writeln!(out, "{:>10}  {:<WHAT$}  {text}", "", "");
}

fn bytes(out: &mut String, t: &str, what: &str, prefix: &str, data: &[u8]) {
    head(out, t, what, &format!("{prefix}{}", escape(data)));
    let long = data.len() > HEX_ROW;
    for (i, row) in data.chunks(HEX_ROW).enumerate() {
        if long {
            more(out, &format!("{:04X}: {}", i * HEX_ROW, hex(row)));
        } else {
            more(out, &hex(row));
        }
    }
}

fn arrow(d: TcpDirection) -> &'static str {
    match d {
        TcpDirection::Uplink => "↑",
        TcpDirection::Downlink => "↓",
    }
}

fn entry(out: &mut String, origin: Duration, ev: &Stamped) {
    let t = &time(origin, ev.since_start);
    match &ev.event {
        RunEvent::RunStarted { scenario_count } => {
            head(
                out,
                t,
                "run",
                &format!("started, {scenario_count} scenario(s)"),
            );
        }
        RunEvent::ScenarioStarted { name, file } => {
            head(
                out,
                t,
                "scenario",
                &format!("start {name} ({})", file.display()),
            );
        }
        RunEvent::StepStarted {
            label, name, line, ..
        } => {
            let shown = match name {
                Some(n) => format!("{n}: {label} (line {line})"),
                None => format!("{label} (line {line})"),
            };
            head(out, t, "step start", &shown);
        }
        RunEvent::SerialOut { bytes: b } => bytes(out, t, "serial >", "", b),
        RunEvent::SerialIn { bytes: b } => bytes(out, t, "serial <", "", b),
        RunEvent::TcpOpened {
            conn,
            client,
            server,
        } => head(
            out,
            t,
            &format!("tcp open #{conn}"),
            &format!("{client} -> {server}"),
        ),
        RunEvent::TcpData {
            conn,
            direction,
            bytes: b,
        } => {
            let what = format!("tcp {} #{conn}", arrow(*direction));
            bytes(out, t, &what, &format!("({} bytes) ", b.len()), b);
        }
        RunEvent::TcpClosed { conn, by_broker } => {
            let by = if *by_broker {
                "by the broker"
            } else {
                "by the module"
            };
            head(out, t, &format!("tcp close #{conn}"), by);
        }
        RunEvent::MqttPacket {
            conn,
            direction,
            packet,
        } => head(
            out,
            t,
            &format!("mqtt {} #{conn}", arrow(*direction)),
            &packet_line(packet),
        ),
        RunEvent::BrokerNote { conn, text } => {
            let who = conn.map_or("broker".to_string(), |c| format!("broker #{c}"));
            head(out, t, &who, text);
        }
        RunEvent::PacketsNotShown {
            conn,
            shown,
            counts,
        } => head(
            out,
            t,
            &format!("broker #{conn}"),
            &crate::events::packets_not_shown(*shown, counts),
        ),
        RunEvent::StepFinished {
            outcome, elapsed, ..
        } => outcome_lines(out, t, "step", outcome, *elapsed),
        RunEvent::ScenarioFinished {
            outcome, elapsed, ..
        } => outcome_lines(out, t, "scenario", outcome, *elapsed),
        RunEvent::RunFinished {
            passed,
            failed,
            skipped,
            elapsed,
            interrupted,
        } => {
            let how = if *interrupted { ", interrupted" } else { "" };
            head(
                out,
                t,
                "run",
                &format!(
                    "finished in {}: {passed} passed, {failed} failed, {skipped} skipped{how}",
                    secs(*elapsed)
                ),
            );
        }
    }
}

fn outcome_lines(out: &mut String, t: &str, what: &str, outcome: &Outcome, elapsed: Duration) {
    match outcome {
        Outcome::Passed => head(out, t, &format!("{what} ok"), &secs(elapsed)),
        Outcome::Failed(f) => {
            head(
                out,
                t,
                &format!("{what} FAIL"),
                &format!("{}  {}", secs(elapsed), f.step),
            );
            for l in failure_lines(f) {
                more(out, &l.text);
            }
        }
        Outcome::Skipped { reason } => head(out, t, &format!("{what} skip"), reason),
    }
}

fn flag(b: bool) -> u8 {
    u8::from(b)
}

fn payload(p: &[u8]) -> String {
    if p.len() > PAYLOAD_SHOWN {
        format!("({} bytes) {}...", p.len(), escape(&p[..PAYLOAD_SHOWN]))
    } else {
        format!("({} bytes) {}", p.len(), escape(p))
    }
}

/// One line per MQTT packet, its fields as the specification names them.
pub fn packet_line(p: &Packet) -> String {
    let name = p.packet_type().name();
    match p {
        Packet::Connect(c) => {
            let mut s = format!(
                "{name} client_id={} protocol={} level={} clean_session={} keepalive={}",
                escape(c.client_id.as_bytes()),
                escape(c.protocol_name.as_bytes()),
                c.protocol_level,
                flag(c.clean_session),
                c.keepalive
            );
            if let Some(u) = &c.username {
                let _ = write!(s, " username={}", escape(u.as_bytes()));
            }
            if let Some(pw) = &c.password {
                let _ = write!(s, " password={}", escape(pw));
            }
            if let Some(w) = &c.will {
                let _ = write!(
                    s,
                    " will_topic={} will_qos={} will_retain={} will_message={}",
                    escape(w.topic.as_bytes()),
                    u8::from(w.qos),
                    flag(w.retain),
                    payload(&w.message)
                );
            }
            s
        }
        Packet::Connack(c) => format!(
            "{name} session_present={} return_code={}",
            flag(c.session_present),
            c.return_code
        ),
        Packet::Publish(p) => {
            let id = p
                .packet_id
                .map_or(String::new(), |i| format!(" packet_id={i}"));
            format!(
                "{name} topic={} qos={}{id} retain={} dup={} payload={}",
                escape(p.topic.as_bytes()),
                u8::from(p.qos),
                flag(p.retain),
                flag(p.dup),
                payload(&p.payload)
            )
        }
        Packet::Puback { packet_id }
        | Packet::Pubrec { packet_id }
        | Packet::Pubrel { packet_id }
        | Packet::Pubcomp { packet_id }
        | Packet::Unsuback { packet_id } => format!("{name} packet_id={packet_id}"),
        Packet::Subscribe(s) => {
            let f: Vec<String> = s
                .filters
                .iter()
                .map(|f| format!("{}@{}", escape(f.filter.as_bytes()), u8::from(f.qos)))
                .collect();
            format!("{name} packet_id={} filters={}", s.packet_id, f.join(","))
        }
        Packet::Suback(s) => format!(
            "{name} packet_id={} return_codes={}",
            s.packet_id,
            hex(&s.return_codes)
        ),
        Packet::Unsubscribe(u) => {
            let f: Vec<String> = u.filters.iter().map(|f| escape(f.as_bytes())).collect();
            format!("{name} packet_id={} filters={}", u.packet_id, f.join(","))
        }
        Packet::Pingreq | Packet::Pingresp | Packet::Disconnect => name.to_string(),
    }
}
