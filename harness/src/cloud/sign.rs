//! The HMAC both platforms sign with: [`SignMethod`] names the hash and computes the MAC.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};

/// The three HMACs Alibaba Cloud (`hmacmd5`, `hmacsha1`, `hmacsha256`) and OneNET (`md5`,
/// `sha1`, `sha256`) accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SignMethod {
    HmacMd5,
    HmacSha1,
    HmacSha256,
}

/// A sign method name neither platform knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("recognise sign method `{0}` (expected hmacmd5, hmacsha1 or hmacsha256)")]
pub struct UnknownSignMethod(pub String);

impl SignMethod {
    pub const ALL: [SignMethod; 3] = [
        SignMethod::HmacMd5,
        SignMethod::HmacSha1,
        SignMethod::HmacSha256,
    ];

    /// Alibaba Cloud's default when a client id names no `signmethod` (MQTT-TCP连接通信:
    /// "默认为hmacmd5").
    pub const ALIYUN_DEFAULT: SignMethod = SignMethod::HmacMd5;

    /// The name as an Alibaba Cloud client id writes it: `hmacsha1`.
    pub fn aliyun_name(self) -> &'static str {
        match self {
            SignMethod::HmacMd5 => "hmacmd5",
            SignMethod::HmacSha1 => "hmacsha1",
            SignMethod::HmacSha256 => "hmacsha256",
        }
    }

    /// The name as a OneNET token's `method=` writes it: `sha1`.
    pub fn onenet_name(self) -> &'static str {
        match self {
            SignMethod::HmacMd5 => "md5",
            SignMethod::HmacSha1 => "sha1",
            SignMethod::HmacSha256 => "sha256",
        }
    }

    /// Parses an Alibaba Cloud name. Case is ignored because hand-written client ids copy the
    /// console's `HmacSHA1` spelling as often as the documented `hmacsha1`.
    pub fn from_aliyun_name(name: &str) -> Option<SignMethod> {
        SignMethod::ALL
            .into_iter()
            .find(|m| m.aliyun_name().eq_ignore_ascii_case(name))
    }

    /// Parses a OneNET token `method=` value (`md5`, `sha1`, `sha256`; case ignored).
    pub fn from_onenet_name(name: &str) -> Option<SignMethod> {
        SignMethod::ALL
            .into_iter()
            .find(|m| m.onenet_name().eq_ignore_ascii_case(name))
    }

    /// The raw MAC of `message` under `key`.
    pub fn mac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        match self {
            SignMethod::HmacMd5 => mac_with::<Hmac<md5::Md5>>(key, message),
            SignMethod::HmacSha1 => mac_with::<Hmac<sha1::Sha1>>(key, message),
            SignMethod::HmacSha256 => mac_with::<Hmac<sha2::Sha256>>(key, message),
        }
    }

    /// The MAC as lower-case hex, the form the Python SDK and the seeds write.
    pub fn mac_hex(self, key: &[u8], message: &[u8]) -> String {
        hex::encode(self.mac(key, message))
    }

    /// Length of the MAC in bytes (16, 20, 32).
    pub fn mac_len(self) -> usize {
        match self {
            SignMethod::HmacMd5 => 16,
            SignMethod::HmacSha1 => 20,
            SignMethod::HmacSha256 => 32,
        }
    }
}

fn mac_with<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC hashes over-long keys and pads short ones, so no key length is invalid.
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
        .expect("HMAC accepts keys of every length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

impl fmt::Display for SignMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.aliyun_name())
    }
}

/// Accepts either platform's spelling, so one `--sign-method` flag serves both.
impl FromStr for SignMethod {
    type Err = UnknownSignMethod;
    fn from_str(s: &str) -> Result<SignMethod, UnknownSignMethod> {
        SignMethod::from_aliyun_name(s)
            .or_else(|| SignMethod::from_onenet_name(s))
            .ok_or_else(|| UnknownSignMethod(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    // Expected values computed once with python3 `hmac.new(key, msg, hashlib.<m>).hexdigest()`
    // over the sign content of seed 002 (device2) and pasted here.
    const KEY: &str = "1448e1c58996469449813ed68e3b0fed";
    const CONTENT: &str = "clientIddevice2deviceNamedevice2productKeya1ndPQHcX7f";

    #[rstest]
    #[case::md5(SignMethod::HmacMd5, "47fe47afba81e9d26fc3a12278af9991")]
    #[case::sha1(SignMethod::HmacSha1, "5caeef5b9251940696b02dc80b615c3f739f46bc")]
    #[case::sha256(
        SignMethod::HmacSha256,
        "e8aa211c0e67e29ca4dad2c5241a2792023e42913db0f0d6388695d9cc1503d9"
    )]
    fn mac_hex_matches_python_hmac(#[case] method: SignMethod, #[case] expected: &str) {
        let got = method.mac_hex(KEY.as_bytes(), CONTENT.as_bytes());
        assert_eq!(got, expected);
        assert_eq!(got.len(), method.mac_len() * 2);
    }

    #[rstest]
    #[case("hmacsha1", SignMethod::HmacSha1)]
    #[case("HmacSHA1", SignMethod::HmacSha1)]
    #[case("hmacmd5", SignMethod::HmacMd5)]
    #[case("hmacsha256", SignMethod::HmacSha256)]
    #[case("sha256", SignMethod::HmacSha256)]
    #[case("md5", SignMethod::HmacMd5)]
    fn names_parse(#[case] name: &str, #[case] method: SignMethod) {
        assert_eq!(name.parse::<SignMethod>(), Ok(method));
    }

    #[test]
    fn unknown_name_is_refused_with_the_name() {
        let err = "hmacsha512".parse::<SignMethod>().unwrap_err();
        assert_eq!(err, UnknownSignMethod("hmacsha512".into()));
        assert!(err.to_string().contains("`hmacsha512`"));
        assert_eq!(SignMethod::from_aliyun_name("sha1"), None);
        assert_eq!(SignMethod::from_onenet_name("hmacsha1"), None);
    }
}
