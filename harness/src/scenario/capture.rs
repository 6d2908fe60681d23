//! Stage two for captured values: `capture: {packet_id: NAME}` beside a `receive_mqtt`, and the
//! `packet_id: "{{vars.NAME}}"` of a later `mqtt` step that sends it back ([`Capture`],
//! [`PacketId`]).
//!
//! A captured id is a variable that gets its value during the run, so it is written like one.
//! It is checked in file order: a name must be captured by an earlier step before a `packet_id`
//! uses it, and may not reuse a name of `vars` (one name, one meaning). Only `packet_id` fields
//! take captured ids; other text is filled before the run starts.

use super::de::Sp;
use super::error::{did_you_mean, ErrorKind};
use super::model::{Capture, PacketId};
use super::raw::{RawCapture, RawIdValue};
use super::validate::Ctx;

/// Checks a `capture:` block and makes its name usable by the steps after it.
pub(crate) fn capture(ctx: &mut Ctx<'_>, sp: &Sp<RawCapture>) -> Option<Capture> {
    let name = &sp.value.packet_id;
    if !is_name(&name.value) {
        ctx.error(
            name.mark.location,
            ErrorKind::Value,
            format!(
                "`{}` is not a variable name: use letters, digits and `_`, e.g. `set_id`",
                name.value
            ),
        );
        return None;
    }
    if ctx.vars.contains_key(&name.value) {
        ctx.error(
            name.mark.location,
            ErrorKind::Value,
            format!(
                "`{}` is already a variable in `vars`; capture under another name",
                name.value
            ),
        );
        return None;
    }
    ctx.captures.insert(name.value.clone());
    Some(Capture {
        packet_id: name.value.clone(),
    })
}

/// Reads a packet id to send: a number, or `{{vars.NAME}}` naming a variable that holds a
/// number or an id captured by an earlier step.
pub(crate) fn packet_id(ctx: &mut Ctx<'_>, sp: &Sp<RawIdValue>) -> Option<PacketId> {
    let at = sp.mark.location;
    let text = match &sp.value {
        RawIdValue::Number(id) => return Some(PacketId::Fixed(*id)),
        RawIdValue::Captured(text) => text,
    };
    let Some(name) = text
        .trim()
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .and_then(|t| t.trim().strip_prefix("vars."))
        .filter(|n| is_name(n))
    else {
        ctx.error(
            at,
            ErrorKind::Value,
            format!(
                "expected a packet id: a number, or `\"{{{{vars.NAME}}}}\"` for one captured \
                 earlier, found `{text}`"
            ),
        );
        return None;
    };
    if ctx.captures.contains(name) {
        return Some(PacketId::Captured(name.to_owned()));
    }
    if let Some(value) = ctx.vars.get(name).and_then(|t| t.as_literal()) {
        return match value.trim().parse::<u16>() {
            Ok(id) => Some(PacketId::Fixed(id)),
            Err(_) => {
                ctx.error(
                    at,
                    ErrorKind::Value,
                    format!("variable `{name}` is `{value}`, not a packet id (0 to 65535)"),
                );
                None
            }
        };
    }
    let known: Vec<&str> = ctx.captures.iter().map(String::as_str).collect();
    ctx.error(
        at,
        ErrorKind::Template,
        format!(
            "no packet id captured as `{name}` before this step; capture it with \
             `capture: {{packet_id: {name}}}` on an earlier `receive_mqtt`{}",
            did_you_mean(name, &known)
        ),
    );
    None
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}
