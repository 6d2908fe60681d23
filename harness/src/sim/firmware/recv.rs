//! Data from the network to the host: `+IPD` in active mode (header then exactly n raw bytes,
//! no CR LF after), the passive mode's `+IPD,<len>` notice with `AT+CIPRECVDATA` /
//! `AT+CIPRECVLEN?`, and `CLOSED` when the peer closes.

use super::line::{int_in, Param};
use super::state::LINKS;
use super::{Effect, Firmware, SocketId};
use crate::sim::config::Flavour;

/// The most one `+IPD` carries: one TCP segment (MSS 1460) on the ESP8266.
const IPD_MAX: usize = 1460;

impl Firmware {
    pub(super) fn received(&mut self, socket: SocketId, data: &[u8]) {
        if self.passthrough_received(socket, data) {
            return;
        }
        if self.reply_during_send(socket, data) {
            return;
        }
        let Some(id) = self.session.link_of(socket) else {
            return;
        };
        let mux = self.session.mux.then_some(id);
        let passive = self.session.passive;
        let info = self.session.dinfo;
        let Some(link) = self.session.links[id].as_mut() else {
            return;
        };
        link.received += data.len() as u64;
        let peer = info.then_some(link.remote);
        if passive {
            link.buffer.extend_from_slice(data);
            if !link.announced && !link.buffer.is_empty() {
                link.announced = true;
                let len = link.buffer.len();
                self.announce(mux, len);
            }
        } else {
            for chunk in data.chunks(IPD_MAX) {
                let header = self.flavour.ipd_header(mux, chunk.len(), peer);
                self.put(&header);
                self.put(chunk);
            }
        }
        self.fault_close_after_received(id);
    }

    /// Passive mode's notice: `\r\n+IPD,<len>\r\n` / `\r\n+IPD,<id>,<len>\r\n` (F1 and F2).
    fn announce(&mut self, mux: Option<usize>, len: usize) {
        let text = match mux {
            Some(id) => format!("\r\n+IPD,{id},{len}\r\n"),
            None => format!("\r\n+IPD,{len}\r\n"),
        };
        self.put(text.as_bytes());
    }

    fn fault_close_after_received(&mut self, id: usize) {
        let Some(limit) = self.config.faults.close_after_received else {
            return;
        };
        if self.session.links[id]
            .as_ref()
            .is_some_and(|l| l.received >= limit)
        {
            tracing::debug!("sim: fault `close_after_received` closes link {id}");
            self.drop_link(id);
        }
    }

    /// The peer closed. In passive mode with unread data `CLOSED` waits until it is read.
    ///
    /// Data handed to this socket and still waiting for `SEND OK` was delivered: TCP acked it
    /// before the peer's FIN could follow, so `SEND OK` comes out first, as on a real link (a
    /// broker that answers DISCONNECT or a refused CONNECT by closing shows this order).
    pub(super) fn peer_closed(&mut self, socket: SocketId) {
        let Some(id) = self.session.link_of(socket) else {
            return;
        };
        if matches!(&self.mode, super::Mode::Sending(s) if s.socket_is(socket)) {
            self.send_ok();
        }
        let Some(link) = self.session.links[id].as_mut() else {
            return;
        };
        if !link.buffer.is_empty() {
            link.peer_closed = true;
            return;
        }
        self.drop_link(id);
    }

    pub(super) fn ciprecvdata(&mut self, p: &[Param]) {
        let (id, max) = if self.session.mux {
            (
                int_in(p, 0, 0..=LINKS as i64 - 1),
                int_in(p, 1, 1..=i64::MAX),
            )
        } else {
            (Some(0), int_in(p, 0, 1..=i64::MAX))
        };
        let arity = if self.session.mux { 2 } else { 1 };
        let (Some(id), Some(max)) = (id, max) else {
            return self.error();
        };
        if p.len() != arity {
            return self.error();
        }
        let id = id as usize;
        let flavour = self.flavour;
        let Some(link) = self.session.links[id].as_mut() else {
            return self.fail(b"link is not valid\r\n");
        };
        if link.buffer.is_empty() {
            return self.error();
        }
        let n = link.buffer.len().min(max as usize);
        let data: Vec<u8> = link.buffer.drain(..n).collect();
        link.announced = false;
        let remaining = link.buffer.len();
        let drained_and_closed = remaining == 0 && link.peer_closed;
        let header = flavour.recvdata_header(n);
        self.put(&header);
        self.put(&data);
        self.ok();
        if drained_and_closed {
            if let Some(link) = self.session.links[id].take() {
                self.out.push(Effect::Close {
                    socket: link.socket,
                });
                self.closed_line(id);
            }
        } else if remaining > 0 && flavour == Flavour::EspAt {
            // ESP-AT re-announces what is left after a partial read (zephyr PR 30814).
            if let Some(link) = self.session.links[id].as_mut() {
                link.announced = true;
            }
            let mux = self.session.mux.then_some(id);
            self.announce(mux, remaining);
        }
    }

    pub(super) fn ciprecvlen(&mut self) {
        let inactive = self.flavour.recvlen_inactive();
        let lens: Vec<String> = self
            .session
            .links
            .iter()
            .map(|l| match l {
                Some(link) => link.buffer.len().to_string(),
                None => inactive.to_string(),
            })
            .collect();
        let line = format!("+CIPRECVLEN:{}", lens.join(","));
        self.line(&line);
        self.ok();
    }
}
