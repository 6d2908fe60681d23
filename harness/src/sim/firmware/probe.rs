//! Commands drivers probe the module with around its links: `AT+PING` through the name map, and
//! ESP-AT's SSL client settings `AT+CIPSSLCCONF` (queried by Adafruit's `begin()` when
//! `AT+CIPSSLSIZE` fails, which it does on ESP-AT).

use super::line::{int_in, Command, Form, Param, Variant};
use super::state::LINKS;
use super::Firmware;
use crate::sim::config::Flavour;
use crate::sim::names::Lookup;

/// What `AT+PING` reports for a host the name map reaches. The firmware prints whole
/// milliseconds and a loopback round trip takes well under one.
const LOOPBACK_PING_MS: u32 = 1;

impl Firmware {
    /// Handles the command if it is one of these; false if it is not.
    pub(super) fn probe(&mut self, c: &Command) -> bool {
        if c.variant != Variant::Plain {
            return false;
        }
        match (c.name.as_str(), &c.form) {
            ("+PING", Form::Set(p)) => self.ping(p),
            ("+CIPSSLCCONF", Form::Query) if self.flavour == Flavour::EspAt => {
                // Every link starts with no authentication and the first PKI/CA slots
                // (`TCP-IP_AT_Commands.rst` of v2.2.1.0_esp8266: `+CIPSSLCCONF:<link ID>,
                // <auth_mode>,<pki_number>,<ca_number>`).
                let links = if self.session.mux { LINKS } else { 1 };
                let text: String = (0..links)
                    .map(|id| format!("+CIPSSLCCONF:{id},0,0,0\r\n"))
                    .collect();
                self.put(text.as_bytes());
                self.ok();
            }
            ("+CIPSSLCCONF", Form::Set(p)) if self.flavour == Flavour::EspAt => {
                let first = usize::from(self.session.mux);
                let valid = (!self.session.mux || int_in(p, 0, 0..=LINKS as i64).is_some())
                    && int_in(p, first, 0..=3).is_some()
                    && p.len() <= first + 3
                    && p[first + 1..].iter().all(|n| n.int().is_some());
                if valid {
                    self.ok();
                } else {
                    self.error();
                }
            }
            _ => return false,
        }
        true
    }

    /// `AT+PING="<host>"`: NonOS answers `+<ms>`, ESP-AT `+PING:<ms>`, then `OK`
    /// (`at-dialects.md` §4 item 17; ESP-AT's `+PING:TIMEOUT` literal for a host that does not
    /// answer). Hosts off loopback are never contacted, so they time out.
    fn ping(&mut self, p: &[Param]) {
        let Some(host) = p.first().and_then(Param::str).filter(|_| p.len() == 1) else {
            return self.error();
        };
        if self.session.joined().is_none() {
            return self.error();
        }
        match self.config.names.resolve(host, 0) {
            Lookup::Found(_) => {
                let line = match self.flavour {
                    Flavour::Nonos => format!("+{LOOPBACK_PING_MS}"),
                    Flavour::EspAt => format!("+PING:{LOOPBACK_PING_MS}"),
                };
                self.line(&line);
                self.ok();
            }
            Lookup::NotFound | Lookup::Refused(_) => {
                if self.flavour == Flavour::EspAt {
                    self.line("+PING:TIMEOUT");
                }
                self.error();
            }
        }
    }
}
