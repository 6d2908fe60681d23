//! The gateway: listens where modules connect, and for each connection drives a [`Session`]
//! between the device's socket and the connection's in-process link into rumqttd, recording
//! every byte and packet both ways. Main items: [`Listen`], [`bind`], [`run`].

use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout, Instant};

use super::capacity::{Capacity, Slot};
use super::cloud::{self, CloudLink};
use super::envelope::{Origin, Publisher, Sealed, Sealer};
use super::error::BrokerError;
use super::fault::{Action, ConnFaults, FaultBoard, Out, Outbox, Side, Write};
use super::namespace::{Namespace, RecentTopics};
use super::observed::{Observed, SeenDirection, Sighting};
use super::packet_budget::{Hidden, PacketBudget};
use super::policy::CloudPolicy;
use super::profile::timers::{Fired, Timers};
use super::reach::Reach;
use super::rumqttd::{topic_text, Downward, RouterLink, Rumqttd, Upward};
use super::session::{refusal, Context, Session, Step};
use crate::events::{ConnId, EventSink, RunEvent, TcpDirection};
use crate::mqtt::{encode, Packet, Publish};

/// A write to a device or to rumqttd that takes longer than this means the peer stopped
/// reading; the link is closed rather than left hanging.
const WRITE_WITHIN: Duration = Duration::from_secs(10);
/// How much of a device's bytes one read takes at first. Small, because 10,000 idle devices
/// each hold one such buffer; a device whose reads fill it gets a larger one, up to
/// [`READ_MAX`], so a flood is read in bursts.
const READ_CHUNK: usize = 2048;
const READ_MAX: usize = 32 * 1024;
/// At most this many messages rumqttd already handed the link are taken in one turn, and their
/// packets written to the device together.
const BURST: usize = 256;
/// After the broker closes a link, unread bytes from the device are read and recorded for at
/// most this long, so the close is a FIN the module sees after the CONNACK, not a reset.
const LINGER: Duration = Duration::from_millis(500);
/// How many random 127.x.y.z addresses to try before giving up.
const LOOPBACK_ATTEMPTS: u32 = 32;

/// Where the gateway listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// Exactly this address (`athil broker` uses 127.0.0.1:1883).
    Addr(SocketAddr),
    /// A random address in 127.0.0.0/8 (all loopback on Linux) on this port, retried while in
    /// use, so parallel runs and tests can all use 1883 and pcaps dissect as MQTT unaided.
    AnyLoopback { port: u16 },
}

impl Default for Listen {
    fn default() -> Self {
        Listen::AnyLoopback { port: 1883 }
    }
}

/// What every session shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub policy: CloudPolicy,
    pub observed: Observed,
    pub events: EventSink,
    /// The embedded router every connection links into.
    pub rumqttd: Rumqttd,
    /// The scope's names inside rumqttd.
    pub namespace: Namespace,
    /// How many device connections the gateway holds.
    pub capacity: Arc<Capacity>,
    /// Whether the raw bytes of each read and write are events too (transcripts and pcaps need
    /// them; the stand-alone broker's log shows whole packets and does not).
    pub byte_events: bool,
    /// Each connection's packet events a second (`None`: all); see [`PacketBudget`].
    pub packet_events_per_second: Option<u32>,
    pub next_conn: AtomicU64,
    /// Injected faults (broker/fault).
    pub faults: FaultBoard,
    /// Which filters bring downlinks to each device (for the cloud's notes).
    pub reach: Reach,
    /// The cloud, which receives what devices publish ([`super::cloud::received`]).
    pub cloud: CloudLink,
}

impl Shared {
    pub(crate) fn note(&self, conn: Option<ConnId>, text: impl Into<String>) {
        self.events.emit(RunEvent::BrokerNote {
            conn,
            text: text.into(),
        });
    }
}

/// Binds the gateway's listener; returns it with the address it is bound to.
pub async fn bind(listen: &Listen) -> Result<(TcpListener, SocketAddr), BrokerError> {
    let (listener, asked) = match listen {
        Listen::Addr(addr) => {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| BrokerError::Listen {
                    addr: *addr,
                    source,
                })?;
            (l, *addr)
        }
        Listen::AnyLoopback { port } => bind_any_loopback(*port).await?,
    };
    let bound = listener
        .local_addr()
        .map_err(|source| BrokerError::Listen {
            addr: asked,
            source,
        })?;
    Ok((listener, bound))
}

async fn bind_any_loopback(port: u16) -> Result<(TcpListener, SocketAddr), BrokerError> {
    for _ in 0..LOOPBACK_ATTEMPTS {
        let addr = SocketAddr::new(IpAddr::V4(random_loopback()), port);
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok((l, addr)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(source) => return Err(BrokerError::Listen { addr, source }),
        }
    }
    Err(BrokerError::NoFreeLoopback {
        port,
        attempts: LOOPBACK_ATTEMPTS,
    })
}

/// 127.x.y.z with z in 1..=254, never 127.0.0.1 (where a developer's `athil broker` runs).
fn random_loopback() -> Ipv4Addr {
    // RandomState is seeded per process and per instance: random enough to spread parallel
    // tests, with no extra dependency.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    let [a, b, c, ..] = h.finish().to_le_bytes();
    let z = 1 + c % 254;
    if (a, b, z) == (0, 0, 1) {
        return Ipv4Addr::new(127, 0, 0, 2);
    }
    Ipv4Addr::new(127, a, b, z)
}

/// Accepts connections until `stop` turns true, then waits for the sessions to close.
pub(crate) async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut sessions = JoinSet::new();
    // Each session gets its own receiver; `stop` itself is borrowed by the select below.
    let for_sessions = stop.clone();
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
                    match shared.capacity.accept() {
                        Some(slot) => {
                            sessions.spawn(serve(conn, stream, peer, slot, shared.clone(), for_sessions.clone()));
                        }
                        None => {
                            // Closed unread: answering would take descriptors the process no
                            // longer has to spare (see capacity.rs).
                            shared.note(Some(conn), format!(
                                "closing a connection from {peer} at once: {} device sockets \
                                 are open, over the limit of {} ({})",
                                shared.capacity.open(), shared.capacity.limit, shared.capacity.why
                            ));
                            drop(stream);
                        }
                    }
                }
                Err(e) => {
                    shared.note(None, format!("accept a connection: {e}"));
                    // Out of file descriptors and the like: do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    // Every session watches `stop` too; they close on their own, each within LINGER.
    let deadline = Instant::now() + LINGER + Duration::from_millis(500);
    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, sessions.join_next()).await {}
    sessions.abort_all();
}

enum Flow {
    Continue,
    Close,
}

/// Who ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The device closed (or its socket failed).
    Device,
    /// The broker closed it for a reason the device should see (a refusal, a protocol error,
    /// rumqttd going away): linger so the last packet arrives before the close.
    Broker,
    /// The broker is shutting down: close at once.
    Shutdown,
}

/// One device connection: the I/O around its [`Session`].
struct Link {
    conn: ConnId,
    shared: Arc<Shared>,
    session: Session,
    device_w: OwnedWriteHalf,
    upstream: Option<RouterLink>,
    /// This connection's armed faults, and the server→module queue they shape.
    faults: ConnFaults,
    outbox: Outbox,
    /// Which packets become events (a stand-alone broker's flood is counted instead).
    budget: Option<PacketBudget>,
    /// The session's client id as records share it ([`Link::client_id`]).
    client_id: Option<Arc<str>>,
    /// When the current turn of [`Link::pump`] woke.
    now: std::time::Instant,
    /// Packets seen this turn, not in the record yet ([`Link::commit`]).
    sightings: Vec<Sighting>,
    /// The cloud's answers to this turn's posts, sent once the posts are in the record.
    answers: Vec<cloud::Answer>,
    /// The downlink filters last told to [`Reach`].
    reached: Vec<String>,
    /// The device's last uplink topics as rumqttd names them.
    inside_topics: RecentTopics,
    /// Seals the device's uplinks for rumqttd.
    sealer: Sealer,
    /// Buffers each turn fills and empties, kept for their capacity: allocating them afresh
    /// every turn was about 5 % of the broker's CPU under a QoS 1 flood.
    scratch: Scratch,
}

/// See [`Link::scratch`].
#[derive(Default)]
struct Scratch {
    /// The session's steps for what woke the turn.
    steps: Vec<Step>,
    /// Those steps with the connection's faults applied; [`Link::execute`] carries them out.
    actions: Vec<Action>,
    /// What goes to rumqttd at the end of the turn, in one hand-over.
    upward: Vec<Upward>,
    /// The device's PUBLISHes the cloud receives once rumqttd has them.
    at_cloud: Vec<Publish>,
    /// Whole packets due together, written to the device in one write, and those packets.
    batch: Vec<u8>,
    batch_packets: Vec<Packet>,
}

async fn serve(
    conn: ConnId,
    device: TcpStream,
    peer: SocketAddr,
    _slot: Slot,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let server = device.local_addr().unwrap_or(peer);
    shared.events.emit(RunEvent::TcpOpened {
        conn,
        client: peer,
        server,
    });
    // Packets are small and each one matters to a test's timing.
    let _ = device.set_nodelay(true);
    let (mut device_r, device_w) = device.into_split();
    let mut link = Link {
        conn,
        shared: shared.clone(),
        session: Session::new(conn),
        device_w,
        upstream: None,
        faults: ConnFaults::new(conn, &shared.faults),
        outbox: Outbox::default(),
        budget: shared
            .packet_events_per_second
            .map(|n| PacketBudget::new(n, std::time::Instant::now())),
        client_id: None,
        now: std::time::Instant::now(),
        sightings: Vec::new(),
        answers: Vec::new(),
        reached: Vec::new(),
        inside_topics: RecentTopics::default(),
        sealer: Sealer::default(),
        scratch: Scratch::default(),
    };
    let end = link.pump(&mut device_r, &mut stop).await;
    link.leave_upstream();
    link.commit();
    shared.faults.disconnected(conn);
    shared.reach.set(conn, Vec::new());
    if end == End::Broker {
        link.linger(&mut device_r).await;
    }
    let by_broker = end != End::Device;
    link.tell_hidden(std::time::Instant::now());
    drop(link);
    shared.events.emit(RunEvent::TcpClosed { conn, by_broker });
}

/// What woke a link's loop.
enum Turn {
    Shutdown,
    /// `n` bytes from the device are in the read buffer.
    DeviceBytes(usize),
    /// The device closed (`None`) or its socket failed.
    DeviceGone(Option<std::io::Error>),
    Router(Option<Downward>),
    FaultsChanged,
    /// A held write in the outbox is due.
    OutboxDue,
    HiddenDue,
    Timer(Fired),
}

impl Link {
    /// Moves bytes until one side closes; and says who closed.
    async fn pump(
        &mut self,
        device_r: &mut OwnedReadHalf,
        stop: &mut watch::Receiver<bool>,
    ) -> End {
        // The profile's CONNECT deadline, idle timer and one-login-per-device kick.
        let mut timers = Timers::start(&self.shared.policy, self.conn);
        let mut dbuf = vec![0u8; READ_CHUNK];
        // The waits that outlive a turn are made once: a fresh wait on a watch each turn took
        // its lock twice (register, unregister), a measurable share of a flood's CPU.
        let shutdown = stopped(stop);
        tokio::pin!(shutdown);
        let mut faults_changed = Box::pin(next_change(self.shared.faults.subscribe()));
        loop {
            let due = self.outbox.next_due().map(Instant::from_std);
            let hidden_due = self
                .budget
                .as_ref()
                .and_then(PacketBudget::due)
                .map(Instant::from_std);
            let turn = tokio::select! {
                _ = &mut shutdown => Turn::Shutdown,
                read = device_r.read(&mut dbuf) => match read {
                    Ok(0) => Turn::DeviceGone(None),
                    Ok(n) => Turn::DeviceBytes(n),
                    Err(e) => Turn::DeviceGone(Some(e)),
                },
                down = read_upstream(&mut self.upstream) => Turn::Router(down),
                board = &mut faults_changed => {
                    faults_changed.set(next_change(board));
                    Turn::FaultsChanged
                }
                _ = sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => Turn::OutboxDue,
                // A flood that stopped: what its last second hid is told now.
                _ = sleep_until(hidden_due.unwrap_or_else(Instant::now)), if hidden_due.is_some() => {
                    Turn::HiddenDue
                }
                fired = timers.fired(&self.shared.policy, self.session.is_connected()) => {
                    Turn::Timer(fired)
                }
            };
            // One clock reading serves the whole turn: under a flood, a reading per packet
            // was a measurable share of the gateway's time.
            self.now = std::time::Instant::now();
            match turn {
                Turn::Shutdown => {
                    self.note("the broker is shutting down; closing");
                    return End::Shutdown;
                }
                Turn::DeviceGone(None) => return End::Device,
                Turn::DeviceGone(Some(e)) => {
                    self.note(format!("the device's connection failed: {e}"));
                    return End::Device;
                }
                Turn::DeviceBytes(n) => {
                    self.on_device_bytes(&dbuf[..n]);
                    if n == dbuf.len() && dbuf.len() < READ_MAX {
                        dbuf.resize(dbuf.len() * 2, 0);
                    }
                }
                Turn::Router(None) => {
                    // Each connection links in under an id of its own, so rumqttd never lets
                    // go of one for another; only a dead router thread ends here.
                    self.note("rumqttd let go of this connection's link; closing");
                    return End::Broker;
                }
                Turn::Router(Some(down)) => self.on_router(down),
                Turn::FaultsChanged => {
                    let armed = self.faults.take_delivered(&self.shared.faults, self.now);
                    self.scratch.actions.extend(armed);
                }
                Turn::OutboxDue => {}
                Turn::HiddenDue => self.tell_hidden(self.now),
                Turn::Timer(fired) => {
                    let steps = self.session.on_timer(fired);
                    self.scratch
                        .actions
                        .extend(steps.into_iter().map(Action::Step));
                }
            };
            timers.update(&mut self.session, self.now);
            self.tell_reach();
            if let Flow::Close = self.execute().await {
                return End::Broker;
            }
            if let Flow::Close = self.flush().await {
                return End::Broker;
            }
            self.commit();
        }
    }

    /// What the device's bytes make the session and this connection's faults do, as the
    /// turn's actions.
    fn on_device_bytes(&mut self, bytes: &[u8]) {
        self.emit_bytes(TcpDirection::Uplink, bytes);
        // A fault delivered before these bytes arrived applies to them, even when the select
        // saw the bytes before the board's change (a loaded machine made `drop_link
        // after_next_packet` miss its packet).
        let armed = self.faults.take_delivered(&self.shared.faults, self.now);
        self.scratch.actions.extend(armed);
        let devices = self.shared.policy.devices();
        match self.faults.screen(bytes, &self.shared.faults, devices) {
            // A fault refuses this CONNECT: the session never sees it.
            Some(refused) => self.scratch.actions.extend(refused),
            None => {
                let cx = Context {
                    policy: &self.shared.policy,
                };
                self.session
                    .on_device_bytes(bytes, &cx, &mut self.scratch.steps);
                self.with_faults(Side::Device);
            }
        }
    }

    /// Tells the cloud's notes which filters reach this device, when they changed.
    fn tell_reach(&mut self) {
        let now = self.session.downlink_filters();
        if now.clone().eq(self.reached.iter().map(String::as_str)) {
            return;
        }
        self.reached = now.map(str::to_owned).collect();
        self.shared.reach.set(self.conn, self.reached.clone());
    }

    /// What rumqttd handed the link, and whatever else it already has for it (a burst), as
    /// the turn's actions.
    fn on_router(&mut self, first: Downward) {
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(down) = next.take() {
            if let Some(down) = self.outside(down) {
                let cx = Context {
                    policy: &self.shared.policy,
                };
                self.session.on_upstream(down, &cx, &mut self.scratch.steps);
                self.with_faults(Side::Upstream);
            }
            taken += 1;
            if taken < BURST && !self.session.is_closed() {
                next = self.upstream.as_mut().and_then(RouterLink::try_next);
            }
        }
    }

    /// The session's steps with this connection's faults applied (broker/fault), moved from
    /// the turn's steps to its actions.
    fn with_faults(&mut self, side: Side) {
        let devices = self.shared.policy.devices();
        let Scratch { steps, actions, .. } = &mut self.scratch;
        self.faults
            .on_steps(steps, side, self.now, &self.shared.faults, devices, actions);
    }

    /// Writes what is due in the outbox; a queued close ends the link once reached. Whole
    /// packets due together go out in one write (one TCP segment, as a server's socket buffer
    /// would send them); a fault's pieces and raw bytes keep a write of their own, so a split
    /// still shows as its segments.
    async fn flush(&mut self) -> Flow {
        let mut flow = Flow::Continue;
        // The clock is read again after every write that waited: a gap a fault puts between
        // writes counts from the last write. Whole packets only gather into the batch, so
        // one reading serves them all.
        let mut now = std::time::Instant::now();
        while let Some(out) = self.outbox.pop_due(now) {
            let Out::Write(w) = out else {
                flow = Flow::Close;
                break;
            };
            let Write {
                bytes,
                packet,
                hold,
                gap,
            } = w;
            match packet {
                Some(packet) if hold.is_zero() && gap.is_zero() => {
                    self.scratch.batch.extend_from_slice(&bytes);
                    self.scratch.batch_packets.push(packet);
                }
                packet => {
                    if let Flow::Close = self.send_batch().await {
                        return Flow::Close;
                    }
                    if let Flow::Close = self.send_to_device(&bytes, packet.into_iter()).await {
                        return Flow::Close;
                    }
                    now = std::time::Instant::now();
                }
            }
        }
        if let Flow::Close = self.send_batch().await {
            return Flow::Close;
        }
        flow
    }

    /// Writes the packets gathered so far, if any, in one write.
    async fn send_batch(&mut self) -> Flow {
        if self.scratch.batch.is_empty() {
            return Flow::Continue;
        }
        let mut bytes = std::mem::take(&mut self.scratch.batch);
        let mut packets = std::mem::take(&mut self.scratch.batch_packets);
        let flow = self.send_to_device(&bytes, packets.drain(..)).await;
        bytes.clear();
        self.scratch.batch = bytes;
        self.scratch.batch_packets = packets;
        flow
    }

    /// Carries out actions in order; writes to the device and the close queue in the outbox
    /// (a held packet holds what follows it), and nothing runs after a queued close.
    async fn execute(&mut self) -> Flow {
        let mut actions = std::mem::take(&mut self.scratch.actions);
        // What goes to rumqttd is handed over once, at the end: one wake-up of its thread for a
        // burst of packets.
        let mut upward = std::mem::take(&mut self.scratch.upward);
        // What the cloud receives once rumqttd has it.
        let mut at_cloud = std::mem::take(&mut self.scratch.at_cloud);
        for action in actions.drain(..) {
            if self.outbox.closing() {
                break;
            }
            let now = self.now;
            let step = match action {
                Action::Write(w) => {
                    self.outbox.push(Out::Write(w), now);
                    continue;
                }
                Action::Step(step) => step,
            };
            match step {
                Step::FromDevice(packet) => self.record(TcpDirection::Uplink, packet),
                Step::ToDevice { bytes, packet } => {
                    self.outbox
                        .push(Out::Write(Write::packet(bytes, packet)), now);
                }
                Step::ToUpstream(up) => {
                    if self.upstream.is_none() {
                        self.note("no link to rumqttd to forward to; closing");
                        return Flow::Close;
                    }
                    upward.push(self.inside(up));
                }
                Step::ToCloud(publish) => {
                    if self.upstream.is_none() {
                        self.note("no link to rumqttd to forward to; closing");
                        return Flow::Close;
                    }
                    let origin = Origin {
                        publisher: Publisher::Device { conn: self.conn },
                        qos: publish.qos,
                    };
                    upward.push(Upward::Publish {
                        topic: self
                            .inside_topics
                            .inside(&self.shared.namespace, &publish.topic),
                        payload: self.sealer.seal(origin, &publish.payload),
                        retain: publish.retain,
                    });
                    at_cloud.push(publish);
                }
                Step::OpenUpstream { client_id } => {
                    if !self.shared.capacity.admits() {
                        let why = format!(
                            "the broker is full: {} device sockets are open and it holds {} \
                             ({})",
                            self.shared.capacity.open(),
                            self.shared.capacity.limit,
                            self.shared.capacity.why
                        );
                        return self.unavailable(why).await;
                    }
                    let id = self.shared.namespace.client_id(&client_id);
                    match self.shared.rumqttd.link(id).await {
                        Ok(link) => self.upstream = Some(link),
                        Err(e) => return self.unavailable(format!("failed to {e}")).await,
                    }
                }
                Step::Refused {
                    client_id,
                    code,
                    reason,
                } => {
                    self.note(format!(
                        "refused client {client_id:?} with code {code} because {reason}"
                    ));
                    // The packets before it come before it in the record.
                    self.commit();
                    self.shared
                        .observed
                        .record_refusal(self.conn, client_id, code, reason);
                }
                Step::Dropped { packet, reason } => {
                    self.commit();
                    self.shared.observed.record_drop(
                        self.conn,
                        self.session.client_id().map(str::to_owned),
                        packet,
                        reason,
                    )
                }
                Step::Note(text) => self.note(text),
                Step::Close => self.outbox.push(Out::Close, now),
            }
        }
        if !upward.is_empty() {
            // The device's packets enter the record before anything rumqttd routes from them
            // could reach another connection's.
            self.commit();
            if let Some(Err(e)) = self.upstream.as_mut().map(|l| l.tx.send_all(&mut upward)) {
                self.note(format!("failed to {e}; closing"));
                return Flow::Close;
            }
        }
        for publish in at_cloud.drain(..) {
            self.hand_to_cloud(publish);
        }
        self.scratch.actions = actions;
        self.scratch.upward = upward;
        self.scratch.at_cloud = at_cloud;
        // Now, not after the writes: a device that stops reading holds a write for up to
        // WRITE_WITHIN, and what it sent must not wait that long to be seen.
        self.commit();
        Flow::Continue
    }

    /// The login cannot be served: the device gets CONNACK 3 ("server unavailable").
    async fn unavailable(&mut self, why: String) -> Flow {
        self.note(format!("{why}; answering CONNACK 3 (server unavailable)"));
        let connack = refusal(3);
        match encode(&connack) {
            Ok(bytes) => {
                let _ = self.send_to_device(&bytes, Some(connack).into_iter()).await;
            }
            Err(e) => self.note(format!("failed to {e}")),
        }
        Flow::Close
    }

    /// One write (one TCP segment, the socket has no delay), recording `packet` if these
    /// bytes complete one.
    async fn send_to_device(
        &mut self,
        bytes: &[u8],
        packets: impl Iterator<Item = Packet>,
    ) -> Flow {
        match timeout(WRITE_WITHIN, self.device_w.write_all(bytes)).await {
            Ok(Ok(())) => {
                self.emit_bytes(TcpDirection::Downlink, bytes);
                for packet in packets {
                    self.record(TcpDirection::Downlink, packet);
                }
                Flow::Continue
            }
            Ok(Err(e)) => {
                self.note(format!("write to the device: {e}; closing"));
                Flow::Close
            }
            Err(_) => {
                self.note(format!(
                    "the device read nothing for {WRITE_WITHIN:?}; closing"
                ));
                Flow::Close
            }
        }
    }

    /// Sends FIN, then reads (and records) what the device still sends, briefly, so that
    /// closing with unread bytes does not turn into a reset that could overtake the CONNACK.
    async fn linger(&mut self, device_r: &mut OwnedReadHalf) {
        let _ = timeout(LINGER, self.device_w.shutdown()).await;
        let deadline = Instant::now() + LINGER;
        let mut buf = vec![0u8; 4096];
        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, device_r.read(&mut buf)).await {
            if n == 0 {
                break;
            }
            self.emit_bytes(TcpDirection::Uplink, &buf[..n]);
        }
    }

    /// `up` with its topics named as rumqttd knows them (this scope's namespace).
    fn inside(&self, up: Upward) -> Upward {
        let ns = &self.shared.namespace;
        match up {
            Upward::Subscribe { packet_id, filters } => Upward::Subscribe {
                packet_id,
                filters: filters.iter().map(|f| ns.inside(f)).collect(),
            },
            Upward::Unsubscribe { filters } => Upward::Unsubscribe {
                filters: filters.iter().map(|f| ns.inside(f)).collect(),
            },
            Upward::Publish {
                topic,
                payload,
                retain,
            } => Upward::Publish {
                topic: ns.inside_topic(&topic),
                payload,
                retain,
            },
        }
    }

    /// `down` with its topic as the device knows it; `None` for another scope's message.
    fn outside(&self, down: Downward) -> Option<Downward> {
        match down {
            Downward::Message {
                topic,
                payload,
                retain,
                stamp,
            } => {
                let outside = self.shared.namespace.outside(topic_text(&topic)?)?.len();
                Some(Downward::Message {
                    topic: topic.slice(topic.len() - outside..),
                    payload,
                    retain,
                    stamp,
                })
            }
            other => Some(other),
        }
    }

    /// Publishes the will of a link that ended without DISCONNECT, then leaves rumqttd.
    fn leave_upstream(&mut self) {
        let will = self.session.will_on_close();
        let Some(mut link) = self.upstream.take() else {
            return;
        };
        if let Some(will) = will {
            let origin = Origin {
                publisher: Publisher::Device { conn: self.conn },
                qos: will.qos,
            };
            let topic = will.topic.clone();
            let up = Upward::Publish {
                topic: self.shared.namespace.inside_topic(will.topic.as_bytes()),
                payload: Sealed::new(origin, &will.payload),
                retain: will.retain,
            };
            match link.send(up) {
                Ok(()) => {
                    self.note(format!(
                        "the link ended without DISCONNECT; published its will on {topic}"
                    ));
                    self.hand_to_cloud(will);
                }
                Err(e) => self.note(format!("failed to {e} (the will)")),
            }
        }
        link.close();
    }

    fn emit_bytes(&self, direction: TcpDirection, bytes: &[u8]) {
        if !self.shared.byte_events {
            return;
        }
        self.shared.events.emit(RunEvent::TcpData {
            conn: self.conn,
            direction,
            bytes: bytes.to_vec(),
        });
    }

    /// Shows `packet` as an event (within the budget) and queues it for the record, which
    /// [`Link::commit`] writes.
    fn record(&mut self, direction: TcpDirection, packet: Packet) {
        let shown = match &mut self.budget {
            None => true,
            Some(budget) => {
                let (shown, ended) = budget.admit(packet.packet_type(), self.now);
                if let Some(hidden) = ended {
                    self.emit_hidden(hidden);
                }
                shown
            }
        };
        if shown {
            self.shared.events.emit(RunEvent::MqttPacket {
                conn: self.conn,
                direction,
                packet: packet.clone(),
            });
        }
        let direction = match direction {
            TcpDirection::Uplink => SeenDirection::FromDevice,
            TcpDirection::Downlink => SeenDirection::ToDevice,
        };
        let client_id = self.client_id();
        self.sightings.push(Sighting {
            direction,
            conn: Some(self.conn),
            client_id,
            packet,
        });
    }

    /// Writes the packets this turn saw into the record, together, then sends the cloud's
    /// answers to the posts among them (a post is in the record before its answer leaves).
    fn commit(&mut self) {
        if !self.sightings.is_empty() {
            self.shared
                .observed
                .record_packets(std::time::SystemTime::now(), self.sightings.drain(..));
        }
        for answer in self.answers.drain(..) {
            answer.send(&self.shared);
        }
    }

    /// The session's client id, shared by every record of this connection.
    fn client_id(&mut self) -> Option<Arc<str>> {
        let id = self.session.client_id()?;
        match &self.client_id {
            Some(c) if **c == *id => Some(c.clone()),
            _ => {
                let c: Arc<str> = id.into();
                self.client_id = Some(c.clone());
                Some(c)
            }
        }
    }

    /// Tells what the budget's current period hid so far, and starts a new period.
    fn tell_hidden(&mut self, now: std::time::Instant) {
        if let Some(hidden) = self.budget.as_mut().and_then(|b| b.renew(now)) {
            self.emit_hidden(hidden);
        }
    }

    fn emit_hidden(&self, hidden: Hidden) {
        self.shared.events.emit(RunEvent::PacketsNotShown {
            conn: self.conn,
            shown: hidden.shown,
            counts: hidden.counts,
        });
    }

    fn note(&self, text: impl Into<String>) {
        self.shared.note(Some(self.conn), text);
    }

    /// The cloud receives a PUBLISH of the device's that rumqttd now has (as the cloud sees it:
    /// no packet id of the device's).
    fn hand_to_cloud(&mut self, publish: Publish) {
        let post = Publish {
            dup: false,
            packet_id: None,
            ..publish
        };
        let client_id = self.client_id();
        let (seen, answer) = cloud::received(&self.shared, self.conn, client_id, post);
        self.sightings.push(seen);
        self.answers.extend(answer);
    }
}

/// Completes once the broker is told to stop (or its handle is gone). The guard `wait_for`
/// returns is dropped here, so callers can await other things afterwards.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Completes at the fault board's next change, handing its receiver back for the wait after.
/// The board outlives every link (it is in `shared`); were it gone, this never completes.
async fn next_change(mut board: watch::Receiver<u64>) -> watch::Receiver<u64> {
    if board.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
    board
}

/// What rumqttd hands the link once it exists; until then, never completes.
async fn read_upstream(upstream: &mut Option<RouterLink>) -> Option<Downward> {
    match upstream {
        Some(link) => link.next().await,
        None => std::future::pending().await,
    }
}
