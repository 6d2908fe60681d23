//! The per-device topic permission model (§2.6): [`Permissions`] says whether a device may
//! publish to a topic or subscribe to a filter, from the profile's topic classes rendered for
//! its ProductKey and DeviceName, and [`covers`] is the filter arithmetic behind it.

use super::config::{Access, TopicClass, Topics};
use crate::mqtt::check_topic_filter;

/// `{pk}` and `{dn}` replaced by the device's ProductKey and DeviceName.
pub fn render(template: &str, product_key: &str, device_name: &str) -> String {
    template
        .replace("{pk}", product_key)
        .replace("{dn}", device_name)
}

/// A class or implicit filter is a valid MQTT filter once its placeholders are filled, and
/// names no placeholder but `{pk}` and `{dn}`.
pub fn check_template(template: &str) -> Result<(), String> {
    let rendered = render(template, "pk", "dn");
    if rendered.contains(['{', '}']) {
        return Err("names a placeholder other than {pk} and {dn}".to_owned());
    }
    check_topic_filter(&rendered).map_err(|e| format!("is not a topic filter: {e}"))
}

/// Whether every topic `inner` matches is matched by `outer` (MQTT 3.1.1 §4.7). With `inner`
/// a topic name this is plain matching: `covers("/a/+/c", "/a/b/c")`.
pub fn covers(outer: &str, inner: &str) -> bool {
    // The common filters answered without walking levels: every message the cloud side
    // forwards is matched against its filters, and the walk was a measurable share of it.
    // Any filter covers itself; a filter with no wildcard covers only itself; `P/#` with no
    // wildcard in `P` covers `P` and everything under it.
    if outer == inner {
        return true;
    }
    let wild = |s: &str| s.bytes().any(|b| b == b'+' || b == b'#');
    if let Some(parent) = outer.strip_suffix("/#") {
        if !wild(parent) {
            return inner == parent
                || (inner.starts_with(parent)
                    && inner.as_bytes().get(parent.len()) == Some(&b'/'));
        }
    } else if !wild(outer) {
        return false;
    }
    covers_with(outer, inner, |ol, il| ol == il)
}

/// [`covers`] for a class template, filling `{pk}` and `{dn}` level by level instead of
/// rendering the whole template: every uplink is checked against every class, and rendering
/// them all each time was a tenth of the broker's CPU under a flood.
fn covers_template(template: &str, inner: &str, product_key: &str, device_name: &str) -> bool {
    // The template's literal start (up to its first placeholder or wildcard) must start the
    // topic too, whatever the levels after it: one comparison turns away most classes.
    let literal = template
        .find(['{', '+', '#'])
        .map_or(template, |at| &template[..at]);
    if !inner.starts_with(literal) {
        return false;
    }
    covers_with(template, inner, |ol, il| match ol {
        "{pk}" => il == product_key,
        "{dn}" => il == device_name,
        _ if ol.contains('{') => render(ol, product_key, device_name) == il,
        _ => ol == il,
    })
}

fn covers_with(outer: &str, inner: &str, same_level: impl Fn(&str, &str) -> bool) -> bool {
    let mut o = Levels(Some(outer));
    let mut i = Levels(Some(inner));
    loop {
        match (o.next(), i.next()) {
            // `#` matches the rest, the parent level included (`a/#` matches `a`).
            (Some("#"), _) => return true,
            (Some(_), Some("#")) => return false,
            (Some("+"), Some(_)) => {}
            (Some(ol), Some(il)) => {
                if il == "+" || !same_level(ol, il) {
                    return false;
                }
            }
            (None, None) => return true,
            (Some(_), None) | (None, Some(_)) => return false,
        }
    }
}

/// A topic's or filter's levels, as `split('/')` gives them. Levels are short, and a plain
/// byte loop finds the next `/` sooner than `str::split`'s searcher, which every uplink paid
/// for several times (perf: 3 % of the broker's CPU under a flood).
struct Levels<'a>(Option<&'a str>);

impl<'a> Iterator for Levels<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.0?;
        match rest.bytes().position(|b| b == b'/') {
            Some(at) => {
                self.0 = Some(&rest[at + 1..]);
                Some(&rest[..at])
            }
            None => {
                self.0 = None;
                Some(rest)
            }
        }
    }
}

/// The class of a device's custom topics.
const CUSTOM_CLASS: &str = "/{pk}/{dn}/user/#";

/// One device's view of the topic classes.
pub struct Permissions<'a> {
    topics: &'a Topics,
    product_key: &'a str,
    device_name: &'a str,
}

impl<'a> Permissions<'a> {
    pub fn new(topics: &'a Topics, product_key: &'a str, device_name: &'a str) -> Self {
        Permissions {
            topics,
            product_key,
            device_name,
        }
    }

    /// The classes that apply, as templates: the system ones and the custom
    /// `/{pk}/{dn}/user/#`.
    fn classes(&self) -> impl Iterator<Item = (&str, Access)> {
        self.topics
            .classes
            .iter()
            .map(|c: &TopicClass| (c.topic.as_str(), c.access))
            .chain([(CUSTOM_CLASS, self.topics.custom)])
    }

    /// `Ok` when the device may publish to `topic`, else why not (for the drop's reason).
    pub fn may_publish(&self, topic: &str) -> Result<(), String> {
        if !self.topics.enforce {
            return Ok(());
        }
        self.decide(topic, Access::may_publish, "publish to", "subscribe-only")
    }

    /// `Ok` when the device may subscribe to `filter`, else why not.
    pub fn may_subscribe(&self, filter: &str) -> Result<(), String> {
        if !self.topics.enforce {
            return Ok(());
        }
        self.decide(
            filter,
            Access::may_subscribe,
            "subscribe to",
            "publish-only",
        )
    }

    fn decide(
        &self,
        topic: &str,
        allowed: fn(Access) -> bool,
        verb: &str,
        other_way: &str,
    ) -> Result<(), String> {
        // Most traffic is on the device's own custom topics: answered before the system
        // classes are scanned (any class that covers and allows gives the same answer).
        let custom = self.topics.custom;
        if allowed(custom)
            && covers_template(CUSTOM_CLASS, topic, self.product_key, self.device_name)
        {
            return Ok(());
        }
        let mut wrong_way = None;
        for (class, access) in self.classes() {
            if covers_template(class, topic, self.product_key, self.device_name) {
                if allowed(access) {
                    return Ok(());
                }
                wrong_way = Some(render(class, self.product_key, self.device_name));
            }
        }
        Err(match wrong_way {
            Some(class) => format!(
                "device {}/{} may not {verb} {topic}: its class {class} is {other_way} \
                 (topic authorization failed, cloud log code 9236)",
                self.product_key, self.device_name
            ),
            None => format!(
                "device {}/{} may not {verb} {topic}: no topic class of the device covers it \
                 (topic authorization failed, cloud log code 9236)",
                self.product_key, self.device_name
            ),
        })
    }

    /// The implicit downlink filters, rendered.
    pub fn implicit_filters(&self) -> Vec<String> {
        self.topics
            .implicit_filters
            .iter()
            .map(|f| render(f, self.product_key, self.device_name))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    proptest::proptest! {
        #[test]
        fn levels_are_what_split_gives(topic in "[a-z/+#é]{0,12}") {
            let levels: Vec<&str> = Levels(Some(&topic)).collect();
            let split: Vec<&str> = topic.split('/').collect();
            proptest::prop_assert_eq!(levels, split);
        }

        /// The shortcuts of `covers` answer as the level walk does, filters and names alike.
        #[test]
        fn covers_agrees_with_the_level_walk(
            outer in "[ab/+#]{0,7}",
            inner in "[ab/+#]{0,7}",
        ) {
            let walk = covers_with(&outer, &inner, |ol, il| ol == il);
            proptest::prop_assert_eq!(covers(&outer, &inner), walk, "{} covers {}", outer, inner);
        }
    }

    #[rstest]
    #[case("/a/#", "/a", true)]
    #[case("/a/#", "/a/b/c", true)]
    #[case("/a/+/c", "/a/b/c", true)]
    #[case("/a/+/c", "/a/+/c", true)]
    #[case("/a/+/c", "/a/#", false)]
    #[case("/a/b", "/a/+", false)]
    #[case("/a/b", "/a/b/c", false)]
    #[case("/a/b/c", "/a/b", false)]
    #[case("#", "/anything", true)]
    #[case("/sys/pk/dn/#", "/sys/pk/dn/thing/service/+", true)]
    #[case("/sys/pk/dn/#", "/sys/pk/+/thing/service/property/set", false)]
    fn covering(#[case] outer: &str, #[case] inner: &str, #[case] expected: bool) {
        assert_eq!(covers(outer, inner), expected, "{outer} covers {inner}");
    }

    const PK: &str = "a1ndPQHcX7f";
    const DN: &str = "device2";

    #[rstest]
    #[case::property_post("/sys/a1ndPQHcX7f/device2/thing/event/property/post", true)]
    #[case::set_reply("/sys/a1ndPQHcX7f/device2/thing/service/property/set_reply", true)]
    #[case::rrpc_response("/sys/a1ndPQHcX7f/device2/rrpc/response/1", true)]
    #[case::user_topic("/a1ndPQHcX7f/device2/user/temp", true)]
    #[case::ota_inform("/ota/device/inform/a1ndPQHcX7f/device2", true)]
    #[case::ntp_request("/ext/ntp/a1ndPQHcX7f/device2/request", true)]
    #[case::another_device("/sys/a1ndPQHcX7f/device3/thing/event/property/post", false)]
    #[case::another_product("/sys/a1ji0qFv6Jf/device2/thing/event/property/post", false)]
    #[case::broadcast("/broadcast/a1ndPQHcX7f/all", false)]
    #[case::ota_upgrade("/ota/device/upgrade/a1ndPQHcX7f/device2", false)]
    #[case::sys_outside_thing("/sys/a1ndPQHcX7f/device2/other", false)]
    #[case::ntp_response("/ext/ntp/a1ndPQHcX7f/device2/response", false)]
    #[case::free_topic("/hello", false)]
    fn publish_rights(#[case] topic: &str, #[case] allowed: bool) {
        let topics = Topics::default();
        let p = Permissions::new(&topics, PK, DN);
        assert_eq!(p.may_publish(topic).is_ok(), allowed, "{topic}");
    }

    #[rstest]
    #[case::property_set("/sys/a1ndPQHcX7f/device2/thing/service/property/set", true)]
    #[case::c_sdk_wildcard("/sys/a1ndPQHcX7f/device2/thing/event/+/post_reply", true)]
    #[case::all_of_thing("/sys/a1ndPQHcX7f/device2/thing/#", true)]
    #[case::broadcast("/broadcast/a1ndPQHcX7f/#", true)]
    #[case::ota_upgrade("/ota/device/upgrade/a1ndPQHcX7f/device2", true)]
    #[case::ntp_response("/ext/ntp/a1ndPQHcX7f/device2/response", true)]
    #[case::rrpc_custom("/ext/rrpc/+/a1ndPQHcX7f/device2/user/get", true)]
    #[case::user_wildcard("/a1ndPQHcX7f/device2/user/#", true)]
    #[case::another_device("/sys/a1ndPQHcX7f/device3/thing/service/property/set", false)]
    #[case::every_device("/sys/a1ndPQHcX7f/+/thing/service/property/set", false)]
    #[case::whole_sys("/sys/a1ndPQHcX7f/device2/#", false)]
    #[case::everything("#", false)]
    #[case::ota_inform("/ota/device/inform/a1ndPQHcX7f/device2", false)]
    fn subscribe_rights(#[case] filter: &str, #[case] allowed: bool) {
        let topics = Topics::default();
        let p = Permissions::new(&topics, PK, DN);
        assert_eq!(p.may_subscribe(filter).is_ok(), allowed, "{filter}");
    }

    #[test]
    fn reasons_say_which_way_and_the_cloud_code() {
        let topics = Topics::default();
        let p = Permissions::new(&topics, PK, DN);
        let why = p
            .may_publish("/ota/device/upgrade/a1ndPQHcX7f/device2")
            .unwrap_err();
        assert!(
            why.contains("subscribe-only") && why.contains("9236"),
            "{why}"
        );
        let why = p.may_subscribe("/sys/x/y/thing/#").unwrap_err();
        assert!(why.contains("no topic class"), "{why}");
    }

    #[test]
    fn custom_access_and_enforcement_switch() {
        let mut topics = Topics {
            custom: Access::Subscribe,
            ..Topics::default()
        };
        let user = "/a1ndPQHcX7f/device2/user/temp";
        assert!(Permissions::new(&topics, PK, DN).may_publish(user).is_err());
        assert!(Permissions::new(&topics, PK, DN)
            .may_subscribe(user)
            .is_ok());
        topics.enforce = false;
        assert!(Permissions::new(&topics, PK, DN).may_publish("/x").is_ok());
        assert!(Permissions::new(&topics, PK, DN).may_subscribe("#").is_ok());
    }

    #[test]
    fn templates_are_checked() {
        assert!(check_template("/sys/{pk}/{dn}/#").is_ok());
        assert!(check_template("/sys/{product}/#").is_err());
        assert!(check_template("/sys/{pk}/#/x").is_err());
    }
}
