//! Sending: `AT+CIPSEND=[<id>,]<n>` takes exactly n raw bytes after the prompt (binary-safe),
//! `AT+CIPSENDEX` also stops at the two characters `\0` and drops every other backslash
//! (`at-dialects.md` §2.8), then `Recv n bytes`, the bytes go to the socket, and `SEND OK`.

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
        self.mode = Mode::Sending(Sending {
            link: c.link,
            socket: c.socket,
            bytes: n,
        });
    }

    /// The socket took the bytes (or could not). `SEND OK` follows after the ACK time.
    pub(super) fn sent(&mut self, socket: SocketId, ok: bool) {
        let Mode::Sending(s) = &self.mode else {
            return;
        };
        if s.socket != socket {
            return;
        }
        if !ok {
            self.mode = Mode::command();
            self.put(b"\r\nSEND FAIL\r\n");
            return;
        }
        let ack_ms = self.config.timing.send_ok_ms;
        if ack_ms == 0 {
            self.send_ok();
        } else {
            self.wake(ack_ms, TimerKind::SendOk);
        }
    }

    pub(super) fn send_ok(&mut self) {
        let Mode::Sending(s) = std::mem::replace(&mut self.mode, Mode::command()) else {
            return;
        };
        self.put(b"\r\nSEND OK\r\n");
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
