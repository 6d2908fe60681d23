//! What tells one Quectel module from another: [`QuectelModel`] (banners, revision strings,
//! boot URCs, radio access technology) and [`QuectelConfig`], the settings of one virtual
//! cellular module (identity numbers, network, timing), loaded as the `quectel:` block of a
//! sim config.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::sim::error::ConfigProblem;

/// The Quectel models the simulator speaks. They share the QI TCP/IP command set; what differs
/// is listed on each method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuectelModel {
    /// EC20 (LTE Cat 4), the module seed 004's RT-Thread client and RT-Thread's `ec20` class
    /// drive.
    #[default]
    Ec20,
    /// BG96 (LTE Cat M1 / NB-IoT / EGPRS), the module Zephyr's, TinyGSM's and FreeRTOS's
    /// drivers are written against.
    Bg96,
}

impl QuectelModel {
    /// `Quectel EC20`, as logs and `athil sim` name it.
    pub fn name(self) -> &'static str {
        match self {
            QuectelModel::Ec20 => "Quectel EC20",
            QuectelModel::Bg96 => "Quectel BG96",
        }
    }

    /// The lines of `ATI` before `OK`. EC20: `Quectel`, `EC20F`, `Revision: …`, a blank line,
    /// `SubEdition: V04` (an EC20 log quoted in the QI dialect notes); BG96: `Quectel`, `BG96`,
    /// `Revision: …` (TinyGSM issue 157's BG96 boot log).
    pub fn ati(self) -> &'static [&'static str] {
        match self {
            QuectelModel::Ec20 => &[
                "Quectel",
                "EC20F",
                "Revision: EC20CEFDR02A09M4G",
                "",
                "SubEdition: V04",
            ],
            QuectelModel::Bg96 => &["Quectel", "BG96", "Revision: BG96MAR02A07M1G"],
        }
    }

    /// What `AT+GMR` and `AT+CGMR` print: the revision of `ATI`.
    pub fn revision(self) -> &'static str {
        match self {
            QuectelModel::Ec20 => "EC20CEFDR02A09M4G",
            QuectelModel::Bg96 => "BG96MAR02A07M1G",
        }
    }

    /// What `AT+QGMR` prints: the revision with its sub-version. The BG96 string is the one
    /// `quectel-bg9x-eh-driver` recognises; the EC20 sub-version is made up in the same form.
    pub fn full_revision(self) -> &'static str {
        match self {
            QuectelModel::Ec20 => "EC20CEFDR02A09M4G_01.001.01.001",
            QuectelModel::Bg96 => "BG96MAR02A07M1G_01.018.01.018",
        }
    }

    /// `AT+CGMM`: the model name alone.
    pub fn cgmm(self) -> &'static str {
        match self {
            QuectelModel::Ec20 => "EC20F",
            QuectelModel::Bg96 => "BG96",
        }
    }

    /// Whether the boot prints `APP RDY` right after `RDY`. TinyGSM's BG96 client waits for it
    /// and `quectel-bg9x-eh-driver` quotes the power-on bytes `\r\nRDY\r\n\r\nAPP RDY\r\n`;
    /// no EC20 log shows it, so the EC20 does not print it (a setting overrides either).
    pub fn app_rdy(self) -> bool {
        match self {
            QuectelModel::Ec20 => false,
            QuectelModel::Bg96 => true,
        }
    }

    /// Whether `AT+CFUN=1,1` prints `POWERED DOWN` before the reboot (seen on a BG96; the EC20
    /// logs at hand go from `OK` straight to `RDY`).
    pub fn says_powered_down(self) -> bool {
        match self {
            QuectelModel::Ec20 => false,
            QuectelModel::Bg96 => true,
        }
    }

    /// The `<AcT>` of `AT+COPS?` once registered: 7 E-UTRAN (EC20, LTE Cat 4), 8 E-UTRAN
    /// Cat M1 (BG96, as 27.007 numbers eMTC).
    pub fn act(self) -> u8 {
        match self {
            QuectelModel::Ec20 => 7,
            QuectelModel::Bg96 => 8,
        }
    }
}

/// One virtual Quectel module. Every field has a default, so `quectel: {model: bg96}` is a
/// whole config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuectelConfig {
    pub model: QuectelModel,
    /// Power-on (or `AT+CFUN=1,1`) to registered: until then `AT+CREG?` says 2 (searching),
    /// `AT+CSQ` says `99,99` and `AT+QIACT` fails.
    pub registration_ms: u64,
    /// `AT+QIACT=1` to its `OK` (real networks: up to 150 s).
    pub activation_ms: u64,
    /// Registered as roaming (`<stat>` 5) rather than home (1).
    pub roaming: bool,
    /// The `<rssi>` of `AT+CSQ` once registered (0..31).
    pub rssi: u8,
    /// The operator `AT+COPS?` names once registered.
    pub operator: String,
    /// `AT+GSN`: 15 digits.
    pub imei: String,
    /// `AT+CIMI`: 15 digits (460 00: China Mobile, OneNET's operator).
    pub imsi: String,
    /// `AT+QCCID`: 19 or 20 characters.
    pub iccid: String,
    /// The address `AT+QIACT?` reports for an active context.
    pub pdp_ip: Ipv4Addr,
    /// Overrides the model's `APP RDY` habit ([`QuectelModel::app_rdy`]).
    pub app_rdy: Option<bool>,
}

impl Default for QuectelConfig {
    fn default() -> Self {
        QuectelConfig {
            model: QuectelModel::Ec20,
            registration_ms: 100,
            activation_ms: 50,
            roaming: false,
            rssi: 24,
            operator: "CHINA MOBILE".to_string(),
            imei: "866123456789012".to_string(),
            imsi: "460001234567890".to_string(),
            iccid: "89860012345678901234".to_string(),
            pdp_ip: Ipv4Addr::new(10, 68, 40, 17),
            app_rdy: None,
        }
    }
}

impl QuectelConfig {
    /// Every field that a real module could not hold.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let digits = |s: &str, len: std::ops::RangeInclusive<usize>| {
            len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
        };
        let mut problems = Vec::new();
        let mut check = |ok: bool, field: &'static str, value: String, expected: &'static str| {
            if !ok {
                problems.push(ConfigProblem::Quectel {
                    field,
                    value,
                    expected,
                });
            }
        };
        check(
            digits(&self.imei, 15..=15),
            "imei",
            self.imei.clone(),
            "15 digits",
        );
        check(
            digits(&self.imsi, 15..=15),
            "imsi",
            self.imsi.clone(),
            "15 digits",
        );
        check(
            (19..=20).contains(&self.iccid.len()) && self.iccid.is_ascii(),
            "iccid",
            self.iccid.clone(),
            "19 or 20 characters",
        );
        check(
            self.rssi <= 31,
            "rssi",
            self.rssi.to_string(),
            "0..31; 99 is what an unregistered module says",
        );
        check(
            !self.operator.is_empty() && !self.operator.contains('"'),
            "operator",
            self.operator.clone(),
            "a name without quotes",
        );
        problems
    }

    /// Whether this module prints `APP RDY` at boot.
    pub fn app_rdy(&self) -> bool {
        self.app_rdy.unwrap_or_else(|| self.model.app_rdy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::config::{FirmwareChoice, Flavour, SimConfig};

    #[test]
    fn firmware_choices_parse_and_select_the_personality() {
        let mut config = SimConfig::default();
        config.choose_firmware("quectel-bg96".parse().unwrap());
        assert_eq!(
            config.quectel.as_ref().map(|q| q.model),
            Some(QuectelModel::Bg96)
        );
        config.choose_firmware("esp-at".parse().unwrap());
        assert_eq!(
            (config.quectel.as_ref(), config.firmware),
            (None, Flavour::EspAt)
        );
        assert_eq!(
            "quectel-ec20".parse::<FirmwareChoice>(),
            Ok(FirmwareChoice::Quectel(QuectelModel::Ec20))
        );
        let err = "quectel".parse::<FirmwareChoice>().unwrap_err();
        assert!(err.contains("quectel-ec20 or quectel-bg96"), "{err}");
    }

    #[test]
    fn a_partial_quectel_block_takes_defaults_and_round_trips() {
        let config: SimConfig =
            serde_yaml::from_str("quectel:\n  model: bg96\n  registration_ms: 2000\n").unwrap();
        config.validate().unwrap();
        let quectel = config.quectel.clone().unwrap();
        assert_eq!(quectel.model, QuectelModel::Bg96);
        assert_eq!(quectel.registration_ms, 2000);
        assert_eq!(quectel.imei, QuectelConfig::default().imei);
        assert!(quectel.app_rdy());
        let back: SimConfig =
            serde_yaml::from_str(&serde_yaml::to_string(&config).unwrap()).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn every_impossible_identity_is_reported_at_once() {
        let bad = QuectelConfig {
            imei: "12345".to_string(),
            imsi: "46000123456789x".to_string(),
            iccid: "short".to_string(),
            rssi: 99,
            operator: "A \"B\"".to_string(),
            ..QuectelConfig::default()
        };
        assert_eq!(bad.problems().len(), 5, "{:?}", bad.problems());
        assert!(QuectelConfig::default().problems().is_empty());
    }
}
