//! [`PacketBudget`]: how many of one connection's packets become events of their own each
//! second, for a stand-alone broker whose log nobody reads line by line under a flood.
//!
//! Why at the source: a device flooding 100,000 PUBLISHes a second would otherwise make as
//! many events, each a packet clone sent to the log task and dropped there (perf: a tenth of
//! the broker's CPU under a flood). Each connection's first `per_period` packets of every
//! second are events as usual; the rest of that second are only counted by packet type, and
//! the count becomes one [`RunEvent::PacketsNotShown`](crate::events::RunEvent) when the
//! second ends (or the connection does). A run turns the budget off: its transcripts and
//! pcaps need every packet.

use std::time::{Duration, Instant};

use crate::mqtt::PacketType;

/// How long a budget lasts before it is renewed.
pub const BUDGET_PERIOD: Duration = Duration::from_secs(1);

/// One connection's budget for the current period.
#[derive(Debug)]
pub struct PacketBudget {
    per_period: u32,
    since: Instant,
    shown: u32,
    /// Packets over the budget this period, by fixed-header type (1..=14).
    hidden: [u64; 15],
}

/// What a period hid: its packets by type, in type order, and how many it had shown first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hidden {
    pub shown: u32,
    pub counts: Vec<(PacketType, u64)>,
}

impl PacketBudget {
    /// `per_period` packet events per second, the first period starting `now`.
    pub fn new(per_period: u32, now: Instant) -> PacketBudget {
        PacketBudget {
            per_period,
            since: now,
            shown: 0,
            hidden: [0; 15],
        }
    }

    /// Whether a packet of type `kind` at `now` becomes an event; if this starts a new period,
    /// what the ended one hid comes back too, to be told before this packet.
    pub fn admit(&mut self, kind: PacketType, now: Instant) -> (bool, Option<Hidden>) {
        let ended = if now.saturating_duration_since(self.since) >= BUDGET_PERIOD {
            self.renew(now)
        } else {
            None
        };
        if self.shown < self.per_period {
            self.shown += 1;
            return (true, ended);
        }
        self.hidden[kind as usize] += 1;
        (false, ended)
    }

    /// When the current period ends, if it hid anything (the connection's loop wakes then to
    /// tell it, so a flood that stops is summed up within about a period).
    pub fn due(&self) -> Option<Instant> {
        self.hidden
            .iter()
            .any(|n| *n > 0)
            .then_some(self.since + BUDGET_PERIOD)
    }

    /// Starts a new period at `now`; what the ended one hid, if anything.
    pub fn renew(&mut self, now: Instant) -> Option<Hidden> {
        let counts: Vec<(PacketType, u64)> = (1..self.hidden.len() as u8)
            .filter_map(|n| {
                let count = self.hidden[n as usize];
                Some((PacketType::from_nibble(n)?, count)).filter(|_| count > 0)
            })
            .collect();
        let hidden = (!counts.is_empty()).then_some(Hidden {
            shown: self.shown,
            counts,
        });
        self.since = now;
        self.shown = 0;
        self.hidden = [0; 15];
        hidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_gets_the_budget_then_one_count_per_period() {
        let t0 = Instant::now();
        let mut budget = PacketBudget::new(3, t0);
        let admitted: Vec<bool> = (0..10)
            .map(|i| {
                let (admit, ended) =
                    budget.admit(PacketType::Pingreq, t0 + Duration::from_millis(i));
                assert_eq!(ended, None);
                admit
            })
            .collect();
        assert_eq!(admitted.iter().filter(|a| **a).count(), 3);
        assert_eq!(budget.due(), Some(t0 + BUDGET_PERIOD));
        // The next period's first packet is shown, and the ended period's count comes first.
        let (admit, ended) = budget.admit(PacketType::Pingresp, t0 + Duration::from_millis(1_200));
        assert!(admit);
        assert_eq!(
            ended,
            Some(Hidden {
                shown: 3,
                counts: vec![(PacketType::Pingreq, 7)]
            })
        );
        assert_eq!(budget.due(), None, "nothing hidden in the new period yet");
    }

    #[test]
    fn counts_come_by_type_in_type_order() {
        let t0 = Instant::now();
        let mut budget = PacketBudget::new(0, t0);
        for kind in [PacketType::Puback, PacketType::Publish, PacketType::Publish] {
            assert!(!budget.admit(kind, t0).0);
        }
        assert_eq!(
            budget.renew(t0 + BUDGET_PERIOD),
            Some(Hidden {
                shown: 0,
                counts: vec![(PacketType::Publish, 2), (PacketType::Puback, 1)]
            })
        );
        assert_eq!(budget.renew(t0 + BUDGET_PERIOD * 2), None);
    }
}
