//! The clock side of the profile, for the gateway's connection task: [`Timers`] fires when a
//! link sent no CONNECT in time (`login.connect_timeout`), when a connected device stayed
//! silent for `keepalive.timeout_factor` × its keepalive, and when a newer login of the same
//! device replaces this connection. The [`Session`] turns each [`Fired`] into a note and a
//! close; this file only waits.
//!
//! Why the waits outlive a turn: the gateway asks [`Timers::fired`] again after every batch of
//! bytes. Building a fresh sleep and a fresh wait on the login table each time put a timer in
//! the wheel, took the table's lock and registered with a `Notify`, all per turn, a
//! measurable share of a flood's CPU. The sleep and the login wait are kept instead; the idle
//! deadline only records when the device was last heard, and a sleep that fires early (the
//! device spoke since it was set) is moved to the real deadline then.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{sleep_until, Instant, Sleep};

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

/// Completes with the connection that replaced this one.
type ReplacedWait = Pin<Box<dyn Future<Output = ConnId> + Send>>;

/// One connection's deadlines. It lives as long as the connection task's loop; dropping it
/// logs the connection's device out, so a later login is not reported as kicking it.
pub struct Timers {
    conn: ConnId,
    logins: Arc<Logins>,
    connect_timeout: Duration,
    connect_deadline: Instant,
    /// The idle limit, once the session is connected, and when the device was last heard.
    idle: Option<(Duration, Instant)>,
    /// Set at the earliest deadline known when it was last armed; may fire early.
    sleep: Pin<Box<Sleep>>,
    /// Waits on the login table from the first call after the session is connected.
    replaced: Option<ReplacedWait>,
    /// A newer login seen while the profile let a device hold several connections: it kicks
    /// this one as soon as an override says one connection per device.
    newer: Option<ConnId>,
}

impl Timers {
    /// Starts the CONNECT deadline, from the profile in force now.
    pub fn start(policy: &CloudPolicy, conn: ConnId) -> Timers {
        let connect_timeout = policy.connect_timeout();
        let connect_deadline = Instant::now() + connect_timeout;
        Timers {
            conn,
            logins: policy.logins(),
            connect_timeout,
            connect_deadline,
            idle: None,
            sleep: Box::pin(sleep_until(connect_deadline)),
            replaced: None,
            newer: None,
        }
    }

    /// Restarts the idle timer if the session heard from the device since the last call
    /// (call after every batch of bytes, with the time the batch was read).
    pub fn update(&mut self, session: &mut Session, now: std::time::Instant) {
        if session.take_heard() {
            self.idle = session
                .idle_limit()
                .map(|d| (d, Instant::from_std(now) + d));
        }
    }

    /// The deadline that applies now, and what its passing means.
    fn deadline(&self, connected: bool) -> Option<(Instant, Fired)> {
        if !connected {
            return Some((
                self.connect_deadline,
                Fired::NoConnect(self.connect_timeout),
            ));
        }
        self.idle.map(|(d, at)| (at, Fired::Silent(d)))
    }

    /// Completes when a deadline passes or the connection is replaced; never otherwise.
    /// Cancel-safe: dropping it loses nothing, and the next call waits on the same timer.
    pub async fn fired(&mut self, policy: &CloudPolicy, connected: bool) -> Fired {
        if connected {
            if let Some(newer) = self.newer {
                if policy.one_connection_per_device() {
                    return Fired::Replaced(newer);
                }
            } else if self.replaced.is_none() {
                let (logins, conn) = (self.logins.clone(), self.conn);
                self.replaced = Some(Box::pin(async move { logins.replaced(conn).await }));
            }
        }
        loop {
            let due = self.deadline(connected);
            if let Some((at, _)) = due {
                // A deadline earlier than the armed one (rare: the link just connected) moves
                // the sleep now; a later one waits until the sleep fires.
                if at < self.sleep.deadline() {
                    self.sleep.as_mut().reset(at);
                }
            }
            let Timers {
                sleep, replaced, ..
            } = self;
            let waiting_login = connected && replaced.is_some();
            tokio::select! {
                () = sleep.as_mut(), if due.is_some() => {
                    let Some((at, fired)) = due else { continue };
                    if Instant::now() >= at {
                        return fired;
                    }
                    // The device spoke since the sleep was armed: wait for the real deadline.
                    sleep.as_mut().reset(at);
                }
                newer = login_replaced(replaced), if waiting_login => {
                    *replaced = None;
                    self.newer = Some(newer);
                    if policy.one_connection_per_device() {
                        return Fired::Replaced(newer);
                    }
                }
                else => std::future::pending().await,
            }
        }
    }
}

/// The login wait, when there is one.
async fn login_replaced(wait: &mut Option<ReplacedWait>) -> ConnId {
    match wait {
        Some(w) => w.await,
        None => std::future::pending().await,
    }
}

impl Drop for Timers {
    fn drop(&mut self) {
        self.logins.logout(self.conn);
    }
}
