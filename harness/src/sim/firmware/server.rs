//! The module's TCP server: `AT+CIPSERVER=1[,<port>]` listens (real sockets, on loopback) while
//! `AT+CIPMUX=1`; each client takes the lowest free link id and is announced `<id>,CONNECT`,
//! then reads and writes like a dialled link (`+IPD,<id>,<n>:`, `AT+CIPSEND=<id>,<n>`,
//! `<id>,CLOSED`). `AT+CIPSERVER=0` stops listening; ESP-AT's `AT+CIPSERVER=0,1` also closes
//! the server's clients.

use std::net::SocketAddr;

use super::framing::{Mode, Pending};
use super::line::{int_in, Param};
use super::state::{Link, LINKS};
use super::{Effect, Firmware, LinkKind, SocketId};
use crate::sim::config::Flavour;

/// The port `AT+CIPSERVER=1` listens on when none is given (both flavours' documentation).
const DEFAULT_SERVER_PORT: i64 = 333;

impl Firmware {
    pub(super) fn cipserver(&mut self, p: &[Param]) {
        let Some(mode) = int_in(p, 0, 0..=1) else {
            return self.error();
        };
        if mode == 0 {
            let close_clients = match p.get(1) {
                None => false,
                // ESP-AT only: `AT+CIPSERVER=0,1` also closes every client of the server.
                Some(_) if self.flavour == Flavour::EspAt && p.len() == 2 => {
                    match int_in(p, 1, 0..=1) {
                        Some(close) => close == 1,
                        None => return self.error(),
                    }
                }
                Some(_) => return self.error(),
            };
            if self.session.server.take().is_some() {
                self.out.push(Effect::Unlisten);
            }
            if close_clients {
                for id in 0..LINKS {
                    if self.session.links[id].as_ref().is_some_and(|l| l.accepted) {
                        self.drop_link(id);
                    }
                }
            }
            return self.ok();
        }
        let port = match p.get(1) {
            None => Some(DEFAULT_SERVER_PORT),
            Some(_) => int_in(p, 1, 1..=65535),
        };
        // Only the TCP server is emulated (ESP-AT's `"SSL"` type and CA flag answer ERROR).
        let Some(port) = port.filter(|_| p.len() <= 2) else {
            return self.error();
        };
        // A server needs multiple links, and there is one server.
        if !self.session.mux || self.session.server.is_some() {
            return self.error();
        }
        let port = port as u16;
        self.out.push(Effect::Listen { port });
        self.mode = Mode::Busy(Pending::Listen { port });
    }

    /// The answer to `Listen`: `OK`, or `ERROR` if the port could not be had.
    pub(super) fn listening(&mut self, ok: bool) {
        let Mode::Busy(Pending::Listen { port }) = self.mode else {
            if ok {
                // A reset came between: nobody wants this server any more.
                self.out.push(Effect::Unlisten);
            }
            return;
        };
        self.mode = Mode::command();
        if ok {
            self.session.server = Some(port);
            self.ok();
        } else {
            self.error();
        }
    }

    /// A client connected: it takes the lowest free link, or is turned away when none is free
    /// (or the server was stopped meanwhile).
    pub(super) fn accepted(&mut self, socket: SocketId, local: SocketAddr, peer: SocketAddr) {
        let free = self.session.links.iter().position(Option::is_none);
        let (Some(_), Some(id)) = (self.session.server, free) else {
            return self.out.push(Effect::Close { socket });
        };
        self.session.links[id] = Some(Link {
            socket,
            remote: peer,
            local,
            kind: LinkKind::Tcp,
            accepted: true,
            sent: 0,
            received: 0,
            buffer: Vec::new(),
            announced: false,
            peer_closed: false,
        });
        self.session.had_link = true;
        self.line(&format!("{id},CONNECT"));
    }
}
