//! [`Origins`]: who published each recent message into rumqttd and at what QoS, so a downlink
//! reaches a device at the *publisher's* QoS, as Alibaba Cloud delivers ("不支持SUB QoS,
//! 消息QoS以发送方(PUB)指定为准", aliyun-onenet.md §2.5).
//!
//! Why a side table: rumqttd forwards every message at the *subscription's* QoS and drops the
//! publisher's. The gateway subscribes upstream at QoS 1 (so it always gets a packet id it can
//! acknowledge) and looks the message up here to deliver it at 0 or 1. Messages are keyed by
//! topic and payload; if the same topic and payload are published twice at different QoS
//! within the window, the later one wins.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, OnceLock};

use crate::events::ConnId;
use crate::mqtt::QoS;

/// How many recent messages are remembered; far more than can be in flight in a test run.
const WINDOW: usize = 4096;

/// Who put a message into rumqttd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publisher {
    /// A device through the gateway.
    Device { conn: ConnId },
    /// The cloud link (a downlink the test asked for).
    Cloud,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub publisher: Publisher,
    pub qos: QoS,
}

#[derive(Debug, Default)]
struct Table {
    by_key: HashMap<u64, Origin, ahash::RandomState>,
    order: VecDeque<u64>,
}

/// The shared table; written before a message enters rumqttd, read when it comes out.
#[derive(Debug, Default)]
pub struct Origins {
    table: Mutex<Table>,
}

/// Every message is hashed here once going in and once per receiver coming out, so a fast
/// keyed hash (aHash, seeded per process) rather than SipHash.
fn key(topic: &str, payload: &[u8]) -> u64 {
    static SEED: OnceLock<ahash::RandomState> = OnceLock::new();
    let mut h = SEED.get_or_init(ahash::RandomState::new).build_hasher();
    h.write(topic.as_bytes());
    h.write_u8(0xff);
    h.write(payload);
    h.finish()
}

impl Origins {
    pub fn remember(&self, topic: &str, payload: &[u8], origin: Origin) {
        let k = key(topic, payload);
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if t.by_key.insert(k, origin).is_none() {
            t.order.push_back(k);
        }
        while t.order.len() > WINDOW {
            if let Some(old) = t.order.pop_front() {
                t.by_key.remove(&old);
            }
        }
    }

    pub fn lookup(&self, topic: &str, payload: &[u8]) -> Option<Origin> {
        let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.by_key.get(&key(topic, payload)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_publish_of_the_same_message_wins() {
        let o = Origins::default();
        o.remember(
            "/a",
            b"x",
            Origin {
                publisher: Publisher::Cloud,
                qos: QoS::AtLeastOnce,
            },
        );
        o.remember(
            "/a",
            b"x",
            Origin {
                publisher: Publisher::Cloud,
                qos: QoS::AtMostOnce,
            },
        );
        assert_eq!(o.lookup("/a", b"x").map(|o| o.qos), Some(QoS::AtMostOnce));
        assert_eq!(o.lookup("/a", b"y"), None);
    }

    #[test]
    fn the_window_forgets_the_oldest() {
        let o = Origins::default();
        for i in 0..=WINDOW {
            o.remember(
                "/t",
                i.to_string().as_bytes(),
                Origin {
                    publisher: Publisher::Cloud,
                    qos: QoS::AtMostOnce,
                },
            );
        }
        assert_eq!(o.lookup("/t", b"0"), None);
        assert!(o.lookup("/t", WINDOW.to_string().as_bytes()).is_some());
    }
}
