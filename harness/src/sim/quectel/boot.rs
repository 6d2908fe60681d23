//! Power cycles: [`Quectel::reboot`] (the reset pin, `AT+CFUN=1,1`) drops every socket and
//! context and goes quiet for the boot time; then the boot URCs come in the model's order and
//! the network search starts again. `AT+CFUN` itself lives here too.

use super::framing::Mode;
use super::pdp::Context;
use super::{Quectel, WakeKind};
use crate::sim::firmware::{int_in, Command, Effect, Form};

impl Quectel {
    /// Everything this boot knew is gone; the UART wakes after `timing.boot_ms`.
    pub(super) fn reboot(&mut self) {
        self.epoch += 1;
        for link in self.links.iter_mut().filter_map(Option::take) {
            self.out.push(Effect::Close {
                socket: link.socket,
            });
        }
        self.contexts.fill(Context::default());
        self.registered = false;
        self.echo = self.config.echo;
        self.cmee = 1;
        self.reg_urc = [0; 3];
        self.mode = Mode::Booting;
        self.wake(self.config.timing.boot_ms, WakeKind::Booted);
    }

    /// The boot URCs: `RDY`, on models that print it `APP RDY` (the bytes
    /// `\r\nRDY\r\n\r\nAPP RDY\r\n` quoted by `quectel-bg9x-eh-driver`), then the SIM's
    /// `+CPIN: READY`, `+QUSIM: 1`, `+QIND: SMS DONE`, `+QIND: PB DONE` (the QI dialect notes'
    /// boot order). Each is its own `\r\n<text>\r\n`.
    pub(super) fn booted(&mut self) {
        self.mode = Mode::command();
        self.info("RDY");
        if self.settings.app_rdy() {
            self.info("APP RDY");
        }
        for urc in [
            "+CPIN: READY",
            "+QUSIM: 1",
            "+QIND: SMS DONE",
            "+QIND: PB DONE",
        ] {
            self.info(urc);
        }
        self.wake(self.settings.registration_ms, WakeKind::Registered);
    }

    /// `AT+CFUN?`, `AT+CFUN=1` and the reboot `AT+CFUN=1,1`; other levels (0, 4: radio off)
    /// are not emulated.
    pub(super) fn cfun(&mut self, c: &Command) -> bool {
        match (c.name.as_str(), &c.form) {
            ("+CFUN", Form::Query) => {
                self.info("+CFUN: 1");
                self.ok();
            }
            ("+CFUN", Form::Set(p)) => match (int_in(p, 0, 0..=4), p.get(1)) {
                (Some(1), None) => self.ok(),
                (Some(1), Some(_)) if int_in(p, 1, 0..=1) == Some(1) => {
                    self.ok();
                    if self.settings.model.says_powered_down() {
                        // The BG96 log: `OK`, `POWERED DOWN`, then a context still up reports
                        // its loss, then `RDY`.
                        self.info("POWERED DOWN");
                        let active: Vec<usize> = (1..self.contexts.len())
                            .filter(|&ctx| self.contexts[ctx].active)
                            .collect();
                        for ctx in active {
                            self.info(&format!("+QIURC: \"pdpdeact\",{ctx}"));
                        }
                    }
                    self.reboot();
                }
                (Some(1), Some(_)) => self.ok(),
                _ => self.cme(super::CmeError::NotSupported),
            },
            _ => return false,
        }
        true
    }
}
