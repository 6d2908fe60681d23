//! The one-line label of a step (`send AT+CIPSEND=118`, `receive 20 02 00 00`), as the
//! console and JUnit show it. Built from the text as written, so templates appear as
//! `{{env.WIFI_PASS}}`, never as their values.

use crate::mqtt::hex::to_hex;

use super::model::{Action, FaultDevice, Matcher, MqttExpect, MqttSend, SeenPacket};
use super::raw::RawStep;

/// Labels longer than this are cut with `…`.
const MAX_CHARS: usize = 100;
/// Bytes shown of a `write`/`receive` before `…`.
const MAX_BYTES: usize = 16;

pub(crate) fn label(action: &Action, raw: &RawStep) -> String {
    let text = match action {
        Action::Send { line, .. } => format!("send {line}"),
        Action::Write { bytes, .. } => format!("write {}", bytes_label(bytes)),
        Action::Expect(m) => format!("expect {}", matcher(m)),
        Action::ExpectNot { matcher: m, .. } => {
            let window = raw.window.ok().map(|w| w.value.0.trim()).unwrap_or("");
            format!("expect_not {} for {window}", matcher(m))
        }
        Action::Receive(bytes) => format!("receive {}", bytes_label(bytes)),
        Action::Mqtt(p) => format!("mqtt {}", send(p)),
        Action::ReceiveMqtt(p) => format!("receive_mqtt {}", expect(p)),
        Action::BrokerSaw(saw) => format!("broker_saw {}", seen(&saw.packet)),
        Action::BrokerRefused(r) => match r.code {
            Some(code) => format!("broker_refused {code}"),
            None => "broker_refused".into(),
        },
        Action::BrokerFault { device, fault } => {
            let name = fault.key().unwrap_or("");
            match device {
                FaultDevice::Scenario => format!("broker_fault {name}"),
                FaultDevice::Named(d) => format!("broker_fault {name} on {d}"),
                FaultDevice::All => format!("broker_fault {name} on all devices"),
            }
        }
        Action::BrokerDropped(d) => match d.packet {
            Some(p) => format!("broker_dropped {}", p.name().to_ascii_lowercase()),
            None => "broker_dropped".into(),
        },
        Action::CloudPublish(c) => format!("cloud_publish {}", c.topic),
        Action::Join(j) => match &j.apn {
            Some(apn) => format!("join (APN {apn})"),
            None => "join".into(),
        },
        Action::Open(o) => with_link(format!("open {}:{}", o.host, o.port), o.link),
        Action::Close { link } => with_link("close".into(), *link),
        Action::ExpectClosed { link } => with_link("expect_closed".into(), *link),
        Action::Wait(_) => {
            let d = raw.wait.ok().map(|w| w.value.0.trim()).unwrap_or("");
            format!("wait {d}")
        }
    };
    let text = match raw.link.ok() {
        Some(l) => format!("{text} on link {}", l.value),
        None => text,
    };
    let one_line = text.replace(['\r', '\n'], " ");
    if one_line.chars().count() > MAX_CHARS {
        let cut: String = one_line.chars().take(MAX_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

fn with_link(text: String, link: Option<u8>) -> String {
    match link {
        Some(l) => format!("{text} on link {l}"),
        None => text,
    }
}

fn bytes_label(bytes: &[u8]) -> String {
    if bytes.len() <= MAX_BYTES {
        to_hex(bytes)
    } else {
        format!("{} … ({} bytes)", to_hex(&bytes[..MAX_BYTES]), bytes.len())
    }
}

fn matcher(m: &Matcher) -> String {
    let list = |ms: &[Matcher]| -> String {
        let items: Vec<String> = ms.iter().map(matcher).collect();
        format!("[{}]", items.join(", "))
    };
    match m {
        Matcher::Contains(t) => t.to_string(),
        Matcher::Line(t) => format!("line {t}"),
        Matcher::Regex(p) => format!("regex {}", p.0.as_str()),
        Matcher::InOrder(ms) => list(ms),
        Matcher::AllOf(ms) => format!("all_of {}", list(ms)),
        Matcher::AnyOf(ms) => format!("any_of {}", list(ms)),
    }
}

fn filters_label<'a>(mut filters: impl Iterator<Item = &'a str>, count: usize) -> String {
    match (filters.next(), count) {
        (None, _) => String::new(),
        (Some(first), 1) => format!(" {first}"),
        (Some(first), n) => format!(" {first} (+{} more)", n - 1),
    }
}

fn send(p: &MqttSend) -> String {
    match p {
        MqttSend::Connect(_) => "connect".into(),
        MqttSend::Publish(p) => format!("publish {}", p.topic),
        MqttSend::Subscribe { filters, .. } => format!(
            "subscribe{}",
            filters_label(filters.iter().map(|f| f.filter.source()), filters.len())
        ),
        MqttSend::Unsubscribe { filters, .. } => format!(
            "unsubscribe{}",
            filters_label(filters.iter().map(|f| f.source()), filters.len())
        ),
        MqttSend::Puback { packet_id } => format!("puback {packet_id}"),
        MqttSend::Pubrec { packet_id } => format!("pubrec {packet_id}"),
        MqttSend::Pubrel { packet_id } => format!("pubrel {packet_id}"),
        MqttSend::Pubcomp { packet_id } => format!("pubcomp {packet_id}"),
        MqttSend::Pingreq => "pingreq".into(),
        MqttSend::Disconnect => "disconnect".into(),
    }
}

fn opt<T: std::fmt::Display>(name: &str, v: &Option<T>) -> String {
    match v {
        Some(v) => format!("{name} {v}"),
        None => name.into(),
    }
}

fn expect(p: &MqttExpect) -> String {
    match p {
        MqttExpect::Connack { return_code, .. } => opt("connack", return_code),
        MqttExpect::Publish(p) => opt("publish", &p.topic),
        MqttExpect::Puback { packet_id } => opt("puback", packet_id),
        MqttExpect::Pubrec { packet_id } => opt("pubrec", packet_id),
        MqttExpect::Pubrel { packet_id } => opt("pubrel", packet_id),
        MqttExpect::Pubcomp { packet_id } => opt("pubcomp", packet_id),
        MqttExpect::Suback { packet_id, .. } => opt("suback", packet_id),
        MqttExpect::Unsuback { packet_id } => opt("unsuback", packet_id),
        MqttExpect::Pingresp => "pingresp".into(),
    }
}

fn seen(p: &SeenPacket) -> String {
    match p {
        SeenPacket::Connect { .. } => "connect".into(),
        SeenPacket::Publish(p) => opt("publish", &p.topic),
        SeenPacket::Subscribe { filters, .. } => match filters {
            Some(fs) => format!(
                "subscribe{}",
                filters_label(fs.iter().map(|f| f.filter.source()), fs.len())
            ),
            None => "subscribe".into(),
        },
        SeenPacket::Unsubscribe { filters, .. } => match filters {
            Some(fs) => format!(
                "unsubscribe{}",
                filters_label(fs.iter().map(|f| f.source()), fs.len())
            ),
            None => "unsubscribe".into(),
        },
        SeenPacket::Puback { packet_id } => opt("puback", packet_id),
        SeenPacket::Pingreq => "pingreq".into(),
        SeenPacket::Disconnect => "disconnect".into(),
    }
}
