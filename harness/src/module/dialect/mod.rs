//! What differs between AT vendors, behind two traits: [`ReceiveRules`] (how the module's bytes
//! read: final results, URCs, the prompt, socket-data headers) and [`Dialect`] (what the host
//! sends: the data-send command, reset, sync, echo). [`DialectKind`] picks one from a rig file
//! (`module: esp-at`), never from a string prefix of a banner.

mod esp_at;
mod quectel;

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::at::{Busy, FinalResult, Urc};

pub use esp_at::EspAt;
pub use quectel::{Quectel, DEFAULT_APN};

/// How one complete line reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    Final(FinalResult),
    Busy(Busy),
    Urc(Urc),
    /// Anything else: information lines, reason lines before `ERROR`, unknown text.
    Info,
}

/// A socket-data header recognised in the bytes of the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketHeader {
    pub link: Option<u8>,
    /// How many raw bytes follow the header.
    pub len: usize,
}

/// Where a module keeps the bytes a socket receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiveMode {
    /// Pushed to the host as they arrive, behind a length header (`+IPD,<n>:`, Quectel direct
    /// push `+QIURC: "recv",<id>,<n>` then the bytes).
    Push,
    /// Kept in the module and announced (Quectel buffer access `+QIURC: "recv",<id>`); the host
    /// reads them with the dialect's [`read_command`](Dialect::read_command).
    Buffered,
}

/// Where a module says whether a TCP open worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenOutcome {
    /// In the command's own answer: ESP's `CONNECT` then `OK`, or `ERROR`.
    FinalResult,
    /// In a URC after the command's `OK`: Quectel's `+QIOPEN: <id>,<err>`, which its TCP/IP
    /// manual allows up to 150 s to arrive.
    Urc,
}

/// The receive half of a dialect: pure functions the sans-IO parser consults.
pub trait ReceiveRules: Send + Sync + fmt::Debug {
    /// Classifies one complete line (terminator and trailing CRs already removed, not empty).
    fn classify_line(&self, line: &str) -> LineKind;

    /// Called with the bytes of the current line whenever they end in `:` or `\n`. Returns the
    /// header if those bytes are a complete socket-data header; the parser then takes exactly
    /// `len` raw bytes before reading lines again. ESP headers end at `:` (`+IPD,0,4:`),
    /// Quectel's at the line end (`+QIURC: "recv",0,4\r\n`).
    fn socket_header(&self, line: &[u8]) -> Option<SocketHeader>;

    /// The byte that, at the start of a line, is the data prompt. One space after it is part of
    /// the prompt when present (NonOS `> `, Quectel `> `) and absent on ESP-AT 2.x (`>`).
    fn prompt_marker(&self) -> u8 {
        b'>'
    }
}

/// The send half of a dialect: the commands the driver issues. Every method is pure, so a new
/// vendor is one file here and one enum variant, with nothing changed in the driver or runner.
pub trait Dialect: Send + Sync + fmt::Debug {
    fn kind(&self) -> DialectKind;

    /// The receive rules the parser should use with this dialect.
    fn rules(&self) -> Arc<dyn ReceiveRules>;

    /// The command that announces `len` raw bytes on `link` (`AT+CIPSEND=0,4`).
    fn send_command(&self, link: Option<u8>, len: usize) -> String;

    /// The link and length a command line announces if it is this dialect's length-counted
    /// send command (what [`send_command`](Self::send_command) builds), for reading the
    /// host's side of a capture: the announced bytes that follow the prompt are socket data.
    fn announced_send(&self, command: &str) -> Option<(Option<u8>, usize)>;

    /// The most bytes one send command may carry; longer data goes in several sends.
    fn max_send_len(&self) -> usize;

    /// Whether the module acknowledges the data with `Recv <n> bytes` before `SEND OK`.
    fn reports_received_count(&self) -> bool;

    /// The command that restarts the module.
    fn reset_command(&self) -> &'static str;

    /// The line the firmware prints when it has booted and takes commands.
    fn ready_line(&self) -> &'static str;

    /// The command used to probe for a module that answers (`AT` until `OK`).
    fn sync_command(&self) -> &'static str {
        "AT"
    }

    /// The command that turns command echo on or off.
    fn echo_command(&self, on: bool) -> &'static str {
        if on {
            "ATE1"
        } else {
            "ATE0"
        }
    }

    /// What ends a command line. ESP firmware needs CR LF; Quectel accepts it too.
    fn line_ending(&self) -> &'static [u8] {
        b"\r\n"
    }

    /// The command that opens a TCP link to `host:port` as `link` with received bytes kept as
    /// `mode` says, or `None` when this dialect cannot open that way with one command.
    fn open_command(
        &self,
        link: Option<u8>,
        host: &str,
        port: u16,
        mode: ReceiveMode,
    ) -> Option<String>;

    /// Where the module reports the open's outcome.
    fn open_outcome(&self) -> OpenOutcome;

    /// The command that closes `link`.
    fn close_command(&self, link: Option<u8>) -> String;

    /// The command that lets the module hold several numbered links, sent before the first
    /// open that names a link (ESP `AT+CIPMUX=1`, whose single-connection mode has no link
    /// ids); `None` when every link is numbered anyway (Quectel connect ids).
    fn multi_link_command(&self) -> Option<&'static str> {
        None
    }

    /// The link ids the module has: the `link:` a scenario may name.
    fn links(&self) -> RangeInclusive<u8>;

    /// The commands that bring the module onto its network, in order, each done when its
    /// final result arrives (`OK`; a failure word ends the join), or what the join lacks.
    fn join_commands(&self, with: &JoinSettings<'_>) -> Result<Vec<String>, JoinNeeds>;

    /// The command that reads up to the dialect's most at once from a [`ReceiveMode::Buffered`]
    /// link, whose answer carries the bytes behind a length header the receive rules know
    /// (`AT+QIRD=0,1500` → `+QIRD: <n>`); `None` when the driver cannot read buffered data
    /// in this dialect.
    fn read_command(&self, link: Option<u8>) -> Option<String> {
        let _ = link;
        None
    }

    /// What the module's numeric socket error means (Quectel's `+QIOPEN: 0,566`), if known.
    fn socket_error(&self, code: u16) -> Option<&'static str> {
        let _ = code;
        None
    }

    /// The command with its secrets (Wi-Fi or MQTT passwords) masked, for messages and logs.
    fn redact(&self, command: &str) -> String;

    /// `value` as it must be written between the double quotes of a string argument so that
    /// the module reads back exactly `value` (a Wi-Fi password holding `,` `"` or `\`). The
    /// one place the quoting rule of a dialect lives; scenario templates ask for it.
    fn escape_quoted(&self, value: &str) -> String;
}

/// What a run knows that a join may use; each dialect takes what its network needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JoinSettings<'a> {
    /// The Wi-Fi network, as SSID and password.
    pub wifi: Option<(&'a str, &'a str)>,
    /// The APN of a cellular attach; the network's own when `None`.
    pub apn: Option<&'a str>,
}

/// What a dialect's join needs and was not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinNeeds {
    /// A Wi-Fi network (SSID and password).
    Wifi,
}

impl fmt::Display for JoinNeeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinNeeds::Wifi => f.write_str("a Wi-Fi network to join (SSID and password)"),
        }
    }
}

/// The dialects athil knows, as a rig file names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DialectKind {
    /// ESP8266 NonOS AT 1.7, ESP-AT 2.x and modules that copy it (Luat Air601).
    EspAt,
    /// Quectel QI socket commands (EC2x, EC200U, BG96).
    Quectel,
}

impl DialectKind {
    /// Every dialect athil knows.
    pub const ALL: [DialectKind; 2] = [DialectKind::EspAt, DialectKind::Quectel];

    pub fn dialect(self) -> Arc<dyn Dialect> {
        match self {
            DialectKind::EspAt => Arc::new(EspAt),
            DialectKind::Quectel => Arc::new(Quectel),
        }
    }

    /// The receive rules of this dialect, without building a dialect.
    pub fn receive_rules(self) -> &'static dyn ReceiveRules {
        match self {
            DialectKind::EspAt => &EspAt,
            DialectKind::Quectel => &Quectel,
        }
    }

    /// The name a rig file uses.
    pub fn name(self) -> &'static str {
        match self {
            DialectKind::EspAt => "esp-at",
            DialectKind::Quectel => "quectel",
        }
    }
}

impl fmt::Display for DialectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DialectKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DialectKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown module dialect `{s}` (known: esp-at, quectel)"))
    }
}

/// The send commands that carry `len` bytes on `link` in `dialect`, one per piece of at most
/// its [`max_send_len`](Dialect::max_send_len), as the driver sends them: what a person types
/// into a serial terminal (`athil sign`, `athil encode`).
pub fn send_lines(dialect: &dyn Dialect, link: Option<u8>, len: usize) -> Vec<String> {
    let max = dialect.max_send_len().max(1);
    let mut out = Vec::new();
    let mut left = len;
    while left > max {
        out.push(dialect.send_command(link, max));
        left -= max;
    }
    out.push(dialect.send_command(link, left));
    out
}

/// The final result `line` is if it is a failure word in any dialect athil knows (`ERROR`,
/// `FAIL`, `SEND FAIL`, `SEND Canceled`, `+CME ERROR: <n>`, `+CMS ERROR: <n>`, WinnerMicro's
/// `CMD PARSE ERR`), for readers of serial text that do not know the module's dialect.
pub fn failure_final(line: &str) -> Option<FinalResult> {
    DialectKind::ALL
        .into_iter()
        .find_map(|kind| match kind.receive_rules().classify_line(line) {
            LineKind::Final(result) if !result.is_success() => Some(result),
            LineKind::Final(_) | LineKind::Busy(_) | LineKind::Urc(_) | LineKind::Info => None,
        })
}

/// Finals every dialect shares; each dialect adds its own words around these.
pub(crate) fn common_final(line: &str) -> Option<FinalResult> {
    Some(match line {
        "OK" => FinalResult::Ok,
        "ERROR" => FinalResult::Error,
        "SEND OK" => FinalResult::SendOk,
        "SEND FAIL" => FinalResult::SendFail,
        _ => {
            if let Some(code) = line.strip_prefix("+CME ERROR:") {
                FinalResult::CmeError(code.trim().to_string())
            } else if let Some(code) = line.strip_prefix("+CMS ERROR:") {
                FinalResult::CmsError(code.trim().to_string())
            } else {
                return None;
            }
        }
    })
}

/// The arguments of `command` if it is `name` (any letter case) followed by them, without the
/// line end.
pub(crate) fn strip_command<'a>(command: &'a str, name: &str) -> Option<&'a str> {
    let command = command.trim_end_matches(['\r', '\n']);
    let head = command.get(..name.len())?;
    head.eq_ignore_ascii_case(name)
        .then(|| &command[name.len()..])
}

/// Parses a link id the way modules print it (`0`..`11`).
pub(crate) fn parse_link(s: &str) -> Option<u8> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a decimal length; digits only, so `+IPD,-1:` or `+IPD, 4:` are not headers.
pub(crate) fn parse_len(s: &str) -> Option<usize> {
    if s.is_empty() || s.len() > 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The ESP rule for a quoted argument: a backslash before every `\`, `,` and `"` in it.
/// Espressif documents it for both firmwares. NonOS: the "ESP8266 AT Instruction Set" notes
/// under `AT+CWJAP_CUR`/`_DEF` that an SSID or password holding `,` `"` or `\` needs escape
/// syntax, and types SSID `ab\,c` with password `0123456789"\` as `"ab\\\,c","0123456789\"\\"`.
/// ESP-AT: the "AT Command Set" page's general rules (v2.2 for ESP8266 onwards) list `\\`,
/// `\,` and `\"` and say any other `\<c>` stands for `<c>`. Other characters are left as
/// they are: both parsers would drop a backslash before them anyway.
pub(crate) fn backslash_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Masks the quoted argument at `index` (0-based) of a command such as
/// `AT+CWJAP="ssid","pwd"`, keeping quotes so the shape stays readable.
pub(crate) fn mask_quoted_arg(command: &str, index: usize) -> String {
    let mut out = String::with_capacity(command.len());
    let mut quoted = 0usize;
    let mut inside = false;
    let mut escaped = false;
    for c in command.chars() {
        if inside {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                inside = false;
                quoted += 1;
                out.push(c);
                continue;
            }
            if quoted == index {
                if !out.ends_with("***") {
                    out.push_str("***");
                }
                continue;
            }
            out.push(c);
        } else {
            if c == '"' {
                inside = true;
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn rig_file_names_round_trip() {
        let kind: DialectKind = serde_yaml::from_str("esp-at").unwrap();
        assert_eq!(kind, DialectKind::EspAt);
        let kind: DialectKind = serde_yaml::from_str("quectel").unwrap();
        assert_eq!(kind, DialectKind::Quectel);
        assert!(serde_yaml::from_str::<DialectKind>("esp8266").is_err());
        assert_eq!("esp-at".parse::<DialectKind>(), Ok(DialectKind::EspAt));
        assert!("ESP".parse::<DialectKind>().is_err());
    }

    #[rstest]
    #[case("OK", Some(FinalResult::Ok))]
    #[case("ERROR", Some(FinalResult::Error))]
    #[case("SEND OK", Some(FinalResult::SendOk))]
    #[case("SEND FAIL", Some(FinalResult::SendFail))]
    #[case("+CME ERROR: 516", Some(FinalResult::CmeError("516".into())))]
    #[case("+CMS ERROR: 500", Some(FinalResult::CmsError("500".into())))]
    #[case("OK ", None)]
    #[case("STATUS:3", None)]
    fn common_finals(#[case] line: &str, #[case] want: Option<FinalResult>) {
        assert_eq!(common_final(line), want);
    }

    #[rstest]
    #[case("ERROR", Some(FinalResult::Error))]
    #[case("FAIL", Some(FinalResult::Fail))]
    #[case("SEND FAIL", Some(FinalResult::SendFail))]
    #[case("SEND Canceled", Some(FinalResult::SendCanceled))]
    #[case("+CME ERROR: 516", Some(FinalResult::CmeError("516".into())))]
    #[case("+CME ERROR: SIM not inserted", Some(FinalResult::CmeError("SIM not inserted".into())))]
    #[case("+CMS ERROR: 500", Some(FinalResult::CmsError("500".into())))]
    #[case("CMD PARSE ERR", Some(FinalResult::VendorError("CMD PARSE ERR".into())))]
    #[case("OK", None)]
    #[case("SEND OK", None)]
    #[case("+QIOPEN: 0,566", None)]
    #[case("+CWJAP:2", None)]
    fn failure_words_of_every_dialect(#[case] line: &str, #[case] want: Option<FinalResult>) {
        assert_eq!(failure_final(line), want);
    }

    #[test]
    fn send_lines_split_as_the_driver_sends() {
        assert_eq!(send_lines(&EspAt, None, 118), ["AT+CIPSEND=118"]);
        assert_eq!(send_lines(&Quectel, None, 37), ["AT+QISEND=0,37"]);
        assert_eq!(
            send_lines(&Quectel, Some(1), 1500),
            ["AT+QISEND=1,1460", "AT+QISEND=1,40"]
        );
    }

    #[test]
    fn esp_escaping_follows_espressifs_own_example() {
        // The NonOS manual's example: SSID `ab\,c`, password `0123456789"\`.
        assert_eq!(backslash_escape(r"ab\,c"), r"ab\\\,c");
        assert_eq!(backslash_escape(r#"0123456789"\"#), r#"0123456789\"\\"#);
        assert_eq!(backslash_escape("plain-pass"), "plain-pass");
        assert_eq!(backslash_escape("é,ü"), r"é\,ü");
    }

    #[rstest]
    #[case(r#"AT+CWJAP="lab","s3cret""#, 1, r#"AT+CWJAP="lab","***""#)]
    #[case(r#"AT+CWJAP="lab","a\"b""#, 1, r#"AT+CWJAP="lab","***""#)]
    #[case(r#"AT+CWJAP="lab","""#, 1, r#"AT+CWJAP="lab","""#)]
    #[case("AT+GMR", 1, "AT+GMR")]
    fn masks_one_quoted_argument(#[case] cmd: &str, #[case] index: usize, #[case] want: &str) {
        assert_eq!(mask_quoted_arg(cmd, index), want);
    }
}
