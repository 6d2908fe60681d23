//! What the impersonated cloud allows: [`CloudPolicy`] holds the device registry, the Alibaba
//! Cloud [`CloudProfile`] in force (the run's, with a scenario's override) and the
//! [`OneNetProfile`], and answers the session's questions: is this CONNECT accepted (else which
//! CONNACK code and why, or close without one), what a SUBACK grants, what becomes of this
//! PUBLISH or SUBSCRIBE, at which QoS a downlink arrives. It picks the platform a CONNECT is
//! for and asks that [`CloudPlatform`] (`platform/`); sessions never decide cloud behaviour
//! themselves. The configurable rules are data, in `profile/`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::platform::{Aliyun, OneNet, PostReply, Rules, SubscribeVerdict};
use super::profile::config::Violation;
use super::profile::logins::Logins;
use super::profile::{CloudProfile, OneNetProfile, ProfileOverride};
use crate::cloud::{DeviceRegistry, OneNetAuth, Platform};
use crate::events::ConnId;
use crate::mqtt::{Connect, Publish, QoS};

/// Why a CONNECT was refused, in words an assertion can match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The client id is not `<id>|k=v,…|` or names an unknown sign method (CONNACK 2).
    MalformedClientId,
    /// Username or password missing or not of the platform's form.
    BadCredentials,
    /// No registered device has this ProductKey/DeviceName (or OneNET product/device).
    UnknownDevice,
    /// The device exists but the password is not its sign (or auth info, or token).
    SignMismatch,
    DeviceDisabled,
    /// The harness could not read the device's secret (an unset variable, a missing file).
    SecretUnavailable,
    /// Keepalive outside the cloud's window (Alibaba Cloud: 30–1200 s).
    KeepaliveOutOfRange,
    /// Not MQTT 3.1 (`MQIsdp`, level 3) or 3.1.1 (`MQTT`, level 4); OneNET: not 3.1.1.
    UnsupportedProtocol,
    /// A `refuse_next_connect` fault refused it, whatever its credentials (broker/fault).
    FaultInjected,
}

impl std::fmt::Display for RefusalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RefusalKind::MalformedClientId => "the client id is malformed",
            RefusalKind::BadCredentials => "the username or password is malformed",
            RefusalKind::UnknownDevice => "no such device is registered",
            RefusalKind::SignMismatch => "the sign did not match",
            RefusalKind::DeviceDisabled => "the device is disabled",
            RefusalKind::SecretUnavailable => "the device's secret could not be read",
            RefusalKind::KeepaliveOutOfRange => "the keepalive is out of range",
            RefusalKind::UnsupportedProtocol => "the protocol level is not supported",
            RefusalKind::FaultInjected => "a fault was injected",
        })
    }
}

/// A refusal's kind and the one-line detail (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalReason {
    pub kind: RefusalKind,
    pub detail: String,
}

impl std::fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.kind, self.detail)
    }
}

/// A CONNECT the cloud lets in, with what the login decided for the rest of the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// Registry name, e.g. `aliyun/device2`.
    pub device: String,
    pub platform: Platform,
    /// ProductKey (OneNET: product id) and DeviceName (OneNET: device id or name).
    pub product_key: String,
    pub device_name: String,
    /// The client id the gateway uses towards rumqttd: one per *device*, so that a second
    /// login of the same device takes over the first, as both clouds do.
    pub upstream_client_id: String,
    /// OneNET: the login the device file names; `None` for Alibaba Cloud.
    pub onenet_auth: Option<OneNetAuth>,
    /// The SUBACK grant: the profile's (Alibaba Cloud: 1); OneNET token products 0.
    pub granted_qos: u8,
    /// The keepalive the server's idle timer uses (capped at the profile's maximum).
    pub keepalive: u16,
    /// Whether the CONNECT's will goes upstream (the cloud ignores wills by default).
    pub keep_will: bool,
    /// The downlink filters this device receives without SUBSCRIBE, rendered (may be empty).
    pub implicit_filters: Vec<String>,
    /// Lines for the transcript: a capped keepalive, an ignored will.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectDecision {
    Accept(Admission),
    /// Answer CONNACK `code`, then close.
    Refuse {
        code: u8,
        reason: RefusalReason,
    },
    /// Close the link without a CONNACK, as OneNET does with a CONNECT that breaks its
    /// protocol rules (an anonymous login); the text says why.
    Close {
        reason: String,
    },
}

/// The last topic a link was found allowed to publish on, and under which profile. A device
/// publishes on a few topics over and over; checking the topic's form and the device's right
/// to it for every PUBLISH was a tenth of the gateway's work per message. The answer holds
/// only for the same link (its admission) and the same profile: an override swaps the
/// profile, and with it the memo no longer matches.
#[derive(Debug, Default)]
pub struct TopicMemo {
    allowed: Option<(Arc<CloudProfile>, String)>,
}

impl TopicMemo {
    /// Whether `topic` was found allowed under `profile` last time.
    pub(crate) fn allows(&self, profile: &Arc<CloudProfile>, topic: &str) -> bool {
        matches!(&self.allowed, Some((p, t)) if Arc::ptr_eq(p, profile) && t == topic)
    }

    /// `topic` is allowed under `profile`.
    pub(crate) fn remember(&mut self, profile: &Arc<CloudProfile>, topic: &str) {
        match &mut self.allowed {
            Some((p, t)) => {
                if !Arc::ptr_eq(p, profile) {
                    *p = profile.clone();
                }
                t.clear();
                t.push_str(topic);
            }
            None => self.allowed = Some((profile.clone(), topic.to_owned())),
        }
    }
}

/// What the gateway does with a PUBLISH from a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UplinkVerdict {
    /// Send this (possibly changed, e.g. retain cleared) upstream; the note says what changed.
    Forward {
        publish: Publish,
        note: Option<String>,
    },
    /// Discard it, acknowledging a QoS 1 PUBLISH; the text says why (for `drops()`).
    Drop(String),
    /// Close the connection; the text says why (for the transcript and `drops()`).
    Disconnect(String),
}

/// The cloud's rules and its device registry.
#[derive(Debug)]
pub struct CloudPolicy {
    devices: DeviceRegistry,
    /// The run's profile (set when the broker starts).
    base: CloudProfile,
    /// The OneNET rules no source confirms (`athil broker --onenet-profile`).
    onenet: Arc<OneNetProfile>,
    /// `base` with the scenario's override, swapped whole so a reader never sees half of one.
    current: RwLock<Arc<CloudProfile>>,
    logins: Arc<Logins>,
    /// Numbers upstream client ids when one device may hold several connections.
    next_login: AtomicU64,
}

impl Clone for CloudPolicy {
    /// The same registry and profiles; nobody logged in.
    fn clone(&self) -> Self {
        CloudPolicy {
            devices: self.devices.clone(),
            base: self.base.clone(),
            onenet: self.onenet.clone(),
            current: RwLock::new(self.profile()),
            logins: Arc::default(),
            next_login: AtomicU64::new(0),
        }
    }
}

impl CloudPolicy {
    /// The documented defaults ([`CloudProfile::default`]) over `devices`.
    pub fn new(devices: DeviceRegistry) -> CloudPolicy {
        CloudPolicy {
            devices,
            base: CloudProfile::default(),
            onenet: Arc::default(),
            current: RwLock::new(Arc::new(CloudProfile::default())),
            logins: Arc::default(),
            next_login: AtomicU64::new(0),
        }
    }

    pub fn devices(&self) -> &DeviceRegistry {
        &self.devices
    }

    /// Makes `profile` the run's profile (and the one in force).
    pub fn install(&mut self, profile: CloudProfile) {
        self.current = RwLock::new(Arc::new(profile.clone()));
        self.base = profile;
    }

    /// Makes `profile` the OneNET profile.
    pub fn install_onenet(&mut self, profile: OneNetProfile) {
        self.onenet = Arc::new(profile);
    }

    /// The OneNET profile.
    pub fn onenet_profile(&self) -> Arc<OneNetProfile> {
        self.onenet.clone()
    }

    /// The profile in force now.
    pub fn profile(&self) -> Arc<CloudProfile> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Applies a scenario's override over the run's profile; `None` goes back to the run's.
    pub fn set_override(&self, o: Option<&ProfileOverride>) {
        let next = Arc::new(match o {
            Some(o) => self.base.with(o),
            None => self.base.clone(),
        });
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = next;
    }

    /// How long a link may stay without CONNECT, from the profile in force.
    pub fn connect_timeout(&self) -> Duration {
        self.profile().login.connect_timeout.0
    }

    /// Records that `device` logged in on `conn`; returns the connection it kicks, if the
    /// profile keeps one connection per device.
    pub fn login(&self, device: &str, conn: ConnId) -> Option<ConnId> {
        let kicked = self.logins.login(device, conn);
        kicked.filter(|_| self.one_connection_per_device())
    }

    /// Whether a newer login of a device kicks its older connection (the profile in force).
    pub fn one_connection_per_device(&self) -> bool {
        self.profile().login.one_connection_per_device
    }

    /// The login table, for a connection task to log out of when it ends.
    pub(crate) fn logins(&self) -> Arc<Logins> {
        self.logins.clone()
    }

    /// The connection that replaced `conn`, if any (for explaining why rumqttd let go of it).
    pub fn replaced_by(&self, conn: ConnId) -> Option<ConnId> {
        self.logins.replaced_by(conn)
    }

    /// Whether the cloud speaks a CONNECT's protocol: `None` for MQTT 3.1.1 (`MQTT`, 4) and
    /// MQTT 3.1 (`MQIsdp`, 3), which Alibaba Cloud both accepts (aliyun-onenet.md §2.5);
    /// otherwise CONNACK 1, "unacceptable protocol version" (MQTT 3.1.1 §3.1.2.2), which the
    /// session also asks for a CONNECT whose rest is not 3.1.1 (MQTT 5's properties). It is
    /// the gate every platform shares, asked before the platform is known; OneNET narrows it
    /// to 3.1.1 in its own CONNECT decision.
    pub fn decide_protocol(&self, name: &str, level: u8) -> Option<ConnectDecision> {
        let detail = match (name, level) {
            ("MQTT", 4) | ("MQIsdp", 3) => return None,
            ("MQTT", 5) => "protocol level 5 (MQTT 5.0)".to_owned(),
            ("MQTT" | "MQIsdp", n) => format!("protocol level {n} with the name {name:?}"),
            (other, n) => format!("protocol name {other:?} (level {n})"),
        };
        Some(refuse(
            1,
            RefusalKind::UnsupportedProtocol,
            format!("{detail}; the cloud speaks MQTT 3.1 (MQIsdp, 3) and 3.1.1 (MQTT, 4)"),
        ))
    }

    /// The rules of `platform`, under the profiles in force now.
    pub fn platform(&self, platform: Platform) -> Rules {
        match platform {
            Platform::Aliyun => Rules::Aliyun(Aliyun {
                profile: self.profile(),
            }),
            Platform::Onenet => Rules::OneNet(OneNet {
                profile: self.onenet.clone(),
            }),
        }
    }

    /// Decides a CONNECT as the cloud its device belongs to would: OneNET when it names a
    /// OneNET product (or, anonymous, a OneNET device), Alibaba Cloud otherwise.
    pub fn decide_connect(&self, connect: &Connect) -> ConnectDecision {
        if let Some(refusal) = self.decide_protocol(&connect.protocol_name, connect.protocol_level)
        {
            return refusal;
        }
        let onenet = self.platform(Platform::Onenet);
        let rules = if onenet.claims(connect, &self.devices) {
            onenet
        } else {
            self.platform(Platform::Aliyun)
        };
        match rules.decide_connect(connect, &self.devices) {
            ConnectDecision::Accept(mut admission) => {
                admission.upstream_client_id = self.upstream_id(
                    std::mem::take(&mut admission.upstream_client_id),
                    connect.clean_session,
                    self.profile().login.one_connection_per_device,
                );
                ConnectDecision::Accept(admission)
            }
            other => other,
        }
    }

    /// The client id rumqttd sees for a login of the device `base` names.
    ///
    /// rumqttd takes a second CONNECT with the same client id over asynchronously, so a device
    /// that reconnects right after a DISCONNECT (every firmware's reconnect loop) could find
    /// its new session torn down along with the old one. The gateway kicks older logins
    /// itself, so rumqttd needs the device's own id only to resume a persistent session
    /// (`clean_session` 0); every other login gets an id of its own.
    fn upstream_id(&self, base: String, clean_session: bool, one_per_device: bool) -> String {
        if clean_session || !one_per_device {
            let n = self.next_login.fetch_add(1, Ordering::Relaxed);
            format!("{base}.{n}")
        } else {
            base
        }
    }

    /// The SUBACK return code for one filter: rumqttd's failure (`80`) stands, otherwise the
    /// platform's grant whatever was asked (Alibaba Cloud: `01` even for QoS 0 and 2, seed 002).
    pub fn granted(&self, admission: &Admission, upstream_code: u8) -> u8 {
        self.platform(admission.platform)
            .granted(admission, upstream_code)
    }

    /// What becomes of a device's PUBLISH on its platform.
    /// What becomes of a device's PUBLISH; `memo` is the link's own (see [`TopicMemo`]).
    pub fn uplink(
        &self,
        admission: &Admission,
        publish: &Publish,
        memo: &mut TopicMemo,
    ) -> UplinkVerdict {
        self.platform(admission.platform)
            .uplink(admission, publish, memo)
    }

    /// What becomes of one filter the device subscribes to.
    pub fn subscription(&self, admission: &Admission, filter: &str) -> SubscribeVerdict {
        self.platform(admission.platform)
            .subscription(admission, filter)
    }

    /// The QoS a downlink published at `publisher_qos` reaches the device at.
    pub fn delivery_qos(&self, admission: &Admission, publisher_qos: QoS) -> QoS {
        self.platform(admission.platform)
            .delivery_qos(admission, publisher_qos)
    }

    /// The reply of the platform whose topic `post` is on, if it answers it.
    pub fn reply_to(&self, post: &Publish) -> Option<PostReply> {
        [Platform::Aliyun, Platform::Onenet]
            .into_iter()
            .find_map(|p| self.platform(p).reply_to(post))
    }
}

pub(crate) fn violation(action: Violation, why: String) -> UplinkVerdict {
    match action {
        Violation::Drop => UplinkVerdict::Drop(why),
        Violation::Disconnect => UplinkVerdict::Disconnect(why),
    }
}

pub(crate) fn refuse(code: u8, kind: RefusalKind, detail: String) -> ConnectDecision {
    ConnectDecision::Refuse {
        code,
        reason: RefusalReason { kind, detail },
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
