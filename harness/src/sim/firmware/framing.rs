//! What the serial input is feeding right now ([`Mode`]) and how each byte is taken: command
//! lines found by their `AT` head and ended by LF (echoed as they arrive), `busy p...` while a
//! command runs, raw data after a send prompt or in passthrough, nothing while booting.

use super::passthrough::Passthrough;
use super::send::{Collect, Sending};
use super::state::SavedJoin;
use super::{Firmware, SocketId};
use crate::sim::boot::ResetCause;

/// The longest command line the firmware buffers (DM, WM: 256 bytes); longer lines are dropped.
const MAX_LINE: usize = 256;

pub enum Mode {
    /// Waiting for or reading a command line. `prev` is the last byte seen while hunting for
    /// the `AT` head; `line` holds the line once the head was found.
    Command { prev: u8, line: Option<Vec<u8>> },
    /// A command is still running (join, connect): each LF is answered `busy p...`.
    Busy(Pending),
    /// After the send prompt: bytes are payload.
    Collect(Collect),
    /// Payload handed to the TCP stack, `SEND OK` not yet printed.
    Sending(Sending),
    /// Transparent transmission (`AT+CIPMODE=1`): every byte goes to the link.
    Passthrough(Passthrough),
    /// Restarting: the UART is not listening yet.
    Booting(ResetCause),
}

impl Mode {
    pub fn command() -> Mode {
        Mode::Command {
            prev: 0,
            line: None,
        }
    }
}

/// A command that answers later.
pub enum Pending {
    /// `AT+CWJAP` that will succeed on `access_points[ap]`, saving `save` to flash if set.
    Join { ap: usize, save: Option<SavedJoin> },
    /// `AT+CWJAP` that will fail with `+CWJAP:<code>`.
    JoinFail,
    /// `AT+CIPSTART` waiting for the TCP handshake; `remote` is where the module believes it
    /// is connecting (see [`crate::sim::names::apparent_ip`]).
    Connect {
        link: usize,
        socket: SocketId,
        remote: std::net::SocketAddr,
        kind: super::LinkKind,
    },
    /// `AT+CIPSERVER=1,<port>` waiting for the socket to listen.
    Listen { port: u16 },
}

impl Firmware {
    pub(super) fn on_serial(&mut self, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            match self.mode {
                Mode::Command { .. } => self.command_byte(b),
                Mode::Busy(_) => {
                    if b == b'\n' {
                        self.put(b"\r\nbusy p...\r\n");
                    }
                }
                Mode::Collect(_) => {
                    self.collect_byte(b);
                    let excess = &bytes[i + 1..];
                    if !matches!(self.mode, Mode::Collect(_)) && !excess.is_empty() {
                        // Bytes already waiting past the payload (a println's CR LF) are
                        // dropped with one busy message after `Recv n bytes` (ESP-AT's
                        // `at_user_cmd.c`: `if (esp_at_port_get_data_length() > 0)`).
                        let busy = self.flavour.busy_sending();
                        self.put(busy);
                        return;
                    }
                }
                Mode::Sending(_) => {
                    // Input while the previous payload is in flight is dropped; each line
                    // ending is told so (NonOS `busy s...`, ESP-AT `busy p...`).
                    if b == b'\n' {
                        let busy = self.flavour.busy_sending();
                        self.put(busy);
                    }
                }
                Mode::Passthrough(_) => {
                    // The rest of this chunk is data, whatever it holds.
                    self.passthrough_bytes(&bytes[i..]);
                    return;
                }
                Mode::Booting(_) => {}
            }
        }
    }

    /// One byte in command mode. The UART echoes every byte as received (CR and LF too);
    /// the head `AT`/`at` starts a line anywhere, and LF ends it.
    fn command_byte(&mut self, b: u8) {
        if self.session.echo {
            self.put(&[b]);
        }
        let Mode::Command { prev, line } = &mut self.mode else {
            return;
        };
        match line {
            Some(buf) => {
                buf.push(b);
                if b == b'\n' {
                    let mut text = std::mem::take(buf);
                    *line = None;
                    *prev = 0;
                    text.pop();
                    if text.last() == Some(&b'\r') {
                        text.pop();
                    }
                    self.execute(&text);
                } else if buf.len() >= MAX_LINE {
                    *line = None;
                    *prev = 0;
                }
            }
            None => {
                if (*prev == b'A' && b == b'T') || (*prev == b'a' && b == b't') {
                    *line = Some(b"AT".to_vec());
                    *prev = 0;
                } else {
                    *prev = b;
                    if b == b'\n' {
                        // A line with no `AT` in it (an empty line, garbage).
                        self.error();
                    }
                }
            }
        }
    }
}
