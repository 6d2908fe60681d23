//! `athil encode`: builds any of the 14 MQTT 3.1.1 packets from flags and prints it the way the
//! seeds write packets (upper-case hex, space separated), with its length and the AT line that
//! would send it in the `--module`'s dialect (`AT+CIPSEND=<n>` for ESP-AT and Air601,
//! `AT+QISEND=0,<n>` for Quectel).
//! Exit 0 with the packet, 2 when the flags do not make a valid packet.

use serde_json::json;

use crate::exit::ExitCode;
use crate::module::dialect::{send_lines, DialectKind};
use crate::mqtt::{
    encode, to_hex, Connack, Connect, Packet, Publish, QoS, Suback, Subscribe, SubscribeFilter,
    Unsubscribe, Will,
};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    athil encode connect --client-id 'Air601|securemode=3,signmethod=hmacsha1|' \\\n      \
    --username 'Air601&ksf114514' --password e4b931f3… --keepalive 100\n  \
    athil encode publish --topic T --payload P --qos 1 --packet-id 10\n  \
    athil encode subscribe --packet-id 10 --filter T:1\n  \
    athil encode connack --return-code 4\n  \
    athil encode pingreq")]
pub struct Args {
    #[command(subcommand)]
    pub packet: PacketArgs,
    /// Output format: hex and the AT send line, or one JSON object
    /// (`type, hex, length, at_send`).
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,
    /// The AT dialect whose send command to print (`AT+CIPSEND=<n>`, `AT+QISEND=0,<n>`); a
    /// packet longer than one send takes a line per piece.
    #[arg(long, default_value = "esp-at", global = true)]
    pub module: DialectKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Subcommand)]
pub enum PacketArgs {
    /// Client to server: open an MQTT session.
    Connect(Box<ConnectArgs>),
    /// Server to client: accept or refuse a CONNECT.
    Connack(ConnackArgs),
    /// Either way: an application message.
    Publish(PublishArgs),
    /// Acknowledge a QoS 1 PUBLISH.
    Puback(IdArgs),
    /// QoS 2, step 1: PUBLISH received.
    Pubrec(IdArgs),
    /// QoS 2, step 2: release.
    Pubrel(IdArgs),
    /// QoS 2, step 3: complete.
    Pubcomp(IdArgs),
    /// Client to server: subscribe to topic filters.
    Subscribe(SubscribeArgs),
    /// Server to client: one return code per filter.
    Suback(SubackArgs),
    /// Client to server: drop subscriptions.
    Unsubscribe(UnsubscribeArgs),
    /// Server to client: UNSUBSCRIBE done.
    Unsuback(IdArgs),
    /// Client to server: keep-alive ping.
    Pingreq,
    /// Server to client: ping answer.
    Pingresp,
    /// Client to server: close the session cleanly.
    Disconnect,
}

#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    /// Client identifier (`""` for none, which needs clean session).
    #[arg(long)]
    pub client_id: String,
    #[arg(long)]
    pub username: Option<String>,
    /// Password as text (for Alibaba Cloud: the hex sign, as text).
    #[arg(long, conflicts_with = "password_hex")]
    pub password: Option<String>,
    /// Password as hex bytes, for binary passwords.
    #[arg(long, value_name = "HEX")]
    pub password_hex: Option<String>,
    /// Keep-alive interval in seconds (0 turns it off).
    #[arg(long, default_value_t = 60)]
    pub keepalive: u16,
    /// Keep the session (clean session 0); needs a client id.
    #[arg(long)]
    pub no_clean_session: bool,
    #[arg(long, requires = "will_message")]
    pub will_topic: Option<String>,
    #[arg(long, requires = "will_topic")]
    pub will_message: Option<String>,
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2), requires = "will_topic")]
    pub will_qos: u8,
    #[arg(long, requires = "will_topic")]
    pub will_retain: bool,
    /// Protocol name; `MQIsdp` with level 3 builds an MQTT 3.1 CONNECT.
    #[arg(long, default_value = "MQTT")]
    pub protocol_name: String,
    #[arg(long, default_value_t = 4)]
    pub protocol_level: u8,
}

#[derive(Debug, clap::Args)]
pub struct ConnackArgs {
    /// 0 accepted, 1 bad protocol, 2 identifier rejected, 3 unavailable, 4 bad user name or
    /// password, 5 not authorised.
    #[arg(long, default_value_t = 0)]
    pub return_code: u8,
    #[arg(long)]
    pub session_present: bool,
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    #[arg(long)]
    pub topic: String,
    /// Payload as text (usually JSON for the cloud platforms).
    #[arg(long, default_value = "", conflicts_with = "payload_hex")]
    pub payload: String,
    /// Payload as hex bytes.
    #[arg(long, value_name = "HEX")]
    pub payload_hex: Option<String>,
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// Required for QoS 1 and 2, refused for QoS 0.
    #[arg(long)]
    pub packet_id: Option<u16>,
    #[arg(long)]
    pub retain: bool,
    /// Mark as a redelivery (QoS 1 and 2 only).
    #[arg(long)]
    pub dup: bool,
}

#[derive(Debug, clap::Args)]
pub struct IdArgs {
    #[arg(long)]
    pub packet_id: u16,
}

#[derive(Debug, clap::Args)]
pub struct SubscribeArgs {
    #[arg(long)]
    pub packet_id: u16,
    /// A topic filter with its requested QoS, `TOPIC:QOS` (`TOPIC` alone asks for QoS 0);
    /// repeat for several.
    #[arg(long = "filter", value_name = "TOPIC:QOS", required = true, value_parser = parse_filter)]
    pub filters: Vec<SubscribeFilter>,
}

#[derive(Debug, clap::Args)]
pub struct SubackArgs {
    #[arg(long)]
    pub packet_id: u16,
    /// Return code per filter: 0, 1, 2 (granted QoS) or 0x80 / 128 / failure; repeat for
    /// several.
    #[arg(long = "return-code", value_name = "CODE", required = true, value_parser = parse_suback_code)]
    pub return_codes: Vec<u8>,
}

#[derive(Debug, clap::Args)]
pub struct UnsubscribeArgs {
    #[arg(long)]
    pub packet_id: u16,
    /// A topic filter; repeat for several.
    #[arg(long = "filter", value_name = "TOPIC", required = true)]
    pub filters: Vec<String>,
}

pub fn run(args: Args) -> ExitCode {
    let packet = match build(args.packet) {
        Ok(p) => p,
        Err(message) => {
            eprintln!("athil encode: failed to {message}");
            return ExitCode::Usage;
        }
    };
    let bytes = match encode(&packet) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("athil encode: failed to {e}");
            return ExitCode::Usage;
        }
    };
    let (hex, n) = (to_hex(&bytes), bytes.len());
    let at_send = send_lines(args.module.dialect().as_ref(), None, n).join("\n");
    match args.format {
        Format::Text => println!("{hex}\n{n} bytes\n{at_send}"),
        Format::Json => println!(
            "{}",
            json!({
                "type": packet.packet_type().name(),
                "hex": hex,
                "length": n,
                "at_send": at_send,
            })
        ),
    }
    ExitCode::Success
}

/// The packet the flags describe; `Err` reads after "failed to".
fn build(args: PacketArgs) -> Result<Packet, String> {
    Ok(match args {
        PacketArgs::Connect(a) => Packet::from(connect(*a)?),
        PacketArgs::Connack(a) => Packet::Connack(Connack {
            session_present: a.session_present,
            return_code: a.return_code,
        }),
        PacketArgs::Publish(a) => {
            let payload = match &a.payload_hex {
                Some(hex) => {
                    crate::mqtt::parse_hex(hex).map_err(|e| format!("{e} (in --payload-hex)"))?
                }
                None => a.payload.into_bytes(),
            };
            Packet::Publish(Publish {
                dup: a.dup,
                qos: qos(a.qos)?,
                retain: a.retain,
                topic: a.topic,
                packet_id: a.packet_id,
                payload,
            })
        }
        PacketArgs::Puback(a) => Packet::Puback {
            packet_id: a.packet_id,
        },
        PacketArgs::Pubrec(a) => Packet::Pubrec {
            packet_id: a.packet_id,
        },
        PacketArgs::Pubrel(a) => Packet::Pubrel {
            packet_id: a.packet_id,
        },
        PacketArgs::Pubcomp(a) => Packet::Pubcomp {
            packet_id: a.packet_id,
        },
        PacketArgs::Subscribe(a) => Packet::Subscribe(Subscribe {
            packet_id: a.packet_id,
            filters: a.filters,
        }),
        PacketArgs::Suback(a) => Packet::Suback(Suback {
            packet_id: a.packet_id,
            return_codes: a.return_codes,
        }),
        PacketArgs::Unsubscribe(a) => Packet::Unsubscribe(Unsubscribe {
            packet_id: a.packet_id,
            filters: a.filters,
        }),
        PacketArgs::Unsuback(a) => Packet::Unsuback {
            packet_id: a.packet_id,
        },
        PacketArgs::Pingreq => Packet::Pingreq,
        PacketArgs::Pingresp => Packet::Pingresp,
        PacketArgs::Disconnect => Packet::Disconnect,
    })
}

fn connect(a: ConnectArgs) -> Result<Connect, String> {
    let password = match (a.password, a.password_hex) {
        (Some(text), _) => Some(text.into_bytes()),
        (None, Some(hex)) => {
            Some(crate::mqtt::parse_hex(&hex).map_err(|e| format!("{e} (in --password-hex)"))?)
        }
        (None, None) => None,
    };
    let will = match (a.will_topic, a.will_message) {
        (Some(topic), Some(message)) => Some(Will {
            topic,
            message: message.into_bytes(),
            qos: qos(a.will_qos)?,
            retain: a.will_retain,
        }),
        _ => None,
    };
    Ok(Connect {
        protocol_name: a.protocol_name,
        protocol_level: a.protocol_level,
        clean_session: !a.no_clean_session,
        keepalive: a.keepalive,
        client_id: a.client_id,
        will,
        username: a.username,
        password,
    })
}

fn qos(n: u8) -> Result<QoS, String> {
    QoS::try_from(n).map_err(|e| format!("read the QoS: {e}"))
}

/// `TOPIC:QOS` or `TOPIC`; the QoS is whatever follows the last `:` when that is a number.
fn parse_filter(s: &str) -> Result<SubscribeFilter, String> {
    match s.rsplit_once(':') {
        Some((topic, q)) if !q.is_empty() && q.chars().all(|c| c.is_ascii_digit()) => {
            let n: u8 = q
                .parse()
                .map_err(|_| format!("QoS `{q}` in `{s}` must be 0, 1 or 2"))?;
            Ok(SubscribeFilter {
                filter: topic.to_string(),
                qos: QoS::try_from(n).map_err(|e| format!("{e} (in `{s}`)"))?,
            })
        }
        _ => Ok(SubscribeFilter {
            filter: s.to_string(),
            qos: QoS::AtMostOnce,
        }),
    }
}

/// `0`, `1`, `2`, `128`, `0x80` or `failure`.
fn parse_suback_code(s: &str) -> Result<u8, String> {
    let n = if s.eq_ignore_ascii_case("failure") {
        Ok(0x80)
    } else if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u8::from_str_radix(hex, 16)
    } else {
        s.parse::<u8>()
    };
    match n {
        Ok(code @ (0..=2 | 0x80)) => Ok(code),
        _ => Err(format!(
            "`{s}` is not a SUBACK return code: 0, 1, 2, or 0x80 (128, failure)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("a/b:1", "a/b", QoS::AtLeastOnce)]
    #[case("a/b", "a/b", QoS::AtMostOnce)]
    #[case("urn:x:2", "urn:x", QoS::ExactlyOnce)]
    #[case("urn:x", "urn:x", QoS::AtMostOnce)]
    fn filters_with_and_without_qos(#[case] arg: &str, #[case] filter: &str, #[case] qos: QoS) {
        assert_eq!(
            parse_filter(arg),
            Ok(SubscribeFilter {
                filter: filter.into(),
                qos
            })
        );
    }

    #[test]
    fn qos_3_filter_is_refused() {
        assert_eq!(
            parse_filter("t:3"),
            Err("QoS must be 0, 1 or 2, not 3 (in `t:3`)".to_string())
        );
    }

    #[rstest]
    #[case("0", Ok(0))]
    #[case("2", Ok(2))]
    #[case("0x80", Ok(0x80))]
    #[case("128", Ok(0x80))]
    #[case("failure", Ok(0x80))]
    #[case("8", Err(()))]
    #[case("80", Err(()))]
    fn suback_codes(#[case] arg: &str, #[case] want: Result<u8, ()>) {
        assert_eq!(parse_suback_code(arg).map_err(|_| ()), want);
    }
}
