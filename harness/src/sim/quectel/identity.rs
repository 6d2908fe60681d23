//! Who the module is and how it talks: basic V.250 commands (`ATE0`/`ATE1`, `ATI`, `ATV1`,
//! `AT&D`), the identity queries (`AT+GMR`, `AT+QGMR`, `AT+GSN`, `AT+CIMI`, `AT+QCCID`,
//! `AT+CGMI`/`AT+CGMM`), `AT+CPIN?`, `AT+CMEE`, `AT+IPR`, and the settings drivers send at
//! start-up that change nothing the simulator models.

use super::{CmeError, Quectel};
use crate::sim::firmware::{int_in, Command, Form};

/// Start-up settings accepted with `OK` and otherwise ignored: flow control
/// (`AT+IFC=2,2`, FreeRTOS's BG96 init), the URC port (`AT+QURCCFG="urcport","uart1"`),
/// sleep (`AT+QSCLK=0`), and `AT+QICFG` options at their defaults.
const ACCEPTED: &[&str] = &["+IFC", "+QURCCFG", "+QSCLK", "+QICFG", "+CSCS", "+CTZU"];

impl Quectel {
    /// A basic command: the text after `AT`, not starting with `+`.
    pub(super) fn basic(&mut self, rest: &[u8]) {
        let upper = rest.to_ascii_uppercase();
        match upper.as_slice() {
            b"" | b"V1" | b"&D0" | b"&D1" | b"&D2" | b"&W" | b"&W0" => self.ok(),
            b"E0" | b"E1" => {
                self.echo = upper == b"E1";
                self.ok();
            }
            b"I" | b"I0" => {
                let lines = self.settings.model.ati();
                self.info_lines(lines);
                self.ok();
            }
            b"&F" | b"&F0" => {
                self.echo = true;
                self.cmee = 1;
                self.ok();
            }
            _ => {
                tracing::debug!("sim: `AT{}` is not emulated", String::from_utf8_lossy(rest));
                self.error();
            }
        }
    }

    /// Handles the command if it is an identity or settings one; false if it is not.
    pub(super) fn identity(&mut self, c: &Command) -> bool {
        let model = self.settings.model;
        match (c.name.as_str(), &c.form) {
            ("+GMR" | "+CGMR", Form::Exec) => {
                self.info(model.revision());
                self.ok();
            }
            ("+QGMR", Form::Exec) => {
                self.info(model.full_revision());
                self.ok();
            }
            ("+GMI" | "+CGMI", Form::Exec) => {
                self.info("Quectel");
                self.ok();
            }
            ("+GMM" | "+CGMM", Form::Exec) => {
                self.info(model.cgmm());
                self.ok();
            }
            ("+GSN" | "+CGSN", Form::Exec) => {
                let imei = self.settings.imei.clone();
                self.info(&imei);
                self.ok();
            }
            ("+CIMI", Form::Exec) => {
                let imsi = self.settings.imsi.clone();
                self.info(&imsi);
                self.ok();
            }
            ("+QCCID", Form::Exec) => {
                let line = format!("+QCCID: {}", self.settings.iccid);
                self.info(&line);
                self.ok();
            }
            ("+CPIN", Form::Query) => {
                self.info("+CPIN: READY");
                self.ok();
            }
            ("+CMEE", Form::Query) => {
                let line = format!("+CMEE: {}", self.cmee);
                self.info(&line);
                self.ok();
            }
            ("+CMEE", Form::Set(p)) => match int_in(p, 0, 0..=2) {
                Some(mode) if p.len() == 1 => {
                    self.cmee = mode as u8;
                    self.ok();
                }
                _ => self.cme(CmeError::IncorrectParameters),
            },
            ("+IPR", Form::Query) => {
                let line = format!("+IPR: {}", self.config.baud);
                self.info(&line);
                self.ok();
            }
            ("+IPR", Form::Set(_)) => self.ok(),
            ("+CFUN", _) => return self.cfun(c),
            (name, Form::Set(_) | Form::Query) if ACCEPTED.contains(&name) => self.ok(),
            _ => return false,
        }
        true
    }
}
