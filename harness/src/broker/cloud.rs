//! The cloud: an in-process rumqttd link ([`CloudLink`]) that publishes downlinks as the
//! console's property set does (seed 002), and [`received`], which the gateway calls for each
//! device PUBLISH it hands rumqttd: the cloud records it and answers property and event posts
//! as the device's platform does (Alibaba Cloud `…/post_reply`, OneNET `…/post/reply`).

use std::sync::{Arc, Mutex};

use super::envelope::{Origin, Publisher, Sealed};
use super::error::BrokerError;
use super::gateway::Shared;
use super::namespace::Namespace;
use super::observed::{SeenDirection, Sighting};
use super::platform::PostReply;
use super::profile::config::Implicit;
use super::rumqttd::{RouterLink, RouterTx, Upward};
use crate::events::{ConnId, RunEvent};
use crate::mqtt::{Packet, Publish, QoS};

/// The cloud's link into rumqttd, for sending only. Clones share it: the handle publishes
/// downlinks through one, the gateway's sessions answer posts through another.
#[derive(Clone)]
pub(crate) struct CloudLink {
    /// `None` once closed.
    tx: Arc<Mutex<Option<RouterTx>>>,
    /// The scope whose topics this cloud publishes and sees.
    namespace: Namespace,
}

impl std::fmt::Debug for CloudLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CloudLink")
    }
}

impl CloudLink {
    /// The cloud's link: it publishes downlinks and answers posts. It subscribes to nothing:
    /// what devices publish reaches the cloud through the gateway ([`received`]), not through
    /// a `#` subscription of its own (that cost every uplink a second trip through rumqttd's
    /// router and a wake-up of one more task).
    pub(crate) fn open(link: RouterLink, namespace: Namespace) -> CloudLink {
        // The receiving half is dropped: with no subscription, rumqttd sends it nothing.
        let RouterLink { tx, rx: _ } = link;
        CloudLink {
            tx: Arc::new(Mutex::new(Some(tx))),
            namespace,
        }
    }

    /// Publishes a downlink; devices subscribed to `topic` receive it at `qos`.
    pub(crate) fn publish(
        &self,
        shared: &Shared,
        topic: &str,
        payload: &[u8],
        qos: QoS,
    ) -> Result<(), BrokerError> {
        self.send(topic, payload, qos)?;
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

    fn send(&self, topic: &str, payload: &[u8], qos: QoS) -> Result<(), BrokerError> {
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
        let mut guard = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let tx = guard
            .as_mut()
            .ok_or_else(|| fail("the cloud link is closed".to_owned()))?;
        tx.send(Upward::Publish {
            topic: self.namespace.inside_topic(topic.as_bytes()),
            payload: Sealed::new(
                Origin {
                    publisher: Publisher::Cloud,
                    qos,
                },
                payload,
            ),
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
        let text = match self.send(&reply.topic, &reply.payload, qos) {
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

/// What the cloud does with a device's PUBLISH that reached it (the gateway calls this once
/// rumqttd has the message): the post as the record shows it at the cloud, and the platform's
/// answer, which the gateway sends once that record is in, so the post comes before its answer.
pub(crate) fn received(
    shared: &Shared,
    conn: ConnId,
    client_id: Option<std::sync::Arc<str>>,
    post: Publish,
) -> (Sighting, Option<Answer>) {
    // The reply is worked out before the post moves into the record (no copy of it).
    let answer = shared.policy.reply_to(&post).map(|reply| Answer {
        conn,
        post_topic: post.topic.clone(),
        reply,
    });
    let seen = Sighting {
        direction: SeenDirection::AtCloud,
        conn: Some(conn),
        client_id,
        packet: Packet::Publish(post),
    };
    (seen, answer)
}

/// The platform's answer to one device post, not sent yet.
pub(crate) struct Answer {
    conn: ConnId,
    post_topic: String,
    reply: PostReply,
}

impl Answer {
    pub(crate) fn send(self, shared: &Shared) {
        shared
            .cloud
            .answer(shared, Some(self.conn), &self.post_topic, self.reply);
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
