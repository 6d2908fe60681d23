//! `athil sign`: cloud credentials (client id, username, password) for a device, the MQTT
//! host, and the complete CONNECT as hex with the `--module`'s send line (`AT+CIPSEND=<n>`,
//! `AT+QISEND=0,<n>`), ready to paste into a serial terminal. Exit 0 on success, 2 when the input is unusable. The DeviceSecret or
//! access key is never printed.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cloud::{
    aliyun, onenet, AliyunCredentials, ClientIdError, ClientIdParams, Device, DeviceRegistry,
    DeviceSecret, Endpoint, OneNetAuth, OneNetCredentials, Platform, RegistryError, SecretError,
    SignMethod, TokenError,
};
use crate::exit::ExitCode;
use crate::module::dialect::{send_lines, DialectKind};
use crate::mqtt::{encode, to_hex, Connect, EncodeError, Packet};

/// Environment form of `--device-secret`, for secrets that should not appear in `ps`.
pub const SECRET_ENV: &str = "ATHIL_DEVICE_SECRET";

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Alibaba Cloud (one device one secret): client id `<id>|securemode=3,signmethod=hmacsha1|`
(id = --client-id, default the device name), username `DeviceName&ProductKey`, password =
hex HMAC over `clientId<id>deviceName<dn>productKey<pk>[timestamp<ts>]`. Defaults follow the
seeds: hmacsha1, securemode 3, keepalive 100, port 1883, region cn-shanghai.

OneNET legacy MQTT: client id = --device-id, username = --product-id, password = --auth-info
(printed: it is the password on the wire), keepalive 30 (seed 004), mqtt.heclouds.com:6002.
OneNET token (chosen by --access-key or --expiry, or `auth: token` in the device file): client
id = device name (--device-id), username = product id, password = `version=2018-10-31&res=
products%2F<pid>%2Fdevices%2F<dn>&et=<expiry>&method=<m>&sign=<base64 HMAC>`, signed with the
base64 device key; --expiry is Unix seconds or a duration from now (`24h`, `30d`; default 24h);
--method md5|sha1|sha256 (default sha1); mqtts.heclouds.com:1883.

The secret comes from, in order: --device-secret (or --auth-info/--access-key), then
--device-secret-file, then the ATHIL_DEVICE_SECRET environment variable, then the --device file.

Examples:
  athil sign --device aliyun/device2
  athil sign --product-key a1ndPQHcX7f --device-name device2 --device-secret-file ds.txt
  ATHIL_DEVICE_SECRET=... athil sign --product-key PK --device-name DN --format json
  athil sign --platform onenet --product-id 20190156 --device-id 657077 --auth-info sn888")]
pub struct Args {
    /// Cloud platform; default aliyun, or the platform of --device.
    #[arg(long, value_enum)]
    pub platform: Option<PlatformArg>,
    /// Take the device from the registry, by name: `aliyun/device2`, `onenet/657077`.
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// The registry directory for --device.
    #[arg(long, value_name = "DIR", default_value = "fixtures/devices")]
    pub devices: PathBuf,

    /// Alibaba Cloud ProductKey.
    #[arg(long, value_name = "PK")]
    pub product_key: Option<String>,
    /// Alibaba Cloud DeviceName.
    #[arg(long, value_name = "DN")]
    pub device_name: Option<String>,
    /// The DeviceSecret (OneNET: auth info or device key). Visible to other users in `ps`:
    /// prefer --device-secret-file or ATHIL_DEVICE_SECRET.
    #[arg(long, value_name = "SECRET")]
    pub device_secret: Option<DeviceSecret>,
    /// Read the secret from this file (surrounding whitespace trimmed).
    #[arg(long, value_name = "FILE")]
    pub device_secret_file: Option<PathBuf>,
    /// Client id head (default: the device name), or a full `<id>|…|` client id to sign as is.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// hmacmd5, hmacsha1 (default) or hmacsha256; OneNET also md5, sha1, sha256.
    #[arg(long, visible_alias = "method", value_name = "METHOD", value_parser = parse_sign_method)]
    pub sign_method: Option<SignMethod>,
    /// Add `timestamp=<TS>` to the client id (it then joins the sign content).
    #[arg(long, value_name = "TS")]
    pub timestamp: Option<String>,
    /// securemode in the client id (default 3, plain TCP).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub securemode: Option<i32>,
    /// Region of the public endpoint `<pk>.iot-as-mqtt.<region>.aliyuncs.com`.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Instance id for the endpoint `<id>.mqtt.iothub.aliyuncs.com` (e.g. iot-06z00…).
    #[arg(long, value_name = "ID")]
    pub instance_id: Option<String>,

    /// OneNET product id (the username).
    #[arg(long, value_name = "PID")]
    pub product_id: Option<String>,
    /// OneNET device id (legacy) or device name (token): the client id.
    #[arg(long, value_name = "ID")]
    pub device_id: Option<String>,
    /// OneNET legacy auth info (the password).
    #[arg(long, value_name = "AUTH")]
    pub auth_info: Option<DeviceSecret>,
    /// OneNET device key (base64) for a token.
    #[arg(long, value_name = "KEY")]
    pub access_key: Option<DeviceSecret>,
    /// OneNET token expiry: Unix seconds, or a duration from now such as `24h`.
    #[arg(long, value_name = "WHEN")]
    pub expiry: Option<String>,

    /// Keepalive in seconds (default 100 for Alibaba Cloud, 30 for OneNET, as the seeds).
    #[arg(long, value_name = "S")]
    pub keepalive: Option<u16>,
    /// Host to print instead of the platform's endpoint (e.g. 127.0.0.1 for the local broker).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Port to print instead of the platform's.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Labelled text, or one JSON object with the keys client_id, username, password, host,
    /// port, keepalive, connect_hex, connect_len, at_send.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The AT dialect whose send command to print with the CONNECT (`AT+CIPSEND=<n>`,
    /// `AT+QISEND=0,<n>`).
    #[arg(long, default_value = "esp-at")]
    pub module: DialectKind,
}

fn parse_sign_method(s: &str) -> Result<SignMethod, String> {
    s.parse()
        .map_err(|_| "expected hmacmd5, hmacsha1 or hmacsha256 (OneNET: md5, sha1, sha256)".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlatformArg {
    Aliyun,
    Onenet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Why no credentials could be computed; each reads after "failed to".
#[derive(Debug, thiserror::Error)]
enum SignCliError {
    #[error("{0}")]
    Registry(#[from] RegistryError),
    #[error("find device `{name}` in `{dir}` (it has: {known})")]
    NoSuchDevice {
        name: String,
        dir: PathBuf,
        known: String,
    },
    #[error("sign for {platform}: --device `{device}` is a {other} device")]
    PlatformMismatch {
        platform: Platform,
        device: String,
        other: Platform,
    },
    #[error("sign for {0}: {1} is needed (or --device NAME)")]
    Missing(Platform, &'static str),
    #[error("sign for {0}: {1} does not apply to this platform")]
    NotForPlatform(Platform, &'static str),
    #[error("sign: {0} and {1} cannot be used together")]
    Conflict(&'static str, &'static str),
    #[error("read the secret from `{path}`: {source}")]
    SecretFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("read the secret from environment variable {SECRET_ENV}: it is not UTF-8")]
    SecretEnv,
    #[error("sign: the secret is empty")]
    EmptySecret,
    #[error("{0}")]
    DeviceSecret(#[from] SecretError),
    #[error("{0}")]
    ClientId(#[from] ClientIdError),
    #[error("sign: --timestamp {0:?} is not a decimal number")]
    BadTimestamp(String),
    #[error("sign: --expiry {0:?} is neither Unix seconds nor a duration such as 24h")]
    BadExpiry(String),
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("{0}")]
    Encode(#[from] EncodeError),
}

/// What gets printed.
struct Signed {
    client_id: String,
    username: String,
    password: String,
    host: String,
    port: u16,
    keepalive: u16,
    connect: Vec<u8>,
    /// Extra text-mode lines (sign content, token expiry); never secret.
    notes: Vec<(&'static str, String)>,
}

pub fn run(args: Args) -> ExitCode {
    match sign(&args) {
        Ok(signed) => {
            match args.format {
                Format::Text => print!("{}", text(&signed, args.module)),
                Format::Json => println!("{}", json(&signed, args.module)),
            }
            ExitCode::Success
        }
        Err(e) => {
            eprintln!("athil sign: failed to {e}");
            ExitCode::Usage
        }
    }
}

fn sign(args: &Args) -> Result<Signed, SignCliError> {
    let device = match &args.device {
        Some(name) => Some(find_device(&args.devices, name)?),
        None => None,
    };
    let platform = match (args.platform, &device) {
        (Some(PlatformArg::Aliyun), _) => Platform::Aliyun,
        (Some(PlatformArg::Onenet), _) => Platform::Onenet,
        (None, Some(d)) => d.platform,
        (None, None) => Platform::Aliyun,
    };
    if let Some(d) = device.as_ref().filter(|d| d.platform != platform) {
        return Err(SignCliError::PlatformMismatch {
            platform,
            device: d.name.clone(),
            other: d.platform,
        });
    }
    match platform {
        Platform::Aliyun => sign_aliyun(args, device.as_ref()),
        Platform::Onenet => sign_onenet(args, device.as_ref()),
    }
}

fn find_device(dir: &Path, name: &str) -> Result<Device, SignCliError> {
    let registry = DeviceRegistry::load_dir(dir)?;
    registry
        .get(name)
        .cloned()
        .ok_or_else(|| SignCliError::NoSuchDevice {
            name: name.to_owned(),
            dir: dir.to_owned(),
            known: registry.names().collect::<Vec<_>>().join(", "),
        })
}

/// Refuses flags that belong to the other platform rather than ignoring them silently.
fn reject(platform: Platform, flags: &[(bool, &'static str)]) -> Result<(), SignCliError> {
    match flags.iter().find(|(given, _)| *given) {
        Some((_, flag)) => Err(SignCliError::NotForPlatform(platform, flag)),
        None => Ok(()),
    }
}

/// The secret by precedence: the platform flag (`--device-secret`, `--auth-info`,
/// `--access-key`), the file, the environment, then the registry.
fn secret(
    flag: Option<&DeviceSecret>,
    args: &Args,
    device: Option<&Device>,
    platform: Platform,
    missing: &'static str,
) -> Result<DeviceSecret, SignCliError> {
    let value = if let Some(s) = flag.or(args.device_secret.as_ref()) {
        s.clone()
    } else if let Some(path) = &args.device_secret_file {
        let text = std::fs::read_to_string(path).map_err(|source| SignCliError::SecretFile {
            path: path.clone(),
            source,
        })?;
        DeviceSecret::new(text.trim())
    } else {
        match std::env::var(SECRET_ENV) {
            Ok(v) => DeviceSecret::new(v),
            Err(std::env::VarError::NotUnicode(_)) => return Err(SignCliError::SecretEnv),
            Err(std::env::VarError::NotPresent) => match device {
                Some(d) => d.secret()?,
                None => return Err(SignCliError::Missing(platform, missing)),
            },
        }
    };
    if value.is_empty() {
        return Err(SignCliError::EmptySecret);
    }
    Ok(value)
}

fn sign_aliyun(args: &Args, device: Option<&Device>) -> Result<Signed, SignCliError> {
    let p = Platform::Aliyun;
    reject(
        p,
        &[
            (args.product_id.is_some(), "--product-id"),
            (args.device_id.is_some(), "--device-id"),
            (args.auth_info.is_some(), "--auth-info"),
            (args.access_key.is_some(), "--access-key"),
            (args.expiry.is_some(), "--expiry"),
        ],
    )?;
    let pk = args
        .product_key
        .clone()
        .or_else(|| device.map(|d| d.product_key.clone()))
        .ok_or(SignCliError::Missing(p, "--product-key"))?;
    let dn = args
        .device_name
        .clone()
        .or_else(|| device.map(|d| d.device_name.clone()))
        .ok_or(SignCliError::Missing(p, "--device-name"))?;
    let secret = secret(None, args, device, p, "--device-secret")?;
    let method = args.sign_method.unwrap_or(SignMethod::HmacSha1);

    let base = args
        .client_id
        .clone()
        .or_else(|| device.and_then(|d| d.client_id.clone()));
    let params = match base {
        Some(full) if full.contains('|') => {
            let flags = [
                (args.sign_method.is_some(), "--sign-method"),
                (args.timestamp.is_some(), "--timestamp"),
                (args.securemode.is_some(), "--securemode"),
            ];
            if let Some((_, flag)) = flags.iter().find(|(given, _)| *given) {
                return Err(SignCliError::Conflict("a full client id `<id>|…|`", flag));
            }
            ClientIdParams::parse(&full)?
        }
        head => {
            let mut params = ClientIdParams::new(head.unwrap_or_else(|| dn.clone()), method);
            if let Some(ts) = &args.timestamp {
                if ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(SignCliError::BadTimestamp(ts.clone()));
                }
                params.timestamp = Some(ts.clone());
            }
            if let Some(mode) = args.securemode {
                params.securemode = Some(mode);
            }
            // Built from parts, it must still read back as a well-formed client id.
            ClientIdParams::parse(&params.to_string())?
        }
    };
    let creds = AliyunCredentials::compute(&pk, &dn, &secret, params);

    let endpoint = match (&args.instance_id, &args.region) {
        (Some(_), Some(_)) => return Err(SignCliError::Conflict("--instance-id", "--region")),
        (Some(id), None) => Endpoint::Instance {
            instance_id: id.clone(),
        },
        (None, Some(region)) => Endpoint::Public {
            product_key: pk.clone(),
            region: region.clone(),
        },
        (None, None) => match device {
            Some(d) => d.endpoint(),
            None => Endpoint::Public {
                product_key: pk.clone(),
                region: aliyun::DEFAULT_REGION.to_owned(),
            },
        },
    };
    let keepalive = args.keepalive.unwrap_or(aliyun::DEFAULT_KEEPALIVE);
    if !(30..=1200).contains(&keepalive) {
        eprintln!("athil sign: warning: keepalive {keepalive} is outside Alibaba Cloud's 30-1200 s; the cloud refuses below 30");
    }
    let connect = creds.to_connect(keepalive);
    Ok(Signed {
        connect: encode(&Packet::from(connect))?,
        client_id: creds.client_id,
        username: creds.username,
        password: creds.password,
        host: args.host.clone().unwrap_or_else(|| endpoint.host()),
        port: args.port.unwrap_or(aliyun::PORT),
        keepalive,
        notes: vec![(
            "sign",
            format!(
                "{} over {}",
                creds.params.sign_method().aliyun_name(),
                creds.sign_content
            ),
        )],
    })
}

fn sign_onenet(args: &Args, device: Option<&Device>) -> Result<Signed, SignCliError> {
    let p = Platform::Onenet;
    reject(
        p,
        &[
            (args.product_key.is_some(), "--product-key"),
            (args.device_name.is_some(), "--device-name"),
            (args.client_id.is_some(), "--client-id"),
            (args.timestamp.is_some(), "--timestamp"),
            (args.securemode.is_some(), "--securemode"),
            (args.region.is_some(), "--region"),
            (args.instance_id.is_some(), "--instance-id"),
        ],
    )?;
    if args.auth_info.is_some() && (args.access_key.is_some() || args.expiry.is_some()) {
        return Err(SignCliError::Conflict(
            "--auth-info (legacy)",
            "--access-key/--expiry (token)",
        ));
    }
    let product_id = args
        .product_id
        .clone()
        .or_else(|| device.map(|d| d.product_key.clone()))
        .ok_or(SignCliError::Missing(p, "--product-id"))?;
    let device_id = args
        .device_id
        .clone()
        .or_else(|| device.map(|d| d.device_name.clone()))
        .ok_or(SignCliError::Missing(p, "--device-id"))?;
    let token_mode = args.access_key.is_some()
        || args.expiry.is_some()
        || (args.auth_info.is_none() && device.is_some_and(|d| d.onenet_auth == OneNetAuth::Token));

    let mut notes = Vec::new();
    let (creds, host, port) = if token_mode {
        let key = secret(args.access_key.as_ref(), args, device, p, "--access-key")?;
        let et = expiry(args.expiry.as_deref().unwrap_or("24h"))?;
        let method = args.sign_method.unwrap_or(SignMethod::HmacSha1);
        let creds = OneNetCredentials::token(&product_id, &device_id, &key, et, method)?;
        notes.push(("token expires", format!("{et} (Unix seconds)")));
        (creds, onenet::TOKEN_HOST, onenet::TOKEN_PORT)
    } else {
        if args.sign_method.is_some() {
            return Err(SignCliError::Conflict(
                "--sign-method",
                "a legacy OneNET login (no token)",
            ));
        }
        let auth = secret(args.auth_info.as_ref(), args, device, p, "--auth-info")?;
        let creds = OneNetCredentials::legacy(&product_id, &device_id, &auth);
        (creds, onenet::LEGACY_HOST, onenet::LEGACY_PORT)
    };
    let keepalive = args.keepalive.unwrap_or(onenet::DEFAULT_KEEPALIVE);
    let connect: Connect = creds.to_connect(keepalive);
    Ok(Signed {
        connect: encode(&Packet::from(connect))?,
        client_id: creds.client_id,
        username: creds.username,
        password: creds.password,
        host: args.host.clone().unwrap_or_else(|| host.to_owned()),
        port: args.port.unwrap_or(port),
        keepalive,
        notes,
    })
}

/// Unix seconds as digits, or a humantime duration from now.
fn expiry(text: &str) -> Result<u64, SignCliError> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| SignCliError::BadExpiry(text.to_owned()));
    }
    let ahead: Duration =
        humantime::parse_duration(text).map_err(|_| SignCliError::BadExpiry(text.to_owned()))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    now.checked_add(ahead)
        .map(|t| t.as_secs())
        .ok_or_else(|| SignCliError::BadExpiry(text.to_owned()))
}

fn at_send(module: DialectKind, len: usize) -> String {
    send_lines(module.dialect().as_ref(), None, len).join("\n")
}

fn text(s: &Signed, module: DialectKind) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: &str| out.push_str(&format!("{label:<15}{value}\n"));
    line("client id:", &s.client_id);
    line("username:", &s.username);
    line("password:", &s.password);
    line("host:", &s.host);
    line("port:", &s.port.to_string());
    line("keepalive:", &s.keepalive.to_string());
    for (label, value) in &s.notes {
        line(&format!("{label}:"), value);
    }
    out.push_str(&format!("CONNECT ({} bytes):\n", s.connect.len()));
    out.push_str(&to_hex(&s.connect));
    out.push('\n');
    out.push_str(&at_send(module, s.connect.len()));
    out.push('\n');
    out
}

fn json(s: &Signed, module: DialectKind) -> String {
    serde_json::json!({
        "client_id": s.client_id,
        "username": s.username,
        "password": s.password,
        "host": s.host,
        "port": s.port,
        "keepalive": s.keepalive,
        "connect_hex": to_hex(&s.connect),
        "connect_len": s.connect.len(),
        "at_send": at_send(module, s.connect.len()),
    })
    .to_string()
}
