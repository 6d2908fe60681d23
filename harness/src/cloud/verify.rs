//! The broker side of the cloud logins: [`verify_aliyun`] (one device one secret) and
//! [`verify_onenet`] (legacy auth info or token) take a CONNECT's client id, username and
//! password and a [`DeviceLookup`], and either accept or refuse with a typed [`Refusal`] that
//! knows its CONNACK code.
//!
//! A wrong sign of a device whose DeviceSecret is kept outside the registry file
//! (`device_secret_env`, `device_secret_file`) is refused without the valid sign, which is a
//! login, and without the password sent, which may be one for other content: the refusal names
//! the input that differs instead ([`SignDiffers`]). The seeds' public fixtures keep showing
//! both signs, as the seed 002 author needed to find his mistake.

use super::aliyun::{self, split_username};
use super::client_id::{ClientIdError, ClientIdParams, ClientIdProblem};
use super::mismatch::{diagnose, Claim, SignDiffers};
use super::onenet::{self, OneNetAuth, Token, TokenError};
use super::registry::{Device, DeviceRegistry, DeviceStatus, SecretError, SecretSource};
use super::sign::SignMethod;
use crate::mqtt::Connect;

/// Finds the device a CONNECT claims to be. [`DeviceRegistry`] is the usual one; the broker
/// may wrap it (e.g. to disable a device mid-run).
pub trait DeviceLookup {
    fn find_aliyun(&self, product_key: &str, device_name: &str) -> Option<&Device>;
    /// A lookup that serves only Alibaba Cloud may leave this out.
    fn find_onenet(&self, _product_id: &str, _device: &str) -> Option<&Device> {
        None
    }
    /// Every device, so a refusal can tell that a sign belongs to another one. A lookup that
    /// cannot list its devices may leave this out; the refusal is then less precise.
    fn all(&self) -> Vec<&Device> {
        Vec::new()
    }
}

impl DeviceLookup for DeviceRegistry {
    fn find_aliyun(&self, product_key: &str, device_name: &str) -> Option<&Device> {
        DeviceRegistry::find_aliyun(self, product_key, device_name)
    }
    fn all(&self) -> Vec<&Device> {
        self.devices().collect()
    }
    fn find_onenet(&self, product_id: &str, device: &str) -> Option<&Device> {
        DeviceRegistry::find_onenet(self, product_id, device)
    }
}

/// A CONNECT the impersonated cloud lets in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The registry name, e.g. `aliyun/device2`.
    pub device: String,
    pub product_key: String,
    pub device_name: String,
    pub params: ClientIdParams,
    pub sign_method: SignMethod,
}

/// A CONNECT the impersonated OneNET lets in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneNetAccepted {
    /// The registry name, e.g. `onenet/657077`.
    pub device: String,
    pub product_id: String,
    /// Device id (legacy) or device name (token): the client id.
    pub device_id: String,
    pub auth: OneNetAuth,
}

/// Why an Alibaba Cloud CONNECT is refused. No variant carries the DeviceSecret.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    MalformedClientId(ClientIdError),
    #[error("authenticate client id {client_id:?}: sign method {method:?} is not hmacmd5, hmacsha1 or hmacsha256")]
    UnsupportedSignMethod { client_id: String, method: String },
    #[error("authenticate client id {client_id:?}: the CONNECT has no username")]
    MissingUsername { client_id: String },
    #[error("authenticate username {username:?}: it is not `DeviceName&ProductKey`")]
    UsernameNotDnPk { username: String },
    #[error("authenticate username {username:?}: it is `ProductKey&DeviceName`, the wrong way round (expected {expected:?})")]
    UsernameReversed { username: String, expected: String },
    #[error("authenticate device {product_key}/{device_name}: no such device in the registry")]
    UnknownDevice {
        product_key: String,
        device_name: String,
    },
    #[error("authenticate device `{device}`: it is disabled")]
    DeviceDisabled { device: String },
    #[error("authenticate device `{device}`: {source}")]
    SecretUnavailable {
        device: String,
        #[source]
        source: SecretError,
    },
    #[error("authenticate device `{device}`: the CONNECT has no password")]
    MissingPassword { device: String },
    #[error("authenticate device `{device}`: the sign does not match ({method} over {content:?}: expected {expected}, got {got})")]
    SignMismatch {
        device: String,
        method: SignMethod,
        /// The sign content; it holds no secret.
        content: String,
        /// Lower-case hex.
        expected: String,
        /// What the device sent, as text (lossy if it was not UTF-8).
        got: String,
    },
    /// The same for a device whose secret is kept outside the registry: no sign is shown.
    #[error("authenticate device `{device}`: the sign does not match ({method} over {content:?} with the DeviceSecret from {secret_from}): {differs}")]
    SecretSignMismatch {
        device: String,
        method: SignMethod,
        /// The sign content; it holds no secret.
        content: String,
        /// Where the secret was read: `environment variable `X``, `file `path``.
        secret_from: String,
        /// Boxed: it is the rare case, and would make every `Result` of a login bigger.
        differs: Box<SignDiffers>,
    },
}

impl Refusal {
    /// The CONNACK return code the cloud answers with (aliyun-onenet.md §0.6 and §5): 2 for a
    /// client id it cannot read, 3 when the harness itself cannot get the secret, 5 for a
    /// disabled device, 4 for every other credential fault. Whether the live cloud says 4 or 5
    /// for a sign mismatch is unconfirmed; the gateway may override.
    pub fn connack_code(&self) -> u8 {
        match self {
            Refusal::MalformedClientId(_) | Refusal::UnsupportedSignMethod { .. } => 2,
            Refusal::SecretUnavailable { .. } => 3,
            Refusal::DeviceDisabled { .. } => 5,
            Refusal::MissingUsername { .. }
            | Refusal::UsernameNotDnPk { .. }
            | Refusal::UsernameReversed { .. }
            | Refusal::UnknownDevice { .. }
            | Refusal::MissingPassword { .. }
            | Refusal::SignMismatch { .. }
            | Refusal::SecretSignMismatch { .. } => 4,
        }
    }
}

/// Why a OneNET CONNECT is refused. No variant carries the auth info or the device key.
#[derive(Debug, thiserror::Error)]
pub enum OneNetRefusal {
    #[error("authenticate OneNET client id {client_id:?}: the CONNECT has no username")]
    MissingUsername { client_id: String },
    #[error("authenticate OneNET device {product_id}/{device_id}: no such device in the registry")]
    UnknownDevice {
        product_id: String,
        device_id: String,
    },
    /// Legacy login: the password is the auth info itself, so neither side is shown.
    #[error("authenticate device `{device}`: the password is not its auth info")]
    AuthInfoMismatch { device: String },
    #[error("authenticate device `{device}`: it is disabled")]
    DeviceDisabled { device: String },
    #[error("authenticate device `{device}`: {source}")]
    SecretUnavailable {
        device: String,
        #[source]
        source: SecretError,
    },
    #[error("authenticate device `{device}`: the CONNECT has no password")]
    MissingPassword { device: String },
    #[error("authenticate device `{device}`: the password is not UTF-8")]
    PasswordNotText { device: String },
    #[error("authenticate device `{device}`: {source}")]
    BadToken {
        device: String,
        #[source]
        source: TokenError,
    },
    /// A token of a device whose key is kept outside the registry: the valid sign is not shown.
    #[error("authenticate device `{device}`: the token's sign does not match ({method} over its res, et and version with the key from {secret_from}): check the key, and that the sign covers exactly those")]
    TokenSignMismatch {
        device: String,
        method: SignMethod,
        secret_from: String,
    },
}

impl OneNetRefusal {
    /// OneNET answers every failed authentication with 4 (mqtts-design.md §1.3); 5 for a
    /// disabled device and 3 for a secret the harness cannot read mirror [`Refusal`].
    pub fn connack_code(&self) -> u8 {
        match self {
            OneNetRefusal::SecretUnavailable { .. } => 3,
            OneNetRefusal::DeviceDisabled { .. } => 5,
            OneNetRefusal::MissingUsername { .. }
            | OneNetRefusal::UnknownDevice { .. }
            | OneNetRefusal::MissingPassword { .. }
            | OneNetRefusal::AuthInfoMismatch { .. }
            | OneNetRefusal::PasswordNotText { .. }
            | OneNetRefusal::BadToken { .. }
            | OneNetRefusal::TokenSignMismatch { .. } => 4,
        }
    }
}

/// Decides a CONNECT's fields the way Alibaba Cloud does: the client id parses, the username
/// is `dn&pk` of a known enabled device, and the password is the HMAC of the sign content
/// under its DeviceSecret, in upper- or lower-case hex. The timestamp is signed over but its
/// age is not checked, as on the real cloud.
pub fn verify_aliyun(
    client_id: &str,
    username: Option<&str>,
    password: Option<&[u8]>,
    devices: &dyn DeviceLookup,
) -> Result<Accepted, Refusal> {
    let params = ClientIdParams::parse(client_id).map_err(|e| match e.problem {
        ClientIdProblem::UnsupportedSignMethod(method) => Refusal::UnsupportedSignMethod {
            client_id: client_id.to_owned(),
            method,
        },
        _ => Refusal::MalformedClientId(e),
    })?;
    let username = username.ok_or_else(|| Refusal::MissingUsername {
        client_id: client_id.to_owned(),
    })?;
    let (device_name, product_key) =
        split_username(username).ok_or_else(|| Refusal::UsernameNotDnPk {
            username: username.to_owned(),
        })?;
    let device = match devices.find_aliyun(product_key, device_name) {
        Some(d) => d,
        None => {
            // A common hand-built mistake: `pk&dn`, the clientId head order of the Python SDK.
            if devices.find_aliyun(device_name, product_key).is_some() {
                return Err(Refusal::UsernameReversed {
                    username: username.to_owned(),
                    expected: aliyun::username(product_key, device_name),
                });
            }
            return Err(Refusal::UnknownDevice {
                product_key: product_key.to_owned(),
                device_name: device_name.to_owned(),
            });
        }
    };
    if device.status == DeviceStatus::Disabled {
        return Err(Refusal::DeviceDisabled {
            device: device.name.clone(),
        });
    }
    let secret = device
        .secret()
        .map_err(|source| Refusal::SecretUnavailable {
            device: device.name.clone(),
            source,
        })?;
    let password = password.ok_or_else(|| Refusal::MissingPassword {
        device: device.name.clone(),
    })?;
    let method = params.sign_method();
    let content = aliyun::sign_content(
        &params.head,
        device_name,
        product_key,
        params.timestamp.as_deref(),
    );
    let expected = aliyun::sign(&secret, method, &content);
    if !password.eq_ignore_ascii_case(expected.as_bytes()) {
        if let Some(secret_from) = kept_outside(device) {
            let claim = Claim {
                params: &params,
                device_name,
                product_key,
            };
            let differs = diagnose(password, device, &secret, &claim, devices.all().into_iter());
            let differs = Box::new(differs);
            return Err(Refusal::SecretSignMismatch {
                device: device.name.clone(),
                method,
                content,
                secret_from,
                differs,
            });
        }
        return Err(Refusal::SignMismatch {
            device: device.name.clone(),
            method,
            content,
            expected,
            got: String::from_utf8_lossy(password).into_owned(),
        });
    }
    Ok(Accepted {
        device: device.name.clone(),
        product_key: product_key.to_owned(),
        device_name: device_name.to_owned(),
        params,
        sign_method: method,
    })
}

/// Where a device's secret is read when it is kept outside the registry file; `None` for the
/// public fixtures whose secret is in the YAML itself.
pub fn kept_outside(device: &Device) -> Option<String> {
    match &device.secret {
        SecretSource::Inline(_) => None,
        SecretSource::Env(var) => Some(format!("environment variable `{var}`")),
        SecretSource::File(path) => Some(format!("file `{}`", path.display())),
    }
}

/// [`verify_aliyun`] on a decoded CONNECT.
pub fn verify_aliyun_connect(
    connect: &Connect,
    devices: &dyn DeviceLookup,
) -> Result<Accepted, Refusal> {
    verify_aliyun(
        &connect.client_id,
        connect.username.as_deref(),
        connect.password.as_deref(),
        devices,
    )
}

/// Decides a OneNET CONNECT: client id = device id (legacy) or device name (token), username =
/// product id, password = the device's auth info (legacy) or a [`Token`] for
/// `products/{pid}/devices/{client id}` signed with its key and not expired at `now` (Unix
/// seconds). The device file's `auth` says which.
pub fn verify_onenet(
    client_id: &str,
    username: Option<&str>,
    password: Option<&[u8]>,
    devices: &dyn DeviceLookup,
    now: u64,
) -> Result<OneNetAccepted, OneNetRefusal> {
    let product_id = username.ok_or_else(|| OneNetRefusal::MissingUsername {
        client_id: client_id.to_owned(),
    })?;
    let device =
        devices
            .find_onenet(product_id, client_id)
            .ok_or_else(|| OneNetRefusal::UnknownDevice {
                product_id: product_id.to_owned(),
                device_id: client_id.to_owned(),
            })?;
    let name = || device.name.clone();
    if device.status == DeviceStatus::Disabled {
        return Err(OneNetRefusal::DeviceDisabled { device: name() });
    }
    let secret = device
        .secret()
        .map_err(|source| OneNetRefusal::SecretUnavailable {
            device: name(),
            source,
        })?;
    let password = password.ok_or_else(|| OneNetRefusal::MissingPassword { device: name() })?;
    let password = std::str::from_utf8(password)
        .map_err(|_| OneNetRefusal::PasswordNotText { device: name() })?;
    match device.onenet_auth {
        OneNetAuth::Legacy => {
            if password != secret.expose() {
                return Err(OneNetRefusal::AuthInfoMismatch { device: name() });
            }
        }
        OneNetAuth::Token => {
            let bad = |source| OneNetRefusal::BadToken {
                device: name(),
                source,
            };
            let token = Token::parse(password).map_err(bad)?;
            let res = onenet::device_resource(product_id, client_id);
            token
                .verify(&res, &secret, now)
                .map_err(|e| match (e, kept_outside(device)) {
                    (TokenError::SignMismatch { .. }, Some(secret_from)) => {
                        OneNetRefusal::TokenSignMismatch {
                            device: name(),
                            method: token.method,
                            secret_from,
                        }
                    }
                    (e, _) => bad(e),
                })?;
        }
    }
    Ok(OneNetAccepted {
        device: name(),
        product_id: product_id.to_owned(),
        device_id: client_id.to_owned(),
        auth: device.onenet_auth,
    })
}

/// [`verify_onenet`] on a decoded CONNECT.
pub fn verify_onenet_connect(
    connect: &Connect,
    devices: &dyn DeviceLookup,
    now: u64,
) -> Result<OneNetAccepted, OneNetRefusal> {
    verify_onenet(
        &connect.client_id,
        connect.username.as_deref(),
        connect.password.as_deref(),
        devices,
        now,
    )
}
