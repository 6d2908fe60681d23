//! The ESP-AT dialect: ESP8266 NonOS AT 1.7, ESP-AT 2.x and look-alikes (Luat Air601,
//! WinnerMicro-AT). Literal strings follow `at-dialects.md` §2.14 (read out of the firmware).

use std::ops::RangeInclusive;
use std::sync::Arc;

use super::{
    backslash_escape, common_final, mask_quoted_arg, parse_len, parse_link, strip_command, Dialect,
    DialectKind, JoinNeeds, JoinSettings, LineKind, OpenOutcome, ReceiveMode, ReceiveRules,
    SocketHeader,
};
use crate::module::at::{Busy, FinalResult, Urc};

/// ESP-AT command set and its receive rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct EspAt;

impl ReceiveRules for EspAt {
    fn classify_line(&self, line: &str) -> LineKind {
        if let Some(result) = common_final(line) {
            return LineKind::Final(result);
        }
        match line {
            "FAIL" => return LineKind::Final(FinalResult::Fail),
            "SEND Canceled" => return LineKind::Final(FinalResult::SendCanceled),
            // WinnerMicro-AT's words for an unknown command and bad parameters.
            "CMD FORMAT ERR" | "CMD PARSE ERR" => {
                return LineKind::Final(FinalResult::VendorError(line.to_string()))
            }
            "busy p..." => return LineKind::Busy(Busy::Processing),
            "busy s..." => return LineKind::Busy(Busy::Sending),
            "ready" => return LineKind::Urc(Urc::Ready),
            "WIFI CONNECTED" => return LineKind::Urc(Urc::WifiConnected),
            "WIFI GOT IP" => return LineKind::Urc(Urc::WifiGotIp),
            "WIFI DISCONNECT" => return LineKind::Urc(Urc::WifiDisconnect),
            _ => {}
        }
        if line.starts_with("busy ") {
            return LineKind::Busy(Busy::Other(line.to_string()));
        }
        if is_reboot_line(line) {
            return LineKind::Urc(Urc::Reboot {
                line: line.to_string(),
            });
        }
        if let Some(urc) = link_urc(line) {
            return LineKind::Urc(urc);
        }
        if let Some(count) = line
            .strip_prefix("Recv ")
            .and_then(|rest| rest.strip_suffix(" bytes"))
            .and_then(parse_len)
        {
            return LineKind::Urc(Urc::RecvBytes { count });
        }
        if let Some(urc) = passive_ipd(line) {
            return LineKind::Urc(urc);
        }
        LineKind::Info
    }

    fn socket_header(&self, line: &[u8]) -> Option<SocketHeader> {
        let line = trim_leading_cr(line);
        let body = line.strip_prefix(b"+IPD,")?.strip_suffix(b":")?;
        let body = std::str::from_utf8(body).ok()?;
        // ESP-AT quotes the remote IP (CIPDINFO=1) and an IPv6 address holds colons: a colon
        // inside quotes does not end the header.
        if body.matches('"').count() % 2 != 0 {
            return None;
        }
        let fields: Vec<&str> = body.split(',').collect();
        let (link, len) = match fields.as_slice() {
            [len] => (None, parse_len(len)?),
            [id, len] => (Some(parse_link(id)?), parse_len(len)?),
            [len, ip, port] if is_remote(ip, port) => (None, parse_len(len)?),
            [id, len, ip, port] if is_remote(ip, port) => (Some(parse_link(id)?), parse_len(len)?),
            _ => return None,
        };
        Some(SocketHeader { link, len })
    }
}

impl Dialect for EspAt {
    fn kind(&self) -> DialectKind {
        DialectKind::EspAt
    }

    fn rules(&self) -> Arc<dyn ReceiveRules> {
        Arc::new(EspAt)
    }

    fn send_command(&self, link: Option<u8>, len: usize) -> String {
        match link {
            Some(id) => format!("AT+CIPSEND={id},{len}"),
            None => format!("AT+CIPSEND={len}"),
        }
    }

    fn announced_send(&self, command: &str) -> Option<(Option<u8>, usize)> {
        let args = strip_command(command, "AT+CIPSEND=")?;
        match args.split(',').collect::<Vec<_>>().as_slice() {
            [len] => Some((None, parse_len(len)?)),
            [id, len] => Some((Some(parse_link(id)?), parse_len(len)?)),
            _ => None,
        }
    }

    fn max_send_len(&self) -> usize {
        // ESP8266 NonOS and ESP-AT-for-ESP8266 both cap CIPSEND at 2048 (at-dialects.md §2.7).
        2048
    }

    fn reports_received_count(&self) -> bool {
        true
    }

    fn reset_command(&self) -> &'static str {
        "AT+RST"
    }

    /// Push mode only: passive receive is a mode of its own (`AT+CIPRECVMODE=1`, spelled
    /// differently by NonOS and ESP-AT) whose read answer the receive rules do not parse yet.
    fn open_command(
        &self,
        link: Option<u8>,
        host: &str,
        port: u16,
        mode: ReceiveMode,
    ) -> Option<String> {
        match mode {
            ReceiveMode::Push => {}
            ReceiveMode::Buffered => return None,
        }
        let host = backslash_escape(host);
        Some(match link {
            Some(id) => format!("AT+CIPSTART={id},\"TCP\",\"{host}\",{port}"),
            None => format!("AT+CIPSTART=\"TCP\",\"{host}\",{port}"),
        })
    }

    fn open_outcome(&self) -> OpenOutcome {
        OpenOutcome::FinalResult
    }

    fn close_command(&self, link: Option<u8>) -> String {
        match link {
            Some(id) => format!("AT+CIPCLOSE={id}"),
            None => "AT+CIPCLOSE".to_string(),
        }
    }

    fn multi_link_command(&self) -> Option<&'static str> {
        Some("AT+CIPMUX=1")
    }

    /// `AT+CIPMUX=1` gives five links, 0 to 4, on NonOS and ESP-AT for the ESP8266.
    fn links(&self) -> RangeInclusive<u8> {
        0..=4
    }

    /// Station mode, then `AT+CWJAP` (which answers `WIFI CONNECTED`, `WIFI GOT IP`, then
    /// `OK`, or `+CWJAP:<n>` then `FAIL`). The current-only `_CUR` forms are NonOS-only, so
    /// the plain ones serve both firmwares.
    fn join_commands(&self, with: &JoinSettings<'_>) -> Result<Vec<String>, JoinNeeds> {
        let (ssid, password) = with.wifi.ok_or(JoinNeeds::Wifi)?;
        Ok(vec![
            "AT+CWMODE=1".to_string(),
            format!(
                "AT+CWJAP=\"{}\",\"{}\"",
                backslash_escape(ssid),
                backslash_escape(password)
            ),
        ])
    }

    fn ready_line(&self) -> &'static str {
        "ready"
    }

    fn redact(&self, command: &str) -> String {
        let name = command.split(['=', '?']).next().unwrap_or(command);
        match name.to_ascii_uppercase().as_str() {
            "AT+CWJAP" | "AT+CWJAP_CUR" | "AT+CWJAP_DEF" | "AT+CWSAP" | "AT+CWSAP_CUR"
            | "AT+CWSAP_DEF" => mask_quoted_arg(command, 1),
            "AT+MQTTUSERCFG" => mask_quoted_arg(command, 2),
            "AT+MQTTPASSWORD" => mask_quoted_arg(command, 0),
            _ => command.to_string(),
        }
    }

    fn escape_quoted(&self, value: &str) -> String {
        backslash_escape(value)
    }
}

fn trim_leading_cr(mut line: &[u8]) -> &[u8] {
    while let [b'\r', rest @ ..] = line {
        line = rest;
    }
    line
}

/// `CONNECT`, `CLOSED`, `CONNECT FAIL`, with or without a `<id>,` prefix.
fn link_urc(line: &str) -> Option<Urc> {
    let (link, word) = match line.split_once(',') {
        Some((id, word)) => (Some(parse_link(id)?), word),
        None => (None, line),
    };
    Some(match word {
        "CONNECT" => Urc::Connect { link },
        "CLOSED" => Urc::Closed { link },
        "CONNECT FAIL" => Urc::ConnectFail { link },
        _ => return None,
    })
}

/// Passive receive mode announces data without a colon: `+IPD,<len>` / `+IPD,<id>,<len>`.
fn passive_ipd(line: &str) -> Option<Urc> {
    let body = line.strip_prefix("+IPD,")?;
    let fields: Vec<&str> = body.split(',').collect();
    let (link, len) = match fields.as_slice() {
        [len] => (None, parse_len(len)?),
        [id, len] => (Some(parse_link(id)?), parse_len(len)?),
        _ => return None,
    };
    Some(Urc::DataAvailable {
        link,
        len: Some(len),
    })
}

fn is_remote(ip: &str, port: &str) -> bool {
    !ip.is_empty() && parse_len(port).is_some()
}

fn is_reboot_line(line: &str) -> bool {
    line == "Will force to restart!!!"
        || line.contains("rst cause:")
        || line.to_ascii_lowercase().contains("wdt reset")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("OK", LineKind::Final(FinalResult::Ok))]
    #[case("ERROR", LineKind::Final(FinalResult::Error))]
    #[case("FAIL", LineKind::Final(FinalResult::Fail))]
    #[case("SEND OK", LineKind::Final(FinalResult::SendOk))]
    #[case("SEND FAIL", LineKind::Final(FinalResult::SendFail))]
    #[case("SEND Canceled", LineKind::Final(FinalResult::SendCanceled))]
    #[case("CMD PARSE ERR", LineKind::Final(FinalResult::VendorError("CMD PARSE ERR".into())))]
    #[case("busy p...", LineKind::Busy(Busy::Processing))]
    #[case("busy s...", LineKind::Busy(Busy::Sending))]
    #[case("busy ...", LineKind::Busy(Busy::Other("busy ...".into())))]
    #[case("ready", LineKind::Urc(Urc::Ready))]
    #[case("WIFI CONNECTED", LineKind::Urc(Urc::WifiConnected))]
    #[case("WIFI GOT IP", LineKind::Urc(Urc::WifiGotIp))]
    #[case("WIFI DISCONNECT", LineKind::Urc(Urc::WifiDisconnect))]
    #[case("CONNECT", LineKind::Urc(Urc::Connect { link: None }))]
    #[case("0,CONNECT", LineKind::Urc(Urc::Connect { link: Some(0) }))]
    #[case("CLOSED", LineKind::Urc(Urc::Closed { link: None }))]
    #[case("4,CLOSED", LineKind::Urc(Urc::Closed { link: Some(4) }))]
    #[case("1,CONNECT FAIL", LineKind::Urc(Urc::ConnectFail { link: Some(1) }))]
    #[case("Recv 114 bytes", LineKind::Urc(Urc::RecvBytes { count: 114 }))]
    #[case("+IPD,0,654", LineKind::Urc(Urc::DataAvailable { link: Some(0), len: Some(654) }))]
    #[case("+IPD,12", LineKind::Urc(Urc::DataAvailable { link: None, len: Some(12) }))]
    #[case("Will force to restart!!!", LineKind::Urc(Urc::Reboot { line: "Will force to restart!!!".into() }))]
    #[case(" ets Jan  8 2013,rst cause:2, boot mode:(3,7)", LineKind::Urc(Urc::Reboot { line: " ets Jan  8 2013,rst cause:2, boot mode:(3,7)".into() }))]
    #[case("Soft WDT reset", LineKind::Urc(Urc::Reboot { line: "Soft WDT reset".into() }))]
    #[case("ALREADY CONNECTED", LineKind::Info)]
    #[case("+CWJAP:2", LineKind::Info)]
    #[case("STATUS:3", LineKind::Info)]
    #[case("AT version:1.7.4.0(May 11 2020 19:13:04)", LineKind::Info)]
    #[case("x,CLOSED", LineKind::Info)]
    #[case("WIFI GOT IPv6 LL", LineKind::Info)]
    fn classifies_firmware_lines(#[case] line: &str, #[case] want: LineKind) {
        assert_eq!(EspAt.classify_line(line), want);
    }

    #[rstest]
    #[case(b"+IPD,4:", Some((None, 4)))]
    #[case(b"+IPD,0,4:", Some((Some(0), 4)))]
    #[case(b"\r+IPD,0,3:", Some((Some(0), 3)))]
    #[case(b"+IPD,0,326,192.168.1.3,5285:", Some((Some(0), 326)))]
    #[case(b"+IPD,326,192.168.1.3,5285:", Some((None, 326)))]
    #[case(b"+IPD,1,20,\"10.0.0.2\",1883:", Some((Some(1), 20)))]
    #[case(b"+IPD,1,20,\"fe80::1:", None)]
    #[case(b"+IPD,1,20,\"fe80::1\",1883:", Some((Some(1), 20)))]
    #[case(b"+IPD,x:", None)]
    #[case(b"+IPD,:", None)]
    #[case(b"+IPD,0,4\n", None)]
    #[case(b"+CIPSTATUS:0,\"TCP\",", None)]
    fn reads_ipd_headers(#[case] line: &[u8], #[case] want: Option<(Option<u8>, usize)>) {
        let got = EspAt.socket_header(line).map(|h| (h.link, h.len));
        assert_eq!(got, want);
    }

    #[rstest]
    #[case(None, 114, "AT+CIPSEND=114")]
    #[case(Some(0), 4, "AT+CIPSEND=0,4")]
    fn send_commands(#[case] link: Option<u8>, #[case] len: usize, #[case] want: &str) {
        assert_eq!(EspAt.send_command(link, len), want);
    }

    #[test]
    fn joins_wifi_in_station_mode_with_escaped_credentials() {
        let with = JoinSettings {
            wifi: Some((r"ab\,c", r#"0123456789"\"#)),
            apn: Some("CMNET"),
        };
        assert_eq!(
            EspAt.join_commands(&with),
            Ok(vec![
                "AT+CWMODE=1".to_string(),
                r#"AT+CWJAP="ab\\\,c","0123456789\"\\""#.to_string()
            ])
        );
        assert_eq!(
            EspAt.join_commands(&JoinSettings::default()),
            Err(JoinNeeds::Wifi)
        );
        assert_eq!(EspAt.links(), 0..=4);
    }

    #[test]
    fn open_and_close_commands() {
        assert_eq!(
            EspAt.open_command(Some(0), "10.0.0.1", 1883, ReceiveMode::Push),
            Some(r#"AT+CIPSTART=0,"TCP","10.0.0.1",1883"#.to_string())
        );
        assert_eq!(
            EspAt.open_command(None, "broker.local", 1883, ReceiveMode::Push),
            Some(r#"AT+CIPSTART="TCP","broker.local",1883"#.to_string())
        );
        assert_eq!(
            EspAt.open_command(Some(0), "10.0.0.1", 1883, ReceiveMode::Buffered),
            None
        );
        assert_eq!(EspAt.open_outcome(), OpenOutcome::FinalResult);
        assert_eq!(EspAt.close_command(Some(3)), "AT+CIPCLOSE=3");
        assert_eq!(EspAt.close_command(None), "AT+CIPCLOSE");
        assert_eq!(EspAt.read_command(Some(0)), None);
    }

    #[rstest]
    #[case("AT+CIPSEND=114", Some((None, 114)))]
    #[case("AT+CIPSEND=0,4\r\n", Some((Some(0), 4)))]
    #[case("at+cipsend=1,20", Some((Some(1), 20)))]
    #[case("AT+CIPSEND", None)]
    #[case("AT+CIPSENDEX=0,4", None)]
    #[case("AT+QISEND=0,37", None)]
    fn reads_send_commands(#[case] cmd: &str, #[case] want: Option<(Option<u8>, usize)>) {
        assert_eq!(EspAt.announced_send(cmd), want);
        if let Some((link, len)) = want {
            assert_eq!(EspAt.announced_send(&EspAt.send_command(link, len)), want);
        }
    }

    #[rstest]
    #[case(r#"AT+CWJAP="lab","hunter22""#, r#"AT+CWJAP="lab","***""#)]
    #[case(r#"AT+CWJAP_CUR="lab","hunter22""#, r#"AT+CWJAP_CUR="lab","***""#)]
    #[case(
        r#"AT+MQTTUSERCFG=0,1,"cid","user","pw",0,0,"""#,
        r#"AT+MQTTUSERCFG=0,1,"cid","user","***",0,0,"""#
    )]
    #[case(
        r#"AT+CIPSTART="TCP","10.0.0.1",1883"#,
        r#"AT+CIPSTART="TCP","10.0.0.1",1883"#
    )]
    fn redacts_passwords(#[case] cmd: &str, #[case] want: &str) {
        assert_eq!(EspAt.redact(cmd), want);
    }
}
