//! Running one scenario step against the module and the broker. Every wait here has the step's
//! deadline; a failure comes back as a [`StepError`] the executor turns into a report's
//! [`Failure`](super::Failure).

use std::time::{Duration, Instant};

use crate::broker::{BrokerHandle, Fault, FaultTarget, SeenDirection};
use crate::cloud::{Device, DeviceSecret};
use crate::module::{DriverError, ModuleDriver};
use crate::mqtt::{
    decode, encode, hex::to_hex, Connect, Packet, Publish, Subscribe, SubscribeFilter, Unsubscribe,
};
use crate::scenario::{
    Action, BrokerDropped, BrokerRefused, BrokerSaw, ConnectSpec, FaultDevice, Matcher, MqttExpect,
    MqttSend, Opaque, Step, TemplateError,
};

use super::compare::{compare_received, compare_seen, seen_type, Comparison};
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
    fn other(message: impl Into<String>) -> StepError {
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

/// What a step may touch.
pub struct StepContext<'a> {
    pub driver: &'a mut ModuleDriver,
    pub broker: &'a BrokerHandle,
    pub values: &'a Values,
    pub device: Option<&'a Device>,
}

impl StepContext<'_> {
    fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        |key: &str| self.values.lookup(key)
    }

    /// Runs `step` to its end or its deadline.
    pub async fn run(&mut self, step: &Step) -> Result<(), StepError> {
        let t = step.timeout;
        match &step.action {
            Action::Send { line, expect } => {
                let line = line.render(&self.lookup())?;
                self.driver.send_line(&line).await?;
                self.then_expect(expect.as_ref(), t).await
            }
            Action::Write { bytes, expect } => {
                self.driver.write_raw(bytes).await?;
                self.then_expect(expect.as_ref(), t).await
            }
            Action::Expect(m) => self.expect_text(m, t).await,
            Action::ExpectNot { matcher, window } => self.expect_absent(matcher, *window).await,
            Action::Receive(bytes) => self.receive(bytes, t).await,
            Action::Mqtt(send) => {
                let packet = self.build(send)?;
                let bytes = encode(&packet).map_err(|e| {
                    StepError::other(format!("encode the {}: {e}", packet.packet_type()))
                })?;
                self.driver.send_data(None, &bytes, t).await?;
                Ok(())
            }
            Action::ReceiveMqtt(expect) => self.receive_mqtt(expect, t).await,
            Action::BrokerSaw(saw) => self.broker_saw(saw, t).await,
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

    /// Arms a fault in the gateway. The block was checked before the run started; reading it
    /// again here cannot fail unless the check was skipped, and then it says why.
    fn broker_fault(&self, device: &FaultDevice, block: &Opaque) -> Result<(), StepError> {
        let fault: Fault = block.read().map_err(|errs| {
            StepError::other(
                errs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let target = match device {
            FaultDevice::All => FaultTarget::All,
            FaultDevice::Named(name) => FaultTarget::Device(name.clone()),
            FaultDevice::Scenario => match self.device {
                Some(d) => FaultTarget::Device(d.name.clone()),
                None => {
                    return Err(StepError::other(
                        "the scenario names no device to aim the fault at",
                    ))
                }
            },
        };
        self.broker
            .inject(target, fault)
            .map_err(|e| StepError::other(format!("inject the fault: {e}")))
    }

    /// Waits until the broker has dropped a packet of the device matching `d`.
    async fn broker_dropped(&mut self, d: &BrokerDropped, t: Duration) -> Result<(), StepError> {
        let client_id = match &d.client_id {
            Some(tpl) => tpl.render(&self.lookup())?,
            None => self.values.client_id().unwrap_or_default().to_owned(),
        };
        let until = Instant::now() + t;
        loop {
            let mine: Vec<_> = self
                .broker
                .drops()
                .into_iter()
                .filter(|x| x.client_id.as_deref() == Some(client_id.as_str()))
                .collect();
            let hit = mine.iter().any(|x| {
                d.packet.map_or(true, |p| p == x.packet)
                    && d.reason
                        .as_ref()
                        .map_or(true, |r| x.reason.contains(r.as_str()))
            });
            if hit {
                return Ok(());
            }
            if Instant::now() >= until {
                let expected = format!(
                    "a dropped {} of `{client_id}`{}",
                    d.packet
                        .map_or("packet".to_owned(), |p| p.name().to_owned()),
                    d.reason
                        .as_ref()
                        .map(|r| format!(" because of `{r}`"))
                        .unwrap_or_default()
                );
                let actual = if mine.is_empty() {
                    "nothing dropped".to_owned()
                } else {
                    mine.iter()
                        .map(|x| format!("{}: {}", x.packet.name(), x.reason))
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                return Err(StepError {
                    message: format!(
                        "the broker dropped nothing of `{client_id}` as expected within {t:?}"
                    ),
                    kind: FailureKind::Fields,
                    expected,
                    actual,
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
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

    async fn receive(&mut self, want: &[u8], t: Duration) -> Result<(), StepError> {
        let got = match self.driver.read_socket(want.len(), t).await {
            Ok(b) => b,
            Err(e) => {
                let pending = self.driver.socket_pending(None);
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

    async fn receive_mqtt(&mut self, expect: &MqttExpect, t: Duration) -> Result<(), StepError> {
        let bytes = match self.driver.read_mqtt_packet(t).await {
            Ok(b) => b,
            Err(e) => {
                // Say what was awaited, field by field, and what did arrive of the socket.
                let pending = self.driver.socket_pending(None);
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
        mismatch(&c, "received packet", &bytes)
    }

    async fn broker_saw(&mut self, saw: &BrokerSaw, t: Duration) -> Result<(), StepError> {
        let client_id = match &saw.client_id {
            Some(tpl) => tpl.render(&self.lookup())?,
            None => self.values.client_id().unwrap_or_default().to_owned(),
        };
        let lookup = self.lookup();
        // Check the templates once now, so a bad one is reported as such, not as "not seen".
        let probe = Packet::Pingreq;
        compare_seen(&saw.packet, &probe, &lookup)?;
        let wanted = |p: &crate::broker::SeenPacket| {
            p.direction == SeenDirection::FromDevice
                && p.client_id.as_deref() == Some(client_id.as_str())
                && compare_seen(&saw.packet, &p.packet, &lookup).is_ok_and(|c| c.matches())
        };
        match self.broker.wait_seen(wanted, Instant::now() + t).await {
            Ok(_) => Ok(()),
            Err(_) => {
                let from_device: Vec<_> = self
                    .broker
                    .seen()
                    .into_iter()
                    .filter(|p| {
                        p.direction == SeenDirection::FromDevice
                            && p.client_id.as_deref() == Some(client_id.as_str())
                    })
                    .collect();
                // The closest packet of the right type explains best what differed.
                let closest = from_device.iter().rev().find_map(|p| {
                    compare_seen(&saw.packet, &p.packet, &lookup)
                        .ok()
                        .filter(|c| c.rows.first().is_some_and(|r| r.expected == r.actual))
                });
                let listed = from_device
                    .iter()
                    .map(|p| p.packet.packet_type().name())
                    .collect::<Vec<_>>()
                    .join(", ");
                let message = format!(
                    "the broker did not see the expected packet from `{client_id}` within {t:?} (it saw: {})",
                    if listed.is_empty() { "nothing" } else { &listed }
                );
                Err(match closest {
                    Some(c) => StepError {
                        message,
                        kind: FailureKind::Fields,
                        expected: c.expected_text(),
                        actual: c.actual_text(),
                    },
                    None => StepError {
                        message,
                        kind: FailureKind::Timeout,
                        expected: seen_type(&saw.packet).to_owned(),
                        actual: listed,
                    },
                })
            }
        }
    }

    async fn broker_refused(&mut self, r: &BrokerRefused, t: Duration) -> Result<(), StepError> {
        let client_id = match &r.client_id {
            Some(tpl) => tpl.render(&self.lookup())?,
            None => self.values.client_id().unwrap_or_default().to_owned(),
        };
        let until = Instant::now() + t;
        loop {
            let refusals = self.broker.refusals();
            let mine: Vec<_> = refusals
                .iter()
                .filter(|x| x.client_id == client_id)
                .collect();
            let hit = mine.iter().find(|x| {
                r.code.map_or(true, |c| c == x.code)
                    && r.reason
                        .as_ref()
                        .map_or(true, |s| x.reason.to_string().contains(s.as_str()))
            });
            if hit.is_some() {
                return Ok(());
            }
            if Instant::now() >= until {
                let expected = format!(
                    "refusal of `{client_id}`{}{}",
                    r.code
                        .map(|c| format!(" with code {c}"))
                        .unwrap_or_default(),
                    r.reason
                        .as_ref()
                        .map(|s| format!(" because of `{s}`"))
                        .unwrap_or_default()
                );
                let actual = if mine.is_empty() {
                    "no refusal".to_owned()
                } else {
                    mine.iter()
                        .map(|x| format!("code {}: {}", x.code, x.reason))
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                return Err(StepError {
                    message: format!(
                        "the broker did not refuse `{client_id}` as expected within {t:?}"
                    ),
                    kind: FailureKind::Fields,
                    expected,
                    actual,
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The packet an `mqtt:` step sends.
    fn build(&self, send: &MqttSend) -> Result<Packet, StepError> {
        let lookup = self.lookup();
        Ok(match send {
            MqttSend::Connect(spec) => Packet::Connect(self.build_connect(spec)?),
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
                packet_id: *packet_id,
            },
            MqttSend::Pubrec { packet_id } => Packet::Pubrec {
                packet_id: *packet_id,
            },
            MqttSend::Pubrel { packet_id } => Packet::Pubrel {
                packet_id: *packet_id,
            },
            MqttSend::Pubcomp { packet_id } => Packet::Pubcomp {
                packet_id: *packet_id,
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

/// The first whole line of `text` that is a final error result, and the offset past it.
fn final_error(text: &str) -> Option<(&str, usize)> {
    let mut start = 0;
    while let Some(nl) = text[start..].find('\n') {
        let end = start + nl + 1;
        let line = text[start..end - 1].trim_end_matches('\r');
        if matches!(line, "ERROR" | "FAIL" | "SEND FAIL") {
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
    }
}
