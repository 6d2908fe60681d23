//! China Mobile OneNET as a [`CloudPlatform`]: its two logins and their CONNACK codes. The
//! device file's `auth` says which login a product uses:
//!
//! - `legacy`, the multi-protocol MQTT product of seed 004: client id = device id, user name =
//!   product id, password = the device's auth info; MQTT 3.1.1 only; no anonymous login.
//! - `token`, the MQTT suite and OneNET Studio: client id = device name, user name = product
//!   id, password = `version=2018-10-31&res=products/{pid}/devices/{name}&et=…&method=…&sign=…`
//!   (checked by [`crate::cloud::verify_onenet`]); connect flags `C2` only, so no will and no
//!   persistent session.
//!
//! A CONNECT that breaks the protocol rules (anonymous, a will or a persistent session on a
//! token product) is closed without CONNACK, as OneNET's device access documents say; a wrong
//! credential gets a CONNACK code. What topics allow is in `onenet_topics.rs`. Rules no source
//! confirms are keys of the [`OneNetProfile`].

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::onenet_topics;
use super::{CloudPlatform, PostReply, SubscribeVerdict};
use crate::broker::policy::{
    refuse, Admission, ConnectDecision, RefusalKind, TopicMemo, UplinkVerdict,
};
use crate::broker::profile::OneNetProfile;
use crate::cloud::{verify_onenet_connect, DeviceRegistry, OneNetAuth, OneNetRefusal, Platform};
use crate::mqtt::{Connect, Publish, QoS};

/// Every OneNET downlink topic a legacy device receives without SUBSCRIBE: commands on
/// `$creq/<uuid>` ("MQTT默认订阅" in OneNET's MQTT FAQ).
pub const LEGACY_IMPLICIT: &str = "$creq/#";

/// OneNET under a profile.
#[derive(Debug, Clone)]
pub struct OneNet {
    pub profile: Arc<OneNetProfile>,
}

impl CloudPlatform for OneNet {
    fn platform(&self) -> Platform {
        Platform::Onenet
    }

    /// The user name is a OneNET product id of the registry, or (an anonymous CONNECT) the
    /// client id is one of its devices.
    fn claims(&self, connect: &Connect, devices: &DeviceRegistry) -> bool {
        devices.devices().any(|d| {
            d.platform == Platform::Onenet
                && match connect.username.as_deref() {
                    Some(user) => d.product_key == user,
                    None => d.device_name == connect.client_id,
                }
        })
    }

    fn decide_connect(&self, connect: &Connect, devices: &DeviceRegistry) -> ConnectDecision {
        if (connect.protocol_name.as_str(), connect.protocol_level) != ("MQTT", 4) {
            // "平台只支持版本v3.1.1": CONNACK 1, "unacceptable protocol version".
            return refuse(
                1,
                RefusalKind::UnsupportedProtocol,
                format!(
                    "protocol {:?} level {}; OneNET speaks only MQTT 3.1.1 (MQTT, 4)",
                    connect.protocol_name, connect.protocol_level
                ),
            );
        }
        if connect.username.is_none() || connect.password.is_none() {
            // The user name and password flags must both be 1, "否则认为协议错误，平台将会断开连接".
            return close(format!(
                "the CONNECT of client {:?} has no {}; OneNET refuses anonymous logins by \
                 closing the link",
                connect.client_id,
                if connect.username.is_none() {
                    "user name"
                } else {
                    "password"
                }
            ));
        }
        let product = connect.username.as_deref().unwrap_or_default();
        let auth = product_auth(devices, product, &connect.client_id);
        let mut notes = Vec::new();
        if let Some(closed) = self.check_form(connect, auth, &mut notes) {
            return closed;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let accepted = match verify_onenet_connect(connect, devices, now) {
            Ok(a) => a,
            Err(refusal) => return self.refusal(&refusal, auth),
        };
        ConnectDecision::Accept(Admission {
            device: accepted.device,
            platform: Platform::Onenet,
            upstream_client_id: format!("onenet.{}.{}", accepted.product_id, accepted.device_id),
            product_key: accepted.product_id,
            device_name: accepted.device_id,
            onenet_auth: Some(accepted.auth),
            granted_qos: match accepted.auth {
                OneNetAuth::Legacy => self.profile.topics.legacy_granted_qos,
                // "granted Qos最大为0".
                OneNetAuth::Token => 0,
            },
            keepalive: connect.keepalive,
            // The legacy FAQ lists wills as supported; a token CONNECT with one was closed.
            keep_will: true,
            implicit_filters: match accepted.auth {
                OneNetAuth::Legacy => vec![LEGACY_IMPLICIT.to_owned()],
                // "只有订阅了对应的topic才能收到平台的回复": nothing arrives unasked.
                OneNetAuth::Token => Vec::new(),
            },
            notes,
        })
    }

    /// OneNET's topic rules are cheap and some look at the payload: no memo.
    fn uplink(
        &self,
        admission: &Admission,
        publish: &Publish,
        _memo: &mut TopicMemo,
    ) -> UplinkVerdict {
        onenet_topics::uplink(&self.profile, admission, publish)
    }

    fn subscription(&self, admission: &Admission, filter: &str) -> SubscribeVerdict {
        onenet_topics::subscription(&self.profile, admission, filter)
    }

    /// The platform delivers at QoS 0: token products' "downlink QoS 0", legacy `$creq`
    /// commands pushed at QoS 0.
    fn delivery_qos(&self, _admission: &Admission, _publisher_qos: QoS) -> QoS {
        QoS::AtMostOnce
    }

    fn reply_to(&self, post: &Publish) -> Option<PostReply> {
        onenet_topics::reply_to(&self.profile.thing, post)
    }
}

impl OneNet {
    /// The CONNECT rules of the product's login that are not about credentials: `Some` closes
    /// the link. `notes` gets a line for a rule the profile lets pass.
    fn check_form(
        &self,
        connect: &Connect,
        auth: Option<OneNetAuth>,
        notes: &mut Vec<String>,
    ) -> Option<ConnectDecision> {
        let k = &self.profile.keepalive;
        match auth {
            Some(OneNetAuth::Legacy) if connect.keepalive < k.legacy_min => {
                if k.legacy_minimum {
                    return Some(close(format!(
                        "keepalive {} s is below the legacy product's documented {} s \
                         (keepalive.legacy_minimum)",
                        connect.keepalive, k.legacy_min
                    )));
                }
                notes.push(format!(
                    "keepalive {} s is below the legacy product's documented {} s; accepted, \
                     as seed 004 was (keepalive.legacy_minimum is off)",
                    connect.keepalive, k.legacy_min
                ));
            }
            Some(OneNetAuth::Token) => {
                // Connect flags must be C2: user name, password, clean session, nothing else.
                if let Some(will) = &connect.will {
                    return Some(close(format!(
                        "the CONNECT carries a will on {}; OneNET's token products have no \
                         wills and close the link",
                        will.topic
                    )));
                }
                if !connect.clean_session {
                    return Some(close(
                        "the CONNECT asks for a persistent session (clean session 0); OneNET's \
                         token products keep none and close the link"
                            .to_owned(),
                    ));
                }
                if !(k.token_min..=k.token_max).contains(&connect.keepalive) {
                    return Some(close(format!(
                        "keepalive {} s is outside the token products' {}-{} s",
                        connect.keepalive, k.token_min, k.token_max
                    )));
                }
            }
            Some(OneNetAuth::Legacy) | None => {}
        }
        None
    }

    /// The CONNACK a failed login gets: token products answer every authentication failure
    /// with 4; the legacy codes are the profile's.
    fn refusal(&self, refusal: &OneNetRefusal, auth: Option<OneNetAuth>) -> ConnectDecision {
        let login = &self.profile.login;
        let legacy = auth != Some(OneNetAuth::Token);
        let (kind, code) = match refusal {
            OneNetRefusal::UnknownDevice { .. } if legacy => {
                (RefusalKind::UnknownDevice, login.legacy_unknown_device_code)
            }
            OneNetRefusal::UnknownDevice { .. } => (RefusalKind::UnknownDevice, 4),
            OneNetRefusal::DeviceDisabled { .. } => {
                (RefusalKind::DeviceDisabled, login.disabled_device_code)
            }
            OneNetRefusal::SecretUnavailable { .. } => {
                (RefusalKind::SecretUnavailable, refusal.connack_code())
            }
            OneNetRefusal::AuthInfoMismatch { .. } | OneNetRefusal::PasswordNotText { .. }
                if legacy =>
            {
                (RefusalKind::SignMismatch, login.legacy_bad_auth_code)
            }
            OneNetRefusal::MissingUsername { .. } | OneNetRefusal::MissingPassword { .. } => {
                (RefusalKind::BadCredentials, 4)
            }
            OneNetRefusal::AuthInfoMismatch { .. }
            | OneNetRefusal::PasswordNotText { .. }
            | OneNetRefusal::BadToken { .. }
            | OneNetRefusal::TokenSignMismatch { .. } => (RefusalKind::SignMismatch, 4),
        };
        refuse(code, kind, refusal.to_string())
    }
}

/// The login of the device the CONNECT names, else of the product's other devices (an unknown
/// device of a known product), else `None`.
fn product_auth(devices: &DeviceRegistry, product: &str, client_id: &str) -> Option<OneNetAuth> {
    devices
        .find_onenet(product, client_id)
        .or_else(|| {
            devices
                .devices()
                .find(|d| d.platform == Platform::Onenet && d.product_key == product)
        })
        .map(|d| d.onenet_auth)
}

/// Close without CONNACK, recorded as a dropped CONNECT.
fn close(reason: String) -> ConnectDecision {
    ConnectDecision::Close { reason }
}

#[cfg(test)]
#[path = "onenet_tests.rs"]
mod tests;
