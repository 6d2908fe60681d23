//! The cloud: an in-process rumqttd link ([`CloudLink`]) that subscribes to every topic,
//! records each uplink that reaches it, answers property and event posts as the device's
//! platform does (Alibaba Cloud `…/post_reply`, OneNET `…/post/reply`), and publishes downlinks as the console's
//! property set does (seed 002).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{timeout_at, Instant};

use super::error::BrokerError;
use super::gateway::{stopped, Shared};
use super::namespace::Namespace;
use super::observed::SeenDirection;
use super::origins::{Origin, Publisher};
use super::platform::PostReply;
use super::profile::config::Implicit;
use super::rumqttd::{Downward, RouterLink, RouterRx, RouterTx, Upward};
use crate::events::{ConnId, RunEvent};
use crate::mqtt::{Packet, Publish, QoS};

/// How long rumqttd may take to confirm the cloud's subscription to `#`.
const SUBSCRIBED_WITHIN: Duration = Duration::from_secs(5);

/// The cloud's sending half. Clones share the one link (the replies to posts go out through
/// the receiving task's clone).
#[derive(Clone)]
pub(crate) struct CloudLink {
    /// `None` once closed.
    tx: Arc<Mutex<Option<RouterTx>>>,
    /// The scope whose topics this cloud publishes and sees.
    namespace: Namespace,
}

/// The cloud's receiving half, with a way to answer what it receives.
pub(crate) struct CloudInbox {
    rx: RouterRx,
    link: CloudLink,
}

impl std::fmt::Debug for CloudLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CloudLink")
    }
}

impl CloudLink {
    /// Subscribes the link to every topic of `namespace` and waits until rumqttd confirms, so
    /// the cloud sees even the first uplink of a run.
    pub(crate) async fn open(
        link: RouterLink,
        namespace: Namespace,
    ) -> Result<(CloudLink, CloudInbox), BrokerError> {
        let fail = |reason: String| BrokerError::CloudLink { reason };
        let RouterLink { mut tx, mut rx } = link;
        tx.send(Upward::Subscribe {
            packet_id: 1,
            filters: vec![namespace.inside("#")],
        })
        .map_err(|e| fail(format!("subscribe to `#`: {e}")))?;
        let deadline = Instant::now() + SUBSCRIBED_WITHIN;
        loop {
            match timeout_at(deadline, rx.next()).await {
                Ok(Some(Downward::Subscribed { .. })) => break,
                Ok(Some(_)) => continue,
                Ok(None) => return Err(fail("rumqttd let go of the link".to_owned())),
                Err(_) => {
                    return Err(fail(format!(
                    "rumqttd did not confirm the subscription to `#` within {SUBSCRIBED_WITHIN:?}"
                )))
                }
            }
        }
        let link = CloudLink {
            tx: Arc::new(Mutex::new(Some(tx))),
            namespace,
        };
        Ok((
            link.clone(),
            CloudInbox {
                rx,
                link: link.clone(),
            },
        ))
    }

    /// Publishes a downlink; devices subscribed to `topic` receive it at `qos`.
    pub(crate) fn publish(
        &self,
        shared: &Shared,
        topic: &str,
        payload: &[u8],
        qos: QoS,
    ) -> Result<(), BrokerError> {
        self.send(shared, topic, payload, qos)?;
        shared.events.emit(RunEvent::BrokerNote {
            conn: None,
            text: format!(
                "the cloud published {} bytes to {topic} at QoS {}",
                payload.len(),
                qos as u8
            ),
        });
        Ok(())
    }

    fn send(
        &self,
        shared: &Shared,
        topic: &str,
        payload: &[u8],
        qos: QoS,
    ) -> Result<(), BrokerError> {
        let fail = |reason: String| BrokerError::Publish {
            topic: topic.to_owned(),
            reason,
        };
        if qos == QoS::ExactlyOnce {
            return Err(fail("the cloud has no QoS 2".to_owned()));
        }
        if topic.is_empty() || topic.contains(['+', '#']) {
            return Err(fail(
                "a topic to publish to must be non-empty and hold no wildcard".to_owned(),
            ));
        }
        // Remember first: the copy rumqttd forwards may reach a session before `publish` returns.
        shared.origins.remember(
            topic,
            payload,
            Origin {
                publisher: Publisher::Cloud,
                qos,
            },
        );
        let mut guard = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let tx = guard
            .as_mut()
            .ok_or_else(|| fail("the cloud link is closed".to_owned()))?;
        tx.send(Upward::Publish {
            topic: self.namespace.inside(topic),
            payload: payload.to_vec().into(),
            retain: false,
        })
        .map_err(|e| fail(e.to_string()))?;
        Ok(())
    }

    /// Answers a device's post as its platform does (Alibaba Cloud §2.8, profile key `thing`;
    /// OneNET's `…/post/reply` and `…/accepted`, its profile's `thing`). The reply reaches the
    /// device only if it subscribed to it or receives pushed downlinks, as on the real cloud.
    fn answer(&self, shared: &Shared, conn: Option<ConnId>, post_topic: &str, reply: PostReply) {
        let qos = reply.qos;
        // Asked before sending: the device's subscriptions as they are when the reply leaves.
        let reaches = conn.map(|c| shared.reach.reaches(c, &reply.topic));
        let text = match self.send(shared, &reply.topic, &reply.payload, qos) {
            Ok(()) => {
                let answered = format!(
                    "the cloud answered the post on {} with code {} on {} at QoS {}",
                    post_topic, reply.code, reply.topic, qos as u8
                );
                match reaches {
                    Some(false) if reply.topic.starts_with('$') => format!(
                        "{answered}; not delivered: the device has not subscribed to it, and \
                         OneNET delivers replies only to subscribers"
                    ),
                    Some(false) => format!(
                        "{answered}; not delivered: the device has not subscribed to it \
                         (topics.implicit = {})",
                        implicit_name(shared.policy.profile().topics.implicit)
                    ),
                    Some(true) | None => answered,
                }
            }
            Err(e) => format!("failed to {e}"),
        };
        shared.events.emit(RunEvent::BrokerNote { conn, text });
    }

    /// Leaves rumqttd, so the router stops queueing for a link nobody reads. Later
    /// `publish` calls fail with "the cloud link is closed".
    pub(crate) fn close(&self) {
        let taken = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut tx) = taken {
            tx.close();
        }
    }
}

/// Records every PUBLISH the cloud receives until `stop`; the cloud's own downlinks, which
/// come back through its `#` subscription, are not uplinks and are skipped.
pub(crate) async fn observe(
    inbox: CloudInbox,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let CloudInbox { mut rx, link } = inbox;
    loop {
        let next = tokio::select! {
            _ = stopped(&mut stop) => return,
            n = rx.next() => n,
        };
        let (topic, payload, retain) = match next {
            Some(Downward::Message {
                topic,
                payload,
                retain,
            }) => (topic, payload, retain),
            Some(Downward::Subscribed { .. }) => continue,
            None => {
                shared.events.emit(RunEvent::BrokerNote {
                    conn: None,
                    text: "the cloud link to rumqttd closed".to_owned(),
                });
                return;
            }
        };
        let Some(topic) = link.namespace.outside(&topic) else {
            continue;
        };
        let topic = topic.to_owned();
        let payload = payload.to_vec();
        let (conn, client_id, qos) = match shared.origins.lookup(&topic, &payload) {
            Some(Origin {
                publisher: Publisher::Cloud,
                ..
            }) => continue,
            Some(Origin {
                publisher: Publisher::Device { conn, client_id },
                qos,
            }) => (Some(conn), client_id, qos),
            None => (None, None, QoS::AtMostOnce),
        };
        let post = Publish {
            dup: false,
            qos,
            retain,
            topic,
            packet_id: None,
            payload,
        };
        // The reply is worked out before the post moves into the record (no copy of it), and
        // sent after, so the record shows the post before anything answers it.
        let reply = (client_id.is_some() || conn.is_some())
            .then(|| {
                shared
                    .policy
                    .reply_to(&post)
                    .map(|r| (post.topic.clone(), r))
            })
            .flatten();
        shared.observed.record_packet(
            SeenDirection::AtCloud,
            conn,
            client_id,
            Packet::Publish(post),
        );
        if let Some((post_topic, reply)) = reply {
            link.answer(&shared, conn, &post_topic, reply);
        }
    }
}

/// The profile key's value as a profile file writes it.
fn implicit_name(implicit: Implicit) -> &'static str {
    match implicit {
        Implicit::Sdk => "sdk",
        Implicit::Always => "always",
        Implicit::Never => "never",
    }
}
