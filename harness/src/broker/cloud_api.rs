//! The cloud side as an MQTT listener, for a stand-alone `athil broker`: what the real cloud's
//! console and server-side APIs do (publish a downlink such as a property set, watch every
//! device's uplinks), offered to any MQTT 3.1.1 client that logs in with the broker's cloud
//! credential ([`CloudCredential`]). Main items: [`CloudApiConfig`], [`run`].
//!
//! Unlike the gateway's port, this one plays no device rules: a logged-in client may subscribe
//! to any filter and publish to any topic of the broker's scope. So it is never open without a
//! credential: a CONNECT without user name and password gets CONNACK 5 (not authorized), a
//! wrong one CONNACK 4 (bad user name or password), each then closed, and neither is ever
//! reached through rumqttd, which has no listener at all (`rumqttd.rs`).
//!
//! A PUBLISH here is a downlink at its own QoS (0 or 1), as `BrokerHandle::publish` makes one;
//! what this client receives arrives at the publisher's QoS, capped by what it subscribed with.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{timeout, Instant};

use super::envelope::{Origin, Publisher, Sealer};
use super::error::BrokerError;
use super::gateway::{stopped, Shared};
use super::namespace::RecentTopics;
use super::profile::topics::covers;
use super::rumqttd::{topic_text, Downward, RouterLink, Upward};
use crate::mqtt::framer::Framer;
use crate::mqtt::{
    decode, decode_publish_ref, encode, encode_into, encode_publish_into, Connack, Connect,
    EncodeError, Packet, PublishRef, QoS, Suback,
};

/// A client that sends no CONNECT within this is closed.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);
/// A client that stops reading for this long is closed rather than left to block deliveries.
const WRITE_WITHIN: Duration = Duration::from_secs(10);
/// Largest packet a cloud client may send (rumqttd's payload limit and headers).
const MAX_PACKET: usize = 1024 * 1024 + 1024;
/// At most this many messages rumqttd already has for the client are taken in one turn.
const BURST: usize = 256;

/// The user name and password the cloud side takes. The password is a secret: it comes from a
/// file or an environment variable, and is never printed.
#[derive(Clone)]
pub struct CloudCredential {
    pub user: String,
    password: String,
}

impl std::fmt::Debug for CloudCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudCredential")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

impl CloudCredential {
    /// A credential; an empty password is refused (it would let anyone in).
    pub fn new(user: String, password: String) -> Result<CloudCredential, BrokerError> {
        if user.is_empty() || password.is_empty() {
            return Err(BrokerError::CloudCredential {
                reason: "the user name and the password must both be non-empty".to_owned(),
            });
        }
        Ok(CloudCredential { user, password })
    }

    /// The password from the first line of `path` (a trailing newline is not part of it).
    pub fn from_file(user: String, path: &std::path::Path) -> Result<Self, BrokerError> {
        let text = std::fs::read_to_string(path).map_err(|e| BrokerError::CloudCredential {
            reason: format!("read `{}`: {e}", path.display()),
        })?;
        let password = text.lines().next().unwrap_or_default().to_owned();
        CloudCredential::new(user, password)
    }

    /// Whether a CONNECT's user name and password are this credential; the password is
    /// compared in constant time.
    fn admits(&self, user: &str, password: &[u8]) -> bool {
        let want = self.password.as_bytes();
        let same_len = want.len() == password.len();
        let diff = want
            .iter()
            .zip(password.iter().chain(std::iter::repeat(&0)))
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        user == self.user && same_len && diff == 0
    }

    /// The password itself, for the report redactor of a process that starts the broker.
    pub fn password(&self) -> &str {
        &self.password
    }
}

/// Where the cloud side listens and whom it lets in.
#[derive(Debug, Clone)]
pub struct CloudApiConfig {
    pub listen: SocketAddr,
    pub credential: CloudCredential,
}

/// Binds the cloud side's listener.
pub(crate) async fn bind(listen: SocketAddr) -> Result<(TcpListener, SocketAddr), BrokerError> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| BrokerError::CloudListen {
            addr: listen,
            source,
        })?;
    let bound = listener
        .local_addr()
        .map_err(|source| BrokerError::CloudListen {
            addr: listen,
            source,
        })?;
    Ok((listener, bound))
}

/// Accepts cloud clients until `stop`.
pub(crate) async fn run(
    listener: TcpListener,
    credential: CloudCredential,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let credential = Arc::new(credential);
    let next = Arc::new(AtomicU64::new(1));
    let mut clients = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let client = Client::new(n, peer, shared.clone());
                    clients.spawn(client.serve(stream, credential.clone(), stop.clone()));
                }
                Err(e) => {
                    shared.note(None, format!("cloud side: accept a connection: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = clients.join_next(), if !clients.is_empty() => {}
        }
    }
    clients.abort_all();
}

/// One cloud client.
struct Client {
    n: u64,
    peer: SocketAddr,
    shared: Arc<Shared>,
    /// Filters → the QoS granted.
    filters: Vec<(String, QoS)>,
    /// Copies rumqttd still owes of a message several filters match, by message number.
    duplicates: HashMap<u64, usize>,
    /// SUBSCRIBEs waiting for rumqttd: packet id → granted QoS per filter.
    pending: HashMap<u16, Vec<u8>>,
    last_id: u16,
    /// Packets for the client, written together once a turn's work is done.
    out: Vec<u8>,
    /// What goes to rumqttd, handed over together at the same moment.
    upward: Vec<Upward>,
    /// The topics this client last published on, as rumqttd names them.
    recent: RecentTopics,
    /// Seals the client's publishes for rumqttd.
    sealer: Sealer,
}

impl Client {
    fn new(n: u64, peer: SocketAddr, shared: Arc<Shared>) -> Client {
        Client {
            n,
            peer,
            shared,
            filters: Vec::new(),
            duplicates: HashMap::new(),
            pending: HashMap::new(),
            last_id: 0,
            out: Vec::new(),
            upward: Vec::new(),
            recent: RecentTopics::default(),
            sealer: Sealer::default(),
        }
    }

    fn has_output(&self) -> bool {
        !self.out.is_empty() || !self.upward.is_empty()
    }

    /// Hands rumqttd what the turn produced for it, then writes the client's packets;
    /// `false` if either side is gone.
    async fn hand_over(&mut self, link: &mut RouterLink, w: &mut OwnedWriteHalf) -> bool {
        if let Err(e) = link.tx.send_all(&mut self.upward) {
            self.note(format!("failed to {e}; closing"));
            return false;
        }
        self.out.is_empty() || flush(w, &mut self.out).await
    }

    /// Adds a packet to what the client gets at the end of this turn; `false` if it cannot
    /// be encoded (the connection ends).
    fn queue(&mut self, packet: Packet) -> bool {
        let encoded = encode_into(&packet, &mut self.out);
        self.encoded(encoded)
    }

    /// Whether a packet for the client went into the write buffer; one that cannot be encoded
    /// closes the client, with why.
    fn encoded(&self, result: Result<(), EncodeError>) -> bool {
        match result {
            Ok(()) => true,
            Err(e) => {
                self.note(format!("failed to encode a packet for it ({e}); closing"));
                false
            }
        }
    }

    fn note(&self, text: impl std::fmt::Display) {
        self.shared.note(
            None,
            format!("cloud side client {} ({}): {text}", self.n, self.peer),
        );
    }

    async fn serve(
        mut self,
        stream: TcpStream,
        credential: Arc<CloudCredential>,
        mut stop: watch::Receiver<bool>,
    ) {
        let _ = stream.set_nodelay(true);
        let (mut r, mut w) = stream.into_split();
        let mut framer = Framer::with_limit(MAX_PACKET);
        let mut buf = vec![0u8; 4096];
        let deadline = Instant::now() + CONNECT_WITHIN;
        // The CONNECT, within its deadline.
        let connect = loop {
            match framer.next_packet() {
                Ok(Some(raw)) => match decode(&raw) {
                    Ok((Packet::Connect(c), _)) => break c,
                    Ok((other, _)) => {
                        return self.note(format!(
                            "the first packet is {}, not CONNECT; closing",
                            other.packet_type()
                        ))
                    }
                    Err(e) => return self.note(format!("a malformed CONNECT ({e}); closing")),
                },
                Ok(None) => {}
                Err(e) => return self.note(format!("cannot frame its bytes ({e}); closing")),
            }
            match tokio::time::timeout_at(deadline, r.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(n)) => framer.push(&buf[..n]),
                Err(_) => return self.note("no CONNECT within 10 s; closing"),
            }
        };
        let Some(mut link) = self.login(&connect, &credential, &mut w).await else {
            return;
        };
        // Made once: a fresh wait on the stop watch every turn took its lock twice.
        let shutdown = stopped(&mut stop);
        tokio::pin!(shutdown);
        loop {
            // What is already framed first, then whichever side speaks.
            let flow = match framer.next_packet_ref() {
                // A plain PUBLISH is passed on from the read buffer, with no Packet built.
                Ok(Some((_, raw))) => match decode_publish_ref(raw) {
                    Some(publish) => self.on_client_publish(publish),
                    None => match decode(raw) {
                        Ok((packet, _)) => self.on_client_packet(packet),
                        Err(e) => {
                            self.note(format!("a malformed packet ({e}); closing"));
                            false
                        }
                    },
                },
                Err(e) => {
                    self.note(format!("cannot frame its bytes ({e}); closing"));
                    false
                }
                Ok(None) if self.has_output() => self.hand_over(&mut link, &mut w).await,
                Ok(None) => tokio::select! {
                    _ = &mut shutdown => false,
                    read = r.read(&mut buf) => match read {
                        Ok(0) | Err(_) => false,
                        Ok(n) => { framer.push(&buf[..n]); true }
                    },
                    down = link.next() => match down {
                        Some(down) => {
                            // Take the whole burst rumqttd already has, answered in one write.
                            let mut flow = self.on_router(down);
                            for _ in 0..BURST {
                                match link.try_next() {
                                    Some(more) if flow => flow = self.on_router(more),
                                    _ => break,
                                }
                            }
                            flow
                        }
                        None => false,
                    },
                },
            };
            // Written when the turn's work is done: before waiting again, or at the end.
            let idle = framer.buffered().is_empty() || !flow;
            if idle && self.has_output() && !self.hand_over(&mut link, &mut w).await {
                break;
            }
            if !flow {
                break;
            }
        }
        link.close();
    }

    /// Checks the credential and answers the CONNECT; the client's link once admitted.
    async fn login(
        &mut self,
        connect: &Connect,
        credential: &CloudCredential,
        w: &mut OwnedWriteHalf,
    ) -> Option<RouterLink> {
        let code = match (&connect.username, &connect.password) {
            (Some(user), Some(password)) if credential.admits(user, password) => 0,
            (Some(_), Some(_)) => 4,
            _ => 5,
        };
        if code != 0 {
            self.note(format!(
                "refused client {:?} with code {code}: {}; closing",
                connect.client_id,
                if code == 4 {
                    "the user name or password is not the cloud side's"
                } else {
                    "the cloud side takes no login without user name and password"
                }
            ));
            let _ = send(w, Packet::Connack(connack(code))).await;
            return None;
        }
        let id = format!("cloud-api.{}", self.n);
        let link = match self
            .shared
            .rumqttd
            .link(self.shared.namespace.client_id(&id))
            .await
        {
            Ok(l) => l,
            Err(e) => {
                self.note(format!("failed to {e}; answering CONNACK 3"));
                let _ = send(w, Packet::Connack(connack(3))).await;
                return None;
            }
        };
        self.note(format!("logged in as {:?}", connect.client_id));
        send(w, Packet::Connack(connack(0))).await.then_some(link)
    }

    /// One packet from the client; `false` ends the connection.
    fn on_client_packet(&mut self, packet: Packet) -> bool {
        // The Arc, not the namespace: a copy of its name for every packet (each PUBACK of a
        // flood) was an allocation each.
        let shared = self.shared.clone();
        let ns = &shared.namespace;
        match packet {
            Packet::Publish(p) => self.on_client_publish(p.borrowed()),
            Packet::Subscribe(s) => {
                let granted: Vec<u8> = s.filters.iter().map(|f| (f.qos as u8).min(1)).collect();
                for (f, g) in s.filters.iter().zip(&granted) {
                    let qos = QoS::try_from(*g).unwrap_or(QoS::AtMostOnce);
                    self.filters.retain(|(have, _)| *have != f.filter);
                    self.filters.push((f.filter.clone(), qos));
                }
                self.pending.insert(s.packet_id, granted);
                let up = Upward::Subscribe {
                    packet_id: s.packet_id,
                    filters: s.filters.iter().map(|f| ns.inside(&f.filter)).collect(),
                };
                self.upward.push(up);
                true
            }
            Packet::Unsubscribe(u) => {
                self.filters.retain(|(f, _)| !u.filters.contains(f));
                let up = Upward::Unsubscribe {
                    filters: u.filters.iter().map(|f| ns.inside(f)).collect(),
                };
                self.upward.push(up);
                self.queue(Packet::Unsuback {
                    packet_id: u.packet_id,
                })
            }
            Packet::Pingreq => self.queue(Packet::Pingresp),
            Packet::Disconnect => false,
            // Acknowledgements of what this client received need nothing more.
            Packet::Puback { .. } => true,
            other => {
                self.note(format!(
                    "a {} is not expected here; closing",
                    other.packet_type()
                ));
                false
            }
        }
    }

    /// A PUBLISH from the client: into rumqttd as the cloud's, acknowledged at QoS 1.
    fn on_client_publish(&mut self, p: PublishRef) -> bool {
        if p.qos == QoS::ExactlyOnce {
            self.note(format!(
                "a QoS 2 PUBLISH to {}; the cloud has none, closing",
                p.topic
            ));
            return false;
        }
        let origin = Origin {
            publisher: Publisher::Cloud,
            qos: p.qos,
        };
        let up = Upward::Publish {
            topic: self.recent.inside(&self.shared.namespace, p.topic),
            payload: self.sealer.seal(origin, p.payload),
            retain: false,
        };
        self.upward.push(up);
        match p.packet_id {
            Some(id) if p.qos == QoS::AtLeastOnce => self.queue(Packet::Puback { packet_id: id }),
            _ => true,
        }
    }

    /// One thing from rumqttd; `false` ends the connection.
    fn on_router(&mut self, down: Downward) -> bool {
        match down {
            Downward::Subscribed {
                packet_id,
                return_codes,
            } => {
                let Some(granted) = self.pending.remove(&packet_id) else {
                    return true;
                };
                let return_codes = granted
                    .into_iter()
                    .zip(return_codes.into_iter().chain(std::iter::repeat(0x80)))
                    .map(|(g, up)| if up & 0x80 != 0 { up } else { g })
                    .collect();
                let suback = Suback {
                    packet_id,
                    return_codes,
                };
                self.queue(Packet::Suback(suback))
            }
            Downward::Message {
                topic,
                payload,
                stamp,
                ..
            } => {
                let ns = &self.shared.namespace;
                let Some(topic) = topic_text(&topic).and_then(|t| ns.outside(t)) else {
                    return true;
                };
                let (matching, granted) = self
                    .filters
                    .iter()
                    .filter(|(f, _)| covers(f, topic))
                    .fold((0, None), |(n, max), (_, q)| (n + 1, max.max(Some(*q))));
                // rumqttd sends one copy per matching filter; the client gets one.
                let key = stamp.message;
                if let Some(owed) = self.duplicates.get_mut(&key) {
                    *owed -= 1;
                    if *owed == 0 {
                        self.duplicates.remove(&key);
                    }
                    return true;
                }
                if matching > 1 {
                    self.duplicates.insert(key, matching - 1);
                }
                let Some(granted) = granted else {
                    return true;
                };
                let qos = stamp.origin.qos.min(granted);
                let packet_id = (qos != QoS::AtMostOnce).then(|| {
                    self.last_id = self.last_id.checked_add(1).unwrap_or(1);
                    self.last_id
                });
                let publish = PublishRef {
                    dup: false,
                    qos,
                    retain: false,
                    topic,
                    packet_id,
                    payload: &payload,
                };
                let encoded = encode_publish_into(publish, &mut self.out);
                self.encoded(encoded)
            }
        }
    }
}

fn connack(code: u8) -> Connack {
    Connack {
        session_present: false,
        return_code: code,
    }
}

/// Writes what was queued; `false` if the client is gone or stopped reading.
async fn flush(w: &mut OwnedWriteHalf, out: &mut Vec<u8>) -> bool {
    let ok = matches!(timeout(WRITE_WITHIN, w.write_all(out)).await, Ok(Ok(())));
    out.clear();
    ok
}

/// Writes one packet; `false` if the client is gone or stopped reading.
async fn send(w: &mut OwnedWriteHalf, packet: Packet) -> bool {
    let Ok(bytes) = encode(&packet) else {
        return false;
    };
    matches!(timeout(WRITE_WITHIN, w.write_all(&bytes)).await, Ok(Ok(())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_admits_only_itself() {
        let c = CloudCredential::new("cloud".into(), "s3cret".into()).unwrap();
        assert!(c.admits("cloud", b"s3cret"));
        assert!(!c.admits("cloud", b"s3cre"));
        assert!(!c.admits("cloud", b"s3cret!"));
        assert!(!c.admits("other", b"s3cret"));
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(CloudCredential::new("cloud".into(), String::new()).is_err());
    }
}
