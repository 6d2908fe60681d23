//! Basic commands (`AT`, `ATE0/1`, `AT+RST`, `AT+RESTORE`, `AT+GMR`, `AT+UART_*`, `AT+SLEEP`,
//! `AT+SYSRAM`, `AT+SYSSTORE`) and the reboot they can cause: banner, `ready`, auto-connect.

use super::framing::Mode;
use super::line::{int_in, Command, Form, Variant};
use super::state::{Flash, Session, Wifi};
use super::{Effect, Firmware, TimerKind};
use crate::sim::boot::{self, ResetCause};
use crate::sim::config::Flavour;

/// The ESP8266 UART clock: a baud rate is realised as `APB / divider`, which is why the
/// firmware reports 115200 as `115273` in `AT+UART_CUR?`.
const UART_CLOCK: u32 = 80_000_000;

impl Firmware {
    /// Handles the command if it is a basic one; false if it is not.
    pub(super) fn basic(&mut self, c: &Command) -> bool {
        if c.name == "+UART" {
            return self.uart(c);
        }
        if c.variant != Variant::Plain {
            return false;
        }
        match (c.name.as_str(), &c.form) {
            ("", Form::Exec) => self.ok(),
            ("E0", Form::Exec) => {
                self.session.echo = false;
                self.ok();
            }
            ("E1", Form::Exec) => {
                self.session.echo = true;
                self.ok();
            }
            ("+RST", Form::Exec) => {
                self.ok();
                self.reset(ResetCause::Software, false);
            }
            ("+RESTORE", Form::Exec) => {
                self.ok();
                self.reset(ResetCause::Software, true);
            }
            ("+GMR", Form::Exec) => {
                let text = self.flavour.gmr();
                self.put(text);
            }
            ("+SLEEP", Form::Query) => {
                let line = format!("+SLEEP:{}", self.session.sleep);
                self.line(&line);
                self.ok();
            }
            ("+SLEEP", Form::Set(p)) => match int_in(p, 0, 0..=2) {
                Some(mode) if p.len() == 1 => {
                    self.session.sleep = mode;
                    self.ok();
                }
                _ => self.error(),
            },
            ("+SYSRAM", Form::Query) => {
                let line = match self.flavour {
                    Flavour::Nonos => "+SYSRAM:52936",
                    Flavour::EspAt => "+SYSRAM:62488,55860",
                };
                self.line(line);
                self.ok();
            }
            ("+SYSSTORE", Form::Query) if self.flavour == Flavour::EspAt => {
                self.line("+SYSSTORE:1");
                self.ok();
            }
            ("+SYSSTORE", Form::Set(p)) if self.flavour == Flavour::EspAt => {
                match int_in(p, 0, 0..=1) {
                    Some(_) if p.len() == 1 => self.ok(),
                    _ => self.error(),
                }
            }
            _ => return false,
        }
        true
    }

    /// `AT+UART_CUR`/`_DEF` (and NonOS's deprecated `AT+UART`, which saves like `_DEF`).
    fn uart(&mut self, c: &Command) -> bool {
        let name = match (c.variant, self.flavour) {
            (Variant::Cur, _) => "+UART_CUR",
            (Variant::Def, _) => "+UART_DEF",
            (Variant::Plain, Flavour::Nonos) => "+UART",
            (Variant::Plain, Flavour::EspAt) => return false,
        };
        match &c.form {
            Form::Query => {
                let baud = match c.variant {
                    Variant::Cur => UART_CLOCK / (UART_CLOCK / self.session.baud.max(1)).max(1),
                    Variant::Def | Variant::Plain => self.flash.baud,
                };
                let line = format!("{name}:{baud},8,1,0,0");
                self.line(&line);
                self.ok();
            }
            Form::Set(p) => {
                let valid = p.len() == 5
                    && int_in(p, 0, 110..=4_608_000).is_some()
                    && int_in(p, 1, 5..=8).is_some()
                    && int_in(p, 2, 1..=3).is_some()
                    && int_in(p, 3, 0..=2).is_some()
                    && int_in(p, 4, 0..=3).is_some();
                let Some(baud) = int_in(p, 0, 110..=4_608_000).filter(|_| valid) else {
                    self.error();
                    return true;
                };
                let baud = baud as u32;
                // OK still leaves at the old rate; the new one applies after it.
                self.ok();
                if c.variant != Variant::Cur {
                    self.flash.baud = baud;
                }
                if c.variant != Variant::Def {
                    self.session.baud = baud;
                    self.out.push(Effect::Baud(baud));
                }
            }
            Form::Exec | Form::Test => self.error(),
        }
        true
    }

    /// Restarts: links vanish (their sockets close, nothing is printed), then after the boot
    /// time the banner and `ready` appear. `factory` also wipes flash (`AT+RESTORE`).
    pub(super) fn reset(&mut self, cause: ResetCause, factory: bool) {
        for slot in self.session.links.iter_mut() {
            if let Some(link) = slot.take() {
                self.out.push(Effect::Close {
                    socket: link.socket,
                });
            }
        }
        if self.session.server.take().is_some() {
            self.out.push(Effect::Unlisten);
        }
        if factory {
            self.flash = Flash::factory(&self.config);
        }
        self.epoch += 1;
        self.passthrough_reset();
        self.mode = Mode::Booting(cause);
        let boot_ms = self.config.timing.boot_ms;
        self.wake(boot_ms, TimerKind::Booted);
    }

    pub(super) fn booted(&mut self) {
        let Mode::Booting(cause) = self.mode else {
            return;
        };
        let was = self.session.baud;
        self.session = Session::boot(&self.flash, &self.config);
        if was != self.session.baud {
            self.out.push(Effect::Baud(self.session.baud));
        }
        let banner = boot::banner(cause, self.session.baud);
        self.put(&banner);
        self.put(b"\r\nready\r\n");
        self.mode = Mode::command();
        self.auto_join();
    }

    /// With saved credentials and auto-connect on, the station joins by itself after boot and
    /// says so unprompted (`WIFI CONNECTED`, `WIFI GOT IP`, no `OK`).
    fn auto_join(&mut self) {
        let Some(saved) = self.flash.join.clone() else {
            return;
        };
        if !self.flash.autoconn || !self.session.station_enabled() {
            return;
        }
        let timing = self.config.timing.clone();
        match self.join_outcome(&saved.ssid, &saved.password, None) {
            Ok(ap) => self.wake(timing.join_ms, TimerKind::AutoAssociated(ap)),
            Err(_) => self.wake(timing.join_fail_ms, TimerKind::AutoFailed),
        }
    }

    pub(super) fn auto_associated(&mut self, ap: usize) {
        self.line("WIFI CONNECTED");
        let got_ip_ms = self.config.timing.got_ip_ms;
        self.wake(got_ip_ms, TimerKind::AutoGotIp(ap));
    }

    pub(super) fn auto_got_ip(&mut self, ap: usize) {
        self.line("WIFI GOT IP");
        self.session.wifi = Wifi::Joined { ap };
        self.session.had_link = false;
    }

    pub(super) fn auto_failed(&mut self) {
        self.session.wifi = Wifi::Lost;
        self.line("WIFI DISCONNECT");
    }
}
