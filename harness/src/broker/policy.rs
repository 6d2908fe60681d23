//! What the impersonated cloud allows: [`CloudPolicy`] holds the device registry and the
//! [`CloudProfile`] in force (the run's, with a scenario's override) and answers the session's
//! questions: is this CONNECT accepted (else which CONNACK code and why), what a SUBACK grants,
//! what becomes of this PUBLISH, may this filter be subscribed. Sessions ask it; they never
//! decide cloud behaviour themselves. The rules themselves are data, in `profile/`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::profile::config::{Implicit, RetainRule, Violation, WillRule};
use super::profile::keepalive::{self, Verdict};
use super::profile::limits;
use super::profile::logins::Logins;
use super::profile::topics::Permissions;
use super::profile::{CloudProfile, ProfileOverride};
use crate::cloud::onenet::device_resource;
use crate::cloud::{
    verify_aliyun_connect, Device, DeviceRegistry, DeviceStatus, OneNetAuth, Platform, Refusal,
    Token,
};
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
    /// Not MQTT 3.1 (`MQIsdp`, level 3) or 3.1.1 (`MQTT`, level 4).
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
        kicked.filter(|_| self.profile().login.one_connection_per_device)
    }

    /// Completes when a newer login of `conn`'s device replaces it (one connection per
    /// device); never completes when the profile lets a device hold several.
    pub async fn replaced(&self, conn: ConnId) -> ConnId {
        let newer = self.logins.replaced(conn).await;
        if self.profile().login.one_connection_per_device {
            newer
        } else {
            std::future::pending().await
        }
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
    /// session also asks for a CONNECT whose rest is not 3.1.1 (MQTT 5's properties).
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

    /// Decides a CONNECT as the cloud its device belongs to would.
    pub fn decide_connect(&self, connect: &Connect) -> ConnectDecision {
        if let Some(refusal) = self.decide_protocol(&connect.protocol_name, connect.protocol_level)
        {
            return refusal;
        }
        if let Some(product_id) = connect.username.as_deref() {
            if !connect.client_id.contains('|')
                && self
                    .devices
                    .devices()
                    .any(|d| d.platform == Platform::Onenet && d.product_key == product_id)
            {
                return self.decide_onenet(connect, product_id);
            }
        }
        self.decide_aliyun(connect)
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

    fn decide_aliyun(&self, connect: &Connect) -> ConnectDecision {
        let profile = self.profile();
        let codes = &profile.login;
        let accepted = match verify_aliyun_connect(connect, &self.devices) {
            Ok(a) => a,
            Err(refusal) => {
                let (kind, code) = match &refusal {
                    Refusal::MalformedClientId(_) | Refusal::UnsupportedSignMethod { .. } => (
                        RefusalKind::MalformedClientId,
                        codes.malformed_client_id_code,
                    ),
                    Refusal::MissingUsername { .. }
                    | Refusal::UsernameNotDnPk { .. }
                    | Refusal::UsernameReversed { .. }
                    | Refusal::MissingPassword { .. } => {
                        (RefusalKind::BadCredentials, codes.bad_credentials_code)
                    }
                    Refusal::UnknownDevice { .. } => {
                        (RefusalKind::UnknownDevice, codes.unknown_device_code)
                    }
                    Refusal::DeviceDisabled { .. } => {
                        (RefusalKind::DeviceDisabled, codes.disabled_device_code)
                    }
                    Refusal::SecretUnavailable { .. } => {
                        (RefusalKind::SecretUnavailable, refusal.connack_code())
                    }
                    Refusal::SignMismatch { .. } => {
                        (RefusalKind::SignMismatch, codes.sign_mismatch_code)
                    }
                };
                let device = connect.username.as_deref().and_then(|u| {
                    let (dn, pk) = crate::cloud::aliyun::split_username(u)?;
                    self.devices.find_aliyun(pk, dn)
                });
                return refuse(code, kind, redact(refusal.to_string(), device));
            }
        };
        let mut notes = Vec::new();
        let keepalive = match keepalive::decide(&profile.keepalive, connect.keepalive) {
            Verdict::Refuse { code, detail } => {
                return refuse(code, RefusalKind::KeepaliveOutOfRange, detail)
            }
            Verdict::Accept { effective, note } => {
                notes.extend(note);
                effective
            }
        };
        let keep_will = profile.protocol.will == WillRule::Keep;
        if let (Some(will), false) = (&connect.will, keep_will) {
            notes.push(format!(
                "the CONNECT carries a will on {}; the cloud has no wills, it will never be \
                 published (§2.5)",
                will.topic
            ));
        }
        let implicit = match profile.topics.implicit {
            Implicit::Always => true,
            Implicit::Never => false,
            Implicit::Sdk => accepted.params.other("_ss") == Some("1"),
        };
        let permissions = Permissions::new(
            &profile.topics,
            &accepted.product_key,
            &accepted.device_name,
        );
        let implicit_filters = if implicit {
            permissions.implicit_filters()
        } else {
            Vec::new()
        };
        let upstream_client_id = self.upstream_id(
            format!("{}.{}", accepted.product_key, accepted.device_name),
            connect.clean_session,
            profile.login.one_connection_per_device,
        );
        ConnectDecision::Accept(Admission {
            device: accepted.device,
            platform: Platform::Aliyun,
            product_key: accepted.product_key,
            device_name: accepted.device_name,
            upstream_client_id,
            granted_qos: profile.protocol.granted_qos,
            keepalive,
            keep_will,
            implicit_filters,
            notes,
        })
    }

    /// OneNET: client id = device id (legacy) or device name (token), username = product id,
    /// password = auth info (legacy) or a token. Both refuse bad credentials with CONNACK 4.
    /// The Alibaba Cloud profile does not apply (only its idle timer does).
    fn decide_onenet(&self, connect: &Connect, product_id: &str) -> ConnectDecision {
        if connect.protocol_level != 4 {
            // "平台只支持版本v3.1.1" (aliyun-onenet.md §3.1), unlike Alibaba Cloud.
            return refuse(
                1,
                RefusalKind::UnsupportedProtocol,
                "MQTT 3.1 (MQIsdp, 3); OneNET speaks only 3.1.1 (MQTT, 4)".to_owned(),
            );
        }
        let Some(device) = self.devices.find_onenet(product_id, &connect.client_id) else {
            return refuse(
                4,
                RefusalKind::UnknownDevice,
                format!(
                    "OneNET product {product_id} has no device {:?} in the registry",
                    connect.client_id
                ),
            );
        };
        if device.status == DeviceStatus::Disabled {
            return refuse(
                5,
                RefusalKind::DeviceDisabled,
                format!("device `{}` is disabled", device.name),
            );
        }
        let secret = match device.secret() {
            Ok(s) => s,
            Err(e) => return refuse(3, RefusalKind::SecretUnavailable, e.to_string()),
        };
        let Some(password) = connect.password.as_deref() else {
            return refuse(
                4,
                RefusalKind::BadCredentials,
                format!("device `{}`: the CONNECT has no password", device.name),
            );
        };
        let checked = match device.onenet_auth {
            OneNetAuth::Legacy => {
                if password == secret.expose().as_bytes() {
                    Ok(())
                } else {
                    // The auth info is the secret itself: say that it differs, never what.
                    Err(format!(
                        "device `{}`: the password is not the device's auth info",
                        device.name
                    ))
                }
            }
            OneNetAuth::Token => check_token(device, password, &secret),
        };
        if let Err(detail) = checked {
            return refuse(4, RefusalKind::SignMismatch, detail);
        }
        ConnectDecision::Accept(Admission {
            device: device.name.clone(),
            platform: Platform::Onenet,
            product_key: device.product_key.clone(),
            device_name: device.device_name.clone(),
            upstream_client_id: self.upstream_id(
                format!("onenet.{}.{}", device.product_key, device.device_name),
                connect.clean_session,
                self.profile().login.one_connection_per_device,
            ),
            granted_qos: match device.onenet_auth {
                OneNetAuth::Legacy => 1,
                // "granted Qos最大为0" (aliyun-onenet.md §3.2).
                OneNetAuth::Token => 0,
            },
            keepalive: connect.keepalive,
            keep_will: true,
            implicit_filters: Vec::new(),
            notes: Vec::new(),
        })
    }

    /// The SUBACK return code for one filter: rumqttd's failure (`80`) stands, otherwise the
    /// cloud's grant whatever was asked (Alibaba Cloud: `01` even for QoS 0 and 2, seed 002).
    pub fn granted(&self, admission: &Admission, upstream_code: u8) -> u8 {
        if upstream_code & 0x80 != 0 {
            upstream_code
        } else {
            admission.granted_qos
        }
    }

    /// What becomes of a device's PUBLISH on this cloud (§2.5, §2.6, §2.7).
    pub fn uplink(&self, admission: &Admission, publish: &Publish) -> UplinkVerdict {
        let forward = |publish: Publish| UplinkVerdict::Forward {
            publish,
            note: None,
        };
        if admission.platform == Platform::Onenet {
            if publish.qos == QoS::ExactlyOnce {
                // OneNET documents a disconnect (mqtts-design.md §2.2).
                return UplinkVerdict::Disconnect(format!(
                    "the PUBLISH to {} asks for QoS 2, which OneNET does not support",
                    publish.topic
                ));
            }
            return forward(publish.clone());
        }
        let profile = self.profile();
        if publish.qos == QoS::ExactlyOnce {
            return violation(
                profile.protocol.qos2_publish,
                format!(
                    "the PUBLISH to {} asks for QoS 2, which the cloud does not support (§2.5)",
                    publish.topic
                ),
            );
        }
        if let Err(why) =
            limits::check_payload(&profile.limits, &publish.topic, publish.payload.len())
        {
            return violation(profile.limits.oversize_payload, why);
        }
        if let Err(why) = limits::check_topic(&profile.limits, &publish.topic) {
            return violation(profile.topics.unpermitted_publish, why);
        }
        let permissions = Permissions::new(
            &profile.topics,
            &admission.product_key,
            &admission.device_name,
        );
        if let Err(why) = permissions.may_publish(&publish.topic) {
            return violation(profile.topics.unpermitted_publish, why);
        }
        if publish.retain && profile.protocol.retain == RetainRule::Clear {
            return UplinkVerdict::Forward {
                publish: Publish {
                    retain: false,
                    ..publish.clone()
                },
                note: Some(format!(
                    "the PUBLISH to {} asks to be retained; the cloud has no retained \
                     messages, it is delivered once and not kept (§2.5)",
                    publish.topic
                )),
            };
        }
        forward(publish.clone())
    }

    /// `Ok` when the device may subscribe to `filter` (§2.6, §2.7), else why not.
    pub fn subscription(&self, admission: &Admission, filter: &str) -> Result<(), String> {
        if admission.platform == Platform::Onenet {
            return Ok(());
        }
        let profile = self.profile();
        limits::check_topic(&profile.limits, filter)?;
        Permissions::new(
            &profile.topics,
            &admission.product_key,
            &admission.device_name,
        )
        .may_subscribe(filter)
    }
}

fn violation(action: Violation, why: String) -> UplinkVerdict {
    match action {
        Violation::Drop => UplinkVerdict::Drop(why),
        Violation::Disconnect => UplinkVerdict::Disconnect(why),
    }
}

fn refuse(code: u8, kind: RefusalKind, detail: String) -> ConnectDecision {
    ConnectDecision::Refuse {
        code,
        reason: RefusalReason { kind, detail },
    }
}

fn check_token(
    device: &Device,
    password: &[u8],
    key: &crate::cloud::DeviceSecret,
) -> Result<(), String> {
    let text = std::str::from_utf8(password)
        .map_err(|_| format!("device `{}`: the token is not UTF-8", device.name))?;
    let token = Token::parse(text).map_err(|e| format!("device `{}`: {e}", device.name))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let res = device_resource(&device.product_key, &device.device_name);
    token
        .verify(&res, key, now)
        .map_err(|e| format!("device `{}`: {e}", device.name))
}

/// A device that typed its DeviceSecret where the sign belongs would have it echoed in the
/// refusal's "got …"; cut it out so no log line carries a secret.
fn redact(detail: String, device: Option<&Device>) -> String {
    match device.and_then(|d| d.secret().ok()) {
        Some(secret) if !secret.is_empty() => detail.replace(secret.expose(), "***"),
        _ => detail,
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
