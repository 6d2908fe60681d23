//! [`Capacity`]: how many device connections the gateway holds before it answers CONNACK 3
//! ("server unavailable") instead of hanging a login.
//!
//! Each device costs the gateway one file descriptor (its socket; rumqttd is reached in
//! process). The limit is the process's descriptor limit, raised from the soft to the hard
//! limit at start ([`raise_fd_limit`]), less a reserve for everything else the process opens
//! (serial ports, reports, the runner's pseudo-terminals). Past the limit a login is refused
//! with a note that says why; past the limit and the reserve's first half, a new socket is
//! closed at once, so `accept` never meets EMFILE and no login waits in the backlog.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Descriptors kept for everything that is not a device socket.
pub const RESERVED_FDS: u64 = 256;

/// Raises the soft limit on open files to the hard limit; returns the soft limit in force
/// afterwards (the old one if raising failed).
pub fn raise_fd_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024),
    }
}

/// The device-connection budget shared by the gateway's tasks.
#[derive(Debug)]
pub struct Capacity {
    /// Logins beyond this many open device sockets get CONNACK 3.
    pub limit: usize,
    /// Where the limit comes from, for the refusal's note.
    pub why: String,
    open: AtomicUsize,
}

/// One open device socket; dropping it gives the slot back.
#[derive(Debug)]
pub struct Slot {
    capacity: Arc<Capacity>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.capacity.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Capacity {
    /// The budget for a process whose descriptor limit is `fd_limit`.
    pub fn from_fd_limit(fd_limit: u64) -> Capacity {
        let limit = fd_limit.saturating_sub(RESERVED_FDS).max(1);
        Capacity::new(
            usize::try_from(limit).unwrap_or(usize::MAX),
            format!(
                "the process may open {fd_limit} file descriptors (ulimit -n), {RESERVED_FDS} \
                 of them kept for other files"
            ),
        )
    }

    pub fn new(limit: usize, why: String) -> Capacity {
        Capacity {
            limit,
            why,
            open: AtomicUsize::new(0),
        }
    }

    /// Counts a newly accepted socket; `None` when even the reserve's first half is in use,
    /// and the socket should be closed unread.
    pub fn accept(self: &Arc<Self>) -> Option<Slot> {
        let hard = self.limit + usize::try_from(RESERVED_FDS / 2).unwrap_or(0);
        let before = self.open.fetch_add(1, Ordering::AcqRel);
        let slot = Slot {
            capacity: self.clone(),
        };
        (before < hard).then_some(slot)
    }

    /// Whether a socket counted by `accept` may log in (it is within the limit).
    pub fn admits(&self) -> bool {
        self.open.load(Ordering::Acquire) <= self.limit
    }

    /// Open device sockets now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_past_the_limit_are_not_admitted_and_slots_come_back() {
        let c = Arc::new(Capacity::new(2, "test".into()));
        let a = c.accept().unwrap();
        let b = c.accept().unwrap();
        assert!(c.admits());
        let extra = c.accept().unwrap();
        assert!(!c.admits(), "a third socket is over the limit of 2");
        drop(extra);
        assert!(c.admits());
        drop((a, b));
        assert_eq!(c.open(), 0);
    }

    #[test]
    fn the_fd_budget_keeps_a_reserve() {
        let c = Capacity::from_fd_limit(1024);
        assert_eq!(c.limit, 1024 - RESERVED_FDS as usize);
        assert!(c.why.contains("1024"));
    }

    #[test]
    fn raising_the_limit_never_lowers_it() {
        let (before, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        assert!(raise_fd_limit() >= before);
    }
}
