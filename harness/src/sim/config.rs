//! What the virtual module is: [`SimConfig`] (firmware flavour, access points, name map, timing,
//! fault knobs), loaded from YAML or built in code, and checked before anything starts.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{ConfigProblem, SimError};
use super::names::NameMap;
use super::quectel::{QuectelConfig, QuectelModel};

/// Which AT firmware the module runs; only the bytes that differ between them change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flavour {
    /// ESP8266 NonOS AT 1.7 (the classic ESP-01/ESP-12F firmware; `_CUR`/`_DEF` commands).
    #[default]
    Nonos,
    /// ESP-AT 2.2 for ESP8266 (RTOS SDK based; `AT+CWMODE=0..3`, `\r\n>` prompt, quoted IPs).
    EspAt,
}

impl std::str::FromStr for Flavour {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "nonos" => Ok(Flavour::Nonos),
            "esp-at" => Ok(Flavour::EspAt),
            other => Err(format!(
                "unknown firmware `{other}` (expected nonos or esp-at)"
            )),
        }
    }
}

/// What `--firmware` names: an ESP8266 flavour or a Quectel model. In a [`SimConfig`] the
/// first is `firmware:` and the second `quectel: {model: …}`, so configs written for the ESP
/// personality keep their meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirmwareChoice {
    Esp(Flavour),
    Quectel(QuectelModel),
}

impl std::str::FromStr for FirmwareChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "quectel-ec20" => Ok(FirmwareChoice::Quectel(QuectelModel::Ec20)),
            "quectel-bg96" => Ok(FirmwareChoice::Quectel(QuectelModel::Bg96)),
            other => other.parse::<Flavour>().map(FirmwareChoice::Esp).map_err(|_| {
                format!(
                    "unknown firmware `{other}` (expected nonos, esp-at, quectel-ec20 or quectel-bg96)"
                )
            }),
        }
    }
}

/// Rig files name a virtual slot's firmware as `--firmware` does (`firmware: quectel-ec20`).
impl<'de> Deserialize<'de> for FirmwareChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl FirmwareChoice {
    /// The AT dialect a host speaks to this firmware.
    pub fn speaks_quectel(self) -> bool {
        matches!(self, FirmwareChoice::Quectel(_))
    }
}

impl SimConfig {
    /// Applies a `--firmware` choice: an ESP flavour drops the Quectel personality, a Quectel
    /// model keeps the Quectel settings already configured and changes only the model.
    pub fn choose_firmware(&mut self, choice: FirmwareChoice) {
        match choice {
            FirmwareChoice::Esp(flavour) => {
                self.firmware = flavour;
                self.quectel = None;
            }
            FirmwareChoice::Quectel(model) => {
                self.quectel
                    .get_or_insert_with(QuectelConfig::default)
                    .model = model;
            }
        }
    }
}

/// Everything about one virtual module. `Default` is a NonOS 1.7 module at 115200 baud that
/// knows one access point (`athil-lab` / `athil-pass`) and resolves `localhost`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    pub firmware: Flavour,
    /// Echo at power-on (`ATE1`); real modules echo until told `ATE0`.
    pub echo: bool,
    /// The AT port's baud rate: what the boot banner is garbled against, and the pacing rate.
    pub baud: u32,
    /// Let bytes leave at the wire rate (10 bits per byte at `baud`), as a real UART would.
    pub pace: bool,
    /// `CWMODE` stored in flash: 1 station, 2 soft-AP, 3 both (ESP-AT also 0, radio off).
    pub wifi_mode: u8,
    /// The access points in the air, what `AT+CWLAP` lists and `AT+CWJAP` can join.
    pub access_points: Vec<AccessPoint>,
    /// The lab's DNS: host patterns to loopback addresses. The rewrite stays internal: what
    /// the module prints about a link or a lookup is the name's apparent address
    /// ([`super::names::apparent_ip`], 203.0.113.0/24) and the port it dialled.
    pub names: NameMap,
    pub station: Station,
    pub timing: Timing,
    pub quirks: Quirks,
    pub faults: Faults,
    /// Run a Quectel cellular module instead of the ESP8266 firmware (`firmware:`, the Wi-Fi
    /// fields and `station:` are then unused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quectel: Option<QuectelConfig>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            firmware: Flavour::Nonos,
            echo: true,
            baud: 115_200,
            pace: false,
            wifi_mode: 1,
            access_points: vec![AccessPoint::new("athil-lab", "athil-pass")],
            names: NameMap::default(),
            station: Station::default(),
            timing: Timing::default(),
            quirks: Quirks::default(),
            faults: Faults::default(),
            quectel: None,
        }
    }
}

/// One access point the module can see. The radio fields (`bssid`, `rssi`, `channel`) may be
/// left out; [`SimConfig::radios_assigned`] then gives each access point its own, by its place
/// in the list, as distinct radios in one room have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPoint {
    pub ssid: String,
    /// Empty for an open network (any password is then accepted, as the firmware does).
    #[serde(default)]
    pub password: Password,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bssid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rssi: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<u8>,
    /// Make joining this AP fail with the given code even with the right password.
    #[serde(default)]
    pub fails_with: Option<JoinFailure>,
}

/// Where automatic BSSIDs come from: an Espressif OUI (c8:3a:35) and a made-up middle; the last
/// byte counts up from 01.
const BSSID_PREFIX: &str = "c8:3a:35:a0:00";
/// Channels handed out in turn: the three non-overlapping ones first, as a crowded lab has.
const CHANNELS: [u8; 5] = [6, 1, 11, 3, 9];

impl AccessPoint {
    /// An access point whose radio is assigned by its place in the list.
    pub fn new(ssid: &str, password: &str) -> Self {
        AccessPoint {
            ssid: ssid.to_string(),
            password: Password(password.to_string()),
            bssid: None,
            rssi: None,
            channel: None,
            fails_with: None,
        }
    }

    /// The BSSID, lower case (assigned ones are always set; see [`SimConfig::radios_assigned`]).
    pub fn bssid(&self) -> String {
        self.bssid
            .as_deref()
            .map_or_else(|| format!("{BSSID_PREFIX}:01"), str::to_lowercase)
    }

    pub fn rssi(&self) -> i32 {
        self.rssi.unwrap_or(RSSI_BEST)
    }

    pub fn channel(&self) -> u8 {
        self.channel.unwrap_or(CHANNELS[0])
    }

    /// The `<ecn>` field of `+CWLAP`: 0 open, 3 WPA2-PSK.
    pub fn ecn(&self) -> u8 {
        if self.password.0.is_empty() {
            0
        } else {
            3
        }
    }
}

/// The RSSI of the first access point; each next one is a little further away.
const RSSI_BEST: i32 = -45;

/// A Wi-Fi password: serialised as itself, never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// The `+CWJAP:<code>` failures a configured AP can be told to produce besides the natural
/// ones (2 wrong password, 3 no such SSID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JoinFailure {
    /// `+CWJAP:1`, connection timeout.
    Timeout,
    /// `+CWJAP:4`, connection failed.
    ConnectFail,
}

/// The addresses the module reports about itself (`AT+CIFSR`, `AT+CIPSTA_CUR?`, MACs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Station {
    pub ip: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub netmask: Ipv4Addr,
    pub mac: String,
    pub ap_ip: Ipv4Addr,
    pub ap_mac: String,
}

impl Default for Station {
    fn default() -> Self {
        Station {
            ip: Ipv4Addr::new(192, 168, 1, 105),
            gateway: Ipv4Addr::new(192, 168, 1, 1),
            netmask: Ipv4Addr::new(255, 255, 255, 0),
            mac: "5c:cf:7f:a0:00:01".to_string(),
            ap_ip: Ipv4Addr::new(192, 168, 4, 1),
            ap_mac: "5e:cf:7f:a0:00:01".to_string(),
        }
    }
}

/// How long the module takes for what real radios and stacks take time for. Kept short by
/// default so suites stay fast; raise them for timing tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timing {
    /// `AT+CWJAP` to `WIFI CONNECTED`.
    pub join_ms: u64,
    /// `WIFI CONNECTED` to `WIFI GOT IP` (DHCP).
    pub got_ip_ms: u64,
    /// `AT+CWJAP` to `+CWJAP:<code>` when the join fails.
    pub join_fail_ms: u64,
    /// `AT+RST` `OK` to the boot banner and `ready`.
    pub boot_ms: u64,
    /// ACK time: the socket taking the data to `SEND OK`. 0, the default, is loopback's own
    /// (the peer's stack ACKs as the write completes; ESP-AT prints `SEND OK` at hand-over
    /// anyway). A longer one stands for a slow network; data the peer sends within it brings
    /// `SEND OK` forward and follows it, as a reply carries the ACK of what it answers.
    pub send_ok_ms: u64,
    /// Give up a TCP connect after this long (`ERROR` + `CLOSED`).
    pub connect_timeout_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            join_ms: 100,
            got_ip_ms: 50,
            join_fail_ms: 200,
            boot_ms: 100,
            send_ok_ms: 0,
            connect_timeout_ms: 5_000,
        }
    }
}

/// Behaviours that differ between builds and are worth switching on for one test.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quirks {
    /// A raw 0x00 byte ends `AT+CIPSENDEX` data like the two-character `\0` does. Seed 000
    /// reports this on the Air601 ("报文中出现00同样会触发数据发送"); Espressif documents only
    /// the `\0` pair, so it is off by default.
    pub cipsendex_nul_byte_ends: bool,
}

/// Fault knobs for negative tests: each makes the module misbehave in one named way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Commands starting with one of these (e.g. `AT+CIPSTART`) get no reply at all; the echo
    /// still appears because the UART echoes before the command is parsed.
    pub silent: Vec<String>,
    /// Commands starting with one of these get `\r\nERROR\r\n` instead of their reply.
    pub error: Vec<String>,
    /// Close a TCP link (and print `CLOSED`) right after the `SEND OK` that brings the bytes
    /// sent on it to at least this many.
    pub close_after_sent: Option<u64>,
    /// Close a TCP link (and print `CLOSED`) once at least this many bytes were received on it.
    pub close_after_received: Option<u64>,
    /// Reboot spontaneously (boot banner, `ready`, links lost) instead of answering the N-th
    /// command line, as a watchdog reset would.
    pub reset_at_command: Option<u32>,
    /// Print `SEND OK` this many milliseconds after the socket took the data, whatever the
    /// peer sends meanwhile: a reply faster than that shows its `+IPD` first (`Recv 2 bytes`,
    /// `+IPD,2:…`, `SEND OK`). Real firmware never prints that order for a reply (the reply
    /// carries the ACK that makes `SEND OK`); this is for testing a host driver's robustness.
    pub late_send_ok_ms: Option<u64>,
}

impl SimConfig {
    /// The same config with every radio field an access point left out filled in: the `i`-th
    /// gets channel `[6, 1, 11, 3, 9][i % 5]` and RSSI `-45 - 7 * (i % 8)`, and the lowest
    /// `c8:3a:35:a0:00:NN` no other access point holds. So access points from a command line,
    /// a YAML file, a scenario or a rig never share a BSSID unless one was written twice.
    pub fn radios_assigned(mut self) -> SimConfig {
        let mut taken: Vec<String> = self
            .access_points
            .iter()
            .filter_map(|ap| ap.bssid.as_deref().map(str::to_lowercase))
            .collect();
        let mut next = 1u32;
        for (i, ap) in self.access_points.iter_mut().enumerate() {
            if ap.bssid.is_none() {
                let bssid = loop {
                    // Past 255 the fourth byte counts too, so a list never runs out.
                    let candidate = format!("c8:3a:35:a0:{:02x}:{:02x}", next >> 8, next & 0xff);
                    next += 1;
                    if !taken.contains(&candidate) {
                        break candidate;
                    }
                };
                taken.push(bssid.clone());
                ap.bssid = Some(bssid);
            }
            ap.rssi.get_or_insert(RSSI_BEST - 7 * (i % 8) as i32);
            ap.channel.get_or_insert(CHANNELS[i % CHANNELS.len()]);
        }
        self
    }

    /// Reads a YAML config file; missing fields take their defaults.
    pub fn load(path: &Path) -> Result<SimConfig, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::ReadConfig {
            path: path.to_path_buf(),
            source,
        })?;
        let config: SimConfig =
            serde_yaml::from_str(&text).map_err(|source| SimError::ParseConfig {
                path: path.to_path_buf(),
                source,
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks everything at once; every problem is reported, not just the first.
    pub fn validate(&self) -> Result<(), SimError> {
        let mut problems = Vec::new();
        if self.baud == 0 {
            problems.push(ConfigProblem::Baud);
        }
        let modes = match self.firmware {
            Flavour::Nonos => 1..=3,
            Flavour::EspAt => 0..=3,
        };
        if !modes.contains(&self.wifi_mode) {
            problems.push(ConfigProblem::WifiMode(self.wifi_mode));
        }
        for ap in &self.access_points {
            if ap.ssid.is_empty() || ap.ssid.len() > 32 {
                problems.push(ConfigProblem::Ssid(ap.ssid.clone()));
            }
            if let Some(bssid) = ap.bssid.as_ref().filter(|b| parse_mac(b).is_none()) {
                problems.push(ConfigProblem::Mac(bssid.clone()));
            }
        }
        for mac in [&self.station.mac, &self.station.ap_mac] {
            if parse_mac(mac).is_none() {
                problems.push(ConfigProblem::Mac(mac.clone()));
            }
        }
        problems.extend(self.names.problems());
        if let Some(quectel) = &self.quectel {
            problems.extend(quectel.problems());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SimError::InvalidConfig { problems })
        }
    }
}

/// Parses `aa:bb:cc:dd:ee:ff` (either case).
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_round_trips_through_yaml() {
        let config = SimConfig::default();
        config.validate().unwrap();
        let yaml = serde_yaml::to_string(&config).unwrap();
        let back: SimConfig = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn partial_yaml_takes_defaults() {
        let config: SimConfig = serde_yaml::from_str(
            "firmware: esp-at\naccess_points:\n  - ssid: lab\n    password: secret99\n",
        )
        .unwrap();
        assert_eq!(config.firmware, Flavour::EspAt);
        assert_eq!(config.baud, 115_200);
        assert_eq!(config.access_points[0].channel, None);
        assert_eq!(
            config.clone().radios_assigned().access_points[0].channel,
            Some(6)
        );
        assert_eq!(config.access_points[0].password.0, "secret99");
    }

    #[test]
    fn passwords_never_show_in_debug() {
        let text = format!("{:?}", AccessPoint::new("lab", "hunter22"));
        assert!(!text.contains("hunter22"), "{text}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut config = SimConfig {
            baud: 0,
            wifi_mode: 0,
            ..SimConfig::default()
        };
        config.access_points[0].bssid = Some("nope".to_string());
        let Err(SimError::InvalidConfig { problems }) = config.validate() else {
            panic!("expected an invalid config");
        };
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn radios_are_assigned_around_the_ones_written_out() {
        let mut written = AccessPoint::new("b", "");
        written.bssid = Some("C8:3A:35:A0:00:01".to_string());
        written.rssi = Some(-80);
        let config = SimConfig {
            access_points: vec![
                AccessPoint::new("a", ""),
                written,
                AccessPoint::new("c", ""),
            ],
            ..SimConfig::default()
        }
        .radios_assigned();
        let radios: Vec<(String, i32, u8)> = config
            .access_points
            .iter()
            .map(|ap| (ap.bssid(), ap.rssi(), ap.channel()))
            .collect();
        assert_eq!(
            radios,
            [
                ("c8:3a:35:a0:00:02".to_string(), -45, 6),
                ("c8:3a:35:a0:00:01".to_string(), -80, 1),
                ("c8:3a:35:a0:00:03".to_string(), -59, 11),
            ]
        );
        let many = SimConfig {
            access_points: (0..300)
                .map(|i| AccessPoint::new(&format!("ap{i}"), ""))
                .collect(),
            ..SimConfig::default()
        }
        .radios_assigned();
        let mut bssids: Vec<String> = many.access_points.iter().map(AccessPoint::bssid).collect();
        bssids.sort();
        bssids.dedup();
        assert_eq!(bssids.len(), 300);
        assert_eq!(many.access_points[255].bssid(), "c8:3a:35:a0:01:00");
    }

    #[test]
    fn macs_parse_strictly() {
        assert_eq!(
            parse_mac("5C:cf:7f:00:00:01"),
            Some([0x5c, 0xcf, 0x7f, 0, 0, 1])
        );
        assert_eq!(parse_mac("5c:cf:7f:00:00"), None);
        assert_eq!(parse_mac("5c:cf:7f:00:00:01:02"), None);
        assert_eq!(parse_mac("5c:cf:7f:00:00:1"), None);
    }
}
