//! The embedded rumqttd, reached only through in-process links: [`Rumqttd::start`] starts its
//! router with no listener at all, and [`Rumqttd::link`] opens one [`RouterLink`] per gateway
//! connection and one for the cloud.
//!
//! Why no listener: a TCP port on rumqttd would be a side door around the gateway (anyone on
//! the machine could log in there with no sign and read or publish every device's topics), it
//! costs a file descriptor per device, and rumqttd never sets TCP_NODELAY, so every downlink
//! waited for a delayed ACK. rumqttd 0.20's router runs from `Broker::new`; `start()` only
//! spawns listeners, so it is never called.
//!
//! Why everything at QoS 0 inside: the gateway answers every acknowledgement towards the device
//! itself (CONNACK, SUBACK, UNSUBACK, PUBACK, PINGRESP) and owns the device-side packet ids.
//! rumqttd is only the router: publishes go in at QoS 0 and subscriptions are QoS 0, so it never
//! waits for an acknowledgement, never closes a link over a PUBACK it did not expect (rumqttd
//! refuses out-of-order acks) and never replays anything itself. The QoS a device receives is
//! the publisher's, carried through rumqttd in each message's envelope (`envelope.rs`).
//!
//! This is the only file that builds rumqttd's configuration and, with `plain.rs` (the
//! benchmark's peer), the only one that names rumqttd (STYLE.md rule 7).
//!
//! rumqttd 0.20 has no way to stop its router thread: it lives until the process exits, idle
//! once every link has disconnected (`BrokerHandle::shutdown` closes them).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::protocol::{
    Disconnect, DisconnectReasonCode, Filter, Packet as RPacket, Publish as RPublish, QoS as RQoS,
    RetainForwardRule, Subscribe as RSubscribe, SubscribeReasonCode, Unsubscribe as RUnsubscribe,
};
use rumqttd::Notification;

use super::envelope::{self, Sealed, Stamp};
use super::error::BrokerError;

/// How many links rumqttd's router makes room for. The gateway refuses logins well before
/// this (`Capacity`), so rumqttd is never the one to refuse silently.
pub const ROUTER_CONNECTIONS: usize = 50_000;

/// How long opening a link may take before the login gets CONNACK 3.
pub const LINK_WITHIN: Duration = Duration::from_secs(5);

/// The embedded router. Cheap to share; every link holds a sender into the router thread.
#[derive(Clone)]
pub struct Rumqttd {
    broker: Arc<rumqttd::Broker>,
}

impl std::fmt::Debug for Rumqttd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rumqttd(in-process)")
    }
}

/// What the gateway asks of rumqttd for one connection (topics already namespaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upward {
    /// Subscribe to `filters` (rumqttd answers [`Downward::Subscribed`] with `packet_id`).
    Subscribe {
        packet_id: u16,
        filters: Vec<String>,
    },
    Unsubscribe {
        filters: Vec<String>,
    },
    /// A message into the router (always QoS 0 inside, see the module doc). The topic is
    /// shared bytes, so a link that publishes on the same topic again reuses them.
    Publish {
        topic: Bytes,
        payload: Sealed,
        retain: bool,
    },
}

/// What rumqttd hands a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Downward {
    /// The subscription with this packet id is in place; one return code per filter
    /// (`0x80` for a filter rumqttd refused).
    Subscribed {
        packet_id: u16,
        return_codes: Vec<u8>,
    },
    /// A message on a topic the link subscribed to, with its publisher's envelope (one per
    /// message: rumqttd's copies for several matching filters share it). The topic is
    /// rumqttd's own bytes: whoever needs it as text checks it then ([`topic_text`]).
    Message {
        topic: Bytes,
        payload: Bytes,
        retain: bool,
        stamp: Stamp,
    },
}

/// One in-process connection into rumqttd: a sending and a receiving half, which the cloud
/// side uses from different tasks.
#[derive(Debug)]
pub struct RouterLink {
    pub tx: RouterTx,
    pub rx: RouterRx,
}

/// The sending half; dropping it leaves the router.
pub struct RouterTx {
    tx: LinkTx,
    closed: bool,
}

/// The receiving half.
pub struct RouterRx {
    rx: LinkRx,
}

impl std::fmt::Debug for RouterTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouterTx")
    }
}

impl std::fmt::Debug for RouterRx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterRx")
            .field("id", &self.rx.id())
            .finish()
    }
}

impl Rumqttd {
    /// The process's router, started (a thread of its own, with no listener) on first use.
    /// Every broker of the process links into it under a scope of its own (`namespace.rs`),
    /// since a router can never be stopped.
    pub fn shared() -> Rumqttd {
        static ROUTER: std::sync::OnceLock<Rumqttd> = std::sync::OnceLock::new();
        ROUTER
            .get_or_init(|| Rumqttd {
                broker: Arc::new(rumqttd::Broker::new(config())),
            })
            .clone()
    }

    /// Opens a link under `client_id` (unique per connection: the gateway, not rumqttd, decides
    /// which login of a device wins). rumqttd answers on its router thread; the wait runs on a
    /// blocking thread so a busy router never stalls the gateway's tasks.
    pub async fn link(&self, client_id: String) -> Result<RouterLink, BrokerError> {
        let broker = self.broker.clone();
        let id = client_id.clone();
        let opened = tokio::time::timeout(
            LINK_WITHIN,
            tokio::task::spawn_blocking(move || broker.link(&id).map_err(|e| e.to_string())),
        )
        .await;
        let fail = |reason: String| BrokerError::Link {
            client_id: client_id.clone(),
            reason,
        };
        match opened {
            Ok(Ok(Ok((tx, rx)))) => Ok(RouterLink {
                tx: RouterTx { tx, closed: false },
                rx: RouterRx { rx },
            }),
            Ok(Ok(Err(e))) => Err(fail(format!("rumqttd refused it ({e})"))),
            Ok(Err(e)) => Err(fail(format!("its thread failed ({e})"))),
            Err(_) => Err(fail(format!(
                "rumqttd did not answer within {LINK_WITHIN:?}"
            ))),
        }
    }
}

impl RouterLink {
    pub fn try_next(&mut self) -> Option<Downward> {
        self.rx.try_next()
    }

    pub fn send(&mut self, up: Upward) -> Result<(), BrokerError> {
        self.tx.send(up)
    }

    pub async fn next(&mut self) -> Option<Downward> {
        self.rx.next().await
    }

    pub fn close(&mut self) {
        self.tx.close()
    }
}

impl RouterTx {
    /// Hands `up` to the router. Fails only once the router is gone.
    pub fn send(&mut self, up: Upward) -> Result<(), BrokerError> {
        self.push(packet(up))
    }

    /// Hands a burst to the router with one wake-up of its thread instead of one per packet:
    /// the router takes the link's whole buffer on each notification.
    /// Takes everything out of `ups`, which keeps its capacity for the caller's next burst.
    pub fn send_all(&mut self, ups: &mut Vec<Upward>) -> Result<(), BrokerError> {
        let mut ups = ups.drain(..);
        let Some(last) = ups.next_back() else {
            return Ok(());
        };
        self.tx.buffer().extend(ups.map(packet));
        self.push(packet(last))
    }

    /// `LinkTx::send` is `async` in name only: it pushes onto a buffer and notifies the router
    /// through a bounded channel, so it is driven to completion here.
    fn push(&mut self, packet: RPacket) -> Result<(), BrokerError> {
        let sent = block_on_ready(self.tx.send(packet));
        sent.map(|_| ()).map_err(|e| BrokerError::Router {
            reason: e.to_string(),
        })
    }

    /// Leaves the router (it forgets the link's subscriptions). Idempotent.
    pub fn close(&mut self) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        let disconnect = Disconnect {
            reason_code: DisconnectReasonCode::NormalDisconnection,
        };
        let _ = self.push(RPacket::Disconnect(disconnect, None));
    }
}

impl RouterRx {
    /// What rumqttd has already handed this link, without waiting: lets a caller take a whole
    /// burst and answer it with one write instead of one per message.
    pub fn try_next(&mut self) -> Option<Downward> {
        use std::future::Future;
        use std::task::{Context, Poll};
        let mut cx = Context::from_waker(noop_waker());
        loop {
            // `LinkRx::next` takes from its cache first and otherwise polls a channel receive
            // that is cancel-safe, so dropping it after one `Pending` loses nothing.
            let polled = std::pin::pin!(self.rx.next()).poll(&mut cx);
            let Poll::Ready(got) = polled else {
                return None;
            };
            match read(got) {
                Read::Down(down) => return Some(down),
                // The blocking form of `wake`: never left half done.
                Read::Unscheduled => {
                    if self.rx.ready().is_err() {
                        return None;
                    }
                }
                Read::Skip => {}
                Read::Gone => return None,
            }
        }
    }

    /// The next thing rumqttd hands this link; `None` once the router let go of it (it never
    /// does while the gateway holds the link, short of the router thread dying).
    pub async fn next(&mut self) -> Option<Downward> {
        loop {
            match read(self.rx.next().await) {
                Read::Down(down) => return Some(down),
                // The router paused this link because its buffer was full; having drained
                // it, say we are ready for more.
                Read::Unscheduled => {
                    if self.rx.wake().await.is_err() {
                        return None;
                    }
                }
                Read::Skip => {}
                Read::Gone => return None,
            }
        }
    }
}

/// What the router is handed for `up`.
fn packet(up: Upward) -> RPacket {
    match up {
        Upward::Subscribe { packet_id, filters } => RPacket::Subscribe(
            RSubscribe {
                pkid: packet_id,
                filters: filters
                    .into_iter()
                    .map(|path| Filter {
                        path,
                        qos: RQoS::AtMostOnce,
                        nolocal: false,
                        preserve_retain: false,
                        retain_forward_rule: RetainForwardRule::OnEverySubscribe,
                    })
                    .collect(),
            },
            None,
        ),
        Upward::Unsubscribe { filters } => {
            RPacket::Unsubscribe(RUnsubscribe { pkid: 0, filters }, None)
        }
        Upward::Publish {
            topic,
            payload,
            retain,
        } => RPacket::Publish(RPublish::new(topic, payload.into_bytes(), retain), None),
    }
}

/// One notification, as the gateway reads it.
enum Read {
    Down(Downward),
    Unscheduled,
    Skip,
    Gone,
}

fn read(got: Result<Option<Notification>, rumqttd::local::LinkError>) -> Read {
    match got {
        // Every link in this process seals what it publishes, so an unsealed payload cannot
        // come out; were it to, delivering it at a guessed QoS would hide the bug.
        Ok(Some(Notification::Forward(f))) => match envelope::open(f.publish.payload) {
            Some((stamp, payload)) => Read::Down(Downward::Message {
                topic: f.publish.topic,
                payload,
                retain: f.publish.retain,
                stamp,
            }),
            None => Read::Skip,
        },
        // rumqttd does not export its `Ack` type; its conversion into a packet does.
        Ok(Some(ack @ Notification::DeviceAck(_))) => match Option::<RPacket>::from(ack) {
            Some(RPacket::SubAck(ack, _)) => Read::Down(Downward::Subscribed {
                packet_id: ack.pkid,
                return_codes: ack
                    .return_codes
                    .iter()
                    .map(|c| match c {
                        SubscribeReasonCode::QoS0 => 0,
                        SubscribeReasonCode::QoS1 => 1,
                        SubscribeReasonCode::QoS2 => 2,
                        SubscribeReasonCode::Success(q) => *q as u8,
                        _ => 0x80,
                    })
                    .collect(),
            }),
            _ => Read::Skip,
        },
        Ok(Some(Notification::Unschedule)) => Read::Unscheduled,
        Ok(Some(Notification::Disconnect(..))) | Err(_) => Read::Gone,
        Ok(Some(_)) | Ok(None) => Read::Skip,
    }
}

impl Drop for RouterTx {
    /// A link dropped without a DISCONNECT would keep its slot in the router for ever.
    fn drop(&mut self) {
        self.close();
    }
}

/// Polls a future that never really waits (see [`RouterLink::push`]) to completion.
fn block_on_ready<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(noop_waker());
    loop {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::yield_now();
    }
}

/// A waker that does nothing, one for the process: polls that never really wait run for every
/// message of a burst and every hand-over, and an `Arc` each was an allocation each.
fn noop_waker() -> &'static std::task::Waker {
    use std::sync::OnceLock;
    use std::task::{Wake, Waker};
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    static NOOP: OnceLock<Waker> = OnceLock::new();
    NOOP.get_or_init(|| Waker::from(Arc::new(Noop)))
}

/// A forwarded topic as text. Every topic in rumqttd came from a link of this process as a
/// `&str`, so this fails only on a bug; the caller drops such a message.
pub fn topic_text(topic: &Bytes) -> Option<&str> {
    std::str::from_utf8(topic).ok()
}

/// rumqttd's configuration, built in code. No listener (see the module doc). Limits are generous
/// where the gateway plays the cloud's own, and tight where memory would grow: each topic's log
/// keeps at most `max_segment_count` segments of `max_segment_size`, so a week of traffic holds
/// a few MB per busy topic, not every message.
pub(crate) fn config() -> rumqttd::Config {
    let router = rumqttd::RouterConfig {
        max_connections: ROUTER_CONNECTIONS,
        max_outgoing_packet_count: 200,
        max_segment_size: 256 * 1024,
        max_segment_count: 2,
        custom_segment: None,
        initialized_filters: None,
        shared_subscriptions_strategy: rumqttd::Strategy::default(),
    };
    rumqttd::Config {
        id: 0,
        router,
        v4: None,
        ..rumqttd::Config::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::envelope::{Origin, Publisher};

    #[tokio::test]
    async fn a_link_receives_what_another_publishes() {
        let r = Rumqttd::shared();
        let mut sub = r.link("t-sub".into()).await.unwrap();
        let mut publ = r.link("t-pub".into()).await.unwrap();
        sub.send(Upward::Subscribe {
            packet_id: 7,
            filters: vec!["a/#".into()],
        })
        .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap();
        assert_eq!(
            got,
            Some(Downward::Subscribed {
                packet_id: 7,
                return_codes: vec![0]
            })
        );
        let origin = Origin {
            publisher: Publisher::Device { conn: 3 },
            qos: crate::mqtt::QoS::AtLeastOnce,
        };
        publ.send(Upward::Publish {
            topic: "a/b".into(),
            payload: Sealed::new(origin, b"hi"),
            retain: false,
        })
        .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap();
        let Some(Downward::Message {
            topic,
            payload,
            retain,
            stamp,
        }) = got
        else {
            panic!("expected the message, got {got:?}");
        };
        assert_eq!(
            (topic_text(&topic), &payload[..], retain),
            (Some("a/b"), &b"hi"[..], false)
        );
        assert_eq!(stamp.origin, origin);
    }
}
