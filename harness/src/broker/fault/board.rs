//! The faults shared by every connection ([`FaultBoard`]): faults waiting for a device's CONNECT,
//! faults handed to a live connection and not yet picked up, and which device each live
//! connection belongs to. Connections watch it for changes; nothing here does I/O.
//!
//! Where an injected fault goes:
//! - `refuse_next_connect` and `delay connack` always wait for the target's *next* CONNECT
//!   (its current connection, if any, already had its CONNECT answered).
//! - Every other fault goes to the target's live connection (for `All`: every live one); when
//!   there is none, it waits and is armed by the next accepted CONNECT of the target (for `All`:
//!   of any device), before that connection's CONNACK, so a waiting `split_next` splits the
//!   CONNACK, a waiting `send_raw` goes before it and a waiting `drop_link` closes the link
//!   without one.
//! - [`FaultBoard::clear`] (at each scenario's mark) forgets waiting and undelivered faults and
//!   tells live connections to disarm theirs.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

use super::spec::{Fault, FaultTarget};
use crate::events::ConnId;

/// Where [`FaultBoard::inject`] put a fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Waiting for the target's next (accepted, or for refusals any) CONNECT.
    Waiting,
    /// Handed to these live connections.
    Delivered(Vec<ConnId>),
}

#[derive(Debug, Default)]
struct Board {
    /// Bumped by `clear`; a connection armed in an older epoch disarms.
    epoch: u64,
    waiting: Vec<(FaultTarget, Fault)>,
    /// Live, accepted connections and their registry device (None if it could not be told).
    connected: BTreeMap<ConnId, Option<String>>,
    mailbox: BTreeMap<ConnId, Vec<Fault>>,
}

/// The shared fault state; see the module doc for where faults go.
#[derive(Debug)]
pub struct FaultBoard {
    board: Mutex<Board>,
    changed: watch::Sender<u64>,
}

impl Default for FaultBoard {
    fn default() -> Self {
        FaultBoard {
            board: Mutex::new(Board::default()),
            changed: watch::channel(0).0,
        }
    }
}

fn aims_at(target: &FaultTarget, device: Option<&str>) -> bool {
    match target {
        FaultTarget::All => true,
        FaultTarget::Device(name) => device == Some(name.as_str()),
    }
}

impl FaultBoard {
    fn lock(&self) -> MutexGuard<'_, Board> {
        // Plain data: a panic elsewhere while holding the lock leaves it usable.
        self.board.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// A receiver that changes whenever faults are delivered or cleared.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Queues or delivers `fault` (already validated) for `target`. `announce` runs before any
    /// connection can see the fault, so the note saying it was injected precedes the notes of
    /// its arming and firing.
    pub fn inject(
        &self,
        target: FaultTarget,
        fault: Fault,
        announce: impl FnOnce(&Placement),
    ) -> Placement {
        let placement = {
            let mut b = self.lock();
            let live: Vec<ConnId> = if fault.waits_for_connect() {
                Vec::new()
            } else {
                let matching = b
                    .connected
                    .iter()
                    .filter(|(_, d)| aims_at(&target, d.as_deref()))
                    .map(|(c, _)| *c);
                match target {
                    FaultTarget::All => matching.collect(),
                    // After a takeover the newest connection is the device's real one.
                    FaultTarget::Device(_) => matching.max().into_iter().collect(),
                }
            };
            let placement = if live.is_empty() {
                b.waiting.push((target, fault));
                Placement::Waiting
            } else {
                for conn in &live {
                    b.mailbox.entry(*conn).or_default().push(fault.clone());
                }
                Placement::Delivered(live)
            };
            // Still under the lock: no connection can claim or take the fault yet.
            announce(&placement);
            placement
        };
        if placement != Placement::Waiting {
            self.bump();
        }
        placement
    }

    /// Takes the first waiting `refuse_next_connect` aimed at `device` (the registry device a
    /// CONNECT claims, if any), returning its code.
    pub fn take_refusal(&self, device: Option<&str>) -> Option<u8> {
        let mut b = self.lock();
        let at = b.waiting.iter().position(|(t, f)| {
            matches!(f, Fault::RefuseNextConnect { .. }) && aims_at(t, device)
        })?;
        match b.waiting.remove(at).1 {
            Fault::RefuseNextConnect { code } => Some(code),
            // `position` matched only refusals.
            _ => None,
        }
    }

    /// Registers an accepted connection of `device` and hands it the waiting faults aimed at
    /// it (refusals stay for a later CONNECT). Returns the current epoch with them.
    pub fn connected(&self, conn: ConnId, device: Option<&str>) -> (u64, Vec<Fault>) {
        let mut b = self.lock();
        b.connected.insert(conn, device.map(str::to_owned));
        let (claimed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut b.waiting)
            .into_iter()
            .partition(|(t, f)| {
                !matches!(f, Fault::RefuseNextConnect { .. }) && aims_at(t, device)
            });
        b.waiting = kept;
        (b.epoch, claimed.into_iter().map(|(_, f)| f).collect())
    }

    /// The faults delivered to `conn` since it last asked.
    pub fn take_mail(&self, conn: ConnId) -> Vec<Fault> {
        self.lock().mailbox.remove(&conn).unwrap_or_default()
    }

    /// `conn` closed: faults delivered to it and never picked up wait for its device again.
    pub fn disconnected(&self, conn: ConnId) {
        let mut b = self.lock();
        let device = b.connected.remove(&conn).flatten();
        let undelivered = b.mailbox.remove(&conn).unwrap_or_default();
        let target = device.map_or(FaultTarget::All, FaultTarget::Device);
        for fault in undelivered {
            b.waiting.push((target.clone(), fault));
        }
    }

    /// Forgets every waiting and undelivered fault and starts a new epoch, so live
    /// connections disarm theirs. Returns how many faults had not fired yet.
    pub fn clear(&self) -> usize {
        let forgotten = {
            let mut b = self.lock();
            b.epoch += 1;
            let n = b.waiting.len() + b.mailbox.values().map(Vec::len).sum::<usize>();
            b.waiting.clear();
            b.mailbox.clear();
            n
        };
        self.bump();
        forgotten
    }

    /// How many faults wait for a CONNECT (for tests and notes).
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::fault::DelayedPacket;
    use std::time::Duration;

    fn split() -> Fault {
        Fault::SplitNext {
            segments: 2,
            gap: Duration::from_millis(50),
        }
    }

    fn put(b: &FaultBoard, target: FaultTarget, fault: Fault) -> Placement {
        b.inject(target, fault, |_| {})
    }

    fn dev(name: &str) -> FaultTarget {
        FaultTarget::Device(name.to_owned())
    }

    #[test]
    fn a_fault_for_an_absent_device_waits_for_its_connect() {
        let b = FaultBoard::default();
        assert_eq!(put(&b, dev("aliyun/device2"), split()), Placement::Waiting);
        let (_, other) = b.connected(1, Some("aliyun/LY-1"));
        assert!(other.is_empty());
        let (_, mine) = b.connected(2, Some("aliyun/device2"));
        assert_eq!(mine, vec![split()]);
        assert_eq!(b.waiting(), 0);
    }

    #[test]
    fn a_fault_for_a_live_device_goes_to_its_newest_connection_at_once() {
        let b = FaultBoard::default();
        let mut rx = b.subscribe();
        rx.borrow_and_update();
        b.connected(3, Some("aliyun/device2"));
        b.connected(7, Some("aliyun/device2"));
        b.connected(8, Some("aliyun/LY-1"));
        assert_eq!(
            put(&b, dev("aliyun/device2"), split()),
            Placement::Delivered(vec![7])
        );
        assert!(rx.has_changed().unwrap());
        assert!(b.take_mail(3).is_empty());
        assert_eq!(b.take_mail(7), vec![split()]);
        assert!(b.take_mail(7).is_empty());
    }

    #[test]
    fn all_reaches_every_live_connection_or_the_next_one() {
        let b = FaultBoard::default();
        assert_eq!(put(&b, FaultTarget::All, split()), Placement::Waiting);
        assert_eq!(b.connected(1, Some("aliyun/LY-1")).1, vec![split()]);
        b.connected(2, None);
        assert_eq!(
            put(&b, FaultTarget::All, split()),
            Placement::Delivered(vec![1, 2])
        );
    }

    #[test]
    fn refusals_and_connack_delays_wait_even_while_the_device_is_connected() {
        let b = FaultBoard::default();
        b.connected(1, Some("aliyun/device2"));
        let delay = Fault::Delay {
            packet: DelayedPacket::Connack,
            by: Duration::from_secs(1),
            count: None,
        };
        assert_eq!(
            put(
                &b,
                dev("aliyun/device2"),
                Fault::RefuseNextConnect { code: 5 }
            ),
            Placement::Waiting
        );
        assert_eq!(
            put(&b, dev("aliyun/device2"), delay.clone()),
            Placement::Waiting
        );
        assert_eq!(b.take_refusal(Some("aliyun/LY-1")), None);
        assert_eq!(b.take_refusal(Some("aliyun/device2")), Some(5));
        assert_eq!(b.take_refusal(Some("aliyun/device2")), None);
        // The refusal is not handed out as an armed fault; the delay is.
        assert_eq!(b.connected(2, Some("aliyun/device2")).1, vec![delay]);
    }

    #[test]
    fn a_refusal_for_all_takes_any_connect_even_an_unknown_device() {
        let b = FaultBoard::default();
        put(&b, FaultTarget::All, Fault::RefuseNextConnect { code: 2 });
        assert_eq!(b.take_refusal(None), Some(2));
    }

    #[test]
    fn undelivered_mail_waits_again_when_the_connection_closes() {
        let b = FaultBoard::default();
        b.connected(4, Some("aliyun/device2"));
        put(&b, dev("aliyun/device2"), split());
        b.disconnected(4);
        assert_eq!(b.waiting(), 1);
        assert_eq!(b.connected(5, Some("aliyun/device2")).1, vec![split()]);
    }

    #[test]
    fn clear_forgets_everything_and_starts_a_new_epoch() {
        let b = FaultBoard::default();
        b.connected(1, Some("aliyun/device2"));
        put(&b, dev("aliyun/device2"), split());
        put(&b, dev("aliyun/LY-1"), split());
        let before = b.epoch();
        assert_eq!(b.clear(), 2);
        assert_eq!(b.epoch(), before + 1);
        assert!(b.take_mail(1).is_empty());
        assert_eq!(b.waiting(), 0);
        assert_eq!(b.clear(), 0);
    }
}

#[cfg(test)]
mod announce_tests {
    use super::*;

    /// The injection's note must come before a connection can arm the fault: `announce` runs
    /// while the board is still locked.
    #[test]
    fn announce_runs_before_the_fault_can_be_taken() {
        let b = std::sync::Arc::new(FaultBoard::default());
        b.connected(1, Some("aliyun/device2"));
        let seen_inside = std::cell::Cell::new(None);
        b.inject(
            FaultTarget::All,
            Fault::DropLink {
                after_next_packet: false,
            },
            |p| {
                // The lock is held: a connection trying to take its mail would wait.
                seen_inside.set(Some((p.clone(), b.board.try_lock().is_err())));
            },
        );
        assert_eq!(
            seen_inside.take(),
            Some((Placement::Delivered(vec![1]), true))
        );
        assert_eq!(b.take_mail(1).len(), 1);
    }
}
