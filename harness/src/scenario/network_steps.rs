//! Stage two for the dialect-neutral link steps (`join`, `open`, `close`, `expect_closed`):
//! their templates checked, their links read. Which links a module has is known only when a
//! run picks the module, so the runner checks a link against the dialect.

use super::de::Sp;
use super::model::{Action, Join, Open};
use super::raw::{RawJoin, RawLink, RawOpen};
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
    Some(Action::Open(Open {
        host: ctx.text(&o.host)?,
        port: o.port.value,
        link: o.link.as_ref().map(|l| l.value),
    }))
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
