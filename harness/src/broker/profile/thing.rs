//! The cloud's Alink replies (§2.8): [`reply_to`] turns a device's property or event post into
//! the `…/post_reply` the cloud publishes back, field for field as the real cloud writes it:
//! `{"code":200,"data":{},"id":"<same id>","message":"success","method":"thing.event.property.post","version":"1.0"}`.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use super::config::Thing;

/// A reply the cloud publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub topic: String,
    pub payload: Vec<u8>,
    /// 200, or the error code in the payload.
    pub code: u16,
}

/// The reply to a PUBLISH on `/sys/{pk}/{dn}/thing/event/{identifier}/post`, or `None` for any
/// other topic or when `thing.replies` is off. Delivering it is the caller's business.
pub fn reply_to(rules: &Thing, topic: &str, payload: &[u8]) -> Option<Reply> {
    if !rules.replies {
        return None;
    }
    let identifier = post_identifier(topic)?;
    let method = format!("thing.event.{identifier}.post");
    let (code, id, message) = judge(rules, payload);
    let body = format!(
        r#"{{"code":{code},"data":{{}},"id":{id},"message":{message},"method":{method},"version":"1.0"}}"#,
        id = id.map_or_else(|| "null".to_owned(), |id| json_string(&id)),
        message = json_string(message),
        method = json_string(&method),
    );
    Some(Reply {
        topic: format!("{topic}_reply"),
        payload: body.into_bytes(),
        code,
    })
}

/// `property` or the event identifier of `/sys/{pk}/{dn}/thing/event/{identifier}/post`.
fn post_identifier(topic: &str) -> Option<&str> {
    // Most uplinks are not posts: turned away before the topic is split.
    if !(topic.starts_with("/sys/") && topic.ends_with("/post")) {
        return None;
    }
    let levels: Vec<&str> = topic.split('/').collect();
    match levels.as_slice() {
        ["", "sys", pk, dn, "thing", "event", identifier, "post"]
            if !pk.is_empty() && !dn.is_empty() && !identifier.is_empty() =>
        {
            Some(identifier)
        }
        _ => None,
    }
}

/// The code, the id to echo and the message for a post's payload.
fn judge(rules: &Thing, payload: &[u8]) -> (u16, Option<String>, &'static str) {
    let parsed: Result<Value, _> = serde_json::from_slice(payload);
    let Ok(value) = parsed else {
        // Not JSON (seed 002's author typed Chinese quotes): the id is still legible in the
        // text most of the time, and echoing it lets the device match the error to its post.
        return (
            rules.not_json_code,
            id_in_text(payload),
            "the payload is not JSON",
        );
    };
    let Value::Object(map) = value else {
        return (rules.bad_params_code, None, "request parameter error");
    };
    let id = match map.get("id") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    if !map.contains_key("method") {
        return (rules.no_method_code, id, "the payload has no method");
    }
    if id.is_none() || !map.contains_key("params") {
        return (rules.bad_params_code, id, "request parameter error");
    }
    (200, id, "success")
}

fn id_in_text(payload: &[u8]) -> Option<String> {
    static ID: OnceLock<Option<Regex>> = OnceLock::new();
    let re = ID
        .get_or_init(|| Regex::new(r#""id"\s*:\s*"([^"\\]*)""#).ok())
        .as_ref()?;
    let text = String::from_utf8_lossy(payload);
    re.captures(&text).map(|c| c[1].to_owned())
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POST: &str = "/sys/a1ndPQHcX7f/device2/thing/event/property/post";

    fn reply(topic: &str, payload: &str) -> Reply {
        reply_to(&Thing::default(), topic, payload.as_bytes()).expect("a post gets a reply")
    }

    #[test]
    fn seed_002_property_post_gets_the_clouds_exact_reply() {
        let r = reply(
            POST,
            r#"{"method":"thing.event.property.post","id":"803381017","params":{"PowerSwitch":1},"version":"1.0.0"}"#,
        );
        assert_eq!(r.topic, format!("{POST}_reply"));
        assert_eq!(
            String::from_utf8(r.payload).unwrap(),
            r#"{"code":200,"data":{},"id":"803381017","message":"success","method":"thing.event.property.post","version":"1.0"}"#
        );
        assert_eq!(r.code, 200);
    }

    #[test]
    fn event_posts_name_their_identifier() {
        let r = reply(
            "/sys/pk/dn/thing/event/Alarm/post",
            r#"{"id":"5","version":"1.0","params":{"value":{}},"method":"thing.event.Alarm.post"}"#,
        );
        assert_eq!(r.topic, "/sys/pk/dn/thing/event/Alarm/post_reply");
        assert_eq!(
            String::from_utf8(r.payload).unwrap(),
            r#"{"code":200,"data":{},"id":"5","message":"success","method":"thing.event.Alarm.post","version":"1.0"}"#
        );
    }

    #[test]
    fn seed_002_chinese_quotes_get_6207_with_the_id() {
        let r = reply(
            POST,
            "{\"method\":\"thing.event.property.post\",\"id\":\"803381017\",\"params\":{\"PowerSwitch\":1,\u{201C}CurrentTemperature\u{201D}:25.63},\"version\":\"1.0.0\"}",
        );
        assert_eq!(r.code, 6207);
        let text = String::from_utf8(r.payload).unwrap();
        assert!(
            text.starts_with(r#"{"code":6207,"data":{},"id":"803381017","message":"#),
            "{text}"
        );
        assert!(text.ends_with(r#""method":"thing.event.property.post","version":"1.0"}"#));
    }

    #[test]
    fn other_faults_get_their_codes() {
        assert_eq!(reply(POST, "not json at all").code, 6207);
        assert!(String::from_utf8(reply(POST, "garbage").payload)
            .unwrap()
            .contains(r#""id":null"#));
        assert_eq!(reply(POST, r#"{"id":"1","params":{}}"#).code, 6300);
        assert_eq!(reply(POST, r#"{"method":"m","params":{}}"#).code, 460);
        assert_eq!(reply(POST, r#"[1,2]"#).code, 460);
        // A numeric id is echoed as the string the Alink protocol uses.
        assert!(
            String::from_utf8(reply(POST, r#"{"id":7,"method":"m","params":{}}"#).payload)
                .unwrap()
                .contains(r#""id":"7""#)
        );
    }

    #[test]
    fn replies_can_be_switched_off() {
        let off = Thing {
            replies: false,
            ..Thing::default()
        };
        assert_eq!(
            reply_to(&off, POST, br#"{"id":"1","method":"m","params":{}}"#),
            None
        );
    }

    #[test]
    fn only_post_topics_are_answered() {
        let rules = Thing::default();
        for topic in [
            "/sys/pk/dn/thing/event/property/post_reply",
            "/sys/pk/dn/thing/service/property/set",
            "/sys/pk/dn/thing/event/property/batch/post",
            "/pk/dn/user/post",
            "/sys//dn/thing/event/property/post",
        ] {
            assert_eq!(reply_to(&rules, topic, b"{}"), None, "{topic}");
        }
    }
}
