//! What the impersonated cloud allows: [`CloudPolicy`] decides each CONNECT (accept, or refuse
//! with a CONNACK code and a [`RefusalReason`]), the QoS a SUBACK grants, and which uplinks are
//! protocol violations. Sessions ask it; they never decide cloud behaviour themselves.
//!
//! This is the seam where a full cloud profile (topic permissions, limits, injected faults)
//! grows: add a rule here and a question the session asks, and the gateway stays the same.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cloud::onenet::device_resource;
use crate::cloud::{
    verify_aliyun_connect, Device, DeviceRegistry, DeviceStatus, OneNetAuth, Platform, Refusal,
    Token,
};
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
    /// Keepalive outside the cloud's window (Alibaba Cloud: below 30 s).
    KeepaliveOutOfRange,
    /// Protocol level other than 3 (MQTT 3.1) or 4 (3.1.1).
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

/// A CONNECT the cloud lets in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// Registry name, e.g. `aliyun/device2`.
    pub device: String,
    pub platform: Platform,
    /// The client id the gateway uses towards rumqttd: one per *device*, so that a second
    /// login of the same device takes over the first, as both clouds do.
    pub upstream_client_id: String,
    /// OneNET token products grant QoS 0 at most; everything else grants 1.
    pub granted_qos: u8,
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
    Forward,
    /// Close the connection; the text says why (for the transcript).
    Disconnect(String),
}

/// The cloud's rules, over a device registry.
#[derive(Debug, Clone)]
pub struct CloudPolicy {
    devices: DeviceRegistry,
    /// Alibaba Cloud refuses keepalives below this with CONNACK 3 (Link SDK 4; §2.4).
    pub aliyun_min_keepalive: u16,
    /// CONNACK code for a wrong sign. Whether the live cloud says 4 or 5 is unconfirmed
    /// (aliyun-onenet.md §0.6); 4 is what community logs show.
    pub sign_mismatch_code: u8,
    /// A link that sends no CONNECT within this is closed. Seed 000 reports the cloud closing
    /// a silent link after about 10 s (unconfirmed by any document, aliyun-onenet.md §5).
    pub connect_timeout: Duration,
}

impl CloudPolicy {
    pub fn new(devices: DeviceRegistry) -> CloudPolicy {
        CloudPolicy {
            devices,
            aliyun_min_keepalive: 30,
            sign_mismatch_code: 4,
            connect_timeout: Duration::from_secs(10),
        }
    }

    pub fn devices(&self) -> &DeviceRegistry {
        &self.devices
    }

    /// Decides a CONNECT as the cloud its device belongs to would.
    pub fn decide_connect(&self, connect: &Connect) -> ConnectDecision {
        if !matches!(connect.protocol_level, 3 | 4) {
            return refuse(
                1,
                RefusalKind::UnsupportedProtocol,
                format!(
                    "protocol level {} (name {:?}); the cloud speaks MQTT 3.1 and 3.1.1",
                    connect.protocol_level, connect.protocol_name
                ),
            );
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

    fn decide_aliyun(&self, connect: &Connect) -> ConnectDecision {
        let accepted = match verify_aliyun_connect(connect, &self.devices) {
            Ok(a) => a,
            Err(refusal) => {
                let (kind, code) = match &refusal {
                    Refusal::MalformedClientId(_) | Refusal::UnsupportedSignMethod { .. } => {
                        (RefusalKind::MalformedClientId, refusal.connack_code())
                    }
                    Refusal::MissingUsername { .. }
                    | Refusal::UsernameNotDnPk { .. }
                    | Refusal::UsernameReversed { .. }
                    | Refusal::MissingPassword { .. } => {
                        (RefusalKind::BadCredentials, refusal.connack_code())
                    }
                    Refusal::UnknownDevice { .. } => {
                        (RefusalKind::UnknownDevice, refusal.connack_code())
                    }
                    Refusal::DeviceDisabled { .. } => {
                        (RefusalKind::DeviceDisabled, refusal.connack_code())
                    }
                    Refusal::SecretUnavailable { .. } => {
                        (RefusalKind::SecretUnavailable, refusal.connack_code())
                    }
                    Refusal::SignMismatch { .. } => {
                        (RefusalKind::SignMismatch, self.sign_mismatch_code)
                    }
                };
                let device = connect.username.as_deref().and_then(|u| {
                    let (dn, pk) = crate::cloud::aliyun::split_username(u)?;
                    self.devices.find_aliyun(pk, dn)
                });
                return refuse(code, kind, redact(refusal.to_string(), device));
            }
        };
        if connect.keepalive < self.aliyun_min_keepalive {
            return refuse(
                3,
                RefusalKind::KeepaliveOutOfRange,
                format!(
                    "keepalive {} s is below Alibaba Cloud's minimum of {} s",
                    connect.keepalive, self.aliyun_min_keepalive
                ),
            );
        }
        ConnectDecision::Accept(Admission {
            device: accepted.device,
            platform: Platform::Aliyun,
            upstream_client_id: format!("{}.{}", accepted.product_key, accepted.device_name),
            granted_qos: 1,
        })
    }

    /// OneNET: client id = device id (legacy) or device name (token), username = product id,
    /// password = auth info (legacy) or a token. Both refuse bad credentials with CONNACK 4.
    fn decide_onenet(&self, connect: &Connect, product_id: &str) -> ConnectDecision {
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
            upstream_client_id: format!("onenet.{}.{}", device.product_key, device.device_name),
            granted_qos: match device.onenet_auth {
                OneNetAuth::Legacy => 1,
                // "granted Qos最大为0" (aliyun-onenet.md §3.2).
                OneNetAuth::Token => 0,
            },
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

    /// Whether a device's PUBLISH is allowed on this cloud.
    pub fn uplink(&self, _admission: &Admission, publish: &Publish) -> UplinkVerdict {
        if publish.qos == QoS::ExactlyOnce {
            // Neither cloud has QoS 2; what Alibaba Cloud does with one is unconfirmed
            // (aliyun-onenet.md §5 suggests a disconnect), OneNET documents a disconnect.
            return UplinkVerdict::Disconnect(format!(
                "PUBLISH to {} asks for QoS 2, which the cloud does not support",
                publish.topic
            ));
        }
        UplinkVerdict::Forward
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
mod tests {
    use super::*;
    use crate::cloud::{DeviceSecret, SecretSource};
    use rstest::rstest;

    const SIGN_002: &str = "5caeef5b9251940696b02dc80b615c3f739f46bc";

    fn policy() -> CloudPolicy {
        let device2 = Device::aliyun(
            "aliyun/device2",
            "a1ndPQHcX7f",
            "device2",
            DeviceSecret::new("1448e1c58996469449813ed68e3b0fed"),
        );
        let mut onenet = Device::aliyun(
            "onenet/657077",
            "20190156",
            "657077",
            DeviceSecret::new("sn888"),
        );
        onenet.platform = Platform::Onenet;
        onenet.secret = SecretSource::Inline(DeviceSecret::new("sn888"));
        CloudPolicy::new(DeviceRegistry::from_devices([device2, onenet]).unwrap())
    }

    /// Seed 002's accepted CONNECT, field by field.
    fn connect_002(client_id: &str, password: &str) -> Connect {
        let mut c = Connect::new(client_id, 100);
        c.username = Some("device2&a1ndPQHcX7f".into());
        c.password = Some(password.as_bytes().to_vec());
        c
    }

    #[test]
    fn seed_002_connect_is_accepted() {
        let d = policy().decide_connect(&connect_002(
            "device2|securemode=3,signmethod=hmacsha1|",
            SIGN_002,
        ));
        assert_eq!(
            d,
            ConnectDecision::Accept(Admission {
                device: "aliyun/device2".into(),
                platform: Platform::Aliyun,
                upstream_client_id: "a1ndPQHcX7f.device2".into(),
                granted_qos: 1,
            })
        );
    }

    #[rstest]
    #[case::wrong_sign(
        "device2|securemode=3,signmethod=hmacsha1|",
        "5caeef5b9251940696b02dc80b615c3f739f46bd",
        4,
        RefusalKind::SignMismatch
    )]
    #[case::seed_002_stray_line_feed(
        "device2|securemode=3,signmethod=hmacsha1|\n",
        SIGN_002,
        2,
        RefusalKind::MalformedClientId
    )]
    #[case::no_params("device2", SIGN_002, 2, RefusalKind::MalformedClientId)]
    fn refusals(
        #[case] client_id: &str,
        #[case] password: &str,
        #[case] code: u8,
        #[case] kind: RefusalKind,
    ) {
        match policy().decide_connect(&connect_002(client_id, password)) {
            ConnectDecision::Refuse { code: c, reason } => {
                assert_eq!((c, reason.kind), (code, kind), "{reason}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn unknown_device_is_code_4() {
        let mut c = connect_002("dev9|securemode=3,signmethod=hmacsha1|", SIGN_002);
        c.username = Some("dev9&a1ndPQHcX7f".into());
        let ConnectDecision::Refuse { code, reason } = policy().decide_connect(&c) else {
            panic!("accepted an unknown device")
        };
        assert_eq!((code, reason.kind), (4, RefusalKind::UnknownDevice));
    }

    #[test]
    fn a_secret_typed_as_password_is_not_echoed() {
        let secret = "1448e1c58996469449813ed68e3b0fed";
        let ConnectDecision::Refuse { reason, .. } = policy().decide_connect(&connect_002(
            "device2|securemode=3,signmethod=hmacsha1|",
            secret,
        )) else {
            panic!("accepted the secret as a sign")
        };
        assert!(!reason.to_string().contains(secret), "{reason}");
    }

    #[test]
    fn keepalive_below_30_is_code_3() {
        let mut c = connect_002("device2|securemode=3,signmethod=hmacsha1|", SIGN_002);
        c.keepalive = 10;
        let ConnectDecision::Refuse { code, reason } = policy().decide_connect(&c) else {
            panic!("accepted keepalive 10")
        };
        assert_eq!((code, reason.kind), (3, RefusalKind::KeepaliveOutOfRange));
    }

    #[test]
    fn seed_004_onenet_legacy_login() {
        let mut c = Connect::new("657077", 30);
        c.username = Some("20190156".into());
        c.password = Some(b"sn888".to_vec());
        let ConnectDecision::Accept(a) = policy().decide_connect(&c) else {
            panic!("refused seed 004's login")
        };
        assert_eq!(
            (a.platform, a.upstream_client_id.as_str()),
            (Platform::Onenet, "onenet.20190156.657077")
        );
        c.password = Some(b"sn889".to_vec());
        let ConnectDecision::Refuse { code, reason } = policy().decide_connect(&c) else {
            panic!("accepted a wrong auth info")
        };
        assert_eq!((code, reason.kind), (4, RefusalKind::SignMismatch));
        assert!(!reason.to_string().contains("sn88"), "{reason}");
    }

    #[test]
    fn suback_grants_01_whatever_was_asked_and_keeps_failures() {
        let p = policy();
        let ConnectDecision::Accept(a) = p.decide_connect(&connect_002(
            "device2|securemode=3,signmethod=hmacsha1|",
            SIGN_002,
        )) else {
            panic!()
        };
        assert_eq!(
            [
                p.granted(&a, 0),
                p.granted(&a, 1),
                p.granted(&a, 2),
                p.granted(&a, 0x80)
            ],
            [1, 1, 1, 0x80]
        );
    }
}
