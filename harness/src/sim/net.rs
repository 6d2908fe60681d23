//! The module's TCP/IP stack, for real: [`Net`] opens loopback TCP connections and UDP
//! "links" (nothing else is ever contacted), listens for the module's TCP server, reads each
//! socket with its own thread and writes each send on a short-lived one, and reports
//! everything back as firmware [`NetEvent`]s through the core's channel.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::firmware::{LinkKind, NetEvent, SocketId};
use super::names::is_loopback;
use super::runtime::CoreEvent;

/// How often blocked reads look at the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// Longest a single send may block on a peer that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Read size: one TCP segment, what one `+IPD` carries at most.
const SEGMENT: usize = 1460;

/// A socket's two kinds: a TCP stream, or a UDP socket fixed to one remote.
enum Conn {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

impl Conn {
    fn try_clone(&self) -> std::io::Result<Conn> {
        Ok(match self {
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
            Conn::Udp(s) => Conn::Udp(s.try_clone()?),
        })
    }

    /// Writes all of `data`: the rest of a TCP stream, or one datagram.
    fn send(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.write_all(data).and_then(|()| s.flush()),
            Conn::Udp(s) => s.send(data).map(drop),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Udp(s) => s.recv(buf),
        }
    }

    fn shutdown(&self) {
        if let Conn::Tcp(s) = self {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

struct Socket {
    conn: Conn,
    stop: Arc<AtomicBool>,
    /// Held by a writer from the write until its `Sent` is posted, and by the reader while it
    /// posts what it read: so a reply read after the write completed always reaches the
    /// firmware after that write's `Sent`, as the peer's ACK reaches lwIP before its answer.
    order: Arc<Mutex<()>>,
}

/// The open sockets and every thread working for them.
pub struct Net {
    events: Sender<CoreEvent>,
    sockets: HashMap<SocketId, Socket>,
    /// The module's TCP server, while it listens: its accept loop's stop flag.
    server: Option<Arc<AtomicBool>>,
    threads: Vec<JoinHandle<()>>,
}

impl Net {
    pub fn new(events: Sender<CoreEvent>) -> Net {
        Net {
            events,
            sockets: HashMap::new(),
            server: None,
            threads: Vec::new(),
        }
    }

    /// Opens a UDP "link" to `addr` from `local_port` on 127.0.0.1 (0: any), answering
    /// `Connected` or `ConnectFailed` at once: there is no handshake to wait for.
    pub fn open_udp(&mut self, socket: SocketId, addr: SocketAddr, local_port: u16) {
        let opened = UdpSocket::bind((Ipv4Addr::LOCALHOST, local_port))
            .and_then(|udp| udp.connect(addr).map(|()| udp))
            .and_then(|udp| Ok((udp.local_addr()?, udp)));
        let event = match opened {
            Ok((local, udp)) => self.start(socket, Conn::Udp(udp), local, addr),
            Err(e) => {
                tracing::debug!("sim: UDP link to {addr} failed: {e}");
                NetEvent::ConnectFailed { socket }
            }
        };
        let _ = self.events.send(CoreEvent::Net(event));
    }

    /// Listens on 127.0.0.1:`port` for the module's TCP server; answers `Listening`. Each
    /// client comes back as [`CoreEvent::Incoming`].
    pub fn listen(&mut self, port: u16) {
        self.unlisten();
        let bound = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .and_then(|l| l.set_nonblocking(true).map(|()| l));
        let ok = match bound {
            Ok(listener) => {
                let stop = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&stop);
                let events = self.events.clone();
                let started = self.spawn("sim-tcp-server", move || {
                    accept_loop(&listener, &flag, &events)
                });
                if started {
                    self.server = Some(stop);
                }
                started
            }
            Err(e) => {
                tracing::debug!("sim: the TCP server cannot listen on port {port}: {e}");
                false
            }
        };
        let _ = self.events.send(CoreEvent::Net(NetEvent::Listening { ok }));
    }

    /// Stops the TCP server's listening (clients already connected stay).
    pub fn unlisten(&mut self) {
        if let Some(stop) = self.server.take() {
            stop.store(true, Ordering::SeqCst);
        }
    }

    /// Connects on a worker thread; the result comes back as [`CoreEvent::Opened`] or a
    /// `ConnectFailed`. Addresses off 127.0.0.0/8 fail without a packet being sent.
    pub fn connect(
        &mut self,
        socket: SocketId,
        addr: SocketAddr,
        timeout: Duration,
        kind: LinkKind,
    ) {
        let events = self.events.clone();
        if !is_loopback(addr.ip()) {
            tracing::warn!("sim: refusing to connect to {addr}: only loopback is reachable");
            let _ = events.send(CoreEvent::Net(NetEvent::ConnectFailed { socket }));
            return;
        }
        if let LinkKind::Udp { local_port } = kind {
            return self.open_udp(socket, addr, local_port);
        }
        let failed = events.clone();
        let started = self.spawn("sim-connect", move || {
            let event = match TcpStream::connect_timeout(&addr, timeout.max(POLL)) {
                Ok(stream) => CoreEvent::Opened { socket, stream },
                Err(e) => {
                    tracing::debug!("sim: connect to {addr} failed: {e}");
                    CoreEvent::Net(NetEvent::ConnectFailed { socket })
                }
            };
            let _ = events.send(event);
        });
        if !started {
            // The firmware waits for exactly one answer; never leave it busy forever.
            let _ = failed.send(CoreEvent::Net(NetEvent::ConnectFailed { socket }));
        }
    }

    /// Takes over a connected stream and starts its reader; returns the firmware's view of it
    /// (or a failure if the stream is already unusable).
    pub fn adopt(&mut self, socket: SocketId, stream: TcpStream) -> NetEvent {
        let (Ok(local), Ok(peer)) = (stream.local_addr(), stream.peer_addr()) else {
            return NetEvent::ConnectFailed { socket };
        };
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
        self.start(socket, Conn::Tcp(stream), local, peer)
    }

    /// Starts the reader of a connected socket and keeps it.
    fn start(
        &mut self,
        socket: SocketId,
        conn: Conn,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> NetEvent {
        let Ok(reader) = conn.try_clone() else {
            return NetEvent::ConnectFailed { socket };
        };
        let stop = Arc::new(AtomicBool::new(false));
        let order = Arc::new(Mutex::new(()));
        let events = self.events.clone();
        let flag = Arc::clone(&stop);
        let rx_order = Arc::clone(&order);
        if !self.spawn("sim-net-rx", move || {
            read_loop(socket, reader, &flag, &rx_order, &events)
        }) {
            conn.shutdown();
            return NetEvent::ConnectFailed { socket };
        }
        self.sockets.insert(socket, Socket { conn, stop, order });
        NetEvent::Connected {
            socket,
            local,
            peer,
        }
    }

    /// Writes `data` on a worker thread and reports `Sent` or `SendFailed`.
    pub fn send(&mut self, socket: SocketId, data: Vec<u8>) {
        let events = self.events.clone();
        let Some((mut conn, order)) = self.sockets.get(&socket).and_then(|s| {
            let stream = s.conn.try_clone().ok()?;
            Some((stream, Arc::clone(&s.order)))
        }) else {
            let _ = events.send(CoreEvent::Net(NetEvent::SendFailed { socket }));
            return;
        };
        let failed = events.clone();
        let started = self.spawn("sim-tcp-tx", move || {
            // A poisoned lock only means another worker panicked; the order still holds.
            let _turn = order.lock().unwrap_or_else(|e| e.into_inner());
            let event = match conn.send(&data) {
                Ok(()) => NetEvent::Sent { socket },
                Err(e) => {
                    tracing::debug!("sim: send on socket {socket} failed: {e}");
                    NetEvent::SendFailed { socket }
                }
            };
            let _ = events.send(CoreEvent::Net(event));
        });
        if !started {
            let _ = failed.send(CoreEvent::Net(NetEvent::SendFailed { socket }));
        }
    }

    /// Closes the socket (FIN to the peer); its reader stops on its own.
    pub fn close(&mut self, socket: SocketId) {
        if let Some(s) = self.sockets.remove(&socket) {
            s.stop.store(true, Ordering::SeqCst);
            s.conn.shutdown();
        }
        self.threads.retain(|t| !t.is_finished());
    }

    /// Closes everything and waits for the workers until `deadline`.
    pub fn shutdown(&mut self, deadline: Instant) {
        let ids: Vec<SocketId> = self.sockets.keys().copied().collect();
        for id in ids {
            self.close(id);
        }
        self.unlisten();
        for thread in self.threads.drain(..) {
            super::runtime::join_until(thread, deadline);
        }
    }

    /// Starts a worker; false (and logged) if the system refused a thread.
    fn spawn(&mut self, name: &str, work: impl FnOnce() + Send + 'static) -> bool {
        match std::thread::Builder::new()
            .name(name.to_string())
            .spawn(work)
        {
            Ok(handle) => {
                self.threads.push(handle);
                true
            }
            Err(e) => {
                tracing::error!("sim: failed to start a {name} thread: {e}");
                false
            }
        }
    }
}

/// The TCP server: hands each client to the core until told to stop.
fn accept_loop(listener: &TcpListener, stop: &AtomicBool, events: &Sender<CoreEvent>) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                if events.send(CoreEvent::Incoming { stream }).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL / 5),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::debug!("sim: the TCP server's accept failed: {e}");
                std::thread::sleep(POLL);
            }
        }
    }
}

fn read_loop(
    socket: SocketId,
    mut stream: Conn,
    stop: &AtomicBool,
    order: &Mutex<()>,
    events: &Sender<CoreEvent>,
) {
    let post = |event: NetEvent| {
        let _turn = order.lock().unwrap_or_else(|e| e.into_inner());
        events.send(CoreEvent::Net(event)).is_ok()
    };
    let _ = match &stream {
        Conn::Tcp(s) => s.set_read_timeout(Some(POLL)),
        Conn::Udp(s) => s.set_read_timeout(Some(POLL)),
    };
    let mut buf = [0u8; SEGMENT];
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut buf) {
            // A zero-length datagram is data (nothing); only a stream's 0 is its end.
            Ok(0) if matches!(stream, Conn::Udp(_)) => {}
            Ok(0) => break,
            Ok(n) => {
                let data = buf[..n].to_vec();
                if !post(NetEvent::Received { socket, data }) {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            // An ICMP "port unreachable" for an earlier datagram: UDP has no link to lose.
            Err(e)
                if e.kind() == ErrorKind::ConnectionRefused && matches!(stream, Conn::Udp(_)) => {}
            Err(e) => {
                tracing::debug!("sim: socket {socket} read failed: {e}");
                break;
            }
        }
    }
    if !stop.load(Ordering::SeqCst) {
        post(NetEvent::Closed { socket });
    }
}
