//! Alibaba Cloud one-device-one-secret (一机一密) credentials: the sign content, the HMAC
//! password, the username, the MQTT host, and the [`AliyunCredentials`] that become a CONNECT.

use super::client_id::ClientIdParams;
use super::secret::DeviceSecret;
use super::sign::SignMethod;
use crate::mqtt::Connect;

/// The plain-TCP port of every Alibaba Cloud MQTT endpoint the seeds use.
pub const PORT: u16 = 1883;

/// The region the seeds' public endpoints are in (华东2, cn-shanghai).
pub const DEFAULT_REGION: &str = "cn-shanghai";

/// The keepalive every Alibaba Cloud seed sends (`00 64`, 100 s; seeds 000–003); inside the
/// cloud's 30–1200 s window.
pub const DEFAULT_KEEPALIVE: u16 = 100;

/// The text the password is an HMAC of: the name and value of each of `clientId`,
/// `deviceName`, `productKey` and (when the client id carries one) `timestamp`, sorted by
/// name and concatenated with no separators (MQTT-TCP连接通信, aliyun-onenet.md §2.2).
///
/// `client_id_head` is the part of the MQTT client id before the first `|`.
pub fn sign_content(
    client_id_head: &str,
    device_name: &str,
    product_key: &str,
    timestamp: Option<&str>,
) -> String {
    let mut pairs = vec![
        ("clientId", client_id_head),
        ("deviceName", device_name),
        ("productKey", product_key),
    ];
    if let Some(ts) = timestamp {
        pairs.push(("timestamp", ts));
    }
    // Already in order as written; sorted anyway so the rule is the code, not a comment.
    pairs.sort_by_key(|(name, _)| *name);
    pairs.iter().map(|(n, v)| format!("{n}{v}")).collect()
}

/// The password: lower-case hex HMAC of `content` keyed with the DeviceSecret.
pub fn sign(secret: &DeviceSecret, method: SignMethod, content: &str) -> String {
    method.mac_hex(secret.expose().as_bytes(), content.as_bytes())
}

/// `DeviceName&ProductKey`.
pub fn username(device_name: &str, product_key: &str) -> String {
    format!("{device_name}&{product_key}")
}

/// Splits a username into (device name, product key) when it is `dn&pk` with both non-empty.
/// Device names and product keys cannot hold `&`, so exactly one is expected.
pub fn split_username(username: &str) -> Option<(&str, &str)> {
    let (dn, pk) = username.split_once('&')?;
    if dn.is_empty() || pk.is_empty() || pk.contains('&') {
        return None;
    }
    Some((dn, pk))
}

/// Where a device's MQTT connection goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The legacy public instance: `<ProductKey>.iot-as-mqtt.<region>.aliyuncs.com`.
    Public { product_key: String, region: String },
    /// A new public or Enterprise instance: `<instance id>.mqtt.iothub.aliyuncs.com`
    /// (seed 000 connects to `iot-ksf114514.mqtt.iothub.aliyuncs.com`).
    Instance { instance_id: String },
}

impl Endpoint {
    pub fn host(&self) -> String {
        match self {
            Endpoint::Public {
                product_key,
                region,
            } => format!("{product_key}.iot-as-mqtt.{region}.aliyuncs.com"),
            Endpoint::Instance { instance_id } => {
                format!("{instance_id}.mqtt.iothub.aliyuncs.com")
            }
        }
    }
}

/// What a device sends in its CONNECT, computed from the device triple and a client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliyunCredentials {
    pub product_key: String,
    pub device_name: String,
    /// The parsed client id the other fields were computed from.
    pub params: ClientIdParams,
    /// The full MQTT client id, `<id>|…|`.
    pub client_id: String,
    pub username: String,
    /// Lower-case hex HMAC (the cloud also accepts upper case).
    pub password: String,
    /// What the password is an HMAC of; holds no secret, worth showing when a sign is refused.
    pub sign_content: String,
}

impl AliyunCredentials {
    /// Signs for `params` as given: its head, its sign method (hmacmd5 when it names none) and
    /// its timestamp.
    pub fn compute(
        product_key: &str,
        device_name: &str,
        secret: &DeviceSecret,
        params: ClientIdParams,
    ) -> AliyunCredentials {
        let content = sign_content(
            &params.head,
            device_name,
            product_key,
            params.timestamp.as_deref(),
        );
        AliyunCredentials {
            product_key: product_key.to_owned(),
            device_name: device_name.to_owned(),
            client_id: params.to_string(),
            username: username(device_name, product_key),
            password: sign(secret, params.sign_method(), &content),
            sign_content: content,
            params,
        }
    }

    /// A 3.1.1 clean-session CONNECT carrying these credentials, as the seeds build by hand.
    pub fn to_connect(&self, keepalive: u16) -> Connect {
        let mut connect = Connect::new(self.client_id.clone(), keepalive);
        connect.username = Some(self.username.clone());
        connect.password = Some(self.password.clone().into_bytes());
        connect
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_example_with_timestamp() {
        // MQTT-TCP连接通信: clientId 12345, device `device`, pk `pk`, timestamp 789, secret
        // `secret`, hmacsha1 → FAFD82A3D602B37FB0FA8B7892F24A477F851A14.
        let mut params = ClientIdParams::new("12345", SignMethod::HmacSha1);
        params.timestamp = Some("789".into());
        let c = AliyunCredentials::compute("pk", "device", &DeviceSecret::new("secret"), params);
        assert_eq!(
            c.client_id,
            "12345|securemode=3,signmethod=hmacsha1,timestamp=789|"
        );
        assert_eq!(
            c.sign_content,
            "clientId12345deviceNamedeviceproductKeypktimestamp789"
        );
        assert_eq!(c.password, "fafd82a3d602b37fb0fa8b7892f24a477f851a14");
        assert_eq!(c.username, "device&pk");
    }

    #[test]
    fn to_connect_fills_username_and_password() {
        let c = AliyunCredentials::compute(
            "a1ndPQHcX7f",
            "device2",
            &DeviceSecret::new("1448e1c58996469449813ed68e3b0fed"),
            ClientIdParams::new("device2", SignMethod::HmacSha1),
        );
        let connect = c.to_connect(DEFAULT_KEEPALIVE);
        assert_eq!(
            connect.client_id,
            "device2|securemode=3,signmethod=hmacsha1|"
        );
        assert_eq!(connect.username.as_deref(), Some("device2&a1ndPQHcX7f"));
        assert_eq!(
            connect.password.as_deref(),
            Some(&b"5caeef5b9251940696b02dc80b615c3f739f46bc"[..])
        );
        assert_eq!((connect.keepalive, connect.clean_session), (100, true));
    }

    #[test]
    fn hosts() {
        let public = Endpoint::Public {
            product_key: "a10zwkUxQUS".into(),
            region: DEFAULT_REGION.into(),
        };
        assert_eq!(
            public.host(),
            "a10zwkUxQUS.iot-as-mqtt.cn-shanghai.aliyuncs.com"
        );
        let instance = Endpoint::Instance {
            instance_id: "iot-ksf114514".into(),
        };
        assert_eq!(instance.host(), "iot-ksf114514.mqtt.iothub.aliyuncs.com");
    }

    #[test]
    fn username_split() {
        assert_eq!(
            split_username("LY-1&a10zwkUxQUS"),
            Some(("LY-1", "a10zwkUxQUS"))
        );
        assert_eq!(split_username("LY-1"), None);
        assert_eq!(split_username("&pk"), None);
        assert_eq!(split_username("dn&"), None);
        assert_eq!(split_username("a&b&c"), None);
    }
}
