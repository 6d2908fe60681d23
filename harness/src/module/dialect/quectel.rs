//! The Quectel QI dialect (EC2x, EC200U, BG96 in direct-push mode): enough receive rules and
//! commands to carry a socket, proving the [`Dialect`] trait holds a second vendor. Formats
//! follow `at-dialects.md` §4 and the RT-Thread log of seed 004.

use std::sync::Arc;

use super::{
    common_final, mask_quoted_arg, parse_len, parse_link, Dialect, DialectKind, LineKind,
    ReceiveRules, SocketHeader,
};
use crate::module::at::Urc;

/// Quectel QI command set and its receive rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quectel;

impl ReceiveRules for Quectel {
    fn classify_line(&self, line: &str) -> LineKind {
        if let Some(result) = common_final(line) {
            return LineKind::Final(result);
        }
        match line {
            "RDY" => return LineKind::Urc(Urc::Ready),
            "POWERED DOWN" | "NORMAL POWER DOWN" => return LineKind::Urc(Urc::PoweredDown),
            _ => {}
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
        // Direct push: `+QIURC: "recv",<id>,<len>\r\n` then the bytes then CR LF. The header
        // is a whole line, so only the line end can complete it.
        let line = line.strip_suffix(b"\n")?;
        let mut line = line;
        while let Some(rest) = line.strip_suffix(b"\r") {
            line = rest;
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

    fn max_send_len(&self) -> usize {
        1460
    }

    fn reports_received_count(&self) -> bool {
        false
    }

    fn reset_command(&self) -> &'static str {
        "AT+CFUN=1,1"
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

/// The arguments of a `+QIURC: ` line.
fn qiurc(args: &str) -> Option<Urc> {
    let fields: Vec<&str> = args.split(',').collect();
    Some(match fields.as_slice() {
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
    #[case("+QIURC: \"dnsgip\",0,1,0", LineKind::Urc(Urc::Other { line: "+QIURC: \"dnsgip\",0,1,0".into() }))]
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
