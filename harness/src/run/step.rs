//! Running one scenario step against the module and the broker. Every wait here has the step's
//! deadline; a failure comes back as a [`StepError`] the executor turns into a report's
//! [`Failure`](super::Failure).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::broker::BrokerHandle;
use crate::cloud::{Device, DeviceSecret};
use crate::module::{DriverError, ModuleDriver};
use crate::mqtt::{
    decode, encode, hex::to_hex, Connect, Packet, Publish, Subscribe, SubscribeFilter, Unsubscribe,
};
use crate::scenario::{
    Action, Capture, ConnectSpec, Matcher, MqttExpect, MqttSend, PacketId, Step, TemplateError,
};

use super::compare::{compare_received, Comparison};
use super::values::{credentials, Values, DEFAULT_KEEPALIVE};
use crate::events::FailureKind;

/// Why a step failed, before the executor adds the step's label and the last serial bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    pub message: String,
    pub kind: FailureKind,
    pub expected: String,
    pub actual: String,
}

impl StepError {
    pub(super) fn other(message: impl Into<String>) -> StepError {
        StepError {
            message: message.into(),
            kind: FailureKind::Other,
            expected: String::new(),
            actual: String::new(),
        }
    }
}

impl From<TemplateError> for StepError {
    fn from(e: TemplateError) -> StepError {
        StepError::other(format!("fill in the step's template: {e}"))
    }
}

impl From<DriverError> for StepError {
    fn from(e: DriverError) -> StepError {
        match e {
            // The last serial bytes travel in the failure's own field; the one-line message
            // stays one line (JUnit puts it in an attribute).
            DriverError::Timeout {
                awaited, waited, ..
            } => StepError {
                message: format!("{awaited}: nothing within {waited:?}"),
                kind: FailureKind::Timeout,
                expected: awaited,
                actual: String::new(),
            },
            e => StepError::other(e.to_string()),
        }
    }
}

/// What a step may touch, and what the scenario's steps so far left for the next ones.
pub struct StepContext<'a> {
    pub driver: &'a mut ModuleDriver,
    pub broker: &'a BrokerHandle,
    pub values: &'a Values,
    pub device: Option<&'a Device>,
    /// Packet ids captured by `receive_mqtt` steps (`capture: {packet_id: NAME}`), by name.
    pub captured: BTreeMap<String, u16>,
    /// The broker's record number of the packet the last `broker_saw` matched, and that step's
    /// line: a `broker_saw` looks only at packets after it (see `broker_steps.rs`).
    pub last_saw: Option<(u64, usize)>,
}

impl<'a> StepContext<'a> {
    /// A context for a scenario's first step.
    pub fn new(
        driver: &'a mut ModuleDriver,
        broker: &'a BrokerHandle,
        values: &'a Values,
        device: Option<&'a Device>,
    ) -> StepContext<'a> {
        StepContext {
            driver,
            broker,
            values,
            device,
            captured: BTreeMap::new(),
            last_saw: None,
        }
    }
}

impl StepContext<'_> {
    pub(super) fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        |key: &str| self.values.lookup(key)
    }

    /// Runs `step` to its end or its deadline.
    pub async fn run(&mut self, step: &Step) -> Result<(), StepError> {
        let t = step.timeout;
        match &step.action {
            Action::Send { line, expect } => {
                // Values inside quoted arguments are escaped as the module's dialect says.
                let dialect = std::sync::Arc::clone(self.driver.dialect());
                let line = line.render_command(&self.lookup(), &|v| dialect.escape_quoted(v))?;
                self.driver.send_line(&line).await?;
                self.then_expect(expect.as_ref(), t).await
            }
            Action::Write { bytes, expect } => {
                self.driver.write_raw(bytes).await?;
                self.then_expect(expect.as_ref(), t).await
            }
            Action::Expect(m) => self.expect_text(m, t).await,
            Action::ExpectNot { matcher, window } => self.expect_absent(matcher, *window).await,
            Action::Receive(bytes) => self.receive(bytes, step.link, t).await,
            Action::Mqtt(send) => {
                self.driver.check_link(step.link)?;
                let packet = self.build(send)?;
                let bytes = encode(&packet).map_err(|e| {
                    StepError::other(format!("encode the {}: {e}", packet.packet_type()))
                })?;
                // The dialect writes the link into its send command (`AT+CIPSEND=1,<n>`).
                self.driver.send_data(step.link, &bytes, t).await?;
                Ok(())
            }
            Action::ReceiveMqtt(expect) => {
                self.receive_mqtt(expect, step.link, step.capture.as_ref(), t)
                    .await
            }
            Action::Join(join) => self.join(join, t).await,
            Action::Open(open) => self.open(open, t).await,
            Action::Close { link } => self.close(*link, t).await,
            Action::ExpectClosed { link } => self.expect_closed(*link, t).await,
            Action::BrokerSaw(saw) => self.broker_saw(saw, step.location.line, t).await,
            Action::BrokerRefused(r) => self.broker_refused(r, t).await,
            Action::CloudPublish(p) => {
                let topic = p.topic.render(&self.lookup())?;
                let payload = p.payload.render(&self.lookup())?;
                self.broker
                    .publish(&topic, &payload, p.qos)
                    .map_err(|e| StepError::other(format!("publish from the cloud: {e}")))
            }
            Action::BrokerFault { device, fault } => self.broker_fault(device, fault),
            Action::BrokerDropped(d) => self.broker_dropped(d, t).await,
            Action::Wait(d) => {
                tokio::time::sleep(*d).await;
                Ok(())
            }
        }
    }

    async fn then_expect(&mut self, m: Option<&Matcher>, t: Duration) -> Result<(), StepError> {
        match m {
            Some(m) => self.expect_text(m, t).await,
            None => Ok(()),
        }
    }

    /// Waits for `m` in the serial text. A final error line (`ERROR`, `FAIL`, `SEND FAIL`)
    /// arriving first ends the wait at once: the module has answered, and waiting out the
    /// deadline would only hide that answer.
    async fn expect_text(&mut self, m: &Matcher, t: Duration) -> Result<(), StepError> {
        let tm = m.render(&self.lookup())?;
        let what = describe(m);
        let mut refused: Option<String> = None;
        let waited = self
            .driver
            .wait_text(
                &what,
                |text| {
                    if let Some(end) = tm.find(text) {
                        return Some(end);
                    }
                    let (line, end) = final_error(text)?;
                    refused = Some(line.to_owned());
                    Some(end)
                },
                t,
            )
            .await;
        match (waited, refused) {
            (Ok(taken), Some(line)) => Err(StepError {
                message: format!("the module answered {line} before {what} appeared"),
                kind: FailureKind::Text,
                expected: what,
                actual: taken,
            }),
            (Ok(_), None) => Ok(()),
            (Err(e), _) if e.is_timeout() => Err(StepError {
                message: format!("{what} did not appear on the serial line within {t:?}"),
                kind: FailureKind::Timeout,
                expected: what,
                actual: self.driver.pending_text(),
            }),
            (Err(e), _) => Err(e.into()),
        }
    }

    async fn expect_absent(&mut self, m: &Matcher, window: Duration) -> Result<(), StepError> {
        let tm = m.render(&self.lookup())?;
        let what = describe(m);
        match self
            .driver
            .expect_absent(&what, |text, start| tm.find_after(text, start), window)
            .await
        {
            Ok(()) => Ok(()),
            Err(DriverError::Appeared { found, .. }) => Err(StepError {
                message: format!("{what} appeared on the serial line, which it must not"),
                kind: FailureKind::Text,
                expected: format!("no {what} for {window:?}"),
                actual: String::from_utf8_lossy(&found).into_owned(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads `want.len()` bytes from `link`, or without one from the link last used.
    async fn receive(
        &mut self,
        want: &[u8],
        link: Option<u8>,
        t: Duration,
    ) -> Result<(), StepError> {
        if link.is_some() {
            self.driver.set_default_link(link);
        }
        let got = match self.driver.read_socket(want.len(), t).await {
            Ok(b) => b,
            Err(e) => {
                let pending = self.driver.socket_pending(link);
                let mut err = StepError::from(e);
                err.kind = FailureKind::Bytes;
                err.expected = to_hex(want);
                err.actual = format!("({pending} of {} bytes arrived)", want.len());
                return Err(err);
            }
        };
        if got == want {
            return Ok(());
        }
        let at = got.iter().zip(want).position(|(g, w)| g != w).unwrap_or(0);
        Err(StepError {
            message: format!(
                "socket bytes differ at byte {at}: expected {:02X}, got {:02X}",
                want[at], got[at]
            ),
            kind: FailureKind::Bytes,
            expected: to_hex(want),
            actual: to_hex(&got),
        })
    }

    async fn receive_mqtt(
        &mut self,
        expect: &MqttExpect,
        link: Option<u8>,
        capture: Option<&Capture>,
        t: Duration,
    ) -> Result<(), StepError> {
        if link.is_some() {
            self.driver.set_default_link(link);
        }
        let bytes = match self.driver.read_mqtt_packet(t).await {
            Ok(b) => b,
            Err(e) => {
                // Say what was awaited, field by field, and what did arrive of the socket.
                let pending = self.driver.socket_pending(link);
                let mut err = StepError::from(e);
                err.kind = FailureKind::Fields;
                err.expected = expected_rows(expect, &self.lookup());
                err.actual = format!("{pending} byte(s) of an incomplete packet");
                return Err(err);
            }
        };
        let packet = match decode(&bytes) {
            Ok((p, _)) => p,
            Err(e) => {
                return Err(StepError {
                    message: format!("the module received a malformed MQTT packet: {e}"),
                    kind: FailureKind::Bytes,
                    expected: String::new(),
                    actual: to_hex(&bytes),
                })
            }
        };
        let c = compare_received(expect, &packet, &self.lookup())?;
        mismatch(&c, "received packet", &bytes)?;
        if let Some(capture) = capture {
            let Some(id) = packet_id_of(&packet) else {
                return Err(StepError {
                    message: format!(
                        "the {} carries no packet id to capture as `{}` (a QoS 0 PUBLISH has none)",
                        packet.packet_type(),
                        capture.packet_id
                    ),
                    kind: FailureKind::Fields,
                    expected: "packet_id: any".into(),
                    actual: "packet_id: (none)".into(),
                });
            };
            self.captured.insert(capture.packet_id.clone(), id);
        }
        Ok(())
    }

    /// The id an `mqtt` step sends: written, or captured by an earlier `receive_mqtt`.
    fn packet_id(&self, id: &PacketId) -> Result<u16, StepError> {
        match id {
            PacketId::Fixed(id) => Ok(*id),
            PacketId::Captured(name) => self.captured.get(name).copied().ok_or_else(|| {
                StepError::other(format!(
                    "no packet id was captured as `{name}`: the step that captures it did not run"
                ))
            }),
        }
    }

    /// The packet an `mqtt:` step sends.
    fn build(&self, send: &MqttSend) -> Result<Packet, StepError> {
        let lookup = self.lookup();
        Ok(match send {
            MqttSend::Connect(spec) => Packet::from(self.build_connect(spec)?),
            MqttSend::Publish(p) => Packet::Publish(Publish {
                dup: p.dup,
                qos: p.qos,
                retain: p.retain,
                topic: p.topic.render(&lookup)?,
                packet_id: p.packet_id,
                payload: p.payload.render(&lookup)?,
            }),
            MqttSend::Subscribe { packet_id, filters } => Packet::Subscribe(Subscribe {
                packet_id: *packet_id,
                filters: filters
                    .iter()
                    .map(|f| {
                        Ok(SubscribeFilter {
                            filter: f.filter.render(&lookup)?,
                            qos: f.qos,
                        })
                    })
                    .collect::<Result<_, TemplateError>>()?,
            }),
            MqttSend::Unsubscribe { packet_id, filters } => Packet::Unsubscribe(Unsubscribe {
                packet_id: *packet_id,
                filters: filters
                    .iter()
                    .map(|f| f.render(&lookup))
                    .collect::<Result<_, _>>()?,
            }),
            MqttSend::Puback { packet_id } => Packet::Puback {
                packet_id: self.packet_id(packet_id)?,
            },
            MqttSend::Pubrec { packet_id } => Packet::Pubrec {
                packet_id: self.packet_id(packet_id)?,
            },
            MqttSend::Pubrel { packet_id } => Packet::Pubrel {
                packet_id: self.packet_id(packet_id)?,
            },
            MqttSend::Pubcomp { packet_id } => Packet::Pubcomp {
                packet_id: self.packet_id(packet_id)?,
            },
            MqttSend::Pingreq => Packet::Pingreq,
            MqttSend::Disconnect => Packet::Disconnect,
        })
    }

    /// A CONNECT from the device fixture's credentials with the step's overrides.
    fn build_connect(&self, spec: &ConnectSpec) -> Result<Connect, StepError> {
        let lookup = self.lookup();
        let keepalive = spec.keepalive.unwrap_or(DEFAULT_KEEPALIVE);
        let mut connect = match (&spec.secret, self.device) {
            (Some(secret), Some(device)) => {
                let secret = DeviceSecret::new(secret.render(&lookup)?);
                credentials(device, &secret)
                    .map_err(|e| StepError::other(e.to_string()))?
                    .to_connect(keepalive)
            }
            _ => {
                let mut c = Connect::new(
                    self.values.client_id().unwrap_or_default().to_owned(),
                    keepalive,
                );
                c.username = self.values.lookup("device.username");
                c.password = self
                    .values
                    .lookup("device.password")
                    .map(String::into_bytes);
                c
            }
        };
        if let Some(t) = &spec.client_id {
            connect.client_id = t.render(&lookup)?;
        }
        if let Some(t) = &spec.username {
            connect.username = Some(t.render(&lookup)?);
        }
        if let Some(t) = &spec.password {
            connect.password = Some(t.render(&lookup)?.into_bytes());
        }
        if let Some(c) = spec.clean_session {
            connect.clean_session = c;
        }
        if let Some(level) = spec.protocol_level {
            connect.protocol_level = level;
            if level == 3 {
                connect.protocol_name = "MQIsdp".into();
            }
        }
        Ok(connect)
    }
}

fn mismatch(c: &Comparison, what: &str, bytes: &[u8]) -> Result<(), StepError> {
    match &c.first_mismatch {
        None => Ok(()),
        Some(first) => Err(StepError {
            message: format!("{what} differs: {first} (bytes: {})", to_hex(bytes)),
            kind: FailureKind::Fields,
            expected: c.expected_text(),
            actual: c.actual_text(),
        }),
    }
}

/// The fields a `receive_mqtt:` waits for, as `field: value` rows.
fn expected_rows(expect: &MqttExpect, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    match compare_received(expect, &blank_of(expect), lookup) {
        Ok(c) => c.expected_text(),
        Err(e) => e.to_string(),
    }
}

/// An empty packet of the type `expect` names, to render the expectation's rows against.
fn blank_of(expect: &MqttExpect) -> Packet {
    use crate::mqtt::{Connack, QoS, Suback};
    match expect {
        MqttExpect::Connack { .. } => Packet::Connack(Connack {
            session_present: false,
            return_code: 0,
        }),
        MqttExpect::Publish(_) => Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: String::new(),
            packet_id: None,
            payload: Vec::new(),
        }),
        MqttExpect::Puback { .. } => Packet::Puback { packet_id: 0 },
        MqttExpect::Pubrec { .. } => Packet::Pubrec { packet_id: 0 },
        MqttExpect::Pubrel { .. } => Packet::Pubrel { packet_id: 0 },
        MqttExpect::Pubcomp { .. } => Packet::Pubcomp { packet_id: 0 },
        MqttExpect::Suback { .. } => Packet::Suback(Suback {
            packet_id: 0,
            return_codes: Vec::new(),
        }),
        MqttExpect::Unsuback { .. } => Packet::Unsuback { packet_id: 0 },
        MqttExpect::Pingresp => Packet::Pingresp,
    }
}

/// The packet id a received packet carries, if its type has one.
fn packet_id_of(p: &Packet) -> Option<u16> {
    match p {
        Packet::Publish(p) => p.packet_id,
        Packet::Puback { packet_id }
        | Packet::Pubrec { packet_id }
        | Packet::Pubrel { packet_id }
        | Packet::Pubcomp { packet_id }
        | Packet::Unsuback { packet_id } => Some(*packet_id),
        Packet::Suback(s) => Some(s.packet_id),
        Packet::Subscribe(s) => Some(s.packet_id),
        Packet::Unsubscribe(u) => Some(u.packet_id),
        Packet::Connect(_)
        | Packet::Connack(_)
        | Packet::Pingreq
        | Packet::Pingresp
        | Packet::Disconnect => None,
    }
}

/// The first whole line of `text` that is a final error result in any dialect (ESP's
/// `ERROR`, `FAIL`, `SEND FAIL`; 3GPP's `+CME ERROR: <n>` and `+CMS ERROR: <n>` that Quectel
/// prints with AT+CMEE), and the offset past it.
fn final_error(text: &str) -> Option<(&str, usize)> {
    let mut start = 0;
    while let Some(nl) = text[start..].find('\n') {
        let end = start + nl + 1;
        let line = text[start..end - 1].trim_end_matches('\r');
        if crate::module::dialect::failure_final(line).is_some() {
            return Some((line, end));
        }
        start = end;
    }
    None
}

/// A matcher as a phrase: "`SEND OK`", "line `OK`", "/regex/", "`CONNECT` then `OK`".
pub fn describe(m: &Matcher) -> String {
    let list = |ms: &[Matcher], sep: &str| ms.iter().map(describe).collect::<Vec<_>>().join(sep);
    match m {
        Matcher::Contains(t) => format!("`{}`", t.source()),
        Matcher::Line(t) => format!("line `{}`", t.source()),
        Matcher::Regex(p) => format!("/{}/", p.0.as_str()),
        Matcher::InOrder(ms) => list(ms, " then "),
        Matcher::AllOf(ms) => format!("all of ({})", list(ms, ", ")),
        Matcher::AnyOf(ms) => format!("any of ({})", list(ms, ", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::final_error;

    #[test]
    fn a_final_error_is_found_only_as_a_whole_line() {
        assert_eq!(final_error("+CWJAP:2\r\n\r\nFAIL\r\n"), Some(("FAIL", 18)));
        assert_eq!(final_error("\r\nSEND FAIL\r\n"), Some(("SEND FAIL", 13)));
        assert_eq!(
            final_error("ERROR"),
            None,
            "not a line until its end arrives"
        );
        assert_eq!(final_error("+IPD,5:ERROR\r\n"), None);
        assert_eq!(final_error("busy p...\r\nOK\r\n"), None);
        assert_eq!(
            final_error("\r\n+CME ERROR: 516\r\n"),
            Some(("+CME ERROR: 516", 19))
        );
        assert_eq!(
            final_error("\r\n+CMS ERROR: 500\r\n"),
            Some(("+CMS ERROR: 500", 19))
        );
    }
}
