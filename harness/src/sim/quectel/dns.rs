//! `AT+QIDNSGIP=<ctx>,"<host>"`: `OK` at once, then `+QIURC: "dnsgip",<err>,<count>,<ttl>`
//! and one `+QIURC: "dnsgip","<ip>"` per address (the EC200U log: `0,1,0` then the address).
//! The lab's name map answers; the address shown is the name's apparent one, as for sockets.

use super::{CmeError, Quectel};
use crate::sim::firmware::{int_in, Command, Form, Param};
use crate::sim::names::{apparent_ip, Lookup};

impl Quectel {
    /// Handles the command if it is `AT+QIDNSGIP`; false if it is not.
    pub(super) fn dns(&mut self, c: &Command) -> bool {
        let ("+QIDNSGIP", Form::Set(p)) = (c.name.as_str(), &c.form) else {
            return false;
        };
        let (Some(ctx), Some(host)) = (
            int_in(p, 0, 1..=super::pdp::CONTEXTS as i64),
            p.get(1).and_then(Param::str),
        ) else {
            self.cme(CmeError::InvalidParams);
            return true;
        };
        if p.len() != 2 {
            self.cme(CmeError::InvalidParams);
            return true;
        }
        let host = host.to_string();
        self.ok();
        if !self.contexts[ctx as usize].active {
            self.info(&format!(
                "+QIURC: \"dnsgip\",{}",
                CmeError::PdpOpenFailed.code()
            ));
            return true;
        }
        match self.config.names.resolve(&host, 0) {
            Lookup::Found(_) | Lookup::Refused(_) => {
                self.info("+QIURC: \"dnsgip\",0,1,0");
                self.info(&format!("+QIURC: \"dnsgip\",\"{}\"", apparent_ip(&host)));
            }
            Lookup::NotFound => {
                self.info(&format!(
                    "+QIURC: \"dnsgip\",{}",
                    CmeError::DnsFailed.code()
                ));
            }
        }
        true
    }
}
