//! The clock side of the profile, for the gateway's connection task: [`Timers`] fires when a
//! link sent no CONNECT in time (`login.connect_timeout`), when a connected device stayed
//! silent for `keepalive.timeout_factor` × its keepalive, and when a newer login of the same
//! device replaces this connection. The [`Session`] turns each [`Fired`] into a note and a
//! close; this file only waits.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{sleep_until, Instant};

use super::logins::Logins;
use crate::broker::policy::CloudPolicy;
use crate::broker::session::Session;
use crate::events::ConnId;

/// Which timer fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// No CONNECT within this.
    NoConnect(Duration),
    /// No PUBLISH, SUBSCRIBE, PINGREQ or PUBACK within this (factor × keepalive).
    Silent(Duration),
    /// A newer login of the device, on this connection.
    Replaced(ConnId),
}

/// One connection's deadlines. It lives as long as the connection task's loop; dropping it
/// logs the connection's device out, so a later login is not reported as kicking it.
#[derive(Debug)]
pub struct Timers {
    conn: ConnId,
    logins: Arc<Logins>,
    connect_timeout: Duration,
    connect_deadline: Instant,
    /// The idle limit and when it runs out, once the session is connected.
    idle: Option<(Duration, Instant)>,
}

impl Timers {
    /// Starts the CONNECT deadline, from the profile in force now.
    pub fn start(policy: &CloudPolicy, conn: ConnId) -> Timers {
        let connect_timeout = policy.connect_timeout();
        Timers {
            conn,
            logins: policy.logins(),
            connect_timeout,
            connect_deadline: Instant::now() + connect_timeout,
            idle: None,
        }
    }

    /// Restarts the idle timer if the session heard from the device since the last call
    /// (call after every batch of bytes).
    pub fn update(&mut self, session: &mut Session) {
        if session.take_heard() {
            self.idle = session.idle_limit().map(|d| (d, Instant::now() + d));
        }
    }

    /// Completes when a deadline passes or the connection is replaced; never otherwise.
    pub async fn fired(&self, policy: &CloudPolicy, connected: bool) -> Fired {
        let idle_deadline = self.idle.map(|(_, at)| at);
        tokio::select! {
            _ = sleep_until(self.connect_deadline), if !connected => {
                Fired::NoConnect(self.connect_timeout)
            }
            _ = sleep_until(idle_deadline.unwrap_or_else(Instant::now)), if idle_deadline.is_some() => {
                Fired::Silent(self.idle.map_or(Duration::ZERO, |(d, _)| d))
            }
            newer = policy.replaced(self.conn), if connected => Fired::Replaced(newer),
            else => std::future::pending().await,
        }
    }
}

impl Drop for Timers {
    fn drop(&mut self) {
        self.logins.logout(self.conn);
    }
}
