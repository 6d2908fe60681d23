//! Data both ways: `AT+QISEND` (the `\r\n> ` prompt seed 004's log shows as `0D 0A 3E 20`,
//! exactly `<len>` bytes, then `SEND OK`/`SEND FAIL`; no `OK` before the prompt and no
//! `Recv N bytes`, unlike the ESP), what arrives from the peer (pushed as
//! `+QIURC: "recv",<id>,<len>` CR LF, the bytes, CR LF; or kept, announced once with
//! `+QIURC: "recv",<id>`) and `AT+QIRD` reading what was kept.

use super::framing::Mode;
use super::socket::{Access, LINKS};
use super::{CmeError, Quectel};
use crate::sim::firmware::{int_in, Command, Form, Param, SocketId};

/// The most one fixed-length `AT+QISEND` takes (QI manuals: 1460).
const SEND_MAX: i64 = 1460;
/// The most one `AT+QIRD` returns, and its default length (QI manuals: 1500).
const READ_MAX: usize = 1500;

impl Quectel {
    /// Handles the command if it is a data one; false if it is not.
    pub(super) fn data(&mut self, c: &Command) -> bool {
        match (c.name.as_str(), &c.form) {
            ("+QISEND", Form::Set(p)) => self.qisend(p),
            ("+QIRD", Form::Set(p)) => self.qird(p),
            _ => return false,
        }
        true
    }

    fn qisend(&mut self, p: &[Param]) {
        let Some(id) = int_in(p, 0, 0..=LINKS as i64 - 1).map(|id| id as usize) else {
            return self.cme(CmeError::InvalidParams);
        };
        let len = match p.get(1) {
            None => None,
            Some(_) => match int_in(p, 1, 0..=SEND_MAX) {
                Some(len) if p.len() == 2 => Some(len as usize),
                _ => return self.cme(CmeError::InvalidParams),
            },
        };
        let Some(link) = self.links[id].as_ref() else {
            // "ERROR if the connection is not established" (QI manuals).
            return self.error();
        };
        if len == Some(0) {
            // `+QISEND: <total_send>,<acked>,<unacked>`: RT-Thread's ec20 polls it for ACKs.
            let line = format!(
                "+QISEND: {},{},{}",
                link.sent,
                link.acked,
                link.sent - link.acked
            );
            self.info(&line);
            return self.ok();
        }
        if !link.is_connected() {
            return self.error();
        }
        self.put(b"\r\n> ");
        self.mode = match len {
            Some(len) => Mode::Collect {
                link: id,
                len,
                data: Vec::with_capacity(len),
            },
            None => Mode::CollectUntilCtrlZ {
                link: id,
                data: Vec::new(),
            },
        };
    }

    /// The socket took the payload (`ok`) or could not.
    pub(super) fn sent(&mut self, socket: SocketId, ok: bool) {
        if !matches!(self.mode, Mode::Sending { socket: s } if s == socket) {
            return;
        }
        self.mode = Mode::command();
        if ok {
            // Loopback ACKs as the write completes, so everything sent counts as acked.
            if let Some(link) = self.link_of(socket).and_then(|id| self.links[id].as_mut()) {
                link.acked = link.sent;
            }
            self.put(b"\r\nSEND OK\r\n");
        } else {
            self.put(b"\r\nSEND FAIL\r\n");
        }
    }

    pub(super) fn received(&mut self, socket: SocketId, data: &[u8]) {
        let Some(id) = self.link_of(socket) else {
            return;
        };
        let Some(link) = self.links[id].as_mut() else {
            return;
        };
        link.total_received += data.len() as u64;
        match link.access {
            Access::Push => {
                for chunk in data.chunks(READ_MAX) {
                    self.put(format!("\r\n+QIURC: \"recv\",{id},{}\r\n", chunk.len()).as_bytes());
                    self.put(chunk);
                    self.put(b"\r\n");
                }
            }
            Access::Buffer => {
                link.buffer.extend_from_slice(data);
                if !link.announced {
                    // One notice until the buffer is read empty.
                    link.announced = true;
                    self.info(&format!("+QIURC: \"recv\",{id}"));
                }
            }
        }
    }

    /// `AT+QIRD=<id>[,<len>]`: `\r\n+QIRD: <n>\r\n<n bytes>\r\nOK\r\n` (`+QIRD: 0` when
    /// empty); `AT+QIRD=<id>,0`: `+QIRD: <total>,<read>,<unread>`.
    fn qird(&mut self, p: &[Param]) {
        let id = int_in(p, 0, 0..=LINKS as i64 - 1).map(|id| id as usize);
        let len = match p.get(1) {
            None => Some(READ_MAX),
            Some(_) => int_in(p, 1, 0..=READ_MAX as i64).map(|n| n as usize),
        };
        let (Some(id), Some(len)) = (id, len) else {
            return self.cme(CmeError::InvalidParams);
        };
        let Some(link) = self.links[id].as_mut() else {
            return self.cme(CmeError::SocketClosed);
        };
        if link.access != Access::Buffer {
            return self.cme(CmeError::OperationNotAllowed);
        }
        if len == 0 {
            let line = format!(
                "+QIRD: {},{},{}",
                link.total_received,
                link.total_read,
                link.buffer.len()
            );
            self.info(&line);
            return self.ok();
        }
        let n = len.min(link.buffer.len());
        let chunk: Vec<u8> = link.buffer.drain(..n).collect();
        link.total_read += n as u64;
        if link.buffer.is_empty() {
            link.announced = false;
        }
        if n == 0 {
            self.info("+QIRD: 0");
            return self.ok();
        }
        self.put(format!("\r\n+QIRD: {n}\r\n").as_bytes());
        self.put(&chunk);
        self.put(b"\r\nOK\r\n");
    }
}
