//! PDP contexts: `AT+QICSGP` (APN and credentials, any accepted: the lab's network has no
//! APN to get wrong), `AT+QIACT=<ctx>` (blocking for `settings.activation_ms`, only once
//! registered), `AT+QIACT?`, `AT+QIDEACT=<ctx>` (closes the context's sockets).

use super::framing::Mode;
use super::{CmeError, Quectel, WakeKind};
use crate::sim::firmware::{int_in, Command, Effect, Form, Param};

/// Context ids run 1..=16 (BG96 TCP/IP manual; the EC20 takes the same range).
pub const CONTEXTS: usize = 16;

/// One PDP context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// `<context_type>` 1 IPv4, 2 IPv6, 3 IPv4v6; 0 while never configured (shown as 1).
    pub kind: i64,
    pub apn: String,
    pub user: String,
    pub password: String,
    pub auth: i64,
    pub active: bool,
}

impl Quectel {
    /// Handles the command if it is a PDP one; false if it is not.
    pub(super) fn pdp(&mut self, c: &Command) -> bool {
        match (c.name.as_str(), &c.form) {
            ("+QICSGP", Form::Set(p)) => self.qicsgp(p),
            ("+QIACT", Form::Set(p)) => match int_in(p, 0, 1..=CONTEXTS as i64) {
                Some(ctx) if p.len() == 1 => self.qiact(ctx as usize),
                _ => self.cme(CmeError::InvalidParams),
            },
            ("+QIACT", Form::Query) => {
                let ip = self.settings.pdp_ip;
                let lines: Vec<String> = (1..=CONTEXTS)
                    .filter(|&ctx| self.contexts[ctx].active)
                    .map(|ctx| {
                        let kind = self.contexts[ctx].kind.max(1);
                        format!("+QIACT: {ctx},1,{kind},\"{ip}\"")
                    })
                    .collect();
                if !lines.is_empty() {
                    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
                    self.info_lines(&lines);
                }
                self.ok();
            }
            ("+QIDEACT", Form::Set(p)) => match int_in(p, 0, 1..=CONTEXTS as i64) {
                Some(ctx) if p.len() == 1 => {
                    self.deactivate(ctx as usize);
                    self.ok();
                }
                _ => self.cme(CmeError::InvalidParams),
            },
            _ => return false,
        }
        true
    }

    /// `AT+QICSGP=<ctx>` shows the context; `AT+QICSGP=<ctx>,<type>,"<apn>","<user>","<pass>"[,<auth>]`
    /// sets it.
    fn qicsgp(&mut self, p: &[Param]) {
        let Some(ctx) = int_in(p, 0, 1..=CONTEXTS as i64).map(|c| c as usize) else {
            return self.cme(CmeError::InvalidParams);
        };
        if p.len() == 1 {
            let c = &self.contexts[ctx];
            let line = format!(
                "+QICSGP: {},\"{}\",\"{}\",\"{}\",{}",
                c.kind.max(1),
                c.apn,
                c.user,
                c.password,
                c.auth
            );
            self.info(&line);
            return self.ok();
        }
        let text = |i: usize| match p.get(i) {
            None | Some(Param::Empty) => Some(String::new()),
            Some(Param::Str(s)) => Some(s.clone()),
            Some(Param::Int(_)) => None,
        };
        let auth = match p.get(5) {
            None | Some(Param::Empty) => Some(0),
            Some(_) => int_in(p, 5, 0..=3),
        };
        match (int_in(p, 1, 1..=3), text(2), text(3), text(4), auth) {
            (Some(kind), Some(apn), Some(user), Some(password), Some(auth)) if p.len() <= 6 => {
                self.contexts[ctx] = Context {
                    kind,
                    apn,
                    user,
                    password,
                    auth,
                    active: self.contexts[ctx].active,
                };
                self.ok();
            }
            _ => self.cme(CmeError::InvalidParams),
        }
    }

    fn qiact(&mut self, ctx: usize) {
        if !self.registered {
            return self.cme(CmeError::NoNetwork);
        }
        if self.contexts[ctx].active {
            // Activating an active context is refused (RT-Thread's ec20 init sends
            // `AT+QIDEACT=1` first for this reason).
            return self.error();
        }
        self.mode = Mode::Busy;
        self.wake(self.settings.activation_ms, WakeKind::Activated(ctx));
    }

    pub(super) fn activated(&mut self, ctx: usize) {
        self.contexts[ctx].active = true;
        self.mode = Mode::command();
        self.ok();
    }

    /// The context goes down with every socket on it; nothing more is printed about them.
    fn deactivate(&mut self, ctx: usize) {
        self.contexts[ctx].active = false;
        for slot in self.links.iter_mut() {
            if slot.as_ref().is_some_and(|l| l.ctx == ctx) {
                if let Some(link) = slot.take() {
                    self.out.push(Effect::Close {
                        socket: link.socket,
                    });
                }
            }
        }
    }
}
