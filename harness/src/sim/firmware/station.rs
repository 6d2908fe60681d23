//! Station settings drivers query and set at start-up: `AT+CIFSR`, `AT+CIPSTA`, the MACs,
//! `AT+CWHOSTNAME`, `AT+CWAUTOCONN`, `AT+CWDHCP`, `AT+CWCOUNTRY`.

use super::line::{int_in, Command, Form, Param, Variant};
use super::wifi::shown;
use super::Firmware;
use crate::sim::config::{parse_mac, Flavour};

impl Firmware {
    /// Handles the command if it is a station setting; false if it is not.
    pub(super) fn station(&mut self, c: &Command) -> bool {
        let cur_def = self.flavour.has_cur_def();
        let plain = c.variant == Variant::Plain;
        match c.name.as_str() {
            "+CIFSR" if plain => match c.form {
                Form::Exec => self.cifsr(),
                Form::Query | Form::Test | Form::Set(_) => self.error(),
            },
            "+CWAUTOCONN" if plain => match &c.form {
                Form::Query => {
                    let line = format!("+CWAUTOCONN:{}", u8::from(self.flash.autoconn));
                    self.line(&line);
                    self.ok();
                }
                Form::Set(p) if p.len() == 1 => match int_in(p, 0, 0..=1) {
                    Some(on) => {
                        self.flash.autoconn = on == 1;
                        self.ok();
                    }
                    None => self.error(),
                },
                Form::Set(_) | Form::Exec | Form::Test => self.error(),
            },
            "+CWDHCP" if plain || cur_def => match &c.form {
                Form::Query => {
                    let line = format!("{}:3", shown(c, self.flavour));
                    self.line(&line);
                    self.ok();
                }
                // NonOS `<mode 0..2>,<en>`; ESP-AT `<operate>,<mode 1..3>`.
                Form::Set(p) if p.len() == 2 && int_in(p, 0, 0..=2).is_some() => {
                    match int_in(p, 1, 0..=3) {
                        Some(_) => self.ok(),
                        None => self.error(),
                    }
                }
                Form::Set(_) | Form::Exec | Form::Test => self.error(),
            },
            "+CIPSTA" if plain || cur_def => match &c.form {
                Form::Query => {
                    let name = shown(c, self.flavour);
                    let zero = std::net::Ipv4Addr::UNSPECIFIED;
                    let joined = self.session.joined().is_some();
                    let s = &self.session;
                    let (ip, gw, mask) = if joined {
                        (s.ip, s.gateway, s.netmask)
                    } else {
                        (zero, zero, zero)
                    };
                    let text = format!(
                        "{name}:ip:\"{ip}\"\r\n{name}:gateway:\"{gw}\"\r\n{name}:netmask:\"{mask}\""
                    );
                    self.line(&text);
                    self.ok();
                }
                Form::Set(p) => match p
                    .iter()
                    .map(|p| p.str()?.parse().ok())
                    .collect::<Option<Vec<_>>>()
                {
                    Some(addrs) if matches!(addrs.len(), 1 | 3) => {
                        self.session.ip = addrs[0];
                        if let [_, gw, mask] = addrs[..] {
                            self.session.gateway = gw;
                            self.session.netmask = mask;
                        }
                        self.ok();
                    }
                    _ => self.error(),
                },
                Form::Exec | Form::Test => self.error(),
            },
            "+CIPSTAMAC" | "+CIPAPMAC" if plain || cur_def => {
                let station = c.name == "+CIPSTAMAC";
                match &c.form {
                    Form::Query => {
                        let mac = if station {
                            &self.session.sta_mac
                        } else {
                            &self.session.ap_mac
                        };
                        let line = format!("{}:\"{mac}\"", shown(c, self.flavour));
                        self.line(&line);
                        self.ok();
                    }
                    Form::Set(p) => match p
                        .first()
                        .and_then(Param::str)
                        .filter(|m| parse_mac(m).is_some())
                    {
                        Some(mac) if p.len() == 1 => {
                            let mac = mac.to_lowercase();
                            if station {
                                self.session.sta_mac = mac;
                            } else {
                                self.session.ap_mac = mac;
                            }
                            self.ok();
                        }
                        _ => self.error(),
                    },
                    Form::Exec | Form::Test => self.error(),
                }
            }
            "+CWHOSTNAME" if plain => match &c.form {
                Form::Query => {
                    let line = format!("+CWHOSTNAME:{}", self.session.hostname);
                    self.line(&line);
                    self.ok();
                }
                Form::Set(p) => match p.first().and_then(Param::str) {
                    Some(name)
                        if p.len() == 1 && !name.is_empty() && self.session.station_enabled() =>
                    {
                        self.session.hostname = name.to_string();
                        self.ok();
                    }
                    _ => self.error(),
                },
                Form::Exec | Form::Test => self.error(),
            },
            "+CWCOUNTRY" if (plain && self.flavour == Flavour::EspAt) || (!plain && cur_def) => {
                match &c.form {
                    Form::Set(p) if p.len() == 4 && p[1].str().is_some() => self.ok(),
                    Form::Set(_) | Form::Query | Form::Exec | Form::Test => self.error(),
                }
            }
            _ => return false,
        }
        true
    }

    fn cifsr(&mut self) {
        let s = &self.session;
        let mut text = String::new();
        if s.wifi_mode == 2 || s.wifi_mode == 3 {
            text.push_str(&format!(
                "+CIFSR:APIP,\"{}\"\r\n",
                self.config.station.ap_ip
            ));
            text.push_str(&format!("+CIFSR:APMAC,\"{}\"\r\n", s.ap_mac));
        }
        if s.station_enabled() {
            let ip = if s.joined().is_some() {
                s.ip
            } else {
                std::net::Ipv4Addr::UNSPECIFIED
            };
            text.push_str(&format!("+CIFSR:STAIP,\"{ip}\"\r\n"));
            text.push_str(&format!("+CIFSR:STAMAC,\"{}\"\r\n", s.sta_mac));
        }
        self.put(text.as_bytes());
        self.ok();
    }
}
