//! [`Reach`]: which topic filters bring downlinks to each connected device, so the cloud side
//! can say truthfully whether a reply it publishes (a `post_reply`) reaches the device.
//!
//! Sessions are sans-IO and own their subscriptions; the gateway copies each session's
//! filters here after every step, and drops them when the link ends.

use std::collections::HashMap;
use std::sync::Mutex;

use super::profile::topics::covers;
use crate::events::ConnId;

/// Filters per connection: the device's granted ones and the implicit ones pushed to it.
#[derive(Debug, Default)]
pub struct Reach {
    by_conn: Mutex<HashMap<ConnId, Vec<String>>>,
}

impl Reach {
    /// Records `conn`'s filters now (an empty list forgets the connection).
    pub fn set(&self, conn: ConnId, filters: Vec<String>) {
        let mut map = self.by_conn.lock().unwrap_or_else(|p| p.into_inner());
        if filters.is_empty() {
            map.remove(&conn);
        } else if map.get(&conn) != Some(&filters) {
            map.insert(conn, filters);
        }
    }

    /// Whether a message on `topic` reaches the device on `conn`.
    pub fn reaches(&self, conn: ConnId, topic: &str) -> bool {
        let map = self.by_conn.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&conn)
            .is_some_and(|filters| filters.iter().any(|f| covers(f, topic)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_reaches_a_connection_whose_filter_covers_it() {
        let reach = Reach::default();
        let reply = "/sys/a1ndPQHcX7f/device2/thing/event/property/post_reply";
        assert!(!reach.reaches(7, reply));
        reach.set(
            7,
            vec!["/sys/a1ndPQHcX7f/device2/thing/service/property/set".into()],
        );
        assert!(!reach.reaches(7, reply));
        reach.set(7, vec!["/sys/a1ndPQHcX7f/device2/#".into()]);
        assert!(reach.reaches(7, reply));
        assert!(!reach.reaches(8, reply));
        reach.set(7, Vec::new());
        assert!(!reach.reaches(7, reply));
    }
}
