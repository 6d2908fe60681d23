//! The profile's data: [`CloudProfile`] (every Alibaba Cloud rule the gateway applies, the
//! documented behaviour as [`Default`]), read from a YAML file with [`CloudProfile::load`], and
//! [`ProfileOverride`] (a scenario's partial change) applied with [`CloudProfile::with`].
//!
//! Every default cites its source in `aliyun-onenet.md` (the research notes, "§" below);
//! `fixtures/profiles/aliyun.yaml` is the same defaults written out, and a test keeps the two
//! equal. `docs/cloud-fidelity.md` lists every rule with its key.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::broker::error::BrokerError;

/// Defines a section of the profile and its override twin (every field optional), so the two
/// can never drift apart: `Name / NameOverride { field: Type = default, … }`.
macro_rules! section {
    (
        $(#[$meta:meta])*
        $name:ident / $over:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $default:expr, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                $name { $( $field: $default, )* }
            }
        }

        #[doc = concat!("The [`", stringify!($name), "`] keys a scenario changes; absent ones keep the run's value.")]
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $over {
            $( $(#[$fmeta])* #[serde(default)] pub $field: Option<$ty>, )*
        }

        impl $name {
            fn apply(&mut self, o: &$over) {
                $( if let Some(v) = &o.$field { self.$field = v.clone(); } )*
            }
        }
    };
}

/// Every Alibaba Cloud rule the gateway applies, with the documented behaviour as Default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CloudProfile {
    pub login: Login,
    pub keepalive: Keepalive,
    pub topics: Topics,
    pub protocol: Protocol,
    pub limits: Limits,
    pub thing: Thing,
}

/// A scenario's partial override: the same sections, each key optional, applied over the run's
/// profile. A list (`topics.classes`, `topics.implicit_filters`) is replaced whole.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileOverride {
    #[serde(default)]
    pub login: Option<LoginOverride>,
    #[serde(default)]
    pub keepalive: Option<KeepaliveOverride>,
    #[serde(default)]
    pub topics: Option<TopicsOverride>,
    #[serde(default)]
    pub protocol: Option<ProtocolOverride>,
    #[serde(default)]
    pub limits: Option<LimitsOverride>,
    #[serde(default)]
    pub thing: Option<ThingOverride>,
}

section! {
    /// CONNECT: the CONNACK codes of each refusal, the wait for a CONNECT, one login per device.
    Login / LoginOverride {
        /// A TCP link that sends no CONNECT within this is closed. No document states it; seed
        /// 000 reports about 10 s (§2.3, §5).
        connect_timeout: Span = Span(Duration::from_secs(10)),
        /// CONNACK code for a wrong sign: 4 in community logs, 5 possible (§0.6, §2.3, §5).
        sign_mismatch_code: u8 = 4,
        /// CONNACK code for a ProductKey/DeviceName the registry does not hold (§5).
        unknown_device_code: u8 = 4,
        /// CONNACK code for a device whose file says `status: disabled` (§5).
        disabled_device_code: u8 = 5,
        /// CONNACK code for a client id the cloud cannot read (§2.3: "clientId参数格式错误").
        malformed_client_id_code: u8 = 2,
        /// CONNACK code for a missing or malformed username or password (§2.3: rc 4).
        bad_credentials_code: u8 = 4,
        /// A second login of the same device kicks the first off (§2.2, §2.7).
        one_connection_per_device: bool = true,
    }
}

section! {
    /// The keepalive window and the server's idle timer.
    Keepalive / KeepaliveOverride {
        /// Keepalives below this are refused (§2.4: 30–1200 s).
        min: u16 = 30,
        /// Keepalives above this are capped or refused, per `above_max` (§2.4).
        max: u16 = 1200,
        /// CONNACK code for a keepalive out of range (§2.4, Link SDK 4: rc 3).
        out_of_range_code: u8 = 3,
        /// Above `max`: `cap` (Link SDK 4: "会被服务器覆盖为1200") or `refuse` (the 2020 doc);
        /// §5 suggests capping.
        above_max: AboveMax = AboveMax::Cap,
        /// A device silent for this many keepalives is disconnected (§2.4 使用限制: 1.5×).
        timeout_factor: f64 = 1.5,
        /// Whether the idle timer runs at all.
        enforce: bool = true,
    }
}

section! {
    /// Which topics a device may publish and subscribe to, and which downlinks reach it unasked.
    Topics / TopicsOverride {
        /// Whether permissions are checked at all (off: every topic is open, as plain rumqttd).
        enforce: bool = true,
        /// Access to the device's custom topics `/{pk}/{dn}/user/#` (§2.6: set per topic class
        /// in the console; default both ways).
        custom: Access = Access::All,
        /// The system topic classes and their access (§1.5, §2.6). `{pk}` and `{dn}` stand for
        /// the device's ProductKey and DeviceName.
        classes: Vec<TopicClass> = default_classes(),
        /// What becomes of a PUBLISH to a topic the device may not publish to: `drop` (PUBACK
        /// for QoS 1, message discarded, link kept) or `disconnect` (§2.5, §5: cloud log 9236).
        unpermitted_publish: Violation = Violation::Drop,
        /// When downlinks on `implicit_filters` reach a device that never subscribed: `sdk`
        /// (the client id carries `_ss=1`, as the official SDKs send), `always`, or `never`
        /// (§0.9, §2.2, §2.6: the exact rule is unconfirmed).
        implicit: Implicit = Implicit::Sdk,
        /// The downlinks a device receives without SUBSCRIBE (§0.9, §5).
        implicit_filters: Vec<String> = vec![
            "/sys/{pk}/{dn}/#".to_owned(),
            "/broadcast/{pk}/#".to_owned(),
            "/ota/device/upgrade/{pk}/{dn}".to_owned(),
        ],
    }
}

section! {
    /// MQTT features the cloud does not have (§0.8, §2.5).
    Protocol / ProtocolOverride {
        /// SUBACK return code for every granted filter, whatever QoS was asked (seed 002: 01).
        granted_qos: u8 = 1,
        /// A QoS 2 PUBLISH: `disconnect` or `drop` (§2.5, §5: disconnect).
        qos2_publish: Violation = Violation::Disconnect,
        /// A CONNECT with a will: `ignore` it (never published) or `keep` it (§2.5, §5).
        will: WillRule = WillRule::Ignore,
        /// A PUBLISH with retain set: `clear` (delivered, not kept) or `keep` (§2.5, §5).
        retain: RetainRule = RetainRule::Clear,
    }
}

section! {
    /// Size and count limits (§2.7, the 2020 使用限制 page).
    Limits / LimitsOverride {
        /// Largest PUBLISH payload in bytes (256 KB).
        max_payload: usize = 256 * 1024,
        /// A larger PUBLISH: `disconnect` or `drop` (§2.7 "直接拒绝", §5: disconnect).
        oversize_payload: Violation = Violation::Disconnect,
        /// Longest topic in bytes (128).
        max_topic_length: usize = 128,
        /// Most `/` in a topic outside `/sys/` (7); Alink topics such as
        /// `/sys/{pk}/{dn}/thing/event/property/batch/post` have more and are exempt.
        max_topic_levels: usize = 7,
        /// Most filters in one SUBSCRIBE (8); a longer one gets 0x80 for every filter.
        max_filters_per_subscribe: usize = 8,
        /// Most subscriptions per connection (100); filters beyond get 0x80.
        max_subscriptions: usize = 100,
    }
}

section! {
    /// The cloud's Alink replies to the device's posts (§2.8).
    Thing / ThingOverride {
        /// Whether property and event posts are answered on `…/post_reply`.
        replies: bool = true,
        /// The QoS of the reply (the reference says none; 0).
        reply_qos: u8 = 0,
        /// `code` when the post is not JSON (设备端错误码: 6207).
        not_json_code: u16 = 6207,
        /// `code` when the post has no `method` (设备端错误码: 6300).
        no_method_code: u16 = 6300,
        /// `code` when the post has no `id` or `params` (设备端错误码: 460).
        bad_params_code: u16 = 460,
    }
}

/// Who may use a topic class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Publish only (YAML `pub`).
    #[serde(rename = "pub")]
    Publish,
    /// Subscribe only (YAML `sub`).
    #[serde(rename = "sub")]
    Subscribe,
    /// Both.
    All,
}

impl Access {
    pub fn may_publish(self) -> bool {
        matches!(self, Access::Publish | Access::All)
    }
    pub fn may_subscribe(self) -> bool {
        matches!(self, Access::Subscribe | Access::All)
    }
}

/// One topic class: a filter with `{pk}`/`{dn}` placeholders and who may use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicClass {
    pub topic: String,
    pub access: Access,
}

fn class(topic: &str, access: Access) -> TopicClass {
    TopicClass {
        topic: topic.to_owned(),
        access,
    }
}

/// The system topic classes of a device (§1.5, §2.6).
fn default_classes() -> Vec<TopicClass> {
    use Access::{All, Publish, Subscribe};
    vec![
        // §2.6, the basic classes: Alink and RRPC, both ways.
        class("/sys/{pk}/{dn}/thing/#", All),
        class("/sys/{pk}/{dn}/rrpc/#", All),
        // §2.6: broadcasts are pushed by the cloud (the old table says pub&sub).
        class("/broadcast/{pk}/#", Subscribe),
        // §1.5: OTA version report up, upgrade push down.
        class("/ota/device/inform/{pk}/{dn}", Publish),
        class("/ota/device/upgrade/{pk}/{dn}", Subscribe),
        // §1.5: the shadow.
        class("/shadow/update/{pk}/{dn}", Publish),
        class("/shadow/get/{pk}/{dn}", Subscribe),
        // §2.6: NTP request up, response down; gateway errors down.
        class("/ext/ntp/{pk}/{dn}/request", Publish),
        class("/ext/ntp/{pk}/{dn}/response", Subscribe),
        class("/ext/error/{pk}/{dn}", Subscribe),
        // §1.5, §2.6: sub-device sessions through a gateway.
        class("/ext/session/{pk}/{dn}/combine/login", Publish),
        class("/ext/session/{pk}/{dn}/combine/login_reply", Subscribe),
        class("/ext/session/{pk}/{dn}/combine/logout", Publish),
        class("/ext/session/{pk}/{dn}/combine/logout_reply", Subscribe),
        class("/ext/session/{pk}/{dn}/combine/batch_login", Publish),
        class(
            "/ext/session/{pk}/{dn}/combine/batch_login_reply",
            Subscribe,
        ),
        class("/ext/session/{pk}/{dn}/combine/batch_logout", Publish),
        class(
            "/ext/session/{pk}/{dn}/combine/batch_logout_reply",
            Subscribe,
        ),
        // §1.5: custom-topic RRPC, `/ext/rrpc/{messageId}/{custom topic}`, both ways.
        class("/ext/rrpc/+/{pk}/{dn}/#", All),
        // §2.9: dynamic registration results (not per device; nothing publishes there here).
        class("/ext/register", Subscribe),
        class("/ext/regnwl", Subscribe),
    ]
}

/// What the cloud does with a packet it will not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Violation {
    /// Discard it (acknowledging a QoS 1 PUBLISH) and keep the link.
    Drop,
    /// Close the link.
    Disconnect,
}

/// Keepalive above the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AboveMax {
    Cap,
    Refuse,
}

/// When the implicit downlinks apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Implicit {
    /// When the client id carries `_ss=1` (Python SDK, Link SDK 4).
    Sdk,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WillRule {
    Ignore,
    Keep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetainRule {
    Clear,
    Keep,
}

/// A duration written with its unit (`10s`, `500ms`), as everywhere in athil's YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        let text = String::deserialize(d)?;
        match humantime::parse_duration(text.trim()) {
            Ok(d) if !d.is_zero() => Ok(Span(d)),
            Ok(_) => Err(serde::de::Error::custom(
                "a duration of zero would close every link",
            )),
            Err(e) => Err(serde::de::Error::custom(format!(
                "expected a duration with a unit such as `500ms` or `10s`, found `{text}` ({e})"
            ))),
        }
    }
}

impl JsonSchema for Span {
    fn schema_name() -> String {
        "Duration".to_owned()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        String::json_schema(gen)
    }
}

impl CloudProfile {
    /// Reads a profile file; absent keys keep their defaults, unknown keys are errors.
    pub fn load(path: &Path) -> Result<CloudProfile, BrokerError> {
        super::load_file(path, CloudProfile::problems)
    }

    /// This profile with a scenario's override applied.
    pub fn with(&self, o: &ProfileOverride) -> CloudProfile {
        let mut p = self.clone();
        if let Some(s) = &o.login {
            p.login.apply(s);
        }
        if let Some(s) = &o.keepalive {
            p.keepalive.apply(s);
        }
        if let Some(s) = &o.topics {
            p.topics.apply(s);
        }
        if let Some(s) = &o.protocol {
            p.protocol.apply(s);
        }
        if let Some(s) = &o.limits {
            p.limits.apply(s);
        }
        if let Some(s) = &o.thing {
            p.thing.apply(s);
        }
        p
    }

    /// What makes this profile unusable, each worded to read after "the profile is wrong:";
    /// empty when it is fine. Checked by `load`; callers of `with` may check the result.
    pub fn problems(&self) -> Vec<String> {
        self.keyed_problems()
            .into_iter()
            .map(|p| p.message)
            .collect()
    }

    /// [`CloudProfile::problems`] with the keys each concerns, so a scenario's `cloud:` block
    /// can place the problem at the key it wrote.
    pub fn keyed_problems(&self) -> Vec<ProfileProblem> {
        let mut out = Vec::new();
        let mut push = |keys: &[&'static str], message: String| {
            out.push(ProfileProblem {
                keys: keys.to_vec(),
                message,
            })
        };
        let codes = [
            ("login.sign_mismatch_code", self.login.sign_mismatch_code),
            ("login.unknown_device_code", self.login.unknown_device_code),
            (
                "login.disabled_device_code",
                self.login.disabled_device_code,
            ),
            (
                "login.malformed_client_id_code",
                self.login.malformed_client_id_code,
            ),
            (
                "login.bad_credentials_code",
                self.login.bad_credentials_code,
            ),
            (
                "keepalive.out_of_range_code",
                self.keepalive.out_of_range_code,
            ),
        ];
        for (key, code) in codes {
            if code == 0 {
                push(
                    &[key],
                    format!("{key} is 0, which means \"accepted\"; a refusal needs 1-5"),
                );
            } else if code > 5 {
                push(
                    &[key],
                    format!(
                        "{key} is {code}, a reserved CONNACK code; MQTT 3.1.1 defines refusals 1-5"
                    ),
                );
            }
        }
        if self.keepalive.min > self.keepalive.max {
            push(
                &["keepalive.min", "keepalive.max"],
                format!(
                    "keepalive.min {} is above keepalive.max {}",
                    self.keepalive.min, self.keepalive.max
                ),
            );
        }
        let factor = self.keepalive.timeout_factor;
        if !(factor.is_finite() && factor > 0.0) {
            push(
                &["keepalive.timeout_factor"],
                format!("keepalive.timeout_factor {factor} is not a positive number"),
            );
        }
        if self.protocol.granted_qos > 1 {
            push(
                &["protocol.granted_qos"],
                format!(
                    "protocol.granted_qos {} is not 0 or 1 (the cloud has no QoS 2)",
                    self.protocol.granted_qos
                ),
            );
        }
        if self.thing.reply_qos > 1 {
            push(
                &["thing.reply_qos"],
                format!("thing.reply_qos {} is not 0 or 1", self.thing.reply_qos),
            );
        }
        for c in &self.topics.classes {
            if let Err(e) = super::topics::check_template(&c.topic) {
                push(
                    &["topics.classes"],
                    format!("topics.classes: `{}` {e}", c.topic),
                );
            }
        }
        for f in &self.topics.implicit_filters {
            if let Err(e) = super::topics::check_template(f) {
                push(
                    &["topics.implicit_filters"],
                    format!("topics.implicit_filters: `{f}` {e}"),
                );
            }
        }
        out
    }
}

/// One reason a profile is unusable and the dotted keys it concerns (`keepalive.min`), most
/// likely culprit first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileProblem {
    pub keys: Vec<&'static str>,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_changes_only_what_it_names() {
        let o: ProfileOverride =
            serde_yaml::from_str("keepalive: { min: 1 }\nthing: { replies: false }").unwrap();
        let base = CloudProfile {
            login: Login {
                sign_mismatch_code: 5,
                ..Login::default()
            },
            ..CloudProfile::default()
        };
        let p = base.with(&o);
        assert_eq!((p.keepalive.min, p.keepalive.max), (1, 1200));
        assert!(!p.thing.replies);
        // The run's own change survives a scenario's unrelated override.
        assert_eq!(p.login.sign_mismatch_code, 5);
        assert_eq!(base.with(&ProfileOverride::default()), base);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        for yaml in [
            "keepalive: { minimum: 1 }",
            "nonsense: true",
            "login: { connect_timeout: 10 }",
            "login: { connect_timeout: 0s }",
            "topics: { custom: both }",
        ] {
            assert!(
                serde_yaml::from_str::<CloudProfile>(yaml).is_err(),
                "accepted {yaml}"
            );
            assert!(
                serde_yaml::from_str::<ProfileOverride>(yaml).is_err(),
                "accepted {yaml} as an override"
            );
        }
    }

    #[test]
    fn problems_are_listed_together() {
        let mut p = CloudProfile::default();
        assert!(p.problems().is_empty(), "{:?}", p.problems());
        p.keepalive.min = 2000;
        p.login.sign_mismatch_code = 0;
        p.topics.classes.push(class("/a/#/b", Access::All));
        let problems = p.problems();
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    /// The codec writes only the refusals MQTT 3.1.1 defines; a reserved code is caught here,
    /// not when the first device is refused.
    #[test]
    fn a_reserved_connack_code_is_a_problem() {
        let mut p = CloudProfile::default();
        p.login.disabled_device_code = 6;
        let problems = p.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("reserved"), "{problems:?}");
    }

    /// The shipped profile file is the defaults written out, key for key.
    #[test]
    fn the_fixture_profile_is_the_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/profiles/aliyun.yaml");
        let loaded = CloudProfile::load(&path).expect("the fixture profile loads");
        assert_eq!(loaded, CloudProfile::default());
        // And every key is written out: nothing in it relies on a default.
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let default = serde_yaml::to_value(CloudProfile::default()).unwrap();
        assert_eq!(value, default);
    }

    #[test]
    fn load_names_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, "keepalive: { min: 2000 }\n").unwrap();
        let text = CloudProfile::load(&path).unwrap_err().to_string();
        assert!(text.starts_with("load the cloud profile from `"), "{text}");
        assert!(
            text.contains("keepalive.min 2000 is above keepalive.max 1200"),
            "{text}"
        );
        std::fs::write(&path, "").unwrap();
        assert_eq!(CloudProfile::load(&path).unwrap(), CloudProfile::default());
    }

    #[test]
    fn spans_read_and_write_with_their_unit() {
        let o: LoginOverride = serde_yaml::from_str("connect_timeout: 300ms").unwrap();
        assert_eq!(o.connect_timeout, Some(Span(Duration::from_millis(300))));
        let text = serde_yaml::to_string(&Login::default()).unwrap();
        assert!(text.contains("connect_timeout: 10s"), "{text}");
    }
}
