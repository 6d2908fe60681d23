//! CONNECT and CONNACK bodies (MQTT 3.1.1 §3.1, §3.2), decoded through the annotating
//! [`Reader`]: the packets every seed builds by hand first, and gets wrong first.

use serde_json::{json, Value};

use super::reader::{ignore_nul, Reader};
use crate::mqtt::packet::{Connack, Connect, Packet, QoS, Will};
use crate::mqtt::topic::check_topic_name;

pub(super) fn connect(r: &mut Reader) -> Option<Packet> {
    let name_at = r.pos;
    let protocol_name = r.string("protocol name")?;
    r.set("protocol_name", protocol_name.clone());
    let level_at = r.pos;
    let protocol_level = r.u8("protocol level")?;
    r.note(
        level_at,
        1,
        "protocol level",
        describe_level(protocol_level),
    );
    r.set("protocol_level", protocol_level);
    check_protocol(r, name_at, &protocol_name, level_at, protocol_level);

    let flags_at = r.pos;
    let flags = r.u8("connect flags")?;
    let f = Flags::from(flags);
    describe_flags(r, flags_at, flags);
    check_flags(r, flags_at, flags);

    let keep_at = r.pos;
    let keepalive = r.u16("keep alive")?;
    let keep_text = match keepalive {
        0 => "0 (keep alive off)".to_string(),
        s => format!("{s} s"),
    };
    r.note(keep_at, 2, "keep alive", keep_text);
    r.set("keepalive", keepalive);

    let id_at = r.pos;
    let client_id = r.string("client identifier")?;
    r.set("client_id", client_id.clone());
    if client_id.is_empty() && !f.clean_session {
        r.error(
            id_at,
            "the client identifier is empty but clean session is 0: a server must refuse this \
             (CONNACK 02); send a client id or set clean session"
                .to_string(),
        );
    }

    for key in ["will_topic", "will_message", "username", "password"] {
        r.set(key, Value::Null);
    }
    let will = if f.will {
        let topic_at = r.pos;
        let topic = r.string("will topic")?;
        if let Err(e) = check_topic_name(&topic).or_else(ignore_nul) {
            r.error(
                topic_at,
                format!("the will topic {topic:?} is not a valid topic name: {e}"),
            );
        }
        r.set("will_topic", topic.clone());
        let (at, message) = r.prefixed("will message")?;
        r.note(at, message.len(), "will message", text_or_hex(message));
        r.set("will_message", text_or_hex_json(message));
        Some(Will {
            topic,
            message: message.to_vec(),
            qos: f.will_qos_checked(),
            retain: f.will_retain,
        })
    } else {
        None
    };
    let username = if f.username {
        let name = r.string("user name")?;
        r.set("username", name.clone());
        Some(name)
    } else {
        None
    };
    let password = if f.password {
        let (at, raw) = r.prefixed("password")?;
        r.note(at, raw.len(), "password", text_or_hex(raw));
        if let Ok(text) = std::str::from_utf8(raw) {
            r.check_stray("password", at, text);
        }
        r.set("password", text_or_hex_json(raw));
        Some(raw.to_vec())
    } else {
        None
    };
    if r.left() > 0 {
        r.error(
            r.pos,
            format!(
                "{} follow the last field the connect flags announce — a flag bit missing \
                 (user name 0x80, password 0x40, will 0x04), or the remaining length too big?",
                super::reader::n_bytes(r.left())
            ),
        );
    }
    Some(Packet::from(Connect {
        protocol_name,
        protocol_level,
        clean_session: f.clean_session,
        keepalive,
        client_id,
        will,
        username,
        password,
    }))
}

/// The connect flags byte, bit by bit (§3.1.2.3).
struct Flags {
    username: bool,
    password: bool,
    will_retain: bool,
    will_qos: u8,
    will: bool,
    clean_session: bool,
}

impl From<u8> for Flags {
    fn from(b: u8) -> Flags {
        Flags {
            username: b & 0x80 != 0,
            password: b & 0x40 != 0,
            will_retain: b & 0x20 != 0,
            will_qos: (b >> 3) & 0x03,
            will: b & 0x04 != 0,
            clean_session: b & 0x02 != 0,
        }
    }
}

impl Flags {
    /// The will QoS for the model; 3 is reported as an error elsewhere and kept as 2.
    fn will_qos_checked(&self) -> QoS {
        QoS::try_from(self.will_qos).unwrap_or(QoS::ExactlyOnce)
    }
}

fn describe_flags(r: &mut Reader, at: usize, b: u8) {
    let f = Flags::from(b);
    r.note(
        at,
        1,
        "connect flags",
        format!("{b:02X} = {:04b} {:04b}", b >> 4, b & 0x0F),
    );
    let bit = |on: bool| u8::from(on);
    let lines = [
        format!("bit 7   user name flag  {}", bit(f.username)),
        format!("bit 6   password flag   {}", bit(f.password)),
        format!("bit 5   will retain     {}", bit(f.will_retain)),
        format!(
            "bit 4-3 will QoS        {:02b} = {}",
            f.will_qos, f.will_qos
        ),
        format!("bit 2   will flag       {}", bit(f.will)),
        format!("bit 1   clean session   {}", bit(f.clean_session)),
        format!("bit 0   reserved        {}", b & 1),
    ];
    for line in lines {
        r.detail(line);
    }
    r.set(
        "flags",
        json!({
            "username": f.username,
            "password": f.password,
            "will_retain": f.will_retain,
            "will_qos": f.will_qos,
            "will": f.will,
            "clean_session": f.clean_session,
        }),
    );
}

fn check_flags(r: &mut Reader, at: usize, b: u8) {
    let f = Flags::from(b);
    if b & 0x01 != 0 {
        r.error(
            at,
            format!(
                "connect flags {b:02X}: reserved bit 0 is 1 and must be 0 (the server must drop \
                 the connection); did you mean {:02X}?",
                b & 0xFE
            ),
        );
    }
    if !f.will && (f.will_qos != 0 || f.will_retain) {
        r.error(
            at,
            format!(
                "connect flags {b:02X}: will QoS and will retain must be 0 when the will flag \
                 (bit 2) is 0; did you mean {:02X}?",
                b & 0xC7
            ),
        );
    }
    if f.will && f.will_qos == 3 {
        r.error(
            at,
            format!("connect flags {b:02X}: will QoS 3 is not a QoS (0, 1 or 2)"),
        );
    }
    if f.password && !f.username {
        r.error(
            at,
            format!(
                "connect flags {b:02X}: the password flag is set without the user name flag, \
                 which MQTT 3.1.1 forbids; set both (C2 for user name, password and clean \
                 session)"
            ),
        );
    }
}

fn describe_level(level: u8) -> String {
    match level {
        3 => "3 (MQTT 3.1)".to_string(),
        4 => "4 (MQTT 3.1.1)".to_string(),
        5 => "5 (MQTT 5.0)".to_string(),
        n => format!("{n} (unknown)"),
    }
}

fn check_protocol(r: &mut Reader, name_at: usize, name: &str, level_at: usize, level: u8) {
    match (name, level) {
        ("MQTT", 4) => {}
        ("MQIsdp", 3) => r.error(
            name_at,
            "protocol name MQIsdp with level 3 is MQTT 3.1, not the 3.1.1 this decoder \
             checks: Alibaba Cloud accepts 3.1, OneNET answers CONNACK 01; for 3.1.1 write \
             00 04 4D 51 54 54 04 (MQTT, level 4)"
                .to_string(),
        ),
        ("MQTT", 3) => r.error(
            level_at,
            "protocol level 3 with the name MQTT: 3.1.1 is level 4 (level 3 is MQTT 3.1, whose \
             name is MQIsdp)"
                .to_string(),
        ),
        ("MQTT", 5) => r.error(
            level_at,
            "protocol level 5 is MQTT 5.0; this decoder checks 3.1.1 (level 4), and Alibaba \
             Cloud and OneNET answer such a CONNECT with CONNACK 01"
                .to_string(),
        ),
        ("MQTT" | "MQIsdp", n) => r.error(
            level_at,
            format!(
                "protocol level {n} is not MQTT 3.1.1's 4; a server answers CONNACK 01 \
                 (unacceptable protocol version)"
            ),
        ),
        (other, _) => r.error(
            name_at,
            format!(
                "protocol name {other:?} is not \"MQTT\"; a 3.1.1 CONNECT starts 00 04 4D 51 54 54"
            ),
        ),
    }
}

pub(super) fn connack(r: &mut Reader) -> Option<Packet> {
    let at = r.pos;
    let flags = r.u8("acknowledge flags")?;
    let session_present = flags & 0x01 != 0;
    r.note(
        at,
        1,
        "acknowledge flags",
        format!("{flags:02X}: session present {}", u8::from(session_present)),
    );
    r.set("session_present", session_present);
    if flags & 0xFE != 0 {
        r.error(
            at,
            format!("CONNACK acknowledge flags {flags:02X}: bits 7-1 are reserved and must be 0"),
        );
    }
    let code_at = r.pos;
    let return_code = r.u8("return code")?;
    r.note(code_at, 1, "return code", describe_return_code(return_code));
    r.set("return_code", return_code);
    if return_code > 5 {
        r.error(
            code_at,
            format!("CONNACK return code {return_code} is reserved; 0 to 5 are defined"),
        );
    }
    if session_present && return_code != 0 {
        r.error(
            at,
            format!("CONNACK refuses (return code {return_code}) but says session present; a refusal must have it 0"),
        );
    }
    r.expect_end("CONNACK");
    Some(Packet::Connack(Connack {
        session_present,
        return_code,
    }))
}

/// The return code and its meaning (3.1.1 table 3.1).
fn describe_return_code(code: u8) -> String {
    let meaning = match code {
        0 => "connection accepted",
        1 => "refused: unacceptable protocol version",
        2 => "refused: identifier rejected",
        3 => "refused: server unavailable",
        4 => "refused: bad user name or password",
        5 => "refused: not authorized",
        _ => "reserved",
    };
    format!("{code} ({meaning})")
}

/// UTF-8 text when it is, upper-case hex otherwise (passwords and will messages are binary).
fn text_or_hex(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(t) => format!("{t:?}"),
        Err(_) => format!("binary {}", crate::mqtt::hex::to_hex(raw)),
    }
}

fn text_or_hex_json(raw: &[u8]) -> Value {
    match std::str::from_utf8(raw) {
        Ok(t) => Value::String(t.to_string()),
        Err(_) => Value::String(crate::mqtt::hex::to_hex(raw)),
    }
}
