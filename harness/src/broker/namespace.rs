//! [`Namespace`]: how one scope's topics and client ids are named inside the shared rumqttd.
//!
//! One gateway and one rumqttd serve a whole run; scenarios that run at the same time may use
//! the same device fixture, whose topics (`/sys/a1ndPQHcX7f/device2/…`) and sign cannot
//! change on the wire. Inside rumqttd, every topic of a scope is prefixed with the scope's name,
//! so a cloud publish (or a device's uplink) reaches only subscribers of the same scope; the
//! device and the cloud side never see the prefix. Link client ids carry the scope too, so
//! rumqttd's own bookkeeping never mixes two scopes.

use bytes::Bytes;

/// A scope's name inside rumqttd. The root scope is `s0`; scopes have short ASCII names that
/// hold none of MQTT's special characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    prefix: String,
}

impl Default for Namespace {
    fn default() -> Self {
        Namespace::new(0)
    }
}

impl Namespace {
    /// Scope number `n`.
    pub fn new(n: u32) -> Namespace {
        Namespace {
            prefix: format!("s{n}"),
        }
    }

    /// A scope no other broker of this process has used.
    pub fn next() -> Namespace {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
        Namespace::new(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    /// A device or cloud topic (or filter) as rumqttd sees it.
    pub fn inside(&self, topic: &str) -> String {
        let mut t = String::with_capacity(self.prefix.len() + 1 + topic.len());
        t.push_str(&self.prefix);
        t.push('/');
        t.push_str(topic);
        t
    }

    /// A topic to publish on as rumqttd sees it, as the bytes rumqttd takes.
    pub fn inside_topic(&self, topic: &[u8]) -> Bytes {
        let mut t = Vec::with_capacity(self.prefix.len() + 1 + topic.len());
        t.extend_from_slice(self.prefix.as_bytes());
        t.push(b'/');
        t.extend_from_slice(topic);
        t.into()
    }

    /// The topic rumqttd forwarded, as the device and the cloud know it; `None` for a topic of
    /// another scope.
    pub fn outside<'a>(&self, topic: &'a str) -> Option<&'a str> {
        topic
            .strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
    }

    /// A link's client id in rumqttd (rumqttd refuses `+ $ # /` in client ids; the ids the
    /// gateway builds hold none).
    pub fn client_id(&self, id: &str) -> String {
        let clean: String = id
            .chars()
            .map(|c| if "+$#/".contains(c) { '_' } else { c })
            .collect();
        format!("{}:{clean}", self.prefix)
    }
}

/// A device's last few uplink topics with their names inside rumqttd: a device publishes on
/// a few topics over and over, and building the inside name for every message (an allocation,
/// and another for rumqttd's copy) was a measurable share of a flood's CPU.
#[derive(Debug, Default)]
pub struct RecentTopics {
    kept: Vec<(String, Bytes)>,
}

impl RecentTopics {
    const KEPT: usize = 4;

    /// `topic` as rumqttd names it in `ns`; the bytes are shared with earlier calls.
    pub fn inside(&mut self, ns: &Namespace, topic: &str) -> Bytes {
        if let Some((_, inside)) = self.kept.iter().find(|(t, _)| t == topic) {
            return inside.clone();
        }
        let inside = ns.inside_topic(topic.as_bytes());
        if self.kept.len() == Self::KEPT {
            self.kept.remove(0);
        }
        self.kept.push((topic.to_owned(), inside.clone()));
        inside
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_topics_name_each_topic_as_inside_does_and_share_the_bytes() {
        let ns = Namespace::new(5);
        let mut recent = RecentTopics::default();
        let topics: Vec<String> = (0..7).map(|i| format!("/a1/dev/user/t{i}")).collect();
        // More topics than are kept, in an order that evicts and brings back.
        for t in topics.iter().chain(topics.iter().rev()).chain(&topics[..2]) {
            assert_eq!(recent.inside(&ns, t), ns.inside(t).as_bytes(), "{t}");
        }
        let first = recent.inside(&ns, &topics[1]);
        let again = recent.inside(&ns, &topics[1]);
        assert_eq!(
            first.as_ptr(),
            again.as_ptr(),
            "a kept topic is shared, not rebuilt"
        );
        // Another scope never gets this one's names.
        let other = Namespace::new(6);
        assert_eq!(
            RecentTopics::default().inside(&other, &topics[1]),
            other.inside(&topics[1]).as_bytes()
        );
    }

    #[test]
    fn topics_round_trip_and_other_scopes_are_not_ours() {
        let ns = Namespace::new(3);
        let topic = "/sys/a1ndPQHcX7f/device2/thing/service/property/set";
        let inside = ns.inside(topic);
        assert_eq!(
            inside,
            "s3//sys/a1ndPQHcX7f/device2/thing/service/property/set"
        );
        assert_eq!(ns.outside(&inside), Some(topic));
        assert_eq!(ns.outside(&Namespace::new(4).inside(topic)), None);
        // `s3` must not claim `s31`'s topics.
        assert_eq!(ns.outside(&Namespace::new(31).inside(topic)), None);
        assert_eq!(ns.inside("#"), "s3/#");
        // A topic to publish on is named the same way, as bytes.
        assert_eq!(ns.inside_topic(topic.as_bytes()), inside.as_bytes());
        assert_eq!(ns.outside("s3/$sys/1/2/thing"), Some("$sys/1/2/thing"));
    }

    #[test]
    fn client_ids_lose_the_characters_rumqttd_refuses() {
        let ns = Namespace::default();
        assert_eq!(
            ns.client_id("device2|securemode=3,signmethod=hmacsha1|.7"),
            "s0:device2|securemode=3,signmethod=hmacsha1|.7"
        );
        assert_eq!(ns.client_id("a/b#c"), "s0:a_b_c");
    }
}
