//! The Quectel QI dialect (EC2x, EC200U, BG96): [`Quectel`]'s receive rules (boot URCs,
//! `+CME ERROR`, `+QIOPEN`, every `+QIURC` form, direct-push and `AT+QIRD` payload headers) and
//! its commands (`AT+QIOPEN`, `AT+QISEND`, `AT+QIRD`, `AT+QICLOSE`). Formats follow Quectel's
//! TCP/IP AT application notes (EC200U, BG96) and the RT-Thread AT client log of seed 004.

use std::ops::RangeInclusive;
use std::sync::Arc;

use super::{
    common_final, mask_quoted_arg, parse_len, parse_link, strip_command, Dialect, DialectKind,
    JoinNeeds, JoinSettings, LineKind, OpenOutcome, ReceiveMode, ReceiveRules, SocketHeader,
};
use crate::module::at::Urc;

/// Quectel QI command set and its receive rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quectel;

/// The PDP context sockets are opened on: the one every driver in the references activates
/// (`AT+QICSGP=1,…`, `AT+QIACT=1`).
const CONTEXT: u8 = 1;

/// The APN a join uses when the scenario names none: empty, so the network assigns its own
/// (an LTE attach brings a default bearer whatever the APN); a scenario or rig whose SIM needs
/// one names it (`join: {apn: CMNET}`, seed 004's).
pub const DEFAULT_APN: &str = "";

/// The most `AT+QIRD` may ask for at once (Quectel's TCP/IP manuals: 1500).
const MAX_READ: usize = 1500;

impl ReceiveRules for Quectel {
    fn classify_line(&self, line: &str) -> LineKind {
        if let Some(result) = common_final(line) {
            return LineKind::Final(result);
        }
        match line {
            "RDY" => return LineKind::Urc(Urc::Ready),
            "APP RDY" => return LineKind::Urc(Urc::AppReady),
            "POWERED DOWN" | "NORMAL POWER DOWN" => return LineKind::Urc(Urc::PoweredDown),
            "+CPIN: READY" => return LineKind::Urc(Urc::SimReady),
            _ => {}
        }
        // The boot notices after `RDY`. `+CPIN:` is also `AT+CPIN?`'s answer; the driver gives
        // a URC that carries the running command's name to that command as well.
        if ["+CPIN: ", "+QUSIM: ", "+QIND: "]
            .iter()
            .any(|prefix| line.starts_with(prefix))
        {
            return LineKind::Urc(Urc::BootStatus {
                line: line.to_string(),
            });
        }
        if let Some(args) = line.strip_prefix("+QIURC: ") {
            return LineKind::Urc(qiurc(args).unwrap_or_else(|| Urc::Other {
                line: line.to_string(),
            }));
        }
        if let Some(args) = line.strip_prefix("+QIOPEN: ") {
            if let Some((id, err)) = args.split_once(',') {
                if let (Some(link), Some(error)) = (parse_link(id), parse_len(err)) {
                    return LineKind::Urc(Urc::Opened {
                        link,
                        error: u16::try_from(error).unwrap_or(u16::MAX),
                    });
                }
            }
        }
        LineKind::Info
    }

    fn socket_header(&self, line: &[u8]) -> Option<SocketHeader> {
        // Direct push: `+QIURC: "recv",<id>,<len>\r\n` then the bytes then CR LF. A buffer
        // read: `+QIRD: <n>\r\n` then the bytes then CR LF and `OK` (the link is the one the
        // host asked for, which the line does not repeat). Both headers are whole lines, so
        // only the line end can complete them.
        let line = line.strip_suffix(b"\n")?;
        let mut line = line;
        while let Some(rest) = line.strip_suffix(b"\r") {
            line = rest;
        }
        if let Some(n) = line.strip_prefix(b"+QIRD: ") {
            // `+QIRD: <total>,<read>,<unread>` (the `AT+QIRD=<id>,0` query) is not a header.
            return Some(SocketHeader {
                link: None,
                len: parse_len(std::str::from_utf8(n).ok()?)?,
            });
        }
        let args = line.strip_prefix(b"+QIURC: \"recv\",")?;
        let args = std::str::from_utf8(args).ok()?;
        let fields: Vec<&str> = args.split(',').collect();
        match fields.as_slice() {
            // TCP, and UDP service mode which appends the remote address.
            [id, len] | [id, len, _, _] => Some(SocketHeader {
                link: Some(parse_link(id)?),
                len: parse_len(len)?,
            }),
            _ => None,
        }
    }
}

impl Dialect for Quectel {
    fn kind(&self) -> DialectKind {
        DialectKind::Quectel
    }

    fn rules(&self) -> Arc<dyn ReceiveRules> {
        Arc::new(Quectel)
    }

    fn send_command(&self, link: Option<u8>, len: usize) -> String {
        // Every Quectel socket has a connectID; single-link callers mean the first one.
        format!("AT+QISEND={},{len}", link.unwrap_or(0))
    }

    /// `AT+QISEND=<id>,<len>` only: `AT+QISEND=<id>` ends its data with Ctrl+Z instead of a
    /// count, and `AT+QISEND=<id>,0` asks for the send counters.
    fn announced_send(&self, command: &str) -> Option<(Option<u8>, usize)> {
        let args = strip_command(command, "AT+QISEND=")?;
        let (id, len) = args.split_once(',')?;
        let len = parse_len(len).filter(|&n| n > 0)?;
        Some((Some(parse_link(id)?), len))
    }

    fn max_send_len(&self) -> usize {
        1460
    }

    fn reports_received_count(&self) -> bool {
        false
    }

    fn reset_command(&self) -> &'static str {
        "AT+CFUN=1,1"
    }

    /// `AT+QIOPEN=1,<id>,"TCP","<host>",<port>,0,<access mode>` on context 1, local port 0
    /// (any); access mode 1 is direct push, 0 buffer access.
    fn open_command(
        &self,
        link: Option<u8>,
        host: &str,
        port: u16,
        mode: ReceiveMode,
    ) -> Option<String> {
        let access = match mode {
            ReceiveMode::Push => 1,
            ReceiveMode::Buffered => 0,
        };
        Some(format!(
            "AT+QIOPEN={CONTEXT},{},\"TCP\",\"{host}\",{port},0,{access}",
            link.unwrap_or(0)
        ))
    }

    fn open_outcome(&self) -> OpenOutcome {
        OpenOutcome::Urc
    }

    fn close_command(&self, link: Option<u8>) -> String {
        format!("AT+QICLOSE={}", link.unwrap_or(0))
    }

    /// Connect ids 0 to 11 (`AT+QIOPEN`'s `<connectID>`).
    fn links(&self) -> RangeInclusive<u8> {
        0..=11
    }

    /// `AT+QICSGP=1,1,"<apn>","","",1` (context 1, IPv4, no user or password) then
    /// `AT+QIACT=1`, which answers `OK` once the context is up (the manual allows 150 s).
    fn join_commands(&self, with: &JoinSettings<'_>) -> Result<Vec<String>, JoinNeeds> {
        let apn = with.apn.unwrap_or(DEFAULT_APN);
        Ok(vec![
            format!("AT+QICSGP={CONTEXT},1,\"{apn}\",\"\",\"\",1"),
            format!("AT+QIACT={CONTEXT}"),
        ])
    }

    fn read_command(&self, link: Option<u8>) -> Option<String> {
        Some(format!("AT+QIRD={},{MAX_READ}", link.unwrap_or(0)))
    }

    fn socket_error(&self, code: u16) -> Option<&'static str> {
        socket_error_text(code)
    }

    fn ready_line(&self) -> &'static str {
        "RDY"
    }

    fn redact(&self, command: &str) -> String {
        let name = command.split(['=', '?']).next().unwrap_or(command);
        match name.to_ascii_uppercase().as_str() {
            // AT+QICSGP=1,1,"apn","user","password",1 and AT+QMTCONN=0,"cid","user","password"
            "AT+QICSGP" | "AT+QMTCONN" => mask_quoted_arg(command, 2),
            _ => command.to_string(),
        }
    }

    /// Quectel's AT manuals define no escape inside a quoted string (a string simply may not
    /// hold `"`), so the value goes as it is; whether some firmware honours `\"` is unconfirmed.
    fn escape_quoted(&self, value: &str) -> String {
        value.to_string()
    }
}

/// The meaning of a Quectel TCP/IP error code, as its TCP/IP application notes list them
/// (the `<err>` of `+QIOPEN`, `AT+QIGETERROR`).
fn socket_error_text(code: u16) -> Option<&'static str> {
    Some(match code {
        550 => "unknown error",
        551 => "operation blocked",
        552 => "invalid parameters",
        553 => "memory not enough",
        554 => "socket creation failed",
        555 => "operation not supported",
        556 => "socket bind failed",
        557 => "socket listen failed",
        558 => "socket write failed",
        559 => "socket read failed",
        560 => "socket accept failed",
        561 => "PDP context opening failed",
        562 => "PDP context closure failed",
        563 => "socket identity has been used",
        564 => "DNS busy",
        565 => "DNS parse failed",
        566 => "socket connect failed",
        567 => "socket has been closed",
        568 => "operation busy",
        569 => "operation timeout",
        570 => "PDP context broken down",
        571 => "cancel send",
        572 => "operation not allowed",
        573 => "APN not configured",
        574 => "port busy",
        _ => return None,
    })
}

/// The arguments of a `+QIURC: ` line.
fn qiurc(args: &str) -> Option<Urc> {
    let fields: Vec<&str> = args.split(',').collect();
    Some(match fields.as_slice() {
        ["\"dnsgip\"", address] if address.starts_with('"') => Urc::DnsAddress {
            address: address.strip_prefix('"')?.strip_suffix('"')?.to_string(),
        },
        ["\"dnsgip\"", error] => Urc::DnsResult {
            error: parse_code(error)?,
            count: 0,
        },
        ["\"dnsgip\"", error, count, _ttl] => Urc::DnsResult {
            error: parse_code(error)?,
            count: parse_len(count)?,
        },
        ["\"closed\"", id] => Urc::Closed {
            link: Some(parse_link(id)?),
        },
        ["\"recv\"", id] => Urc::DataAvailable {
            link: Some(parse_link(id)?),
            len: None,
        },
        ["\"recv\"", id, len] => Urc::DataAvailable {
            link: Some(parse_link(id)?),
            len: Some(parse_len(len)?),
        },
        ["\"pdpdeact\"", ctx] => Urc::PdpDeactivated {
            context: parse_link(ctx)?,
        },
        _ => return None,
    })
}

fn parse_code(s: &str) -> Option<u16> {
    u16::try_from(parse_len(s)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::at::FinalResult;
    use rstest::rstest;

    #[rstest]
    #[case("OK", LineKind::Final(FinalResult::Ok))]
    #[case("ERROR", LineKind::Final(FinalResult::Error))]
    #[case("SEND OK", LineKind::Final(FinalResult::SendOk))]
    #[case("SEND FAIL", LineKind::Final(FinalResult::SendFail))]
    #[case("+CME ERROR: 516", LineKind::Final(FinalResult::CmeError("516".into())))]
    #[case("RDY", LineKind::Urc(Urc::Ready))]
    #[case("POWERED DOWN", LineKind::Urc(Urc::PoweredDown))]
    #[case("+QIURC: \"closed\",0", LineKind::Urc(Urc::Closed { link: Some(0) }))]
    #[case("+QIURC: \"recv\",1", LineKind::Urc(Urc::DataAvailable { link: Some(1), len: None }))]
    #[case("+QIURC: \"pdpdeact\",1", LineKind::Urc(Urc::PdpDeactivated { context: 1 }))]
    #[case("+CME ERROR: operation not allowed", LineKind::Final(FinalResult::CmeError("operation not allowed".into())))]
    #[case("+CMS ERROR: 500", LineKind::Final(FinalResult::CmsError("500".into())))]
    #[case("APP RDY", LineKind::Urc(Urc::AppReady))]
    #[case("+CPIN: READY", LineKind::Urc(Urc::SimReady))]
    #[case("+CPIN: NOT READY", LineKind::Urc(Urc::BootStatus { line: "+CPIN: NOT READY".into() }))]
    #[case("+QUSIM: 1", LineKind::Urc(Urc::BootStatus { line: "+QUSIM: 1".into() }))]
    #[case("+QIND: SMS DONE", LineKind::Urc(Urc::BootStatus { line: "+QIND: SMS DONE".into() }))]
    #[case("+QIND: PB DONE", LineKind::Urc(Urc::BootStatus { line: "+QIND: PB DONE".into() }))]
    #[case("NORMAL POWER DOWN", LineKind::Urc(Urc::PoweredDown))]
    #[case("+QIURC: \"recv\",0,4", LineKind::Urc(Urc::DataAvailable { link: Some(0), len: Some(4) }))]
    // The DNS answer as an EC200U printed it under RT-Thread (at-dialects §4.2).
    #[case("+QIURC: \"dnsgip\",0,1,0", LineKind::Urc(Urc::DnsResult { error: 0, count: 1 }))]
    #[case("+QIURC: \"dnsgip\",\"172.188.83.251\"", LineKind::Urc(Urc::DnsAddress { address: "172.188.83.251".into() }))]
    #[case("+QIURC: \"dnsgip\",565", LineKind::Urc(Urc::DnsResult { error: 565, count: 0 }))]
    #[case("+QIURC: \"incoming full\"", LineKind::Urc(Urc::Other { line: "+QIURC: \"incoming full\"".into() }))]
    #[case("+QIOPEN: 1,0", LineKind::Urc(Urc::Opened { link: 1, error: 0 }))]
    #[case("+QIOPEN: 0,566", LineKind::Urc(Urc::Opened { link: 0, error: 566 }))]
    #[case("+QIACT: 1,1,1,\"10.3.118.130\"", LineKind::Info)]
    #[case("ready", LineKind::Info)]
    #[case("FAIL", LineKind::Info)]
    fn classifies_quectel_lines(#[case] line: &str, #[case] want: LineKind) {
        assert_eq!(Quectel.classify_line(line), want);
    }

    #[rstest]
    #[case(b"+QIURC: \"recv\",0,4\r\n", Some((Some(0), 4)))]
    #[case(b"+QIURC: \"recv\",0,33\n", Some((Some(0), 33)))]
    #[case(b"+QIURC: \"recv\",2,10,\"10.0.0.9\",5000\r\n", Some((Some(2), 10)))]
    #[case(b"+QIURC: \"recv\",0\r\n", None)]
    // Buffer access: the answer to `AT+QIRD=<id>,1500` (the link is the one asked for).
    #[case(b"+QIRD: 5\r\n", Some((None, 5)))]
    #[case(b"+QIRD: 0\r\n", Some((None, 0)))]
    #[case(b"+QIRD: 10,10,0\r\n", None)]
    #[case(b"+QIRD: 5", None)]
    #[case(b"+QIURC:", None)]
    #[case(b"+QIURC: \"recv\",0,4", None)]
    #[case(b"+IPD,0,4:", None)]
    fn reads_recv_headers(#[case] line: &[u8], #[case] want: Option<(Option<u8>, usize)>) {
        let got = Quectel.socket_header(line).map(|h| (h.link, h.len));
        assert_eq!(got, want);
    }

    #[test]
    fn send_command_names_the_connect_id() {
        assert_eq!(Quectel.send_command(Some(0), 37), "AT+QISEND=0,37");
        assert_eq!(Quectel.send_command(None, 37), "AT+QISEND=0,37");
    }

    #[rstest]
    #[case("AT+QISEND=0,37", Some((Some(0), 37)))]
    #[case("AT+QISEND=2,1460\r", Some((Some(2), 1460)))]
    #[case("AT+QISEND=0", None)]
    #[case("AT+QISEND=0,0", None)]
    #[case("AT+CIPSEND=0,4", None)]
    fn reads_send_commands(#[case] cmd: &str, #[case] want: Option<(Option<u8>, usize)>) {
        assert_eq!(Quectel.announced_send(cmd), want);
    }

    #[test]
    fn open_read_and_close_commands() {
        assert_eq!(
            Quectel.open_command(Some(0), "172.188.83.251", 43719, ReceiveMode::Push),
            Some(r#"AT+QIOPEN=1,0,"TCP","172.188.83.251",43719,0,1"#.to_string())
        );
        assert_eq!(
            Quectel.open_command(Some(2), "mqtt.example", 1883, ReceiveMode::Buffered),
            Some(r#"AT+QIOPEN=1,2,"TCP","mqtt.example",1883,0,0"#.to_string())
        );
        assert_eq!(Quectel.open_outcome(), OpenOutcome::Urc);
        assert_eq!(Quectel.read_command(Some(1)), Some("AT+QIRD=1,1500".into()));
        assert_eq!(Quectel.close_command(Some(0)), "AT+QICLOSE=0");
        assert_eq!(Quectel.socket_error(566), Some("socket connect failed"));
        assert_eq!(Quectel.socket_error(0), None);
    }

    #[test]
    fn joins_with_an_apn_or_the_networks_own() {
        let cmnet = JoinSettings {
            wifi: Some(("lab", "pass")),
            apn: Some("CMNET"),
        };
        assert_eq!(
            Quectel.join_commands(&cmnet),
            Ok(vec![
                r#"AT+QICSGP=1,1,"CMNET","","",1"#.to_string(),
                "AT+QIACT=1".to_string()
            ]),
            "seed 004's attach; a Wi-Fi network means nothing to a cellular module"
        );
        let own = Quectel.join_commands(&JoinSettings::default()).unwrap();
        assert_eq!(own[0], r#"AT+QICSGP=1,1,"","","",1"#);
        assert_eq!(Quectel.links(), 0..=11);
    }

    #[test]
    fn redacts_apn_and_mqtt_passwords() {
        assert_eq!(
            Quectel.redact(r#"AT+QICSGP=1,1,"cmnet","u","p",1"#),
            r#"AT+QICSGP=1,1,"cmnet","u","***",1"#
        );
        assert_eq!(
            Quectel.redact(r#"AT+QMTCONN=0,"657077","20190156","sn888""#),
            r#"AT+QMTCONN=0,"657077","20190156","***""#
        );
    }
}
