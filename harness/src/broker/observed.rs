//! What the broker saw: [`Observed`] keeps every packet each device sent and received, every
//! uplink that reached the cloud, every refusal and every packet the cloud dropped, in one
//! ordered record that assertions (the runner's `broker_saw` step) wait on with a deadline.
//!
//! Memory stays flat however long the broker runs: a mark (the start of a scenario) drops
//! everything before it, since nothing may look behind the mark, and a [`Window`] caps what is
//! kept since (a stand-alone broker, which nobody marks, keeps only its most recent traffic).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
#[cfg(test)]
use std::time::Duration;
use std::time::{Instant, SystemTime};

use tokio::sync::watch;

use super::error::BrokerError;
use super::policy::RefusalReason;
use crate::events::ConnId;
use crate::mqtt::{Packet, PacketType};

/// Where in the path module → gateway → rumqttd → cloud a packet was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeenDirection {
    /// The device sent it to the gateway (what the module put on the wire).
    FromDevice,
    /// The gateway sent it to the device (what the module received).
    ToDevice,
    /// The cloud link received it from rumqttd: an uplink PUBLISH that made it through.
    AtCloud,
}

/// One packet the broker saw, with which connection and client it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenPacket {
    /// Position in the broker's record; later packets have larger numbers.
    pub seq: u64,
    pub at: SystemTime,
    pub direction: SeenDirection,
    /// The device's connection; for `AtCloud`, the connection that published it, if known.
    pub conn: Option<ConnId>,
    /// The MQTT client id of that connection, once its CONNECT was read (shared by all the
    /// connection's packets: a copy per packet was an allocation per message).
    pub client_id: Option<Arc<str>>,
    pub packet: Packet,
}

/// A packet on its way into the record ([`Observed::record_packets`]).
#[derive(Debug)]
pub struct Sighting {
    pub direction: SeenDirection,
    pub conn: Option<ConnId>,
    pub client_id: Option<Arc<str>>,
    pub packet: Packet,
}

/// A CONNECT the gateway refused, as an assertion would state it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub seq: u64,
    pub at: SystemTime,
    pub conn: ConnId,
    pub client_id: String,
    /// The CONNACK return code sent before closing.
    pub code: u8,
    pub reason: RefusalReason,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "refused client {:?} with code {} because {}",
            self.client_id, self.code, self.reason
        )
    }
}

/// A packet from a device that the cloud did not take (an unpermitted or oversized PUBLISH, a
/// refused subscription), with why, as `drops()` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub seq: u64,
    pub at: SystemTime,
    pub conn: ConnId,
    /// The MQTT client id of that connection.
    pub client_id: Option<String>,
    pub packet: PacketType,
    /// One line, e.g. "device a1ndPQHcX7f/device2 may not publish to … (cloud log code 9236)".
    pub reason: String,
}

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dropped a {} from client {:?}: {}",
            self.packet.name(),
            self.client_id.as_deref().unwrap_or("?"),
            self.reason
        )
    }
}

/// A point in the record: `wait_seen`, `seen` and `refusals` look only at what came after the
/// current mark, so each scenario sees its own traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark(pub u64);

/// How much the record keeps since the mark: the oldest entries go first once either bound
/// is passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub max_entries: usize,
    /// Payload and topic bytes, roughly.
    pub max_bytes: usize,
}

impl Window {
    /// For a run: far more than a scenario's assertions look at, still bounded.
    pub fn scenario() -> Window {
        Window {
            max_entries: 100_000,
            max_bytes: 64 * 1024 * 1024,
        }
    }

    /// For a stand-alone broker, which nobody marks: the last few hundred packets.
    pub fn recent() -> Window {
        Window {
            max_entries: 1000,
            max_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug)]
struct Record {
    next_seq: u64,
    mark: u64,
    window: Window,
    bytes: usize,
    seen: VecDeque<SeenPacket>,
    refusals: VecDeque<Refusal>,
    drops: VecDeque<Dropped>,
}

impl Record {
    fn entries(&self) -> usize {
        self.seen.len() + self.refusals.len() + self.drops.len()
    }

    /// Drops the oldest entries until the window holds.
    fn trim(&mut self) {
        // Refusals and drops are rare: with none kept, the oldest entry is always a packet
        // and the three-way comparison below is skipped (it ran for every packet of a flood).
        if self.refusals.is_empty() && self.drops.is_empty() {
            while self.seen.len() > self.window.max_entries || self.bytes > self.window.max_bytes {
                let Some(p) = self.seen.pop_front() else {
                    self.bytes = 0;
                    return;
                };
                self.bytes = self.bytes.saturating_sub(weight(&p.packet));
            }
            return;
        }
        while self.entries() > self.window.max_entries || self.bytes > self.window.max_bytes {
            let oldest = [
                self.seen.front().map(|p| p.seq),
                self.refusals.front().map(|r| r.seq),
                self.drops.front().map(|d| d.seq),
            ];
            let Some(min) = oldest.iter().flatten().min().copied() else {
                self.bytes = 0;
                return;
            };
            if oldest[0] == Some(min) {
                if let Some(p) = self.seen.pop_front() {
                    self.bytes = self.bytes.saturating_sub(weight(&p.packet));
                }
            } else if oldest[1] == Some(min) {
                self.refusals.pop_front();
            } else {
                self.drops.pop_front();
            }
        }
    }
}

/// Roughly what a packet costs to keep.
fn weight(packet: &Packet) -> usize {
    const OVERHEAD: usize = 96;
    match packet {
        Packet::Publish(p) => OVERHEAD + p.topic.len() + p.payload.len(),
        Packet::Connect(c) => {
            OVERHEAD + c.client_id.len() + c.password.as_ref().map_or(0, Vec::len) + 64
        }
        _ => OVERHEAD,
    }
}

/// The shared record; cheap to read, written by every session and the cloud link.
#[derive(Debug)]
pub struct Observed {
    record: Mutex<Record>,
    /// Bumped on every addition so waiters wake at once instead of polling.
    changed: watch::Sender<u64>,
}

impl Default for Observed {
    fn default() -> Self {
        Observed::new(Window::scenario())
    }
}

impl Observed {
    pub fn new(window: Window) -> Observed {
        Observed {
            record: Mutex::new(Record {
                next_seq: 0,
                mark: 0,
                window,
                bytes: 0,
                seen: VecDeque::new(),
                refusals: VecDeque::new(),
                drops: VecDeque::new(),
            }),
            changed: watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        // A panic while holding this lock leaves plain data behind; keep using it.
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes the assertions waiting now. Nobody waits most of the time (a stand-alone broker,
    /// a run between `broker_saw` steps): then the watch is left alone, which saves a wake-up
    /// per packet under a flood. A waiter subscribes before it looks, so it misses nothing.
    fn changed_now(&self, seq: u64) {
        if self.changed.receiver_count() > 0 {
            self.changed.send_replace(seq);
        }
    }

    /// Records packets seen together at `at`, in order: one lock, one clock reading and one
    /// trim for a whole turn of a connection (a flood's read holds a hundred PUBLISHes).
    pub fn record_packets(&self, at: SystemTime, sightings: impl IntoIterator<Item = Sighting>) {
        let seq = {
            let mut r = self.lock();
            let before = r.next_seq;
            for Sighting {
                direction,
                conn,
                client_id,
                packet,
            } in sightings
            {
                let seq = r.next_seq;
                r.next_seq += 1;
                r.bytes += weight(&packet);
                r.seen.push_back(SeenPacket {
                    seq,
                    at,
                    direction,
                    conn,
                    client_id,
                    packet,
                });
            }
            if r.next_seq == before {
                return;
            }
            r.trim();
            r.next_seq - 1
        };
        self.changed_now(seq);
    }

    pub fn record_refusal(&self, conn: ConnId, client_id: String, code: u8, reason: RefusalReason) {
        let seq = {
            let mut r = self.lock();
            let seq = r.next_seq;
            r.next_seq += 1;
            r.refusals.push_back(Refusal {
                seq,
                at: SystemTime::now(),
                conn,
                client_id,
                code,
                reason,
            });
            r.trim();
            seq
        };
        self.changed_now(seq);
    }

    pub fn record_drop(
        &self,
        conn: ConnId,
        client_id: Option<String>,
        packet: PacketType,
        reason: String,
    ) {
        let seq = {
            let mut r = self.lock();
            let seq = r.next_seq;
            r.next_seq += 1;
            r.drops.push_back(Dropped {
                seq,
                at: SystemTime::now(),
                conn,
                client_id,
                packet,
                reason,
            });
            r.trim();
            seq
        };
        self.changed_now(seq);
    }

    /// From now on, queries see only what happens after this call; what came before is
    /// forgotten.
    pub fn mark(&self) -> Mark {
        let mut r = self.lock();
        r.mark = r.next_seq;
        r.seen.clear();
        r.refusals.clear();
        r.drops.clear();
        r.bytes = 0;
        Mark(r.mark)
    }

    /// How many packets, refusals and drops are kept now (the window's measure).
    pub fn kept(&self) -> usize {
        self.lock().entries()
    }

    /// Every packet since the current mark, in order.
    pub fn seen(&self) -> Vec<SeenPacket> {
        let r = self.lock();
        let mark = r.mark;
        r.seen.iter().filter(|p| p.seq >= mark).cloned().collect()
    }

    /// Every refusal since the current mark, in order.
    pub fn refusals(&self) -> Vec<Refusal> {
        let r = self.lock();
        let mark = r.mark;
        r.refusals
            .iter()
            .filter(|p| p.seq >= mark)
            .cloned()
            .collect()
    }

    /// Every dropped packet since the current mark, in order.
    pub fn drops(&self) -> Vec<Dropped> {
        let r = self.lock();
        let mark = r.mark;
        r.drops.iter().filter(|d| d.seq >= mark).cloned().collect()
    }

    /// The first packet since the mark that matches, waiting for it until `deadline`.
    /// Returns as soon as a matching packet is recorded; never sleeps on a timer to poll.
    pub async fn wait_seen<F>(
        &self,
        predicate: F,
        deadline: Instant,
    ) -> Result<SeenPacket, BrokerError>
    where
        F: Fn(&SeenPacket) -> bool,
    {
        let started = Instant::now();
        let mut changes = self.changed.subscribe();
        // The next sequence number to look at: entries are only ever added at the back.
        let mut from = 0u64;
        loop {
            // Mark the current version as seen *before* looking, so an addition made while we
            // look wakes the `changed()` below.
            changes.borrow_and_update();
            {
                let r = self.lock();
                let floor = r.mark.max(from);
                if let Some(p) = r
                    .seen
                    .iter()
                    .rev()
                    .take_while(|p| p.seq >= floor)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .find(|p| predicate(p))
                {
                    return Ok(p.clone());
                }
                from = r.next_seq;
            }
            let until = tokio::time::Instant::from_std(deadline);
            match tokio::time::timeout_at(until, changes.changed()).await {
                Ok(Ok(())) => continue,
                // The sender lives in `self`, so it cannot be dropped while we borrow it; a
                // closed channel would still mean "nothing more will come".
                Ok(Err(_)) | Err(_) => {
                    let seen = self.seen();
                    return Err(BrokerError::NotSeen {
                        waited: started.elapsed(),
                        seen: seen.len(),
                        last_seen: seen.last().map(describe),
                    });
                }
            }
        }
    }
}

/// One line for an error message: direction, client and packet type.
fn describe(p: &SeenPacket) -> String {
    let who = p.client_id.as_deref().unwrap_or("?");
    let what = match &p.packet {
        Packet::Publish(publish) => format!("PUBLISH to {}", publish.topic),
        other => other.packet_type().name().to_owned(),
    };
    format!("{what} {:?} client {who:?}", p.direction)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sighting(client: &str) -> Sighting {
        Sighting {
            direction: SeenDirection::FromDevice,
            conn: Some(1),
            client_id: Some(client.into()),
            packet: Packet::Pingreq,
        }
    }

    fn ping(o: &Observed, client: &str) {
        o.record_packets(SystemTime::now(), [sighting(client)]);
    }

    #[test]
    fn a_turns_packets_enter_in_order_and_the_window_still_holds() {
        let o = Observed::new(Window {
            max_entries: 2,
            max_bytes: usize::MAX,
        });
        ping(&o, "first");
        o.record_packets(SystemTime::UNIX_EPOCH, []);
        let at = SystemTime::now();
        o.record_packets(at, ["a", "b", "c"].map(sighting));
        let seen = o.seen();
        let clients: Vec<_> = seen.iter().map(|p| p.client_id.as_deref()).collect();
        assert_eq!(clients, [Some("b"), Some("c")]);
        // "first" took 0, the empty turn took nothing, a b c took 1 2 3.
        assert_eq!(seen.iter().map(|p| p.seq).collect::<Vec<_>>(), [2, 3]);
        assert!(seen.iter().all(|p| p.at == at));
    }

    #[tokio::test]
    async fn wait_returns_as_soon_as_a_match_arrives() {
        let o = Arc::new(Observed::default());
        let writer = o.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            ping(&writer, "other");
            ping(&writer, "device2");
        });
        let started = Instant::now();
        let got = o
            .wait_seen(
                |p| p.client_id.as_deref() == Some("device2"),
                Instant::now() + Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert_eq!(got.client_id.as_deref(), Some("device2"));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn wait_times_out_within_its_deadline_and_says_what_it_saw() {
        let o = Observed::default();
        ping(&o, "other");
        let started = Instant::now();
        let err = o
            .wait_seen(|_| false, Instant::now() + Duration::from_millis(100))
            .await
            .unwrap_err();
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(100) && waited < Duration::from_secs(1));
        let text = err.to_string();
        assert!(text.contains("1 packets seen since the mark"), "{text}");
        assert!(text.contains("PINGREQ"), "{text}");
    }

    #[tokio::test]
    async fn mark_hides_earlier_traffic() {
        let o = Observed::default();
        ping(&o, "old");
        o.mark();
        assert!(o.seen().is_empty());
        let err = o
            .wait_seen(
                |p| p.client_id.as_deref() == Some("old"),
                Instant::now() + Duration::from_millis(20),
            )
            .await;
        assert!(err.is_err());
        ping(&o, "new");
        assert_eq!(o.seen().len(), 1);
    }

    #[test]
    fn drops_are_kept_since_the_mark() {
        let o = Observed::default();
        o.record_drop(1, Some("old".into()), PacketType::Publish, "before".into());
        o.mark();
        o.record_drop(2, Some("new".into()), PacketType::Subscribe, "after".into());
        let drops = o.drops();
        assert_eq!(drops.len(), 1);
        assert_eq!((drops[0].conn, drops[0].packet), (2, PacketType::Subscribe));
        assert_eq!(
            drops[0].to_string(),
            "dropped a SUBSCRIBE from client \"new\": after"
        );
    }
}
