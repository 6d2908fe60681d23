//! TCP/IP commands: `AT+CIPMUX`, `AT+CIPSTART` (a real TCP connect or UDP socket through the
//! name map), `AT+CIPCLOSE`, `AT+CIPSTATUS`, `AT+CIPDOMAIN`, and the link settings drivers set
//! at start-up (`AT+CIPDINFO`, `AT+CIPMODE`, `AT+CIPSTO`, `AT+CIPDNS`, `AT+CIPRECVMODE`). The
//! TCP server (`AT+CIPSERVER`) is in `server.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use super::framing::{Mode, Pending};
use super::line::{int_in, Command, Form, Param, Variant};
use super::state::{Link, LINKS};
use super::{Effect, Firmware, LinkKind, SocketId};
use crate::sim::config::Flavour;
use crate::sim::names::{apparent_ip, Lookup};

/// The DNS server NonOS starts with before DHCP offers one.
const DEFAULT_DNS: &str = "208.67.222.222";

impl Firmware {
    /// Handles the command if it is a TCP/IP one; false if it is not.
    pub(super) fn tcpip(&mut self, c: &Command) -> bool {
        let plain = c.variant == Variant::Plain;
        match (c.name.as_str(), &c.form) {
            ("+CIPMUX", Form::Query) if plain => {
                let line = format!("+CIPMUX:{}", u8::from(self.session.mux));
                self.line(&line);
                self.ok();
            }
            ("+CIPMUX", Form::Set(p)) if plain => self.cipmux(p),
            ("+CIPSTART", Form::Set(p)) if plain => self.cipstart(p),
            ("+CIPCLOSE", Form::Exec | Form::Set(_)) if plain => self.cipclose(&c.form),
            ("+CIPSTATUS", Form::Exec) if plain => self.cipstatus(),
            ("+CIPSEND", Form::Exec) if plain => self.enter_passthrough(),
            ("+CIPSEND" | "+CIPSENDEX", Form::Set(p)) if plain => {
                let ex = c.name == "+CIPSENDEX";
                self.cipsend(p, ex);
            }
            ("+CIPDINFO", Form::Set(p)) if plain => match int_in(p, 0, 0..=1) {
                Some(on) if p.len() == 1 => {
                    self.session.dinfo = on == 1;
                    self.ok();
                }
                _ => self.error(),
            },
            ("+CIPDINFO", Form::Query) if plain && self.flavour == Flavour::EspAt => {
                let line = format!(
                    "+CIPDINFO:{}",
                    if self.session.dinfo { "true" } else { "false" }
                );
                self.line(&line);
                self.ok();
            }
            ("+CIPMODE", Form::Query) if plain => {
                let line = format!("+CIPMODE:{}", u8::from(self.session.cipmode));
                self.line(&line);
                self.ok();
            }
            // Passthrough (`passthrough.rs`) works on the single connection only.
            ("+CIPMODE", Form::Set(p)) if plain => match int_in(p, 0, 0..=1) {
                Some(mode) if p.len() == 1 && !(mode == 1 && self.session.mux) => {
                    self.session.cipmode = mode == 1;
                    self.ok();
                }
                _ => self.error(),
            },
            ("+CIPSTO", Form::Query) if plain => {
                let line = format!("+CIPSTO:{}", self.session.server_timeout);
                self.line(&line);
                self.ok();
            }
            ("+CIPSTO", Form::Set(p)) if plain => match int_in(p, 0, 0..=7200) {
                Some(s) if p.len() == 1 => {
                    self.session.server_timeout = s;
                    self.ok();
                }
                _ => self.error(),
            },
            ("+CIPSERVER", Form::Set(p)) if plain => self.cipserver(p),
            ("+CIPDOMAIN", Form::Set(p)) if plain => self.cipdomain(p),
            ("+CIPDNS", Form::Query) if self.dns_variant_ok(c.variant) => {
                let text = match self.flavour {
                    Flavour::Nonos => {
                        format!("{}:{DEFAULT_DNS}", super::wifi::shown(c, self.flavour))
                    }
                    Flavour::EspAt => format!("+CIPDNS:0,\"{DEFAULT_DNS}\""),
                };
                self.line(&text);
                self.ok();
            }
            ("+CIPDNS", Form::Set(p)) if self.dns_variant_ok(c.variant) => {
                let servers_ok = p[1..].iter().all(|s| {
                    s.str()
                        .is_some_and(|s| s.parse::<std::net::Ipv4Addr>().is_ok())
                });
                match int_in(p, 0, 0..=1) {
                    Some(_) if servers_ok && p.len() <= 4 => self.ok(),
                    _ => self.error(),
                }
            }
            ("+CIPRECVMODE", Form::Query) if plain => {
                let line = format!("+CIPRECVMODE:{}", u8::from(self.session.passive));
                self.line(&line);
                self.ok();
            }
            ("+CIPRECVMODE", Form::Set(p)) if plain => match int_in(p, 0, 0..=1) {
                Some(mode) if p.len() == 1 => {
                    self.session.passive = mode == 1;
                    self.ok();
                }
                _ => self.error(),
            },
            ("+CIPRECVDATA", Form::Set(p)) if plain => self.ciprecvdata(p),
            ("+CIPRECVLEN", Form::Query) if plain => self.ciprecvlen(),
            ("+CIPSSLSIZE", Form::Set(p)) if plain && self.flavour == Flavour::Nonos => {
                match int_in(p, 0, 2048..=4096) {
                    Some(_) if p.len() == 1 => self.ok(),
                    _ => self.error(),
                }
            }
            _ => return false,
        }
        true
    }

    /// NonOS has only `AT+CIPDNS_CUR`/`_DEF`; ESP-AT only `AT+CIPDNS`.
    fn dns_variant_ok(&self, variant: Variant) -> bool {
        match self.flavour {
            Flavour::Nonos => variant != Variant::Plain,
            Flavour::EspAt => variant == Variant::Plain,
        }
    }

    fn cipmux(&mut self, p: &[Param]) {
        let Some(mode) = int_in(p, 0, 0..=1).filter(|_| p.len() == 1) else {
            return self.error();
        };
        if self.session.any_link() {
            // F1 `link is builded\r\n`: the mode cannot change while a link is open.
            return self.fail(b"link is builded\r\n");
        }
        if mode == 1 && self.session.cipmode {
            // Multiple links and passthrough exclude each other (`at-dialects.md` §2.5).
            return self.error();
        }
        if mode == 0 && self.session.server.is_some() {
            // The server needs multiple links; it must be deleted first.
            return self.error();
        }
        self.session.mux = mode == 1;
        self.ok();
    }

    fn cipstart(&mut self, p: &[Param]) {
        let (id, rest) = if self.session.mux {
            match p.first().and_then(Param::int) {
                Some(id) if (0..LINKS as i64).contains(&id) => (id as usize, &p[1..]),
                Some(_) => return self.fail(b"ID ERROR\r\n"),
                None => return self.error(),
            }
        } else {
            (0, p)
        };
        let (Some(kind), Some(host), Some(port)) = (
            rest.first().and_then(Param::str),
            rest.get(1).and_then(Param::str),
            int_in(rest, 2, 1..=65535),
        ) else {
            return self.error();
        };
        let kind = match kind {
            // `"TCP",<host>,<port>[,<keepalive>]`
            "TCP" => {
                let keepalive_ok = match rest.get(3) {
                    None => true,
                    Some(_) => int_in(rest, 3, 0..=7200).is_some() && rest.len() == 4,
                };
                if !keepalive_ok || rest.len() > 4 {
                    return self.error();
                }
                LinkKind::Tcp
            }
            // `"UDP",<host>,<port>[,<local port>[,<mode 0..2>]]`: the mode only says whether
            // the remote may change, and a datagram from elsewhere never reaches this link.
            "UDP" => {
                let local_port = match rest.get(3) {
                    None | Some(Param::Empty) => Some(0),
                    Some(_) => int_in(rest, 3, 1..=65535),
                };
                let mode_ok = rest.get(4).is_none() || int_in(rest, 4, 0..=2).is_some();
                match local_port {
                    Some(local_port) if mode_ok && rest.len() <= 5 => LinkKind::Udp {
                        local_port: local_port as u16,
                    },
                    _ => return self.error(),
                }
            }
            "SSL" => {
                tracing::debug!("sim: SSL links are not emulated; answering ERROR");
                return self.error();
            }
            _ => return self.fail(b"Link type ERROR\r\n"),
        };
        if self.session.joined().is_none() {
            return self.fail(b"no ip\r\n");
        }
        if self.session.links[id].is_some() {
            // Same answer whatever the parameters (RaceCapture #867), and on the AT port in
            // both flavours: unlike the `\r`-ended reason lines ESP-AT sends to its log port,
            // `ALREADY CONNECTED` is a reply drivers match (`at-dialects.md` §2.5).
            self.put(b"ALREADY CONNECTED\r\n");
            return self.error();
        }
        let port = port as u16;
        match self.config.names.resolve(host, port) {
            Lookup::Found(addr) => {
                let remote = SocketAddr::new(apparent_ip(host), port);
                self.start_connect(id, addr, remote, kind);
            }
            Lookup::NotFound => self.fail(b"DNS Fail\r\n"),
            Lookup::Refused(ip) => {
                // Off-loopback addresses are never contacted: it fails as a refused connect.
                tracing::debug!("sim: refusing to contact {ip} (only 127.0.0.0/8 is reachable)");
                self.error();
                self.closed_line(id);
            }
        }
    }

    fn start_connect(&mut self, link: usize, addr: SocketAddr, remote: SocketAddr, kind: LinkKind) {
        let socket = self.new_socket();
        let timeout = Duration::from_millis(self.config.timing.connect_timeout_ms);
        self.out.push(Effect::Connect {
            socket,
            addr,
            timeout,
            kind,
        });
        self.mode = Mode::Busy(Pending::Connect {
            link,
            socket,
            remote,
            kind,
        });
    }

    /// The handshake finished. The socket's real peer is the name map's loopback target; the
    /// link keeps the address the module dialled instead.
    pub(super) fn connected(&mut self, socket: SocketId, local: SocketAddr, _peer: SocketAddr) {
        let Mode::Busy(Pending::Connect {
            link,
            socket: want,
            remote,
            kind,
        }) = self.mode
        else {
            return self.out.push(Effect::Close { socket });
        };
        if want != socket {
            return self.out.push(Effect::Close { socket });
        }
        self.mode = Mode::command();
        self.session.links[link] = Some(Link {
            socket,
            remote,
            local,
            kind,
            accepted: false,
            sent: 0,
            received: 0,
            buffer: Vec::new(),
            announced: false,
            peer_closed: false,
        });
        self.session.had_link = true;
        let line = if self.session.mux {
            format!("{link},CONNECT")
        } else {
            "CONNECT".to_string()
        };
        self.line(&line);
        self.ok();
    }

    /// Refused or timed out: `ERROR` then the link's `CLOSED` (logic-analyser capture of
    /// ESP-AT; the sim prints NonOS the same way).
    pub(super) fn connect_failed(&mut self, socket: SocketId) {
        let Mode::Busy(Pending::Connect {
            link, socket: want, ..
        }) = self.mode
        else {
            return;
        };
        if want == socket {
            self.mode = Mode::command();
            self.error();
            self.closed_line(link);
        }
    }

    fn cipclose(&mut self, form: &Form) {
        let id = match (form, self.session.mux) {
            (Form::Exec, false) => 0,
            (Form::Set(p), true) => match int_in(p, 0, 0..=LINKS as i64).filter(|_| p.len() == 1) {
                Some(id) => id as usize,
                None => return self.error(),
            },
            (Form::Exec, true) => return self.fail(b"MUX=1\r\n"),
            (Form::Set(_), false) => return self.fail(b"MUX=0\r\n"),
            (Form::Query | Form::Test, _) => return self.error(),
        };
        if id == LINKS {
            // Id 5 closes every link.
            for id in 0..LINKS {
                self.drop_link(id);
            }
            return self.ok();
        }
        if self.session.links[id].is_none() {
            // NonOS `UNLINK` + `ERROR` on a closed link: success in disguise for drivers.
            return self.fail(b"UNLINK\r\n");
        }
        self.drop_link(id);
        self.ok();
    }

    fn cipstatus(&mut self) {
        let s = &self.session;
        let stat = match s.joined() {
            None if s.wifi == super::state::Wifi::NeverJoined => {
                self.flavour.status_never_joined(s.wifi_mode)
            }
            None => 5,
            Some(_) if s.any_link() => 3,
            Some(_) if s.had_link => 4,
            Some(_) => 2,
        };
        let mut text = format!("STATUS:{stat}\r\n");
        for (id, link) in s.links.iter().enumerate() {
            if let Some(link) = link {
                let kind = match link.kind {
                    LinkKind::Tcp => "TCP",
                    LinkKind::Udp { .. } => "UDP",
                };
                text.push_str(&format!(
                    "+CIPSTATUS:{id},\"{kind}\",\"{}\",{},{},{}\r\n",
                    link.remote.ip(),
                    link.remote.port(),
                    link.local.port(),
                    u8::from(link.accepted)
                ));
            }
        }
        self.put(text.as_bytes());
        self.ok();
    }

    fn cipdomain(&mut self, p: &[Param]) {
        let Some(host) = p.first().and_then(Param::str) else {
            return self.error();
        };
        match self.config.names.resolve(host, 0) {
            // What the module's DNS answered, never the name map's loopback target; a literal
            // IP resolves to itself without any lookup (nothing is contacted).
            Lookup::Found(_) | Lookup::Refused(_) if self.session.joined().is_some() => {
                let ip = apparent_ip(host);
                let line = match self.flavour {
                    Flavour::Nonos => format!("+CIPDOMAIN:{ip}"),
                    Flavour::EspAt => format!("+CIPDOMAIN:\"{ip}\""),
                };
                self.line(&line);
                self.ok();
            }
            Lookup::Found(_) | Lookup::NotFound | Lookup::Refused(_) => self.fail(b"DNS Fail\r\n"),
        }
    }
}
