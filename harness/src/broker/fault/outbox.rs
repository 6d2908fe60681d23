//! The server→module queue of one connection ([`Outbox`]): writes and the final close, in
//! order, each due no earlier than its hold after it was queued and its gap after the previous
//! write. A held packet holds everything behind it, as on a real TCP stream; the gateway keeps
//! reading both sides meanwhile. Time is passed in, so this is tested without sleeping.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::mqtt::Packet;

/// One write to the device, as a fault shaped it.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub bytes: Vec<u8>,
    /// The packet these bytes complete (recorded when they are written); None for the first
    /// pieces of a split and for raw bytes.
    pub packet: Option<Packet>,
    /// Not before this long after it was queued.
    pub hold: Duration,
    /// Not before this long after the previous write (the gap between split segments).
    pub gap: Duration,
}

impl Write {
    /// A whole packet, written as soon as its turn comes.
    pub fn packet(bytes: Vec<u8>, packet: Packet) -> Write {
        Write {
            bytes,
            packet: Some(packet),
            hold: Duration::ZERO,
            gap: Duration::ZERO,
        }
    }
}

/// What leaves the queue.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Write(Write),
    /// Close the link (every earlier write has been made).
    Close,
}

#[derive(Debug)]
struct Queued {
    queued_at: Instant,
    out: Out,
}

/// See the module doc.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: VecDeque<Queued>,
    last_write: Option<Instant>,
    /// Closes queued: counted, since the gateway asks before every action.
    closes: usize,
}

impl Outbox {
    pub fn push(&mut self, out: Out, now: Instant) {
        self.closes += usize::from(matches!(out, Out::Close));
        self.queue.push_back(Queued {
            queued_at: now,
            out,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether a close is queued (nothing more should be queued behind it).
    pub fn closing(&self) -> bool {
        self.closes > 0
    }

    /// When the head of the queue may go, if there is one.
    pub fn next_due(&self) -> Option<Instant> {
        let head = self.queue.front()?;
        let (hold, gap) = match &head.out {
            Out::Write(w) => (w.hold, w.gap),
            Out::Close => (Duration::ZERO, Duration::ZERO),
        };
        let held = head.queued_at + hold;
        Some(match self.last_write {
            Some(last) => held.max(last + gap),
            None => held,
        })
    }

    /// The head of the queue if it is due at `now`. A write taken here counts as written at
    /// `now` for the next one's gap.
    pub fn pop_due(&mut self, now: Instant) -> Option<Out> {
        if self.next_due()? > now {
            return None;
        }
        let out = self.queue.pop_front()?.out;
        match out {
            Out::Write(_) => self.last_write = Some(now),
            Out::Close => self.closes -= 1,
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn piece(bytes: &[u8], hold: u64, gap: u64) -> Out {
        Out::Write(Write {
            bytes: bytes.to_vec(),
            packet: None,
            hold: ms(hold),
            gap: ms(gap),
        })
    }

    #[test]
    fn plain_writes_are_due_at_once_in_order() {
        let t0 = Instant::now();
        let mut o = Outbox::default();
        o.push(
            Out::Write(Write::packet(vec![0xD0, 0x00], Packet::Pingresp)),
            t0,
        );
        assert!(!o.closing());
        o.push(Out::Close, t0);
        assert!(o.closing());
        assert_eq!(o.next_due(), Some(t0));
        assert!(matches!(o.pop_due(t0), Some(Out::Write(w)) if w.bytes == [0xD0, 0x00]));
        assert!(o.closing(), "the close is still queued");
        assert_eq!(o.pop_due(t0), Some(Out::Close));
        assert!(!o.closing());
        assert!(o.is_empty());
        assert_eq!(o.next_due(), None);
    }

    #[test]
    fn a_held_write_holds_what_queues_behind_it() {
        let t0 = Instant::now();
        let mut o = Outbox::default();
        o.push(piece(&[0x90, 0x03, 0x00, 0x0A, 0x01], 300, 0), t0);
        o.push(piece(&[0xD0, 0x00], 0, 0), t0 + ms(10));
        assert_eq!(o.pop_due(t0 + ms(299)), None);
        assert_eq!(o.next_due(), Some(t0 + ms(300)));
        assert!(o.pop_due(t0 + ms(300)).is_some());
        // The PINGRESP was due long ago; it goes right after.
        assert!(matches!(o.pop_due(t0 + ms(300)), Some(Out::Write(w)) if w.bytes == [0xD0, 0x00]));
    }

    #[test]
    fn split_pieces_keep_their_gap_from_the_actual_previous_write() {
        let t0 = Instant::now();
        let mut o = Outbox::default();
        o.push(piece(&[0x20, 0x02], 0, 0), t0);
        o.push(piece(&[0x00, 0x00], 0, 100), t0);
        // The first piece is written late (the task was busy): the gap counts from then.
        assert!(o.pop_due(t0 + ms(20)).is_some());
        assert_eq!(o.next_due(), Some(t0 + ms(120)));
        assert_eq!(o.pop_due(t0 + ms(119)), None);
        assert!(matches!(o.pop_due(t0 + ms(120)), Some(Out::Write(w)) if w.bytes == [0x00, 0x00]));
    }

    #[test]
    fn a_close_waits_behind_a_held_write() {
        let t0 = Instant::now();
        let mut o = Outbox::default();
        o.push(piece(&[0x20, 0x02, 0x00, 0x05], 200, 0), t0);
        o.push(Out::Close, t0);
        assert_eq!(o.pop_due(t0 + ms(100)), None);
        assert!(o.pop_due(t0 + ms(200)).is_some());
        assert_eq!(o.pop_due(t0 + ms(200)), Some(Out::Close));
    }
}
