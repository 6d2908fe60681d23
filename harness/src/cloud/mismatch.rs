//! Why a sign does not match, said without the valid sign: [`SignDiffers`] names the input that
//! differs, found by [`diagnose`] trying the usual hand-built mistakes.
//!
//! For a device whose DeviceSecret is kept outside the registry file the valid sign is a login
//! (without a timestamp, one that never expires), so a refusal may not print it, nor the
//! password sent, which may be a valid sign for other content. Comparing HMACs is still how a
//! hand-built CONNECT gets fixed (seed 002), so the broker does the comparing and says what it
//! found.

use std::fmt;

use super::aliyun;
use super::client_id::ClientIdParams;
use super::registry::{Device, Platform};
use super::secret::DeviceSecret;
use super::sign::SignMethod;

/// The input a device's sign was made over, or with, that differs from what the CONNECT says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignDiffers {
    /// The password is the DeviceSecret itself, not an HMAC keyed with it.
    SecretAsPassword,
    /// It is this content's HMAC with another method than the client id names.
    Method { used: SignMethod, named: SignMethod },
    /// It covers no timestamp, but the client id carries one.
    TimestampLeftOut { timestamp: String },
    /// It was made with another `clientId` than the client id's head.
    ClientIdHead { signed: String, sent: String },
    /// It is the sign of another registered device; the username names this one.
    OtherDevice { device: String, username: String },
    /// Not hex of the method's length.
    Shape { len: usize, method: SignMethod },
    /// None of the above: another DeviceSecret, or content the broker did not guess.
    Unexplained,
}

impl fmt::Display for SignDiffers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignDiffers::SecretAsPassword => {
                f.write_str("the password is the DeviceSecret itself, not the sign made with it")
            }
            SignDiffers::Method { used, named } => write!(
                f,
                "the password is this content's {} sign, but the client id says signmethod={}",
                used.aliyun_name(),
                named.aliyun_name()
            ),
            SignDiffers::TimestampLeftOut { timestamp } => write!(
                f,
                "the sign leaves out the timestamp {timestamp} the client id carries"
            ),
            SignDiffers::ClientIdHead { signed, sent } => write!(
                f,
                "the sign was made with clientId {signed:?}, but the client id starts {sent:?}"
            ),
            SignDiffers::OtherDevice { device, username } => write!(
                f,
                "the password is the sign of device `{device}`, but the username {username:?} \
                 names this one"
            ),
            SignDiffers::Shape { len, method } => write!(
                f,
                "the password is {len} bytes, not the {} hex digits of a {} sign",
                method.mac_len() * 2,
                method.aliyun_name()
            ),
            SignDiffers::Unexplained => f.write_str(
                "it is not the sign of this content with this device's DeviceSecret: check the \
                 DeviceSecret, and that the sign covers exactly this client id head, DeviceName, \
                 ProductKey and timestamp",
            ),
        }
    }
}

/// What the CONNECT claims: its parsed client id and its username's halves.
pub struct Claim<'a> {
    pub params: &'a ClientIdParams,
    pub device_name: &'a str,
    pub product_key: &'a str,
}

/// Which input differs between `password` and the sign `device` (keyed with `secret`) would
/// send for `claim`. `others` are the registry's other devices, tried for a sign that belongs
/// to one of them.
pub fn diagnose<'d>(
    password: &[u8],
    device: &Device,
    secret: &DeviceSecret,
    claim: &Claim<'_>,
    others: impl Iterator<Item = &'d Device>,
) -> SignDiffers {
    let named = claim.params.sign_method();
    let is = |s: &str| password.eq_ignore_ascii_case(s.as_bytes());
    let sign = |secret: &DeviceSecret, method, head: &str, ts: Option<&str>| {
        let content = aliyun::sign_content(head, claim.device_name, claim.product_key, ts);
        aliyun::sign(secret, method, &content)
    };
    let (head, ts) = (
        claim.params.head.as_str(),
        claim.params.timestamp.as_deref(),
    );
    if password == secret.expose().as_bytes() {
        return SignDiffers::SecretAsPassword;
    }
    for used in SignMethod::ALL.into_iter().filter(|m| *m != named) {
        if is(&sign(secret, used, head, ts)) {
            return SignDiffers::Method { used, named };
        }
    }
    if let Some(ts) = ts {
        if is(&sign(secret, named, head, None)) {
            return SignDiffers::TimestampLeftOut {
                timestamp: ts.to_owned(),
            };
        }
    }
    let heads = [
        Some(device.device_name.as_str()),
        device.client_id.as_deref(),
    ];
    for signed in heads.into_iter().flatten().filter(|h| *h != head) {
        // A full `<id>|…|` client id in the registry signs with its head only.
        let signed = signed.split('|').next().unwrap_or(signed);
        if is(&sign(secret, named, signed, ts)) {
            return SignDiffers::ClientIdHead {
                signed: signed.to_owned(),
                sent: head.to_owned(),
            };
        }
    }
    for other in others.filter(|o| o.platform == Platform::Aliyun && o.name != device.name) {
        let Ok(key) = other.secret() else { continue };
        let other_head = other.client_id.as_deref().unwrap_or(&other.device_name);
        let other_head = other_head.split('|').next().unwrap_or(other_head);
        let content = aliyun::sign_content(other_head, &other.device_name, &other.product_key, ts);
        if is(&aliyun::sign(&key, named, &content)) {
            return SignDiffers::OtherDevice {
                device: other.name.clone(),
                username: aliyun::username(claim.device_name, claim.product_key),
            };
        }
    }
    let hex_len = named.mac_len() * 2;
    if password.len() != hex_len || !password.iter().all(u8::is_ascii_hexdigit) {
        return SignDiffers::Shape {
            len: password.len(),
            method: named,
        };
    }
    SignDiffers::Unexplained
}

#[cfg(test)]
mod tests {
    use super::*;

    const PK: &str = "a1LampPk001";
    const SECRET: &str = "9f3b6c0e2a7d4185b6c9e0f1a2d3b4c5";

    fn device() -> Device {
        Device::aliyun("aliyun/lamp", PK, "lamp", DeviceSecret::new(SECRET))
    }

    fn why(client_id: &str, password: &[u8], others: &[Device]) -> SignDiffers {
        let params = ClientIdParams::parse(client_id).unwrap();
        let claim = Claim {
            params: &params,
            device_name: "lamp",
            product_key: PK,
        };
        diagnose(
            password,
            &device(),
            &DeviceSecret::new(SECRET),
            &claim,
            others.iter(),
        )
    }

    fn sign(method: SignMethod, head: &str, ts: Option<&str>) -> String {
        let content = aliyun::sign_content(head, "lamp", PK, ts);
        aliyun::sign(&DeviceSecret::new(SECRET), method, &content)
    }

    #[test]
    fn each_usual_mistake_is_named() {
        let sha1 = "lamp|securemode=3,signmethod=hmacsha1|";
        assert_eq!(
            why(sha1, SECRET.as_bytes(), &[]),
            SignDiffers::SecretAsPassword
        );
        let sha256 = sign(SignMethod::HmacSha256, "lamp", None);
        assert_eq!(
            why(sha1, sha256.as_bytes(), &[]),
            SignDiffers::Method {
                used: SignMethod::HmacSha256,
                named: SignMethod::HmacSha1
            }
        );
        let no_ts = sign(SignMethod::HmacSha1, "lamp", None);
        assert_eq!(
            why(
                "lamp|securemode=3,signmethod=hmacsha1,timestamp=1700000000|",
                no_ts.as_bytes(),
                &[]
            ),
            SignDiffers::TimestampLeftOut {
                timestamp: "1700000000".into()
            }
        );
        assert_eq!(
            why(
                "10001|securemode=3,signmethod=hmacsha1|",
                no_ts.as_bytes(),
                &[]
            ),
            SignDiffers::ClientIdHead {
                signed: "lamp".into(),
                sent: "10001".into()
            }
        );
        assert_eq!(
            why(sha1, b"sn888", &[]),
            SignDiffers::Shape {
                len: 5,
                method: SignMethod::HmacSha1
            }
        );
        assert_eq!(
            why(sha1, "0".repeat(40).as_bytes(), &[]),
            SignDiffers::Unexplained
        );
    }

    #[test]
    fn another_devices_sign_is_recognised() {
        let other = Device::aliyun(
            "aliyun/other",
            "a1OtherPk01",
            "other",
            DeviceSecret::new("0123456789abcdef0123456789abcdef"),
        );
        let content = aliyun::sign_content("other", "other", "a1OtherPk01", None);
        let theirs = aliyun::sign(
            &DeviceSecret::new("0123456789abcdef0123456789abcdef"),
            SignMethod::HmacSha1,
            &content,
        );
        let found = why(
            "lamp|securemode=3,signmethod=hmacsha1|",
            theirs.as_bytes(),
            &[device(), other],
        );
        assert_eq!(
            found,
            SignDiffers::OtherDevice {
                device: "aliyun/other".into(),
                username: "lamp&a1LampPk001".into()
            }
        );
        assert!(!found.to_string().contains(&theirs));
    }
}
