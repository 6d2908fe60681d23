//! What the serial input is feeding right now ([`Mode`]) and how each byte is taken: command
//! lines found by their `AT` head and run at CR (Quectel's S3; the LF of a CR LF is then just
//! a stray byte), raw payload after the `> ` prompt, nothing while a blocking command runs or
//! the module reboots.

use super::socket::LINKS;
use super::Quectel;
use crate::sim::firmware::{Effect, SocketId};

/// The longest command line buffered; longer lines are dropped whole.
const MAX_LINE: usize = 1024;
/// Ctrl-Z: ends variable-length `AT+QISEND=<id>` data. After a fixed-length payload some
/// drivers (Zephyr's BG9x) send one anyway; it is dropped without an echo.
pub const CTRL_Z: u8 = 0x1A;
/// Esc: cancels variable-length `AT+QISEND=<id>` data.
const ESC: u8 = 0x1B;

pub enum Mode {
    /// Waiting for or reading a command line; `prev` is the last byte seen while hunting for
    /// `AT`, `line` the line once its head was found.
    Command { prev: u8, line: Option<Vec<u8>> },
    /// `AT+QIACT` is running: "other AT commands cannot be executed" until it answers, so
    /// input is dropped.
    Busy,
    /// After `AT+QISEND=<id>,<len>`'s prompt: exactly `len` payload bytes.
    Collect {
        link: usize,
        len: usize,
        data: Vec<u8>,
    },
    /// After `AT+QISEND=<id>`'s prompt: payload until Ctrl-Z (Esc cancels).
    CollectUntilCtrlZ { link: usize, data: Vec<u8> },
    /// The payload went to the socket; `SEND OK`/`SEND FAIL` follows when it reports.
    Sending { socket: SocketId },
    /// Rebooting (`AT+CFUN=1,1`, the reset pin): the UART is not listening.
    Booting,
}

impl Mode {
    pub fn command() -> Mode {
        Mode::Command {
            prev: 0,
            line: None,
        }
    }
}

impl Quectel {
    pub(super) fn on_serial(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let after_cr = std::mem::take(&mut self.after_cr);
            if after_cr && b == b'\n' && !matches!(self.mode, Mode::Command { .. }) {
                // The LF of the CR LF that ended `AT+QISEND=…`: not part of the payload.
                continue;
            }
            match self.mode {
                Mode::Command { .. } => self.command_byte(b),
                Mode::Collect { .. } => self.collect_byte(b),
                Mode::CollectUntilCtrlZ { .. } => self.collect_until_ctrl_z(b),
                Mode::Busy | Mode::Sending { .. } | Mode::Booting => {}
            }
        }
    }

    /// One byte in command mode. Bytes are echoed as they arrive (a line's CR included), except
    /// a Ctrl-Z outside a line, the one drivers append after a fixed-length payload.
    fn command_byte(&mut self, b: u8) {
        let Mode::Command { prev, line } = &mut self.mode else {
            return;
        };
        let echo = self.echo && !(line.is_none() && b == CTRL_Z);
        match line {
            Some(buf) if b == b'\r' || b == b'\n' => {
                let text = std::mem::take(buf);
                *line = None;
                *prev = 0;
                self.after_cr = b == b'\r';
                if echo {
                    self.put(&[b]);
                }
                self.execute(&text);
                return;
            }
            Some(buf) => {
                buf.push(b);
                if buf.len() >= MAX_LINE {
                    *line = None;
                }
            }
            None => {
                if (*prev == b'A' || *prev == b'a') && (b == b'T' || b == b't') {
                    *line = Some(b"AT".to_vec());
                    *prev = 0;
                } else {
                    *prev = b;
                }
            }
        }
        if echo {
            self.put(&[b]);
        }
    }

    fn collect_byte(&mut self, b: u8) {
        if self.echo {
            // ATE1 echoes the payload too (a BG770A log with echo on shows it).
            self.put(&[b]);
        }
        let Mode::Collect { link, len, data } = &mut self.mode else {
            return;
        };
        data.push(b);
        if data.len() == *len {
            let (link, data) = (*link, std::mem::take(data));
            self.hand_over(link, data);
        }
    }

    fn collect_until_ctrl_z(&mut self, b: u8) {
        let Mode::CollectUntilCtrlZ { link, data } = &mut self.mode else {
            return;
        };
        match b {
            CTRL_Z => {
                let (link, data) = (*link, std::mem::take(data));
                self.hand_over(link, data);
            }
            ESC => {
                // Cancelled: nothing is sent, and the module answers OK.
                self.mode = Mode::command();
                self.ok();
            }
            _ => {
                data.push(b);
                if self.echo {
                    self.put(&[b]);
                }
            }
        }
    }

    /// The payload is complete: give it to the link's socket and wait for its report.
    fn hand_over(&mut self, link: usize, data: Vec<u8>) {
        debug_assert!(link < LINKS);
        match self.links[link].as_mut().filter(|l| l.is_connected()) {
            Some(l) => {
                l.sent += data.len() as u64;
                let socket = l.socket;
                self.mode = Mode::Sending { socket };
                self.out.push(Effect::Send { socket, data });
            }
            None => {
                // The peer closed while the payload was typed.
                self.mode = Mode::command();
                self.put(b"\r\nSEND FAIL\r\n");
            }
        }
    }
}
