//! What the AT receive state machine reports: [`AtEvent`] and the vocabulary inside it
//! ([`FinalResult`], [`Busy`], [`Urc`]). Shared by every dialect, so the driver and the runner
//! never look at vendor strings.

use std::fmt;

/// One thing the module said, in the order it said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtEvent {
    /// The module repeating a command line the host sent (ATE1). Reported once the whole
    /// command has been echoed, even when a URC cut it in pieces.
    Echo(String),
    /// An information line (`+CWJAP:2`, `STATUS:3`, `ALREADY CONNECTED`, an echo the parser was
    /// not told about), trailing CR stripped. Empty lines are not reported.
    Line(String),
    /// The line that ends a command or a data transfer.
    Final(FinalResult),
    /// The module dropped the host's input because it was still busy.
    Busy(Busy),
    /// The data prompt (`> ` or `>`): the module now takes exactly the announced bytes.
    Prompt,
    /// Bytes a socket received, from a length-framed header (`+IPD,<n>:`,
    /// `+QIURC: "recv",<id>,<n>`). `link` is `None` in single-connection mode.
    SocketData { link: Option<u8>, bytes: Vec<u8> },
    /// An unsolicited result code.
    Urc(Urc),
}

/// How a command or a data transfer ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FinalResult {
    Ok,
    Error,
    /// NonOS AT's failure word for `AT+CWJAP` (ESP-AT says `ERROR` instead).
    Fail,
    SendOk,
    SendFail,
    /// A `+++` burst inside CIPSEND data cancelled the transfer.
    SendCanceled,
    /// `+CME ERROR: <n or text>` (Quectel and other 3GPP modules with AT+CMEE).
    CmeError(String),
    /// `+CMS ERROR: <n or text>`.
    CmsError(String),
    /// A vendor's own error word, e.g. WinnerMicro's `CMD FORMAT ERR` / `CMD PARSE ERR`.
    VendorError(String),
}

impl FinalResult {
    /// Whether the module reports success.
    pub fn is_success(&self) -> bool {
        matches!(self, FinalResult::Ok | FinalResult::SendOk)
    }
}

impl fmt::Display for FinalResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FinalResult::Ok => f.write_str("OK"),
            FinalResult::Error => f.write_str("ERROR"),
            FinalResult::Fail => f.write_str("FAIL"),
            FinalResult::SendOk => f.write_str("SEND OK"),
            FinalResult::SendFail => f.write_str("SEND FAIL"),
            FinalResult::SendCanceled => f.write_str("SEND Canceled"),
            FinalResult::CmeError(code) => write!(f, "+CME ERROR: {code}"),
            FinalResult::CmsError(code) => write!(f, "+CMS ERROR: {code}"),
            FinalResult::VendorError(word) => f.write_str(word),
        }
    }
}

/// Which busy message the module printed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Busy {
    /// `busy p...`: a command is still being processed; the new input was dropped.
    Processing,
    /// `busy s...` (NonOS only): a CIPSEND transfer is still in progress.
    Sending,
    /// Any other `busy ...` wording (WinnerMicro documents `busy ...`).
    Other(String),
}

impl fmt::Display for Busy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Busy::Processing => f.write_str("busy p..."),
            Busy::Sending => f.write_str("busy s..."),
            Busy::Other(line) => f.write_str(line),
        }
    }
}

/// Unsolicited result codes the harness acts on. Links are `None` in single-connection mode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Urc {
    /// The AT firmware finished booting (`ready` on ESP, `RDY` on Quectel).
    Ready,
    /// A line that means the module is restarting or crashed (`rst cause:`, `wdt reset`,
    /// `Will force to restart!!!`).
    Reboot {
        line: String,
    },
    /// Quectel `POWERED DOWN` / `NORMAL POWER DOWN`.
    PoweredDown,
    /// Quectel `APP RDY`: the module's application layer is up, some time after `RDY` on the
    /// models that print it. Not a restart by itself (the `RDY` before it was), so it closes
    /// nothing and interrupts no command.
    AppReady,
    /// `+CPIN: READY`: the SIM is usable. Unsolicited at boot, and also the answer to
    /// `AT+CPIN?` (the driver gives it to that command as an information line too).
    SimReady,
    /// Another boot-time status notice: `+QUSIM: 1`, `+QIND: SMS DONE`, `+QIND: PB DONE`, any
    /// other `+QIND:`, or a `+CPIN:` other than `READY` (`+CPIN: NOT READY`).
    BootStatus {
        line: String,
    },
    WifiConnected,
    WifiGotIp,
    WifiDisconnect,
    /// `CONNECT` / `<id>,CONNECT`: a TCP link opened.
    Connect {
        link: Option<u8>,
    },
    /// `CONNECT FAIL` / `<id>,CONNECT FAIL` (NonOS).
    ConnectFail {
        link: Option<u8>,
    },
    /// `CLOSED` / `<id>,CLOSED` / `+QIURC: "closed",<id>`: the link is gone.
    Closed {
        link: Option<u8>,
    },
    /// Quectel `+QIOPEN: <id>,<err>`; `error` 0 means the socket opened.
    Opened {
        link: u8,
        error: u16,
    },
    /// `Recv <n> bytes`: the module took n bytes of CIPSEND data.
    RecvBytes {
        count: usize,
    },
    /// Passive-mode notice that data waits in the module (`+IPD,<id>,<len>` without a colon,
    /// Quectel buffer-mode `+QIURC: "recv",<id>`).
    DataAvailable {
        link: Option<u8>,
        len: Option<usize>,
    },
    /// Quectel `+QIURC: "pdpdeact",<ctx>`: the data context is down, every socket with it.
    PdpDeactivated {
        context: u8,
    },
    /// Quectel `+QIURC: "dnsgip",<err>[,<count>,<ttl>]`: how an `AT+QIDNSGIP` lookup ended;
    /// `error` 0 means `count` address lines ([`Urc::DnsAddress`]) follow.
    DnsResult {
        error: u16,
        count: usize,
    },
    /// Quectel `+QIURC: "dnsgip","<ip>"`: one address an `AT+QIDNSGIP` lookup found.
    DnsAddress {
        address: String,
    },
    /// A URC the dialect recognises as unsolicited but the harness has no type for.
    Other {
        line: String,
    },
}

impl fmt::Display for Urc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let link = |l: &Option<u8>| l.map(|id| format!("{id},")).unwrap_or_default();
        match self {
            Urc::Ready => f.write_str("ready"),
            Urc::Reboot { line } => f.write_str(line),
            Urc::PoweredDown => f.write_str("POWERED DOWN"),
            Urc::AppReady => f.write_str("APP RDY"),
            Urc::SimReady => f.write_str("+CPIN: READY"),
            Urc::BootStatus { line } => f.write_str(line),
            Urc::WifiConnected => f.write_str("WIFI CONNECTED"),
            Urc::WifiGotIp => f.write_str("WIFI GOT IP"),
            Urc::WifiDisconnect => f.write_str("WIFI DISCONNECT"),
            Urc::Connect { link: l } => write!(f, "{}CONNECT", link(l)),
            Urc::ConnectFail { link: l } => write!(f, "{}CONNECT FAIL", link(l)),
            Urc::Closed { link: l } => write!(f, "{}CLOSED", link(l)),
            Urc::Opened { link, error } => write!(f, "+QIOPEN: {link},{error}"),
            Urc::RecvBytes { count } => write!(f, "Recv {count} bytes"),
            Urc::DataAvailable { link: l, len } => match len {
                Some(n) => write!(f, "data waiting: {}{n} bytes", link(l)),
                None => write!(f, "data waiting on link {}", link(l)),
            },
            Urc::PdpDeactivated { context } => write!(f, "+QIURC: \"pdpdeact\",{context}"),
            Urc::DnsResult { error, count } => {
                write!(f, "+QIURC: \"dnsgip\",{error},{count}")
            }
            Urc::DnsAddress { address } => write!(f, "+QIURC: \"dnsgip\",\"{address}\""),
            Urc::Other { line } => f.write_str(line),
        }
    }
}
