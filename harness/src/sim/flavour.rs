//! The bytes that differ between NonOS AT 1.7 and ESP-AT 2.2 ([`Flavour`]), in one place. Every
//! string here is a literal read out of the firmware images (`at-dialects.md` §2.14, F1/F2) or
//! a real capture cited there; where the reference marks a detail UNCONFIRMED the comment says
//! which way the sim goes.

use std::net::SocketAddr;

pub use super::config::Flavour;

impl Flavour {
    /// `AT+GMR`, including the final `OK`. NonOS prints its custom-info line without a trailing
    /// CR LF, so `OK` follows without a blank line (real 1.6/1.7 logs); ESP-AT's app lines end
    /// in CR LF, so a blank line precedes `OK` (`main/app_main.c`).
    pub fn gmr(self) -> &'static [u8] {
        match self {
            Flavour::Nonos => {
                b"AT version:1.7.4.0(May 11 2020 19:13:04)\r\n\
                  SDK version:3.0.4(9532ceb)\r\n\
                  compile time:May 27 2020 10:12:17\r\n\
                  Bin version(Wroom 02):1.7.4\r\nOK\r\n"
            }
            Flavour::EspAt => {
                b"AT version:2.2.1.0(46d6c26 - ESP8266 - Aug  6 2021 06:50:15)\r\n\
                  SDK version:v3.4-22-g967752e2\r\n\
                  compile time(6800286):Aug  6 2021 06:51:38\r\n\
                  Bin version:2.2.1(WROOM-02)\r\n\r\nOK\r\n"
            }
        }
    }

    /// After `AT+CIPSEND=…` is accepted: NonOS `OK` then `> ` (hex capture `0D 0A 4F 4B 0D 0A
    /// 3E 20`), ESP-AT `OK` then `\r\n>` with no space (F2).
    pub fn send_prompt(self) -> &'static [u8] {
        match self {
            Flavour::Nonos => b"\r\nOK\r\n> ",
            Flavour::EspAt => b"\r\nOK\r\n\r\n>",
        }
    }

    /// The final line of a failed `AT+CWJAP` after `+CWJAP:<code>`.
    pub fn join_failed(self) -> &'static [u8] {
        match self {
            Flavour::Nonos => b"\r\nFAIL\r\n",
            Flavour::EspAt => b"\r\nERROR\r\n",
        }
    }

    /// What input during an unfinished send is answered with (`busy s...` exists only in F1).
    pub fn busy_sending(self) -> &'static [u8] {
        match self {
            Flavour::Nonos => b"\r\nbusy s...\r\n",
            Flavour::EspAt => b"\r\nbusy p...\r\n",
        }
    }

    /// A reason line NonOS prints before `ERROR`; ESP-AT's `\r`-terminated copies of these go to
    /// its log port, so on the AT port it says only `ERROR`.
    pub fn reason(self, line: &'static [u8]) -> &'static [u8] {
        match self {
            Flavour::Nonos => line,
            Flavour::EspAt => b"",
        }
    }

    /// `_CUR`/`_DEF` command variants exist only in NonOS (ESP-AT uses `AT+SYSSTORE`).
    pub fn has_cur_def(self) -> bool {
        matches!(self, Flavour::Nonos)
    }

    /// The active-mode `+IPD` header (always led by CR LF, never followed by one).
    pub fn ipd_header(self, link: Option<usize>, len: usize, peer: Option<SocketAddr>) -> Vec<u8> {
        let id = link.map(|id| format!("{id},")).unwrap_or_default();
        let info = match (peer, self) {
            (None, _) => String::new(),
            (Some(p), Flavour::Nonos) => format!(",{},{}", p.ip(), p.port()),
            (Some(p), Flavour::EspAt) => format!(",\"{}\",{}", p.ip(), p.port()),
        };
        format!("\r\n+IPD,{id}{len}{info}:").into_bytes()
    }

    /// The `+CIPRECVDATA` header: NonOS `\r\n+CIPRECVDATA,<n>:` (F1 `\r\n%s,%d:`, the form mbed,
    /// WiFiEspAT and esp-at-nal all met), ESP-AT `+CIPRECVDATA:<n>,` (F2 `%s:%d,`).
    pub fn recvdata_header(self, len: usize) -> Vec<u8> {
        match self {
            Flavour::Nonos => format!("\r\n+CIPRECVDATA,{len}:").into_bytes(),
            Flavour::EspAt => format!("+CIPRECVDATA:{len},").into_bytes(),
        }
    }

    /// `AT+CIPRECVLEN?` for a link that is not open: NonOS 0, ESP-AT -1.
    pub fn recvlen_inactive(self) -> &'static str {
        match self {
            Flavour::Nonos => "0",
            Flavour::EspAt => "-1",
        }
    }

    /// `STATUS:<n>` of `AT+CIPSTATUS` before any join was attempted: NonOS has no "not
    /// started" state and says 5; ESP-AT says 1 (0 with the radio off).
    pub fn status_never_joined(self, wifi_mode: u8) -> u8 {
        match (self, wifi_mode) {
            (Flavour::Nonos, _) => 5,
            (Flavour::EspAt, 0) => 0,
            (Flavour::EspAt, _) => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipd_headers_match_the_firmware_formats() {
        let peer: SocketAddr = "127.0.0.7:1883".parse().unwrap();
        assert_eq!(Flavour::Nonos.ipd_header(None, 4, None), b"\r\n+IPD,4:");
        assert_eq!(
            Flavour::Nonos.ipd_header(Some(0), 4, None),
            b"\r\n+IPD,0,4:"
        );
        assert_eq!(
            Flavour::Nonos.ipd_header(Some(1), 4, Some(peer)),
            b"\r\n+IPD,1,4,127.0.0.7,1883:"
        );
        assert_eq!(
            Flavour::EspAt.ipd_header(None, 4, Some(peer)),
            b"\r\n+IPD,4,\"127.0.0.7\",1883:"
        );
    }

    #[test]
    fn seed_000_connack_header() {
        // Seed 000: `0D 0A 2B 49 50 44 2C 34 3A` then `20 02 00 00`.
        assert_eq!(
            Flavour::Nonos.ipd_header(None, 4, None),
            [0x0D, 0x0A, 0x2B, 0x49, 0x50, 0x44, 0x2C, 0x34, 0x3A]
        );
    }
}
