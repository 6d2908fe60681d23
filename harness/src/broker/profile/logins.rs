//! One connection per device (§2.2, §2.7: "a new login kicks the old one"): [`Logins`] records
//! which connection each device is logged in on, and lets the older connection wait for the
//! moment a newer login replaces it, so the gateway closes it itself, with a note.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::events::ConnId;

#[derive(Debug, Default)]
struct Table {
    /// Device registry name → the connection it is logged in on now.
    current: HashMap<String, ConnId>,
    /// Connection → device, for every connection that logged in.
    device_of: HashMap<ConnId, String>,
    /// Connection → what wakes it when a newer login replaces it. One per connection, so a
    /// login wakes only the connection it replaces (10,000 devices logging in once woke every
    /// connection for every login).
    wake: HashMap<ConnId, Arc<Notify>>,
}

/// The shared login table.
#[derive(Debug, Default)]
pub struct Logins {
    table: Mutex<Table>,
}

impl Logins {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `device` is now logged in on `conn`; returns the connection it replaces, if any.
    pub fn login(&self, device: &str, conn: ConnId) -> Option<ConnId> {
        let mut t = self.lock();
        // `device_of` keeps replaced connections too until they close, so their tasks can
        // still tell who replaced them.
        t.device_of.insert(conn, device.to_owned());
        let previous = t
            .current
            .insert(device.to_owned(), conn)
            .filter(|&old| old != conn);
        if let Some(old) = previous {
            // A permit is kept if the old connection is not waiting yet.
            t.wake.entry(old).or_default().notify_one();
        }
        previous
    }

    /// `conn` is closed: its device is no longer logged in, unless a newer login replaced it.
    pub fn logout(&self, conn: ConnId) {
        let mut t = self.lock();
        t.wake.remove(&conn);
        if let Some(device) = t.device_of.remove(&conn) {
            if t.current.get(&device) == Some(&conn) {
                t.current.remove(&device);
            }
        }
    }

    /// The newer connection of `conn`'s device, if a later login replaced it.
    pub fn replaced_by(&self, conn: ConnId) -> Option<ConnId> {
        current_newer(&self.lock(), conn)
    }

    /// Completes once a newer login of the same device replaces `conn`, with the newer
    /// connection; never completes for a connection that never logged in or stays current.
    pub async fn replaced(&self, conn: ConnId) -> ConnId {
        loop {
            let wake = {
                let mut t = self.lock();
                if let Some(newer) = current_newer(&t, conn) {
                    return newer;
                }
                t.wake.entry(conn).or_default().clone()
            };
            wake.notified().await;
        }
    }
}

fn current_newer(t: &Table, conn: ConnId) -> Option<ConnId> {
    let device = t.device_of.get(&conn)?;
    t.current.get(device).copied().filter(|&now| now != conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_second_login_wakes_the_first() {
        let logins = Arc::new(Logins::default());
        assert_eq!(logins.login("aliyun/device2", 1), None);
        assert_eq!(logins.login("aliyun/STC15", 2), None);
        let waiter = {
            let logins = logins.clone();
            tokio::spawn(async move { logins.replaced(1).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "woke before any second login");
        assert_eq!(logins.login("aliyun/device2", 3), Some(1));
        let newer = tokio::time::timeout(Duration::from_secs(2), waiter)
            .await
            .expect("woken in time")
            .unwrap();
        assert_eq!(newer, 3);
        assert_eq!(logins.replaced_by(2), None);
        assert_eq!(logins.replaced_by(3), None);
    }

    #[test]
    fn a_closed_connection_is_not_reported_as_kicked() {
        let logins = Logins::default();
        logins.login("aliyun/device2", 1);
        logins.logout(1);
        assert_eq!(logins.login("aliyun/device2", 2), None);
        // A kicked connection closing later does not log the newer one out.
        assert_eq!(logins.login("aliyun/device2", 3), Some(2));
        logins.logout(2);
        assert_eq!(logins.login("aliyun/device2", 4), Some(3));
    }
}
