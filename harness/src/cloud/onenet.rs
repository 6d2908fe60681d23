//! China Mobile OneNET credentials: the legacy MQTT login (client id = device id, username =
//! product id, password = auth info) and the [`Token`] password of the MQTT suite and OneNET
//! Studio (`version=2018-10-31&res=products%2F…&et=…&method=sha1&sign=…`).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::secret::DeviceSecret;
use super::sign::SignMethod;
use crate::mqtt::Connect;

/// The legacy product's plain-TCP endpoint (`mqtt.heclouds.com:6002`, aliyun-onenet.md §3.1).
pub const LEGACY_HOST: &str = "mqtt.heclouds.com";
pub const LEGACY_PORT: u16 = 6002;
/// The token products' plain-TCP endpoint (§3.2, §3.3).
pub const TOKEN_HOST: &str = "mqtts.heclouds.com";
pub const TOKEN_PORT: u16 = 1883;
/// The keepalive seed 004's CONNECT sends (`00 1E`), as RT-Thread's OneNET package does.
pub const DEFAULT_KEEPALIVE: u16 = 30;
/// The only token version the platform documents for device login.
pub const TOKEN_VERSION: &str = "2018-10-31";

/// How a OneNET device logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OneNetAuth {
    /// Old multi-protocol MQTT: the password is the device's auth info (seed 004: `sn888`).
    #[default]
    Legacy,
    /// MQTT suite / Studio: the password is a [`Token`] signed with the device key.
    Token,
}

/// What a OneNET device sends in its CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneNetCredentials {
    /// Device id (legacy) or device name (token).
    pub client_id: String,
    /// The product id.
    pub username: String,
    /// Auth info (legacy) or the token text (token).
    pub password: String,
}

impl OneNetCredentials {
    /// Legacy login. The auth info is the password itself, sent in clear in the CONNECT.
    pub fn legacy(product_id: &str, device_id: &str, auth_info: &DeviceSecret) -> Self {
        OneNetCredentials {
            client_id: device_id.to_owned(),
            username: product_id.to_owned(),
            password: auth_info.expose().to_owned(),
        }
    }

    /// Token login with `res=products/{pid}/devices/{device_name}`.
    pub fn token(
        product_id: &str,
        device_name: &str,
        key: &DeviceSecret,
        expiry: u64,
        method: SignMethod,
    ) -> Result<Self, TokenError> {
        let token = Token::sign(
            device_resource(product_id, device_name),
            expiry,
            method,
            key,
        )?;
        Ok(OneNetCredentials {
            client_id: device_name.to_owned(),
            username: product_id.to_owned(),
            password: token.to_string(),
        })
    }

    /// The CONNECT, flags `C2` (username, password, clean session) as OneNET requires.
    pub fn to_connect(&self, keepalive: u16) -> Connect {
        let mut connect = Connect::new(self.client_id.clone(), keepalive);
        connect.username = Some(self.username.clone());
        connect.password = Some(self.password.clone().into_bytes());
        connect
    }
}

/// `products/{pid}/devices/{device_name}`, the resource a device token grants.
pub fn device_resource(product_id: &str, device_name: &str) -> String {
    format!("products/{product_id}/devices/{device_name}")
}

/// A OneNET token, unencoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub version: String,
    /// `products/{pid}/devices/{dn}`, or `products/{pid}` with a product key.
    pub res: String,
    /// Expiry, Unix seconds.
    pub et: u64,
    pub method: SignMethod,
    /// base64 of the HMAC.
    pub sign: String,
}

/// Why a token could not be built, parsed or accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("decode the OneNET key: it is not base64 ({0})")]
    KeyNotBase64(String),
    #[error("parse the OneNET token: {0:?} is not `name=value`")]
    NotAPair(String),
    #[error("parse the OneNET token: `{0}` is missing")]
    Missing(&'static str),
    #[error("parse the OneNET token: `{0}` is given twice")]
    Duplicate(String),
    #[error("parse the OneNET token: unknown parameter `{0}`")]
    Unknown(String),
    #[error("parse the OneNET token: `{name}` has a bad percent escape in {value:?}")]
    BadEscape { name: String, value: String },
    #[error("parse the OneNET token: et {0:?} is not Unix seconds")]
    BadExpiry(String),
    #[error("parse the OneNET token: method {0:?} is not md5, sha1 or sha256")]
    BadMethod(String),
    #[error("accept the OneNET token: it grants `{got}`, not `{expected}`")]
    WrongResource { expected: String, got: String },
    #[error("accept the OneNET token: it expired at {et}, now is {now}")]
    Expired { et: u64, now: u64 },
    #[error("accept the OneNET token: the sign does not match (expected {expected}, got {got})")]
    SignMismatch { expected: String, got: String },
}

impl Token {
    /// Signs `res` until `et`: `sign = base64(HMAC_method(base64decode(key),
    /// et + "\n" + method + "\n" + res + "\n" + version))`.
    pub fn sign(
        res: String,
        et: u64,
        method: SignMethod,
        key: &DeviceSecret,
    ) -> Result<Token, TokenError> {
        let sign = compute_sign(&res, et, method, TOKEN_VERSION, key)?;
        Ok(Token {
            version: TOKEN_VERSION.to_owned(),
            res,
            et,
            method,
            sign,
        })
    }

    /// Reads a token as a device sends it, undoing the URL encoding of each value.
    pub fn parse(text: &str) -> Result<Token, TokenError> {
        let (mut version, mut res, mut et, mut method, mut sign) = (None, None, None, None, None);
        for pair in text.split('&') {
            let (name, raw) = pair
                .split_once('=')
                .ok_or_else(|| TokenError::NotAPair(pair.to_owned()))?;
            let value = url_decode(raw).ok_or_else(|| TokenError::BadEscape {
                name: name.to_owned(),
                value: raw.to_owned(),
            })?;
            let slot = match name {
                "version" => &mut version,
                "res" => &mut res,
                "et" => &mut et,
                "method" => &mut method,
                "sign" => &mut sign,
                other => return Err(TokenError::Unknown(other.to_owned())),
            };
            if slot.replace(value).is_some() {
                return Err(TokenError::Duplicate(name.to_owned()));
            }
        }
        let et_text = et.ok_or(TokenError::Missing("et"))?;
        let method_text = method.ok_or(TokenError::Missing("method"))?;
        Ok(Token {
            version: version.ok_or(TokenError::Missing("version"))?,
            res: res.ok_or(TokenError::Missing("res"))?,
            et: et_text
                .parse()
                .map_err(|_| TokenError::BadExpiry(et_text.clone()))?,
            method: SignMethod::from_onenet_name(&method_text)
                .ok_or(TokenError::BadMethod(method_text))?,
            sign: sign.ok_or(TokenError::Missing("sign"))?,
        })
    }

    /// Checks the token grants `expected_res`, has not expired at `now` (Unix seconds) and is
    /// signed with `key`.
    pub fn verify(
        &self,
        expected_res: &str,
        key: &DeviceSecret,
        now: u64,
    ) -> Result<(), TokenError> {
        if self.res != expected_res {
            return Err(TokenError::WrongResource {
                expected: expected_res.to_owned(),
                got: self.res.clone(),
            });
        }
        if self.et < now {
            return Err(TokenError::Expired { et: self.et, now });
        }
        let expected = compute_sign(&self.res, self.et, self.method, &self.version, key)?;
        if expected != self.sign {
            return Err(TokenError::SignMismatch {
                expected,
                got: self.sign.clone(),
            });
        }
        Ok(())
    }
}

fn compute_sign(
    res: &str,
    et: u64,
    method: SignMethod,
    version: &str,
    key: &DeviceSecret,
) -> Result<String, TokenError> {
    let key = BASE64
        .decode(key.expose())
        .map_err(|e| TokenError::KeyNotBase64(e.to_string()))?;
    // Parameters sorted by name (et, method, res, version), values only, joined by "\n".
    let text = format!("{et}\n{}\n{res}\n{version}", method.onenet_name());
    Ok(BASE64.encode(method.mac(&key, text.as_bytes())))
}

/// The token as a device sends it: values URL-encoded per OneNET's table.
impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "version={}&res={}&et={}&method={}&sign={}",
            url_encode(&self.version),
            url_encode(&self.res),
            self.et,
            self.method.onenet_name(),
            url_encode(&self.sign)
        )
    }
}

/// Encodes exactly the eight characters OneNET's token doc lists (`+`, space, `/`, `?`, `%`,
/// `#`, `&`, `=`); everything else, including base64 letters, stays as is.
pub fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '+' => out.push_str("%2B"),
            ' ' => out.push_str("%20"),
            '/' => out.push_str("%2F"),
            '?' => out.push_str("%3F"),
            '%' => out.push_str("%25"),
            '#' => out.push_str("%23"),
            '&' => out.push_str("%26"),
            '=' => out.push_str("%3D"),
            other => out.push(other),
        }
    }
    out
}

/// Undoes any `%XX` escape (clients encode more than the table lists, e.g. Java's URLEncoder);
/// `None` for a truncated or non-hex escape or a result that is not UTF-8.
pub fn url_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let text = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(text, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_004_legacy_fields() {
        let c = OneNetCredentials::legacy("20190156", "657077", &DeviceSecret::new("sn888"));
        let connect = c.to_connect(DEFAULT_KEEPALIVE);
        assert_eq!(connect.client_id, "657077");
        assert_eq!(connect.username.as_deref(), Some("20190156"));
        assert_eq!(connect.password.as_deref(), Some(&b"sn888"[..]));
        assert_eq!(connect.keepalive, 30);
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let v = "a+b c/d?e%f#g&h=i";
        assert_eq!(url_encode(v), "a%2Bb%20c%2Fd%3Fe%25f%23g%26h%3Di");
        assert_eq!(url_decode(&url_encode(v)).as_deref(), Some(v));
        assert_eq!(url_decode("%2"), None);
        assert_eq!(url_decode("%zz"), None);
    }
}
