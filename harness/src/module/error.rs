//! Errors of the module layer, worded to read after "failed to": [`TransportError`] for the
//! serial line, [`DriverError`] for talking AT over it. Each names the port, command or link.

use std::fmt::Write as _;
use std::time::Duration;

use super::at::FinalResult;
use crate::mqtt::FrameError;

/// Which modem-control line a helper drove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlLine {
    Dtr,
    Rts,
}

impl std::fmt::Display for ControlLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ControlLine::Dtr => "DTR",
            ControlLine::Rts => "RTS",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("open serial port `{path}`: {source}")]
    Open {
        path: String,
        source: serialport::Error,
    },
    #[error("prepare serial port `{path}` for reading: {source}")]
    Clone {
        path: String,
        source: serialport::Error,
    },
    #[error("start the reader thread for serial port `{path}`: {source}")]
    Thread {
        path: String,
        source: std::io::Error,
    },
    #[error("write {len} bytes to serial port `{path}`: {source}")]
    Write {
        path: String,
        len: usize,
        source: std::io::Error,
    },
    #[error("read from serial port `{path}`: {reason}")]
    Read { path: String, reason: String },
    #[error("set {line} on serial port `{path}`: {source}")]
    ControlLine {
        path: String,
        line: ControlLine,
        source: serialport::Error,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    Transport(#[from] TransportError),

    /// A wait ran out of time. `awaited` says what for, `last_serial` what the line carried.
    #[error(
        "{awaited}: nothing within {waited:?}; last serial bytes: {}",
        render_serial(last_serial)
    )]
    Timeout {
        awaited: String,
        waited: Duration,
        last_serial: Vec<u8>,
    },

    /// The module ended a command with an error word (`ERROR`, `FAIL`, `+CME ERROR: n`).
    #[error("run `{command}`: the module answered {result}{}", reasons(lines))]
    Rejected {
        command: String,
        result: FinalResult,
        lines: Vec<String>,
    },

    /// A command that expected a final result got the data prompt instead.
    #[error("run `{command}`: the module prompted for data; send data with a data step")]
    Prompted { command: String },

    /// The data went out but the module did not accept it (`SEND FAIL`, `ERROR`).
    #[error(
        "send {len} bytes on link {link}: the module answered {result}{}",
        reasons(lines)
    )]
    SendFailed {
        link: u8,
        len: usize,
        result: FinalResult,
        lines: Vec<String>,
    },

    #[error("send {len} bytes on link {link}: the link closed while {phase}")]
    LinkClosed {
        link: u8,
        len: usize,
        phase: &'static str,
    },

    #[error("send {sent} bytes on link {link}: the module reports receiving {reported}")]
    CountMismatch {
        link: u8,
        sent: usize,
        reported: usize,
    },

    /// The module accepted the open command but reported that the link did not open
    /// (Quectel `+QIOPEN: <id>,<err>` with `err` not 0).
    #[error("open link {link} to {target}: the module reported error {code}{}", meaning.map(|m| format!(" ({m})")).unwrap_or_default())]
    OpenFailed {
        link: u8,
        target: String,
        code: u16,
        meaning: Option<&'static str>,
    },

    /// The dialect's join needs something the run did not give (an ESP's Wi-Fi network).
    #[error("join the network: the {dialect} module needs {needs}, and the run has none")]
    JoinLacks {
        dialect: crate::module::dialect::DialectKind,
        needs: crate::module::dialect::JoinNeeds,
    },

    /// A step named a link the module's dialect does not have.
    #[error("use link {link}: the {dialect} dialect has links {} to {}", links.start(), links.end())]
    NoSuchLink {
        link: u8,
        dialect: crate::module::dialect::DialectKind,
        links: std::ops::RangeInclusive<u8>,
    },

    /// The dialect has no command for what was asked.
    #[error("{action}: the {dialect} dialect has no command for it")]
    Unsupported {
        action: String,
        dialect: crate::module::dialect::DialectKind,
    },

    #[error("{awaited}: the module restarted (`{line}`)")]
    Rebooted { awaited: String, line: String },

    #[error("read {wanted} bytes from link {link}: the link closed with {pending} bytes unread")]
    ClosedWhileReading {
        link: u8,
        wanted: usize,
        pending: usize,
    },

    #[error("read an MQTT packet from link {link}: the link closed with {pending} bytes unread")]
    ClosedBeforePacket { link: u8, pending: usize },

    #[error("read an MQTT packet from link {link}: {source}")]
    Frame { link: u8, source: FrameError },

    /// An expect-absence check saw what must not appear.
    #[error(
        "see no {what} for {window:?}: it appeared in `{}`",
        render_serial(found)
    )]
    Appeared {
        what: String,
        window: Duration,
        found: Vec<u8>,
    },
}

impl DriverError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, DriverError::Timeout { .. })
    }
}

/// Serial bytes as at-dialects.md writes them: printable ASCII as is, `\r`, `\n`, and `\xNN`
/// (upper case) for anything else, so a failure message shows what the line really carried.
pub fn render_serial(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7E => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02X}");
            }
        }
    }
    out
}

/// The reason lines a module printed before its error word (`ALREADY CONNECTED`, `+CWJAP:2`).
fn reasons(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!(" after `{}`", lines.join("` `"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_bytes_render_like_the_reference() {
        assert_eq!(
            render_serial(b"\r\n+IPD,4:\x20\x02\x00\x00\\"),
            "\\r\\n+IPD,4: \\x02\\x00\\x00\\\\"
        );
    }

    #[test]
    fn messages_read_after_failed_to() {
        let e = DriverError::Rejected {
            command: "AT+CIPSTART=\"TCP\",\"10.0.0.1\",1883".into(),
            result: FinalResult::Error,
            lines: vec!["ALREADY CONNECTED".into()],
        };
        assert_eq!(
            e.to_string(),
            "run `AT+CIPSTART=\"TCP\",\"10.0.0.1\",1883`: the module answered ERROR after \
             `ALREADY CONNECTED`"
        );
        let e = DriverError::Timeout {
            awaited: "wait for the final result of `AT`".into(),
            waited: Duration::from_millis(300),
            last_serial: b"AT\r\n".to_vec(),
        };
        assert_eq!(
            e.to_string(),
            "wait for the final result of `AT`: nothing within 300ms; last serial bytes: AT\\r\\n"
        );
    }
}
