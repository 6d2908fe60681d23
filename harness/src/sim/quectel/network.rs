//! The cellular network as the module sees it: registration `settings.registration_ms` after
//! power-on (searching until then), `AT+CREG`/`AT+CGREG`/`AT+CEREG` (query and the URC
//! switch), `AT+CSQ`, `AT+COPS?`.

use super::{CmeError, Quectel};
use crate::sim::firmware::{int_in, Command, Form};

/// The registration commands in `reg_urc` order.
const REG: [&str; 3] = ["+CREG", "+CGREG", "+CEREG"];
/// The made-up cell of `<n>` = 2's location fields (tracking area code, cell id).
const CELL: (&str, &str) = ("1A2B", "0C3D4E5");

impl Quectel {
    /// The `<stat>` field: 2 searching, then 1 home or 5 roaming.
    fn reg_stat(&self) -> u8 {
        match (self.registered, self.settings.roaming) {
            (false, _) => 2,
            (true, false) => 1,
            (true, true) => 5,
        }
    }

    /// The search found a cell: each registration URC that is switched on reports it.
    pub(super) fn registered(&mut self) {
        self.registered = true;
        let stat = self.reg_stat();
        for (i, name) in REG.iter().enumerate() {
            match self.reg_urc[i] {
                0 => {}
                1 => self.info(&format!("{name}: {stat}")),
                _ => {
                    let (tac, ci) = CELL;
                    let act = self.settings.model.act();
                    self.info(&format!("{name}: {stat},\"{tac}\",\"{ci}\",{act}"));
                }
            }
        }
    }

    /// Handles the command if it is a network one; false if it is not.
    pub(super) fn network(&mut self, c: &Command) -> bool {
        if let Some(i) = REG.iter().position(|n| *n == c.name) {
            match &c.form {
                Form::Query => {
                    let (n, stat) = (self.reg_urc[i], self.reg_stat());
                    let line = if n == 2 && self.registered {
                        let (tac, ci) = CELL;
                        let act = self.settings.model.act();
                        format!("{}: {n},{stat},\"{tac}\",\"{ci}\",{act}", REG[i])
                    } else {
                        format!("{}: {n},{stat}", REG[i])
                    };
                    self.info(&line);
                    self.ok();
                }
                Form::Set(p) => match int_in(p, 0, 0..=2) {
                    Some(n) if p.len() == 1 => {
                        self.reg_urc[i] = n as u8;
                        self.ok();
                    }
                    _ => self.cme(CmeError::IncorrectParameters),
                },
                Form::Exec | Form::Test => self.error(),
            }
            return true;
        }
        match (c.name.as_str(), &c.form) {
            ("+CSQ", Form::Exec) => {
                let line = if self.registered {
                    format!("+CSQ: {},99", self.settings.rssi)
                } else {
                    "+CSQ: 99,99".to_string()
                };
                self.info(&line);
                self.ok();
            }
            ("+COPS", Form::Query) => {
                let line = if self.registered {
                    format!(
                        "+COPS: 0,0,\"{}\",{}",
                        self.settings.operator,
                        self.settings.model.act()
                    )
                } else {
                    "+COPS: 0".to_string()
                };
                self.info(&line);
                self.ok();
            }
            // Automatic selection is what the module does anyway.
            ("+COPS", Form::Set(p)) if int_in(p, 0, 0..=0).is_some() => self.ok(),
            _ => return false,
        }
        true
    }
}
