//! Wi-Fi commands: `AT+CWMODE`, `AT+CWSAP` (the module's own soft-AP), `AT+CWJAP` against the configured access points with the real
//! failure codes, `AT+CWQAP`, `AT+CWLAP`/`AT+CWLAPOPT`, `AT+CIFSR`, and the station settings
//! drivers query at start-up (`AT+CWAUTOCONN`, `AT+CWDHCP`, `AT+CIPSTA`, MACs, hostname).

use super::framing::{Mode, Pending};
use super::line::{int_in, Command, Form, Param, Variant};
use super::state::{SavedJoin, SoftAp, Wifi};
use super::{Firmware, TimerKind};
use crate::sim::config::{parse_mac, Flavour, JoinFailure};

impl Firmware {
    /// Handles the command if it is a Wi-Fi one; false if it is not.
    pub(super) fn wifi(&mut self, c: &Command) -> bool {
        let cur_def = self.flavour.has_cur_def();
        let plain = c.variant == Variant::Plain;
        if self.station(c) {
            return true;
        }
        match c.name.as_str() {
            "+CWMODE" if plain || cur_def => self.cwmode(c),
            "+CWJAP" if plain || cur_def => self.cwjap(c),
            "+CWSAP" if plain || cur_def => self.cwsap(c),
            "+CWQAP" if plain => match c.form {
                Form::Exec => self.cwqap(),
                Form::Query | Form::Test | Form::Set(_) => self.error(),
            },
            "+CWLAP" if plain => self.cwlap(c),
            "+CWLAPOPT" if plain => match &c.form {
                Form::Set(p) => match (int_in(p, 0, 0..=1), int_in(p, 1, 0..=0x7FF)) {
                    (Some(sort), Some(mask)) => {
                        self.session.lap_sort = sort == 1;
                        self.session.lap_mask = mask as u16;
                        self.ok();
                    }
                    _ => self.error(),
                },
                Form::Exec | Form::Query | Form::Test => self.error(),
            },
            "+CWSTATE" if plain && self.flavour == Flavour::EspAt => match c.form {
                Form::Query => {
                    let (state, ssid) = match self.session.wifi {
                        Wifi::NeverJoined => (0, String::new()),
                        Wifi::Joined { ap } => (2, self.config.access_points[ap].ssid.clone()),
                        Wifi::Lost => (4, String::new()),
                    };
                    let line = format!("+CWSTATE:{state},\"{ssid}\"");
                    self.line(&line);
                    self.ok();
                }
                Form::Exec | Form::Test | Form::Set(_) => self.error(),
            },
            _ => return false,
        }
        true
    }

    fn cwmode(&mut self, c: &Command) {
        let name = shown(c, self.flavour);
        let modes = match self.flavour {
            Flavour::Nonos => 1..=3,
            Flavour::EspAt => 0..=3,
        };
        match &c.form {
            Form::Query => {
                let mode = match c.variant {
                    Variant::Def => self.flash.wifi_mode,
                    Variant::Cur | Variant::Plain => self.session.wifi_mode,
                };
                self.line(&format!("{name}:{mode}"));
                self.ok();
            }
            Form::Test => {
                self.line(&format!("{name}:({}-{})", modes.start(), modes.end()));
                self.ok();
            }
            Form::Set(p) => {
                let extra_ok = match self.flavour {
                    Flavour::Nonos => p.len() == 1,
                    Flavour::EspAt => {
                        p.len() == 1 || (p.len() == 2 && int_in(p, 1, 0..=1).is_some())
                    }
                };
                let Some(mode) = int_in(p, 0, *modes.start()..=*modes.end()).filter(|_| extra_ok)
                else {
                    self.error();
                    return;
                };
                let mode = mode as u8;
                if c.variant != Variant::Cur {
                    self.flash.wifi_mode = mode;
                }
                if c.variant != Variant::Def {
                    self.session.wifi_mode = mode;
                }
                self.ok();
                if !self.session.station_enabled() {
                    self.wifi_lost();
                }
            }
            Form::Exec => self.error(),
        }
    }

    /// `AT+CWSAP[_CUR|_DEF]="<ssid>","<pwd>",<chl>,<ecn>[,<max conn>[,<ssid hidden>]]` and its
    /// query, which prints the same fields back (quoted strings, both flavours). Only in
    /// soft-AP modes; WEP (ecn 1) is refused, and a secured network needs 8 to 64 characters.
    fn cwsap(&mut self, c: &Command) {
        let name = shown(c, self.flavour);
        let soft_ap_mode = matches!(self.session.wifi_mode, 2 | 3);
        match &c.form {
            Form::Query if soft_ap_mode => {
                let ap = match c.variant {
                    Variant::Def => &self.flash.soft_ap,
                    Variant::Cur | Variant::Plain => &self.session.soft_ap,
                };
                let line = format!(
                    "{name}:\"{}\",\"{}\",{},{},{},{}",
                    ap.ssid, ap.password, ap.channel, ap.ecn, ap.max_conn, ap.hidden
                );
                self.line(&line);
                self.ok();
            }
            Form::Set(p) if soft_ap_mode => {
                let ssid = p
                    .first()
                    .and_then(Param::str)
                    .filter(|s| (1..=32).contains(&s.len()));
                let password = p.get(1).and_then(Param::str);
                let channel = int_in(p, 2, 1..=13);
                let ecn = int_in(p, 3, 0..=4).filter(|&e| e != 1);
                let max_conn = match p.get(4) {
                    None => Some(4),
                    Some(_) => int_in(p, 4, 1..=8),
                };
                let hidden = match p.get(5) {
                    None => Some(0),
                    Some(_) => int_in(p, 5, 0..=1),
                };
                let (
                    Some(ssid),
                    Some(password),
                    Some(channel),
                    Some(ecn),
                    Some(max_conn),
                    Some(hidden),
                ) = (ssid, password, channel, ecn, max_conn, hidden)
                else {
                    return self.error();
                };
                let password_ok = ecn == 0 || (8..=64).contains(&password.len());
                if !password_ok || p.len() > 6 {
                    return self.error();
                }
                let ap = SoftAp {
                    ssid: ssid.to_string(),
                    password: password.to_string(),
                    channel,
                    ecn,
                    max_conn,
                    hidden,
                };
                let saves = c.variant == Variant::Def
                    || (c.variant == Variant::Plain && self.flavour == Flavour::Nonos);
                if saves {
                    self.flash.soft_ap = ap.clone();
                }
                if c.variant != Variant::Def {
                    self.session.soft_ap = ap;
                }
                self.ok();
            }
            Form::Query | Form::Set(_) | Form::Exec | Form::Test => self.error(),
        }
    }

    fn cwjap(&mut self, c: &Command) {
        let name = shown(c, self.flavour);
        let (ssid, password, bssid) = match &c.form {
            Form::Query => return self.cwjap_query(&name),
            Form::Set(p) => {
                let ssid = p.first().and_then(Param::str).filter(|s| !s.is_empty());
                let password = match (p.get(1), self.flavour) {
                    (Some(Param::Str(pw)), _) => Some(pw.as_str()),
                    (None | Some(Param::Empty), Flavour::EspAt) => Some(""),
                    (None | Some(Param::Empty) | Some(Param::Int(_)), _) => None,
                };
                let bssid = match p.get(2) {
                    None | Some(Param::Empty) => Ok(None),
                    Some(Param::Str(mac)) if parse_mac(mac).is_some() => Ok(Some(mac.as_str())),
                    Some(_) => Err(()),
                };
                match (ssid, password, bssid) {
                    (Some(s), Some(pw), Ok(b)) => {
                        (s.to_string(), pw.to_string(), b.map(str::to_string))
                    }
                    _ => return self.error(),
                }
            }
            Form::Exec if self.flavour == Flavour::EspAt => match self.flash.join.clone() {
                Some(saved) => (saved.ssid, saved.password, None),
                None => return self.error(),
            },
            Form::Exec | Form::Test => return self.error(),
        };
        if !self.session.station_enabled() {
            return self.error();
        }
        // A new join forgets any auto-connect in progress and drops the current AP first.
        self.epoch += 1;
        self.wifi_lost();
        let saves = c.variant == Variant::Def
            || (c.variant == Variant::Plain && self.flavour == Flavour::Nonos)
            || self.flavour == Flavour::EspAt;
        let timing = self.config.timing.clone();
        match self.join_outcome(&ssid, &password, bssid.as_deref()) {
            Ok(ap) => {
                let save = saves.then_some(SavedJoin { ssid, password });
                self.mode = Mode::Busy(Pending::Join { ap, save });
                self.wake(timing.join_ms, TimerKind::Associated);
            }
            Err(code) => {
                self.mode = Mode::Busy(Pending::JoinFail);
                self.wake(timing.join_fail_ms, TimerKind::JoinFailed(code));
            }
        }
    }

    /// Which AP a join reaches, or the `+CWJAP` code it fails with: 3 no such SSID (or BSSID),
    /// 2 wrong password, or what the AP is configured to fail with (1 timeout, 4 failed).
    pub(super) fn join_outcome(
        &self,
        ssid: &str,
        password: &str,
        bssid: Option<&str>,
    ) -> Result<usize, u8> {
        let ap = self.config.access_points.iter().position(|ap| {
            ap.ssid == ssid && bssid.map_or(true, |b| b.eq_ignore_ascii_case(&ap.bssid()))
        });
        let Some(index) = ap else {
            return Err(3);
        };
        let ap = &self.config.access_points[index];
        match ap.fails_with {
            Some(JoinFailure::Timeout) => Err(1),
            Some(JoinFailure::ConnectFail) => Err(4),
            None if !ap.password.0.is_empty() && ap.password.0 != password => Err(2),
            None => Ok(index),
        }
    }

    pub(super) fn associated(&mut self) {
        if let Mode::Busy(Pending::Join { .. }) = self.mode {
            self.line("WIFI CONNECTED");
            let got_ip_ms = self.config.timing.got_ip_ms;
            self.wake(got_ip_ms, TimerKind::GotIp);
        }
    }

    pub(super) fn got_ip(&mut self) {
        let Mode::Busy(Pending::Join { ap, save }) =
            std::mem::replace(&mut self.mode, Mode::command())
        else {
            return;
        };
        self.line("WIFI GOT IP");
        self.ok();
        self.session.wifi = Wifi::Joined { ap };
        self.session.had_link = false;
        if let Some(save) = save {
            self.flash.join = Some(save);
        }
    }

    pub(super) fn join_failed(&mut self, code: u8) {
        if let Mode::Busy(Pending::JoinFail) = self.mode {
            self.mode = Mode::command();
            self.session.wifi = Wifi::Lost;
            self.line(&format!("+CWJAP:{code}"));
            let last = self.flavour.join_failed();
            self.put(last);
        }
    }

    fn cwjap_query(&mut self, name: &str) {
        let Some(ap) = self.session.joined() else {
            // NonOS literal `No AP\r\n`; ESP-AT's `No AP\r` goes to its log port.
            let reason = self.flavour.reason(b"No AP\r\n");
            self.put(reason);
            return self.ok();
        };
        let ap = &self.config.access_points[ap];
        let mut text = format!(
            "{name}:\"{}\",\"{}\",{},{}",
            ap.ssid,
            ap.bssid(),
            ap.channel(),
            ap.rssi()
        );
        text.push_str(match self.flavour {
            // F1 `%s:"%s","%02x:…",%d,%d,%d`: channel, rssi, pci_en.
            Flavour::Nonos => ",0",
            // F2 seven numbers: channel, rssi, pci_en, reconn_interval, listen_interval,
            // scan_mode, pmf.
            Flavour::EspAt => ",0,1,3,0,0",
        });
        self.line(&text);
        self.ok();
    }

    fn cwqap(&mut self) {
        self.epoch += 1;
        self.ok();
        // The disconnect event fires after the command returned.
        self.wifi_lost();
        self.session.wifi = Wifi::Lost;
    }

    fn cwlap(&mut self, c: &Command) {
        let no_filter = Vec::new();
        let filter = match &c.form {
            Form::Exec => &no_filter,
            Form::Set(p) => p,
            Form::Query | Form::Test => return self.error(),
        };
        if !self.session.station_enabled() {
            return self.error();
        }
        let wants = |i: usize, value: &str| match filter.get(i) {
            Some(Param::Str(s)) if !s.is_empty() => s.eq_ignore_ascii_case(value),
            _ => true,
        };
        let channel = filter.get(2).and_then(Param::int);
        let mut aps: Vec<_> = self
            .config
            .access_points
            .iter()
            .filter(|ap| wants(0, &ap.ssid) && wants(1, &ap.bssid()))
            .filter(|ap| channel.map_or(true, |ch| ch == i64::from(ap.channel())))
            .collect();
        if self.session.lap_sort {
            aps.sort_by_key(|ap| std::cmp::Reverse(ap.rssi()));
        }
        let mask = self.session.lap_mask;
        let mut text = String::new();
        for ap in aps {
            let cipher = if ap.ecn() == 0 { 0 } else { 4 };
            let fields = [
                ap.ecn().to_string(),
                format!("\"{}\"", ap.ssid),
                ap.rssi().to_string(),
                format!("\"{}\"", ap.bssid()),
                ap.channel().to_string(),
                "0".to_string(),
                "0".to_string(),
                cipher.to_string(),
                cipher.to_string(),
                "7".to_string(),
                "0".to_string(),
            ];
            let shown: Vec<&str> = (0..fields.len())
                .filter(|bit| mask & (1 << bit) != 0)
                .map(|bit| fields[bit].as_str())
                .collect();
            text.push_str(&format!("+CWLAP:({})\r\n", shown.join(",")));
        }
        self.put(text.as_bytes());
        self.ok();
    }
}

/// The command's name as the firmware echoes it in replies: `+CWMODE_CUR` for `_CUR`, etc.
pub(super) fn shown(c: &Command, _flavour: Flavour) -> String {
    match c.variant {
        Variant::Plain => c.name.clone(),
        Variant::Cur => format!("{}_CUR", c.name),
        Variant::Def => format!("{}_DEF", c.name),
    }
}
