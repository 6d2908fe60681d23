//! Sockets: `AT+QIOPEN` (answered `OK` at once, then `+QIOPEN: <id>,<err>` once the TCP
//! handshake is done or failed), the peer's close (`+QIURC: "closed",<id>`; the id stays
//! taken until `AT+QICLOSE`), `AT+QICLOSE`, `AT+QISTATE`. Host names resolve through the
//! lab's name map like the ESP personality's, and the module shows their apparent address.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::{CmeError, Quectel};
use crate::sim::firmware::{int_in, Command, Effect, Form, LinkKind, Param, SocketId};
use crate::sim::names::{apparent_ip, Lookup};

/// Connect ids 0..=11.
pub const LINKS: usize = 12;

/// `<access_mode>` of `AT+QIOPEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// 0: data waits in the module; `+QIURC: "recv",<id>` then `AT+QIRD`.
    Buffer,
    /// 1: data is pushed as `+QIURC: "recv",<id>,<len>` followed by the bytes.
    Push,
}

/// `<socket_state>` of `AT+QISTATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// 1: `AT+QIOPEN` sent, handshake under way.
    Opening,
    /// 2: connected.
    Connected,
    /// 4: the peer closed; the id waits for `AT+QICLOSE`.
    Closing,
}

/// One socket.
#[derive(Debug, Clone)]
pub struct Link {
    pub socket: SocketId,
    pub ctx: usize,
    pub access: Access,
    pub state: State,
    /// Where the module believes it connected (see [`apparent_ip`]).
    pub remote: IpAddr,
    pub remote_port: u16,
    pub local_port: u16,
    pub sent: u64,
    pub acked: u64,
    /// Buffer mode: bytes waiting for `AT+QIRD`, and the counts `AT+QIRD=<id>,0` shows.
    pub buffer: Vec<u8>,
    pub total_received: u64,
    pub total_read: u64,
    /// Buffer mode: the `recv` URC went out and the buffer was not emptied since.
    pub announced: bool,
}

impl Link {
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }
}

impl Quectel {
    /// Handles the command if it is a socket one; false if it is not.
    pub(super) fn socket(&mut self, c: &Command) -> bool {
        match (c.name.as_str(), &c.form) {
            ("+QIOPEN", Form::Set(p)) => self.qiopen(p),
            ("+QICLOSE", Form::Set(p)) => match int_in(p, 0, 0..=LINKS as i64 - 1) {
                Some(id) if p.len() == 1 || (p.len() == 2 && int_in(p, 1, 0..=65535).is_some()) => {
                    if let Some(link) = self.links[id as usize].take() {
                        self.out.push(Effect::Close {
                            socket: link.socket,
                        });
                    }
                    self.ok();
                }
                _ => self.cme(CmeError::InvalidParams),
            },
            ("+QISTATE", Form::Query | Form::Exec) => self.qistate(|_, _| true),
            ("+QISTATE", Form::Set(p)) => {
                match (int_in(p, 0, 0..=1), p.get(1).and_then(Param::int)) {
                    (Some(0), Some(ctx)) => self.qistate(|_, l| l.ctx as i64 == ctx),
                    (Some(1), Some(id)) => self.qistate(|i, _| i as i64 == id),
                    _ => self.cme(CmeError::InvalidParams),
                }
            }
            _ => return false,
        }
        true
    }

    /// `AT+QIOPEN=<ctx>,<id>,"TCP","<host>",<port>[,<local_port>[,<access_mode>]]`.
    fn qiopen(&mut self, p: &[Param]) {
        let local = match p.get(5) {
            None | Some(Param::Empty) => Some(0),
            Some(_) => int_in(p, 5, 0..=65535),
        };
        let access = match p.get(6) {
            None | Some(Param::Empty) => Some(Access::Buffer),
            Some(_) => match int_in(p, 6, 0..=2) {
                Some(0) => Some(Access::Buffer),
                Some(1) => Some(Access::Push),
                // Transparent mode (2) is not emulated.
                _ => None,
            },
        };
        let (Some(ctx), Some(id), Some(service), Some(host), Some(port), Some(_), Some(access)) = (
            int_in(p, 0, 1..=super::pdp::CONTEXTS as i64),
            int_in(p, 1, 0..=LINKS as i64 - 1),
            p.get(2).and_then(Param::str),
            p.get(3).and_then(Param::str),
            int_in(p, 4, 1..=65535),
            local,
            access,
        ) else {
            return self.cme(CmeError::InvalidParams);
        };
        if service != "TCP" || p.len() > 7 {
            // UDP and the listeners are not emulated.
            return self.cme(CmeError::NotSupported);
        }
        let (ctx, id, port) = (ctx as usize, id as usize, port as u16);
        self.ok();
        if self.links[id].is_some() {
            return self.qiopen_result(id, CmeError::SocketInUse.code());
        }
        if !self.contexts[ctx].active {
            return self.qiopen_result(id, CmeError::PdpOpenFailed.code());
        }
        let addr = match self.config.names.resolve(host, port) {
            Lookup::Found(addr) => addr,
            Lookup::NotFound => return self.qiopen_result(id, CmeError::DnsFailed.code()),
            Lookup::Refused(ip) => {
                tracing::debug!("sim: not connecting to {ip}: only loopback is reachable");
                return self.qiopen_result(id, CmeError::ConnectFailed.code());
            }
        };
        let socket = self.new_socket();
        self.links[id] = Some(Link {
            socket,
            ctx,
            access,
            state: State::Opening,
            remote: apparent_ip(host),
            remote_port: port,
            local_port: 0,
            sent: 0,
            acked: 0,
            buffer: Vec::new(),
            total_received: 0,
            total_read: 0,
            announced: false,
        });
        self.out.push(Effect::Connect {
            socket,
            addr: SocketAddr::new(addr.ip(), addr.port()),
            timeout: Duration::from_millis(self.config.timing.connect_timeout_ms),
            kind: LinkKind::Tcp,
        });
    }

    fn qiopen_result(&mut self, id: usize, err: u16) {
        self.info(&format!("+QIOPEN: {id},{err}"));
    }

    pub(super) fn link_of(&self, socket: SocketId) -> Option<usize> {
        self.links
            .iter()
            .position(|l| l.as_ref().is_some_and(|l| l.socket == socket))
    }

    pub(super) fn connected(&mut self, socket: SocketId, local: SocketAddr) {
        let Some(id) = self.link_of(socket) else {
            return;
        };
        if let Some(link) = self.links[id].as_mut() {
            link.state = State::Connected;
            link.local_port = local.port();
        }
        self.qiopen_result(id, 0);
    }

    pub(super) fn connect_failed(&mut self, socket: SocketId) {
        let Some(id) = self.link_of(socket) else {
            return;
        };
        // A failed open leaves nothing to close, so the id is free again at once.
        self.links[id] = None;
        self.qiopen_result(id, CmeError::ConnectFailed.code());
    }

    /// The peer closed: say so once; the id stays taken (state 4) until `AT+QICLOSE`.
    pub(super) fn peer_closed(&mut self, socket: SocketId) {
        let Some(id) = self.link_of(socket) else {
            return;
        };
        if let Some(link) = self.links[id].as_mut() {
            if link.state != State::Closing {
                link.state = State::Closing;
                self.info(&format!("+QIURC: \"closed\",{id}"));
            }
        }
    }

    /// `+QISTATE: <id>,"TCP","<ip>",<rport>,<lport>,<state>,<ctx>,<server_id>,<access>,"uart1"`
    /// for each link `keep` picks, then `OK`.
    fn qistate(&mut self, keep: impl Fn(usize, &Link) -> bool) {
        let lines: Vec<String> = self
            .links
            .iter()
            .enumerate()
            .filter_map(|(id, l)| l.as_ref().filter(|l| keep(id, l)).map(|l| (id, l)))
            .map(|(id, l)| {
                let state = match l.state {
                    State::Opening => 1,
                    State::Connected => 2,
                    State::Closing => 4,
                };
                let access = match l.access {
                    Access::Buffer => 0,
                    Access::Push => 1,
                };
                format!(
                    "+QISTATE: {id},\"TCP\",\"{}\",{},{},{state},{},0,{access},\"uart1\"",
                    l.remote, l.remote_port, l.local_port, l.ctx
                )
            })
            .collect();
        if !lines.is_empty() {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            self.info_lines(&lines);
        }
        self.ok();
    }
}
