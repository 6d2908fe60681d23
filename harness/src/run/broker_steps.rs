//! The broker-side steps: `broker_saw`, `broker_refused`, `broker_dropped` (each waits with the
//! step's deadline for the broker's record to show something) and `broker_fault` (arms a fault
//! in the gateway). Split from `step.rs`, which runs the module-side steps.

use std::time::{Duration, Instant};

use crate::broker::{Fault, FaultTarget, SeenDirection, SeenPacket};
use crate::mqtt::Packet;
use crate::scenario::{BrokerDropped, BrokerRefused, BrokerSaw, FaultDevice, Opaque};

use super::compare::{compare_seen, seen_type};
use super::step::{StepContext, StepError};
use crate::events::FailureKind;

impl StepContext<'_> {
    /// Arms a fault in the gateway. The block was checked before the run started; reading it
    /// again here cannot fail unless the check was skipped, and then it says why.
    pub(super) fn broker_fault(
        &self,
        device: &FaultDevice,
        block: &Opaque,
    ) -> Result<(), StepError> {
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
    pub(super) async fn broker_dropped(
        &mut self,
        d: &BrokerDropped,
        t: Duration,
    ) -> Result<(), StepError> {
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

    /// Waits for the broker to have seen `saw` from the device. Each `broker_saw` consumes the
    /// packet it matched: it looks only at packets recorded after the one the previous
    /// `broker_saw` of the scenario matched, so a loop of identical steps matches one packet
    /// each, and a step in a reconnect loop cannot pass on an earlier connection's packet.
    pub(super) async fn broker_saw(
        &mut self,
        saw: &BrokerSaw,
        line: usize,
        t: Duration,
    ) -> Result<(), StepError> {
        let client_id = match &saw.client_id {
            Some(tpl) => tpl.render(&self.lookup())?,
            None => self.values.client_id().unwrap_or_default().to_owned(),
        };
        // Borrows the values, not `self`, whose `last_saw` the match updates.
        let values = self.values;
        let lookup = |key: &str| values.lookup(key);
        // Check the templates once now, so a bad one is reported as such, not as "not seen".
        let probe = Packet::Pingreq;
        compare_seen(&saw.packet, &probe, &lookup)?;
        let after = self.last_saw.map(|(seq, _)| seq);
        let fits = |p: &SeenPacket| {
            p.direction == SeenDirection::FromDevice
                && p.client_id.as_deref() == Some(client_id.as_str())
                && compare_seen(&saw.packet, &p.packet, &lookup).is_ok_and(|c| c.matches())
        };
        let wanted = |p: &SeenPacket| after.map_or(true, |a| p.seq > a) && fits(p);
        match self.broker.wait_seen(wanted, Instant::now() + t).await {
            Ok(p) => {
                self.last_saw = Some((p.seq, line));
                Ok(())
            }
            Err(_) => {
                let all: Vec<SeenPacket> = self.broker.seen();
                // A match the previous `broker_saw` had already gone past explains the failure.
                let consumed = match self.last_saw {
                    Some((seq, at)) if all.iter().any(|p| p.seq <= seq && fits(p)) => format!(
                        "; a matching packet came earlier, at or before the one `broker_saw` \
                         (line {at}) matched, and each `broker_saw` looks only after the last match"
                    ),
                    _ => String::new(),
                };
                let from_device: Vec<_> = all
                    .into_iter()
                    .filter(|p| {
                        after.map_or(true, |a| p.seq > a)
                            && p.direction == SeenDirection::FromDevice
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
                let since = if after.is_some() {
                    " since the last `broker_saw` match"
                } else {
                    ""
                };
                let message = format!(
                    "the broker did not see the expected packet from `{client_id}` within {t:?} (it saw{since}: {}){consumed}",
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

    pub(super) async fn broker_refused(
        &mut self,
        r: &BrokerRefused,
        t: Duration,
    ) -> Result<(), StepError> {
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
}
