//! Stage two for the dialect-neutral link steps (`join`, `open`, `close`, `expect_closed`):
//! their templates checked, their links read. Which links a module has is known only when a
//! run picks the module, so the runner checks a link against the dialect.

use super::de::Sp;
use super::error::ErrorKind;
use super::model::{Action, Join, Open};
use super::raw::{RawJoin, RawLink, RawOpen, RawPort, Text};
use super::template::Template;
use super::validate::Ctx;

pub(crate) fn join(ctx: &mut Ctx<'_>, sp: &Sp<RawJoin>) -> Option<Action> {
    let apn = match &sp.value.apn {
        Some(t) => Some(ctx.text(t)?),
        None => None,
    };
    Some(Action::Join(Join { apn }))
}

pub(crate) fn open(ctx: &mut Ctx<'_>, sp: &Sp<RawOpen>) -> Option<Action> {
    let o = &sp.value;
    let host = ctx.text(&o.host);
    let port = port(ctx, &o.port);
    Some(Action::Open(Open {
        host: host?,
        port: port?,
        link: o.link.as_ref().map(|l| l.value),
    }))
}

/// A port: a number in range now, or a template checked when it is filled.
fn port(ctx: &mut Ctx<'_>, sp: &Sp<RawPort>) -> Option<Template> {
    let text = match &sp.value {
        RawPort::Number(n) if (1..=65535).contains(n) => n.to_string(),
        RawPort::Number(n) => {
            ctx.error(
                sp.mark.location,
                ErrorKind::Value,
                format!("expected a port from 1 to 65535, found {n}"),
            );
            return None;
        }
        RawPort::Text(t) => t.clone(),
    };
    let t = ctx.text(&Sp {
        value: Text(text),
        mark: sp.mark,
        style: sp.style,
    })?;
    if let Some(literal) = t.as_literal() {
        if !literal.parse::<u16>().is_ok_and(|p| p > 0) {
            ctx.error(
                sp.mark.location,
                ErrorKind::Value,
                format!("expected a port from 1 to 65535, found `{literal}`"),
            );
            return None;
        }
    }
    Some(t)
}

pub(crate) fn close(sp: &Sp<RawLink>) -> Action {
    Action::Close {
        link: sp.value.link.as_ref().map(|l| l.value),
    }
}

pub(crate) fn expect_closed(sp: &Sp<RawLink>) -> Action {
    Action::ExpectClosed {
        link: sp.value.link.as_ref().map(|l| l.value),
    }
}
