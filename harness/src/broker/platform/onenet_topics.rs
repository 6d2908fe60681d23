//! OneNET's topic rights and post replies.
//!
//! Token products (the MQTT suite, OneNET Studio) have only the device's own
//! `$sys/{pid}/{name}/…` topics: a PUBLISH anywhere else, another device's topics included,
//! closes the link, as do QoS 2, retain, dup with QoS 0, more than 8 levels, a character
//! outside `[A-Za-z0-9/_-]` and a payload over 256 KB. Wildcards are allowed from the fifth
//! level on (`$sys/{pid}/{name}/cmd/#`, not `$sys/{pid}/{name}/#`). The legacy product has
//! free topics plus `$dp` (data points up) and `$crsp/<uuid>` (command replies up); a device
//! cannot subscribe to `$` topics. Sources: OneNET's MQTT device access docs (the token
//! products' design and topic pages, the multi-protocol FAQ).

use serde_json::Value;

use super::{PostReply, SubscribeVerdict};
use crate::broker::policy::{violation, Admission, UplinkVerdict};
use crate::broker::profile::config::{RetainRule, Violation};
use crate::broker::profile::onenet::OneNetThing;
use crate::broker::profile::OneNetProfile;
use crate::cloud::OneNetAuth;
use crate::mqtt::{Publish, QoS};

/// The token products' payload limit, "256 KB", past which the link closes.
pub const MAX_PAYLOAD: usize = 256 * 1024;
/// Most levels a token product's topic or filter may have.
pub const MAX_LEVELS: usize = 8;

/// `$sys/{pid}/{name}/`, the prefix of every topic of a device.
fn own_prefix(a: &Admission) -> String {
    format!("$sys/{}/{}/", a.product_key, a.device_name)
}

pub(super) fn uplink(
    profile: &OneNetProfile,
    admission: &Admission,
    publish: &Publish,
) -> UplinkVerdict {
    let topic = &publish.topic;
    let forward = |publish: Publish, note| UplinkVerdict::Forward { publish, note };
    if admission.onenet_auth == Some(OneNetAuth::Legacy) {
        let rules = &profile.topics;
        if publish.qos == QoS::ExactlyOnce {
            return violation(
                rules.legacy_qos2_publish,
                format!("the PUBLISH to {topic} asks for QoS 2 (topics.legacy_qos2_publish)"),
            );
        }
        if let Some(why) = legacy_foreign(admission, topic) {
            return UplinkVerdict::Disconnect(why);
        }
        if publish.retain && rules.legacy_retain == RetainRule::Clear {
            let cleared = Publish {
                retain: false,
                ..publish.clone()
            };
            let note = format!(
                "the PUBLISH to {topic} asks to be retained; delivered once and not kept \
                 (topics.legacy_retain)"
            );
            return forward(cleared, Some(note));
        }
        return forward(publish.clone(), None);
    }
    let broken = if publish.qos == QoS::ExactlyOnce {
        Some("asks for QoS 2".to_owned())
    } else if publish.retain {
        Some("has retain set".to_owned())
    } else if publish.dup && publish.qos == QoS::AtMostOnce {
        Some("has dup set at QoS 0".to_owned())
    } else if publish.payload.len() > MAX_PAYLOAD {
        Some(format!(
            "carries {} bytes, over the {MAX_PAYLOAD}-byte limit",
            publish.payload.len()
        ))
    } else {
        token_topic_problem(admission, topic, false)
    };
    match broken {
        Some(why) => UplinkVerdict::Disconnect(format!(
            "the PUBLISH to {topic} {why}; OneNET closes the link"
        )),
        None => forward(publish.clone(), None),
    }
}

/// A legacy device may publish to free topics, `$dp`, `$crsp/<uuid>` and its own `$sys/…`;
/// any other `$` topic (another device's `$sys/…` among them) closes the link.
fn legacy_foreign(admission: &Admission, topic: &str) -> Option<String> {
    if !topic.starts_with('$')
        || topic == "$dp"
        || topic
            .strip_prefix("$crsp/")
            .is_some_and(|id| !id.is_empty())
        || topic.starts_with(&own_prefix(admission))
    {
        return None;
    }
    Some(format!(
        "the PUBLISH to {topic} is not the device's: a legacy device publishes to its own \
         topics, $dp and $crsp/<uuid>; OneNET closes the link"
    ))
}

/// Why a token product's device may not use `topic` (a filter when `filter`), or `None`.
fn token_topic_problem(admission: &Admission, topic: &str, filter: bool) -> Option<String> {
    let prefix = own_prefix(admission);
    let Some(rest) = topic.strip_prefix(&prefix) else {
        return Some(match topic.strip_prefix("$sys/") {
            Some(_) => format!("is another device's (this one's are {prefix}…)"),
            None => format!("is not under the device's own {prefix}…"),
        });
    };
    let levels = topic.split('/').count();
    if levels > MAX_LEVELS {
        return Some(format!("has {levels} levels, over {MAX_LEVELS}"));
    }
    let allowed = |c: char| {
        c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-') || (filter && "+#".contains(c))
    };
    if rest.is_empty() || !rest.chars().all(allowed) {
        return Some("holds a character outside A-Z a-z 0-9 / _ -".to_owned());
    }
    if filter && rest.split('/').next().is_some_and(|l| l == "+" || l == "#") {
        return Some("has a wildcard before the fifth level".to_owned());
    }
    None
}

pub(super) fn subscription(
    profile: &OneNetProfile,
    admission: &Admission,
    filter: &str,
) -> SubscribeVerdict {
    if admission.onenet_auth == Some(OneNetAuth::Legacy) {
        if filter.starts_with('$') {
            return SubscribeVerdict::Refuse(format!(
                "{filter} is a `$` system topic, which a legacy OneNET device cannot subscribe to"
            ));
        }
        return SubscribeVerdict::Grant;
    }
    match token_topic_problem(admission, filter, true) {
        None => SubscribeVerdict::Grant,
        Some(why) => {
            let why = format!("the filter {filter} {why} (topics.illegal_subscribe)");
            match profile.topics.illegal_subscribe {
                Violation::Drop => SubscribeVerdict::Refuse(why),
                Violation::Disconnect => SubscribeVerdict::Disconnect(why),
            }
        }
    }
}

/// OneJSON posts (`thing/property/post`, `thing/event/post`) get `…/reply` with
/// `{"id","code","msg"}`; the MQTT suite's `dp/post/json` gets `…/accepted` (`{"id"}`) or
/// `…/rejected` (`{"id","err_code":98,"err_msg":"illegal data"}`). QoS 0.
pub(super) fn reply_to(rules: &OneNetThing, post: &Publish) -> Option<PostReply> {
    // Most uplinks are not posts: turned away before the topic is split.
    if !rules.replies || !post.topic.starts_with("$sys/") {
        return None;
    }
    let levels: Vec<&str> = post.topic.split('/').collect();
    let suffix = match levels.as_slice() {
        ["$sys", pid, dn, rest @ ..] if !pid.is_empty() && !dn.is_empty() => rest,
        _ => return None,
    };
    let parsed: Option<serde_json::Map<String, Value>> =
        match serde_json::from_slice::<Value>(&post.payload) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        };
    let id = parsed.as_ref().and_then(|m| m.get("id")).cloned();
    let reply = |topic: String, body: Value, code: u16| PostReply {
        topic,
        payload: body.to_string().into_bytes(),
        code,
        qos: QoS::AtMostOnce,
    };
    match suffix {
        ["thing", "property" | "event", "post"] => {
            let id_text = match &id {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            let (code, msg) = match id_text {
                Some(_) => (200, "success"),
                None => (rules.bad_post_code, "request parameter error"),
            };
            let body = serde_json::json!({ "id": id_text, "code": code, "msg": msg });
            Some(reply(format!("{}/reply", post.topic), body, code))
        }
        ["dp", "post", "json"] => match (&parsed, id) {
            (Some(map), Some(id)) if map.contains_key("dp") => Some(reply(
                format!("{}/accepted", post.topic),
                serde_json::json!({ "id": id }),
                200,
            )),
            (_, id) => Some(reply(
                format!("{}/rejected", post.topic),
                serde_json::json!({ "id": id, "err_code": 98, "err_msg": "illegal data" }),
                98,
            )),
        },
        _ => None,
    }
}
