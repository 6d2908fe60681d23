//! Stage two for the broker-side steps: `broker_fault:` into [`Action::BrokerFault`] (its
//! shape and its `device:` only; the fault itself is the broker layer's to read) and
//! `broker_dropped:` into [`BrokerDropped`].

use super::de::{Field, Sp};
use super::error::{did_you_mean, quoted_list, ErrorKind};
use super::model::{Action, BrokerDropped, FaultDevice};
use super::opaque::Opaque;
use super::raw::{packet_names, RawDropped, RawStep};
use super::validate::Ctx;
use super::yaml::{Node, NodeKind};

/// What a fault looks like, for messages.
const FAULT_EXAMPLE: &str = "`{delay: {packet: connack, by: 2s}}` or `{drop_link: {}}`";

/// `broker_fault:` with its step's optional `device:`. `step` is the step's node, whose
/// `broker_fault` value is kept for the runner to read.
pub(crate) fn fault(ctx: &mut Ctx<'_>, raw: &RawStep, step: &Node) -> Option<Action> {
    let device = match &raw.device {
        Field::Absent => Some(FaultDevice::Scenario),
        Field::Failed => None,
        Field::Ok(name) if name.value == "all" => Some(FaultDevice::All),
        Field::Ok(name) => ctx
            .device(name)
            .then(|| FaultDevice::Named(name.value.clone())),
    };
    let block = raw.broker_fault.ok()?;
    let node = step.get("broker_fault")?;
    let fault = one_fault(ctx, &block.value.0, node);
    Some(Action::BrokerFault {
        device: device?,
        fault: fault?,
    })
}

/// The fault block must be a mapping with exactly one key, the fault's name.
fn one_fault(ctx: &mut Ctx<'_>, value: &serde_yaml::Value, node: &Node) -> Option<Opaque> {
    let at = node.mark.location;
    match &node.kind {
        NodeKind::Map(entries) => match entries.as_slice() {
            [_] => Some(Opaque::new(value.clone(), node.clone(), ctx.file)),
            [] => {
                ctx.error(
                    at,
                    ErrorKind::MissingKey,
                    format!("expected one fault, e.g. {FAULT_EXAMPLE}, found an empty mapping"),
                );
                None
            }
            [_, second, ..] => {
                let names: Vec<&str> = entries
                    .iter()
                    .filter_map(|(k, _)| k.scalar().map(|s| s.value.as_str()))
                    .collect();
                ctx.error(
                    second.0.mark.location,
                    ErrorKind::Value,
                    format!(
                        "a `broker_fault` step injects one fault, found {}; split it into one \
                         step each",
                        quoted_list(&names)
                    ),
                );
                None
            }
        },
        NodeKind::Scalar(s) if s.is_null() => {
            ctx.error(
                at,
                ErrorKind::Type,
                format!("expected a fault, e.g. {FAULT_EXAMPLE}, found nothing"),
            );
            None
        }
        NodeKind::Scalar(s) => {
            let name = &s.value;
            ctx.error(
                at,
                ErrorKind::Type,
                format!(
                    "expected a fault as a mapping with its name as the only key, e.g. \
                     {FAULT_EXAMPLE}, found the text `{name}`; write `{{{name}: {{}}}}` for a \
                     fault with no fields"
                ),
            );
            None
        }
        NodeKind::Seq(_) => {
            ctx.error(
                at,
                ErrorKind::Type,
                format!(
                    "expected one fault, e.g. {FAULT_EXAMPLE}, found a list; write one \
                     `broker_fault` step per fault"
                ),
            );
            None
        }
    }
}

/// `broker_dropped:`; every field optional.
pub(crate) fn dropped(ctx: &mut Ctx<'_>, sp: &Sp<RawDropped>) -> Option<BrokerDropped> {
    let d = &sp.value;
    let client_id = match &d.client_id {
        Some(t) => ctx.text(t).map(Some),
        None => Some(None),
    };
    let packet = match &d.packet {
        Some(p) => {
            let known = packet_names();
            match known.iter().find(|(n, _)| *n == p.value.0) {
                Some((_, t)) => Some(Some(*t)),
                None => {
                    let names: Vec<&str> = known.iter().map(|(n, _)| n.as_str()).collect();
                    let lower = p.value.0.to_ascii_lowercase();
                    let hint = match names.contains(&lower.as_str()) {
                        true => format!("; did you mean `{lower}`?"),
                        false => did_you_mean(&p.value.0, &names),
                    };
                    ctx.error(
                        p.mark.location,
                        ErrorKind::UnknownKey,
                        format!(
                            "unknown packet type `{}`; expected one of {}{hint}",
                            p.value.0,
                            quoted_list(&names)
                        ),
                    );
                    None
                }
            }
        }
        None => Some(None),
    };
    Some(BrokerDropped {
        client_id: client_id?,
        packet: packet?,
        reason: d.reason.clone(),
    })
}
