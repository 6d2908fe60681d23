//! Sending: `AT+CIPSEND=[<id>,]<n>` takes exactly n raw bytes after the prompt (binary-safe),
//! `AT+CIPSENDEX` also stops at the two characters `\0` and drops every other backslash
//! (`at-dialects.md` §2.8), then `Recv n bytes`, the bytes go to the socket, and `SEND OK`.
//!
//! When `SEND OK` comes: NonOS prints it from lwIP's sent callback (the peer's ACK), ESP-AT once
//! the stack took the data. On loopback the peer's stack ACKs as the write completes, so by
//! default `SEND OK` follows the socket's `Sent` at once; `timing.send_ok_ms` adds ACK time.
//! A reply cannot come before the ACK of what it answers (it carries that ACK), so data the
//! peer sends meanwhile brings `SEND OK` forward and is printed after it. Only the
//! `late_send_ok_ms` fault lets a reply overtake `SEND OK`.

use super::framing::Mode;
use super::line::{int_in, Param};
use super::state::LINKS;
use super::{Effect, Firmware, SocketId, TimerKind};

/// The most one `AT+CIPSEND` takes on the ESP8266 (NonOS and ESP-AT alike).
pub const SEND_MAX: i64 = 2048;

/// Payload being collected after the prompt.
pub struct Collect {
    link: usize,
    socket: SocketId,
    want: usize,
    data: Vec<u8>,
    /// `AT+CIPSENDEX`: `\0` ends early, `\x` stands for `x`.
    ex: bool,
    /// The previous byte was an unescaped backslash.
    escape: bool,
}

/// Payload handed to the socket, waiting for the stack to confirm.
pub struct Sending {
    link: usize,
    socket: SocketId,
    bytes: usize,
    /// Names this send for its `SEND OK` timer, so a timer left from an earlier send (one
    /// whose `SEND OK` came early) can never end a later one.
    serial: u64,
    /// The socket reported the write done (`Sent`).
    written: bool,
    /// Data the peer sent before `SEND OK` was due, printed right after it.
    held: Vec<Vec<u8>>,
}

impl Sending {
    pub(super) fn socket_is(&self, socket: SocketId) -> bool {
        self.socket == socket
    }
}

impl Firmware {
    pub(super) fn cipsend(&mut self, p: &[Param], ex: bool) {
        let (id, len) = if self.session.mux {
            if p.len() != 2 {
                return self.error();
            }
            match int_in(p, 0, 0..=LINKS as i64 - 1) {
                Some(id) => (id as usize, int_in(p, 1, 1..=SEND_MAX)),
                None => return self.fail(b"link is not valid\r\n"),
            }
        } else {
            if p.len() != 1 {
                return self.error();
            }
            (0, int_in(p, 0, 1..=SEND_MAX))
        };
        let Some(want) = len else {
            return self.error();
        };
        let Some(socket) = self.session.links[id].as_ref().map(|l| l.socket) else {
            return self.fail(b"link is not valid\r\n");
        };
        let prompt = self.flavour.send_prompt();
        self.put(prompt);
        self.mode = Mode::Collect(Collect {
            link: id,
            socket,
            want: want as usize,
            data: Vec::with_capacity(want as usize),
            ex,
            escape: false,
        });
    }

    pub(super) fn collect_byte(&mut self, b: u8) {
        let nul_ends = self.config.quirks.cipsendex_nul_byte_ends;
        let Mode::Collect(c) = &mut self.mode else {
            return;
        };
        let done = if !c.ex {
            c.data.push(b);
            false
        } else if c.escape {
            c.escape = false;
            if b == b'0' {
                true
            } else {
                c.data.push(b);
                false
            }
        } else if b == b'\\' {
            c.escape = true;
            false
        } else if b == 0 && nul_ends {
            true
        } else {
            c.data.push(b);
            false
        };
        if done || c.data.len() >= c.want {
            self.finish_collect();
        }
    }

    fn finish_collect(&mut self) {
        let Mode::Collect(c) = std::mem::replace(&mut self.mode, Mode::command()) else {
            return;
        };
        let n = c.data.len();
        self.put(format!("\r\nRecv {n} bytes\r\n").as_bytes());
        let still_open = self.session.links[c.link]
            .as_ref()
            .is_some_and(|l| l.socket == c.socket);
        if !still_open {
            self.put(b"\r\nSEND FAIL\r\n");
            return;
        }
        self.out.push(Effect::Send {
            socket: c.socket,
            data: c.data,
        });
        self.send_serial += 1;
        self.mode = Mode::Sending(Sending {
            link: c.link,
            socket: c.socket,
            bytes: n,
            serial: self.send_serial,
            written: false,
            held: Vec::new(),
        });
    }

    /// The socket took the bytes (or could not). `SEND OK` follows after the ACK time, at
    /// once by default (see the module comment).
    pub(super) fn sent(&mut self, socket: SocketId, ok: bool) {
        let Mode::Sending(s) = &mut self.mode else {
            return;
        };
        if s.socket != socket {
            return;
        }
        s.written = true;
        let serial = s.serial;
        let replied = !s.held.is_empty();
        if !ok {
            let Mode::Sending(s) = std::mem::replace(&mut self.mode, Mode::command()) else {
                return;
            };
            self.put(b"\r\nSEND FAIL\r\n");
            self.release_held(s.socket, s.held);
            return;
        }
        let ack_ms = match self.config.faults.late_send_ok_ms {
            Some(late) => late,
            None if replied => 0,
            None => self.config.timing.send_ok_ms,
        };
        if ack_ms == 0 {
            self.send_ok();
        } else {
            self.wake(ack_ms, TimerKind::SendOk(serial));
        }
    }

    /// The ACK timer of send `serial` ran out; a timer of an earlier send does nothing.
    pub(super) fn send_ok_due(&mut self, serial: u64) {
        if matches!(&self.mode, Mode::Sending(s) if s.serial == serial) {
            self.send_ok();
        }
    }

    /// Data from the peer while a send waits for `SEND OK`. True if it was dealt with here:
    /// held until the write completes, or printed after a `SEND OK` it brings forward. False
    /// if it is not this send's business (another socket, or the `late_send_ok_ms` fault).
    pub(super) fn reply_during_send(&mut self, socket: SocketId, data: &[u8]) -> bool {
        if self.config.faults.late_send_ok_ms.is_some() {
            return false;
        }
        let Mode::Sending(s) = &mut self.mode else {
            return false;
        };
        if s.socket != socket {
            return false;
        }
        s.held.push(data.to_vec());
        if s.written {
            self.send_ok();
        }
        true
    }

    /// Prints `SEND OK` for the send in flight, if there is one, then what the peer sent
    /// meanwhile. Nothing else: whatever mode came after the send is left alone.
    pub(super) fn send_ok(&mut self) {
        if !matches!(self.mode, Mode::Sending(_)) {
            return;
        }
        let Mode::Sending(mut s) = std::mem::replace(&mut self.mode, Mode::command()) else {
            return;
        };
        self.put(b"\r\nSEND OK\r\n");
        let held = std::mem::take(&mut s.held);
        self.release_held(s.socket, held);
        self.count_sent(&s);
    }

    fn release_held(&mut self, socket: SocketId, held: Vec<Vec<u8>>) {
        for data in held {
            self.received(socket, &data);
        }
    }

    /// Counts the bytes on their link and applies the `close_after_sent` fault.
    fn count_sent(&mut self, s: &Sending) {
        let limit = self.config.faults.close_after_sent;
        let Some(link) = self.session.links[s.link]
            .as_mut()
            .filter(|l| l.socket == s.socket)
        else {
            return;
        };
        link.sent += s.bytes as u64;
        if limit.is_some_and(|limit| link.sent >= limit) {
            tracing::debug!("sim: fault `close_after_sent` closes link {}", s.link);
            self.drop_link(s.link);
        }
    }
}
