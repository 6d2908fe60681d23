//! Stage two: the validated scenario the executor runs ([`Scenario`], [`Step`], [`Action`]).
//!
//! Everything here has been checked: hex is bytes, durations are `Duration`s, regexes compile,
//! template names exist, the device fixture is known. What is left for run time is only what
//! cannot be known before: the values of [`Template`]s (broker address, device credentials,
//! environment variables).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::mqtt::{PacketType, QoS};

use super::location::Location;
use super::opaque::Opaque;
use super::template::{Template, TemplateError};

/// How long a step waits when neither it nor its scenario says (`timeout:`).
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// One scenario file, validated.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    /// The file it was read from.
    pub file: PathBuf,
    /// Device fixture name, e.g. `aliyun/device2` (`fixtures/devices/aliyun/device2.yaml`).
    pub device: String,
    pub tags: Vec<String>,
    /// The scenario's default step timeout (its `timeout:` or [`DEFAULT_STEP_TIMEOUT`]);
    /// already applied to every [`Step::timeout`].
    pub timeout: Duration,
    /// Settings for the built-in virtual module, read by the simulator layer: see [`Opaque`].
    pub virtual_module: Option<Opaque>,
    /// The `cloud:` block: this scenario's changes to the run's cloud profile (login rules,
    /// keepalive, topics, limits), read by the runner as the broker's profile override.
    pub cloud: Option<Opaque>,
    /// The `requires:` block: what a slot must offer to run it, read by the runner's plan.
    pub requires: Option<Opaque>,
    /// The scenario's own `estimate:` of how long it takes.
    pub estimate: Option<Duration>,
    pub steps: Vec<Step>,
    /// Where the scenario's name is written, for errors about the scenario as a whole.
    pub location: Location,
}

/// One step, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 0-based position in [`Scenario::steps`].
    pub index: usize,
    /// Where the step's mapping starts (its first key).
    pub location: Location,
    /// One line as written, for the console and JUnit: `send AT+CIPSEND=118`,
    /// `receive 20 02 00 00`, `mqtt subscribe /sys/…/property/set`. Holds templates as
    /// written, never their values, so it is safe to print.
    pub label: String,
    /// The step's `name:`, if given.
    pub name: Option<String>,
    /// How long the step may wait: its own `timeout:`, else the scenario's, else
    /// [`DEFAULT_STEP_TIMEOUT`]. Not used by `wait` and `expect_not` (they have their own).
    pub timeout: Duration,
    pub action: Action,
    /// `link:` the module link an `mqtt`, `receive` or `receive_mqtt` step uses (`AT+CIPMUX=1`);
    /// `None` is single-connection mode, or for reading, the link last sent on. A number, not
    /// a command: the module's dialect writes it (`AT+CIPSEND=1,<n>`, `+IPD,1,<n>:`).
    pub link: Option<u8>,
    /// `capture:` what a `receive_mqtt` keeps of the packet it received.
    pub capture: Option<Capture>,
    /// Where the step's link number is written (its `link:` key's value, or the one inside
    /// `open`, `close`, `expect_closed`), for placing a link a module has not got.
    pub link_at: Option<Location>,
}

impl Step {
    /// The link the step names, wherever it is written.
    pub fn named_link(&self) -> Option<u8> {
        match &self.action {
            Action::Open(o) => o.link,
            Action::Close { link } | Action::ExpectClosed { link } => *link,
            _ => self.link,
        }
    }
}

/// What a `receive_mqtt` keeps for later steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// The name the packet's packet id is kept under, for a later `packet_id: "{{vars.NAME}}"`.
    pub packet_id: String,
}

/// A packet id an `mqtt` step sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketId {
    /// Written as a number (or a variable holding one).
    Fixed(u16),
    /// The id an earlier `receive_mqtt` captured under this name.
    Captured(String),
}

impl std::fmt::Display for PacketId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PacketId::Fixed(id) => write!(f, "{id}"),
            PacketId::Captured(name) => write!(f, "{{{{vars.{name}}}}}"),
        }
    }
}

/// What a step does. The executor matches on this exhaustively.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `send:` write this line and CR LF to the module; then, if given, wait for `expect`.
    Send {
        line: Template,
        expect: Option<Matcher>,
    },
    /// `write:` write these bytes exactly (nothing appended); then, if given, wait for
    /// `expect`.
    Write {
        bytes: Vec<u8>,
        expect: Option<Matcher>,
    },
    /// `expect:` wait up to the timeout for serial text matching this.
    Expect(Matcher),
    /// `expect_not:` for the whole `window`, no serial text may match this.
    ExpectNot { matcher: Matcher, window: Duration },
    /// `receive:` the bytes that arrive from the socket (the `+IPD,<n>:` payloads,
    /// reassembled across several `+IPD`s) equal these exactly.
    Receive(Vec<u8>),
    /// `mqtt:` encode this packet and send it through the module's send sequence
    /// (`AT+CIPSEND=<n>`, prompt, bytes, `SEND OK`).
    Mqtt(MqttSend),
    /// `receive_mqtt:` the next packet from the socket matches these fields.
    ReceiveMqtt(MqttExpect),
    /// `join:` bring the module onto its network as its dialect does it (Wi-Fi with the
    /// run's `{{wifi.*}}`, or a cellular data context).
    Join(Join),
    /// `open:` open a TCP link as the module's dialect does it, waiting for the outcome.
    Open(Open),
    /// `close:` close a link with the module's close command.
    Close { link: Option<u8> },
    /// `expect_closed:` the module reports the link closed (ESP `CLOSED`, Quectel
    /// `+QIURC: "closed",<id>`), or already has since it was opened.
    ExpectClosed { link: Option<u8> },
    /// `broker_saw:` the broker received this packet from the device (since the scenario
    /// started), waiting up to the timeout for it.
    BrokerSaw(BrokerSaw),
    /// `broker_refused:` the broker refused a CONNECT of the device.
    BrokerRefused(BrokerRefused),
    /// `cloud_publish:` the cloud publishes this message, as the console does.
    CloudPublish(CloudPublish),
    /// `broker_fault:` the broker misbehaves on purpose from now on (holds a CONNACK, drops
    /// the link, splits a packet, sends raw bytes). `fault` is a mapping with exactly one key,
    /// the fault's name (`{delay: {packet: connack, by: 2s}}`), read by the runner into the
    /// broker's fault type.
    BrokerFault { device: FaultDevice, fault: Opaque },
    /// `broker_dropped:` the broker dropped a packet of the device (waiting up to the
    /// timeout for it).
    BrokerDropped(BrokerDropped),
    /// `wait:` do nothing for this long (serial and broker traffic is still recorded).
    Wait(Duration),
}

/// `join:` settings; the dialect ignores those that are not its network's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Join {
    /// The APN a cellular module attaches with; the network's own when `None`.
    pub apn: Option<Template>,
}

/// `open:` a TCP link to `host:port`.
#[derive(Debug, Clone, PartialEq)]
pub struct Open {
    pub host: Template,
    /// Checked at run time when a template fills it: a number from 1 to 65535.
    pub port: Template,
    /// The link id; `None` is the module's single or first link.
    pub link: Option<u8>,
}

/// Serial text to look for. Text holes are filled at run time (see [`Matcher::render`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    /// The text appears anywhere (a bare string: `expect: SEND OK`).
    Contains(Template),
    /// A whole line (between line ends, without them) equals the text.
    Line(Template),
    /// The regular expression matches (multi-line mode: `^`/`$` match at line ends).
    Regex(Pattern),
    /// Each matches, one after the other (a list: `expect: [CONNECT, OK]`).
    InOrder(Vec<Matcher>),
    /// Every one matches, in any order.
    AllOf(Vec<Matcher>),
    /// At least one matches.
    AnyOf(Vec<Matcher>),
}

/// A compiled regular expression that compares by its source text.
#[derive(Debug, Clone)]
pub struct Pattern(pub regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

/// A packet the device sends (`mqtt:`). Fields left out of CONNECT come from the device
/// fixture.
#[derive(Debug, Clone, PartialEq)]
pub enum MqttSend {
    Connect(ConnectSpec),
    Publish(PublishSpec),
    Subscribe {
        packet_id: u16,
        filters: Vec<FilterSpec>,
    },
    Unsubscribe {
        packet_id: u16,
        filters: Vec<Template>,
    },
    Puback {
        packet_id: PacketId,
    },
    Pubrec {
        packet_id: PacketId,
    },
    Pubrel {
        packet_id: PacketId,
    },
    Pubcomp {
        packet_id: PacketId,
    },
    Pingreq,
    Disconnect,
}

/// CONNECT overrides; `None` means "as the device fixture says" (keepalive 60 and clean
/// session when the fixture says nothing either).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnectSpec {
    pub client_id: Option<Template>,
    pub username: Option<Template>,
    pub password: Option<Template>,
    /// Sign with this DeviceSecret instead of the fixture's. Its value is a secret.
    pub secret: Option<Template>,
    pub keepalive: Option<u16>,
    pub clean_session: Option<bool>,
    /// 4 (MQTT 3.1.1) when `None`.
    pub protocol_level: Option<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PublishSpec {
    pub topic: Template,
    pub payload: Payload,
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    /// `Some` exactly when `qos` is 1 or 2 (validated).
    pub packet_id: Option<u16>,
}

/// A SUBSCRIBE filter to send.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterSpec {
    pub filter: Template,
    pub qos: QoS,
}

/// A payload to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// `payload:` text (UTF-8 on the wire).
    Text(Template),
    /// `payload_hex:` bytes.
    Bytes(Vec<u8>),
    /// `payload_json:` sent as compact JSON.
    Json(serde_json::Value),
}

impl Payload {
    /// The bytes to put on the wire.
    pub fn render(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<u8>, TemplateError> {
        Ok(match self {
            Payload::Text(t) => t.render(lookup)?.into_bytes(),
            Payload::Bytes(b) => b.clone(),
            Payload::Json(v) => v.to_string().into_bytes(),
        })
    }
}

/// A payload to check.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadMatch {
    /// `payload:` equals this text exactly.
    Text(Template),
    /// `payload_hex:` equals these bytes exactly.
    Bytes(Vec<u8>),
    /// `payload_json:` is JSON holding every key given with that value; nested objects are
    /// compared the same way, arrays and scalars exactly (numbers by value: 1 equals 1.0).
    JsonSubset(serde_json::Value),
}

/// A packet expected from the socket (`receive_mqtt:`). `None` fields are not checked.
#[derive(Debug, Clone, PartialEq)]
pub enum MqttExpect {
    Connack {
        session_present: Option<bool>,
        return_code: Option<u8>,
    },
    Publish(PublishMatch),
    Puback {
        packet_id: Option<u16>,
    },
    Pubrec {
        packet_id: Option<u16>,
    },
    Pubrel {
        packet_id: Option<u16>,
    },
    Pubcomp {
        packet_id: Option<u16>,
    },
    Suback {
        packet_id: Option<u16>,
        return_codes: Option<Vec<u8>>,
    },
    Unsuback {
        packet_id: Option<u16>,
    },
    Pingresp,
}

/// PUBLISH fields to check; `None` is not checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PublishMatch {
    pub topic: Option<Template>,
    pub payload: Option<PayloadMatch>,
    pub qos: Option<QoS>,
    pub retain: Option<bool>,
    pub dup: Option<bool>,
    pub packet_id: Option<u16>,
}

/// `broker_saw:` a packet the broker received.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerSaw {
    /// The connection whose CONNECT carried this client id; `None`: the scenario's device.
    pub client_id: Option<Template>,
    pub packet: SeenPacket,
}

/// A packet from the device as the broker saw it. `None` fields are not checked.
#[derive(Debug, Clone, PartialEq)]
pub enum SeenPacket {
    /// The client id is [`BrokerSaw::client_id`].
    Connect {
        username: Option<Template>,
        keepalive: Option<u16>,
        clean_session: Option<bool>,
    },
    Publish(PublishMatch),
    Subscribe {
        packet_id: Option<u16>,
        /// The whole filter list in order, when given.
        filters: Option<Vec<FilterMatch>>,
    },
    Unsubscribe {
        packet_id: Option<u16>,
        filters: Option<Vec<Template>>,
    },
    Puback {
        packet_id: Option<u16>,
    },
    Pingreq,
    Disconnect,
}

/// A SUBSCRIBE filter to check; `qos: None` (the string form) is not checked.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterMatch {
    pub filter: Template,
    pub qos: Option<QoS>,
}

/// `broker_refused:` a refused CONNECT. `None` fields are not checked.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerRefused {
    /// `None`: the scenario's device.
    pub client_id: Option<Template>,
    /// The CONNACK return code sent.
    pub code: Option<u8>,
    /// Text the broker's stated reason contains.
    pub reason: Option<String>,
}

/// Which connections a `broker_fault:` applies to (its step's `device:` key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultDevice {
    /// No `device:` given: the scenario's device.
    Scenario,
    /// `device: aliyun/device3`: a device fixture name, checked against the registry.
    Named(String),
    /// `device: all`: every connection.
    All,
}

/// `broker_dropped:` a packet the broker dropped. `None` fields are not checked.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerDropped {
    /// The connection whose CONNECT carried this client id; `None`: the scenario's device.
    pub client_id: Option<Template>,
    /// The dropped packet's type.
    pub packet: Option<PacketType>,
    /// Text the broker's stated reason contains.
    pub reason: Option<String>,
}

/// `cloud_publish:` a message the cloud sends to a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudPublish {
    pub topic: Template,
    pub payload: Payload,
    pub qos: QoS,
    pub retain: bool,
}

impl Scenario {
    /// Every template in the scenario, for listing what it needs at run time.
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = Vec::new();
        for step in &self.steps {
            step.action.templates(&mut out);
        }
        out
    }

    /// Every block this layer carries unread, named by its key (`virtual_module`, `cloud`,
    /// `broker_fault`), in file order, so a tool can read each into its owner's type up front
    /// (`athil check`, `athil run` before starting) with positions in every problem.
    pub fn opaque_blocks(&self) -> Vec<(&'static str, &Opaque)> {
        let mut out: Vec<(&'static str, &Opaque)> = Vec::new();
        out.extend(self.virtual_module.iter().map(|o| ("virtual_module", o)));
        out.extend(self.cloud.iter().map(|o| ("cloud", o)));
        out.extend(self.requires.iter().map(|o| ("requires", o)));
        for step in &self.steps {
            if let Action::BrokerFault { fault, .. } = &step.action {
                out.push(("broker_fault", fault));
            }
        }
        out.sort_by_key(|(_, o)| o.location);
        out
    }

    /// Whether every step is dialect-neutral: none writes AT text or bytes of its own
    /// (`send`, `write`) or waits for a dialect's words on the serial line (`expect`,
    /// `expect_not`), so any module's dialect can run it. A scenario that is not needs the
    /// dialect its text is written in (ESP-AT unless its `requires:` names another).
    pub fn dialect_neutral(&self) -> bool {
        self.steps.iter().all(|s| !s.action.speaks_at())
    }

    /// A problem at its place for every link a step names outside `links`, the link ids of
    /// the module's dialect (`dialect` names it in the message), so `athil check --module`
    /// finds them before a run.
    pub fn link_problems(
        &self,
        links: std::ops::RangeInclusive<u8>,
        dialect: &str,
    ) -> Vec<super::ScenarioError> {
        self.steps
            .iter()
            .filter_map(|step| {
                let link = step.named_link()?;
                (!links.contains(&link)).then(|| super::ScenarioError {
                    file: self.file.clone(),
                    location: Some(step.link_at.unwrap_or(step.location)),
                    kind: super::ErrorKind::Value,
                    message: format!(
                        "link {link}: the {dialect} dialect has links {} to {}",
                        links.start(),
                        links.end()
                    ),
                })
            })
            .collect()
    }

    /// The environment variables the scenario reads (`{{env.NAME}}`), for `check` to list
    /// and the runner to verify before starting.
    pub fn env_names(&self) -> BTreeSet<String> {
        super::template::env_names(self.templates())
    }

    /// The secret values this scenario will use, looked up as a run would: the value of
    /// every `{{env.*}}` it uses and every CONNECT `secret:` rendered. Reports redact them.
    /// Values that cannot be rendered are skipped (the step using them will fail anyway).
    pub fn secret_values(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
        let mut out: Vec<String> = self
            .env_names()
            .into_iter()
            .filter_map(|n| lookup(&format!("env.{n}")))
            .collect();
        for step in &self.steps {
            if let Action::Mqtt(MqttSend::Connect(ConnectSpec {
                secret: Some(t), ..
            })) = &step.action
            {
                out.extend(t.render(lookup).ok());
            }
        }
        out.retain(|s| !s.is_empty());
        out.sort();
        out.dedup();
        out
    }
}

impl Action {
    /// The step kind as written: `send`, `receive_mqtt`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Send { .. } => "send",
            Action::Write { .. } => "write",
            Action::Expect(_) => "expect",
            Action::ExpectNot { .. } => "expect_not",
            Action::Receive(_) => "receive",
            Action::Mqtt(_) => "mqtt",
            Action::ReceiveMqtt(_) => "receive_mqtt",
            Action::Join(_) => "join",
            Action::Open(_) => "open",
            Action::Close { .. } => "close",
            Action::ExpectClosed { .. } => "expect_closed",
            Action::BrokerSaw(_) => "broker_saw",
            Action::BrokerRefused(_) => "broker_refused",
            Action::CloudPublish(_) => "cloud_publish",
            Action::BrokerFault { .. } => "broker_fault",
            Action::BrokerDropped(_) => "broker_dropped",
            Action::Wait(_) => "wait",
        }
    }

    /// Whether the step writes or reads AT text in some dialect's words.
    pub fn speaks_at(&self) -> bool {
        match self {
            Action::Send { .. }
            | Action::Write { .. }
            | Action::Expect(_)
            | Action::ExpectNot { .. } => true,
            Action::Receive(_)
            | Action::Mqtt(_)
            | Action::ReceiveMqtt(_)
            | Action::Join(_)
            | Action::Open(_)
            | Action::Close { .. }
            | Action::ExpectClosed { .. }
            | Action::BrokerSaw(_)
            | Action::BrokerRefused(_)
            | Action::CloudPublish(_)
            | Action::BrokerFault { .. }
            | Action::BrokerDropped(_)
            | Action::Wait(_) => false,
        }
    }

    fn templates<'a>(&'a self, out: &mut Vec<&'a Template>) {
        match self {
            Action::Send { line, expect } => {
                out.push(line);
                if let Some(m) = expect {
                    m.templates(out);
                }
            }
            Action::Write { expect, .. } => {
                if let Some(m) = expect {
                    m.templates(out);
                }
            }
            Action::Expect(m) | Action::ExpectNot { matcher: m, .. } => m.templates(out),
            Action::Receive(_)
            | Action::Wait(_)
            | Action::BrokerFault { .. }
            | Action::Close { .. }
            | Action::ExpectClosed { .. } => {}
            Action::Join(j) => out.extend(&j.apn),
            Action::Open(o) => out.push(&o.host),
            Action::Mqtt(p) => p.templates(out),
            Action::ReceiveMqtt(MqttExpect::Publish(p)) => p.templates(out),
            Action::ReceiveMqtt(_) => {}
            Action::BrokerSaw(saw) => {
                out.extend(&saw.client_id);
                saw.packet.templates(out);
            }
            Action::BrokerRefused(r) => out.extend(&r.client_id),
            Action::BrokerDropped(d) => out.extend(&d.client_id),
            Action::CloudPublish(c) => {
                out.push(&c.topic);
                if let Payload::Text(t) = &c.payload {
                    out.push(t);
                }
            }
        }
    }
}

impl Matcher {
    fn templates<'a>(&'a self, out: &mut Vec<&'a Template>) {
        match self {
            Matcher::Contains(t) | Matcher::Line(t) => out.push(t),
            Matcher::Regex(_) => {}
            Matcher::InOrder(ms) | Matcher::AllOf(ms) | Matcher::AnyOf(ms) => {
                ms.iter().for_each(|m| m.templates(out))
            }
        }
    }
}

impl MqttSend {
    fn templates<'a>(&'a self, out: &mut Vec<&'a Template>) {
        match self {
            MqttSend::Connect(c) => {
                out.extend(&c.client_id);
                out.extend(&c.username);
                out.extend(&c.password);
                out.extend(&c.secret);
            }
            MqttSend::Publish(p) => {
                out.push(&p.topic);
                if let Payload::Text(t) = &p.payload {
                    out.push(t);
                }
            }
            MqttSend::Subscribe { filters, .. } => out.extend(filters.iter().map(|f| &f.filter)),
            MqttSend::Unsubscribe { filters, .. } => out.extend(filters),
            MqttSend::Puback { .. }
            | MqttSend::Pubrec { .. }
            | MqttSend::Pubrel { .. }
            | MqttSend::Pubcomp { .. }
            | MqttSend::Pingreq
            | MqttSend::Disconnect => {}
        }
    }
}

impl PublishMatch {
    fn templates<'a>(&'a self, out: &mut Vec<&'a Template>) {
        out.extend(&self.topic);
        if let Some(PayloadMatch::Text(t)) = &self.payload {
            out.push(t);
        }
    }
}

impl SeenPacket {
    fn templates<'a>(&'a self, out: &mut Vec<&'a Template>) {
        match self {
            SeenPacket::Connect { username, .. } => out.extend(username),
            SeenPacket::Publish(p) => p.templates(out),
            SeenPacket::Subscribe { filters, .. } => {
                out.extend(filters.iter().flatten().map(|f| &f.filter))
            }
            SeenPacket::Unsubscribe { filters, .. } => out.extend(filters.iter().flatten()),
            SeenPacket::Puback { .. } | SeenPacket::Pingreq | SeenPacket::Disconnect => {}
        }
    }
}
