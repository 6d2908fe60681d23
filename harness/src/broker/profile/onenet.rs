//! The OneNET profile ([`OneNetProfile`]): the OneNET rules no source confirms, and the
//! documented ones seed 004 breaks, as keys with the likelier behaviour as [`Default`]. Read
//! with `athil broker --onenet-profile FILE`; `fixtures/profiles/onenet.yaml` is the defaults
//! written out, and a test keeps the two equal. The confirmed OneNET rules are code
//! (`broker/platform/onenet.rs`), listed with their sources in `docs/cloud-fidelity.md`.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::config::{RetainRule, Violation};
use crate::broker::error::BrokerError;

/// Every configurable OneNET rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OneNetProfile {
    pub login: OneNetLogin,
    pub keepalive: OneNetKeepalive,
    pub topics: OneNetTopics,
    pub thing: OneNetThing,
}

/// CONNACK codes of the legacy product, whose protocol document could not be retrieved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OneNetLogin {
    /// Legacy login, a password that is not the device's auth info. The multi-protocol
    /// document (V2.5) lists 4 for a bad user name or password.
    pub legacy_bad_auth_code: u8,
    /// Legacy login, a device id the product does not have. V2.5 lists 2 for a client id
    /// problem; the client id is the device id.
    pub legacy_unknown_device_code: u8,
    /// A device whose file says `status: disabled`. No source; 5 ("not authorized") as for
    /// Alibaba Cloud.
    pub disabled_device_code: u8,
}

impl Default for OneNetLogin {
    fn default() -> Self {
        OneNetLogin {
            legacy_bad_auth_code: 4,
            legacy_unknown_device_code: 2,
            disabled_device_code: 5,
        }
    }
}

/// The keepalive windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OneNetKeepalive {
    /// The legacy product documents a keepalive of 120–65535 s, but seed 004 (keepalive 30,
    /// as RT-Thread's OneNET package sends) was accepted: off by default.
    pub legacy_minimum: bool,
    /// The documented legacy minimum, applied when `legacy_minimum` is on (below: close).
    pub legacy_min: u16,
    /// Token products: the documented window, 10–1800 s; outside it the link closes, as for
    /// every CONNECT that breaks the token products' rules.
    pub token_min: u16,
    pub token_max: u16,
}

impl Default for OneNetKeepalive {
    fn default() -> Self {
        OneNetKeepalive {
            legacy_minimum: false,
            legacy_min: 120,
            token_min: 10,
            token_max: 1800,
        }
    }
}

/// Topic rights the sources leave open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OneNetTopics {
    /// Token products, a SUBSCRIBE to a filter the device may not have: the document says the
    /// subscription "fails" in garbled words; `drop` answers SUBACK 80 and keeps the link,
    /// `disconnect` closes it.
    pub illegal_subscribe: Violation,
    /// Legacy login, the SUBACK grant: V2.5 lists 00, 01, 02 and 80 without saying which a
    /// request gets; 1 as the gateway delivers at most QoS 1.
    pub legacy_granted_qos: u8,
    /// Legacy login, a QoS 2 PUBLISH (V2.5's SUBACK 02 hints QoS 2 exists; nothing says
    /// what becomes of one): `disconnect` as the token products document, or `drop`.
    pub legacy_qos2_publish: Violation,
    /// Legacy login, a PUBLISH with retain set: no source; `clear` delivers it once, `keep`.
    pub legacy_retain: RetainRule,
}

impl Default for OneNetTopics {
    fn default() -> Self {
        OneNetTopics {
            illegal_subscribe: Violation::Drop,
            legacy_granted_qos: 1,
            legacy_qos2_publish: Violation::Disconnect,
            legacy_retain: RetainRule::Clear,
        }
    }
}

/// The platform's replies to the device's posts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OneNetThing {
    /// Whether `$sys/{pid}/{dn}/thing/property/post` and `…/thing/event/post` are answered on
    /// `…/post/reply`, and `…/dp/post/json` on `…/accepted` or `…/rejected`.
    pub replies: bool,
    /// `code` of a OneJSON reply to a post that is not JSON or has no `id`: no source.
    pub bad_post_code: u16,
}

impl Default for OneNetThing {
    fn default() -> Self {
        OneNetThing {
            replies: true,
            bad_post_code: 400,
        }
    }
}

impl OneNetProfile {
    /// Reads a OneNET profile file; absent keys keep their defaults, unknown keys are errors.
    pub fn load(path: &Path) -> Result<OneNetProfile, BrokerError> {
        super::load_file(path, OneNetProfile::problems)
    }

    /// What makes this profile unusable; empty when it is fine.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (key, code) in [
            (
                "login.legacy_bad_auth_code",
                self.login.legacy_bad_auth_code,
            ),
            (
                "login.legacy_unknown_device_code",
                self.login.legacy_unknown_device_code,
            ),
            (
                "login.disabled_device_code",
                self.login.disabled_device_code,
            ),
        ] {
            if !(1..=5).contains(&code) {
                out.push(format!(
                    "{key} is {code}; a refusal is one of the CONNACK codes 1-5"
                ));
            }
        }
        let k = &self.keepalive;
        if k.token_min > k.token_max {
            out.push(format!(
                "keepalive.token_min {} is above keepalive.token_max {}",
                k.token_min, k.token_max
            ));
        }
        if self.topics.legacy_granted_qos > 1 {
            out.push(format!(
                "topics.legacy_granted_qos {} is not 0 or 1",
                self.topics.legacy_granted_qos
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped profile file is the defaults written out, key for key.
    #[test]
    fn the_fixture_profile_is_the_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/profiles/onenet.yaml");
        let loaded = OneNetProfile::load(&path).expect("the OneNET profile loads");
        assert_eq!(loaded, OneNetProfile::default());
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(
            value,
            serde_yaml::to_value(OneNetProfile::default()).unwrap()
        );
    }

    #[test]
    fn unknown_keys_and_bad_codes_are_errors() {
        assert!(serde_yaml::from_str::<OneNetProfile>("keepalive: { minimum: 1 }").is_err());
        let mut p = OneNetProfile::default();
        p.login.legacy_bad_auth_code = 0;
        p.keepalive.token_min = 2000;
        assert_eq!(p.problems().len(), 2, "{:?}", p.problems());
    }

    #[test]
    fn seed_004s_keepalive_is_not_held_against_it_by_default() {
        assert!(!OneNetProfile::default().keepalive.legacy_minimum);
    }
}
