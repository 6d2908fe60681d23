//! The module's TCP stack, for real: [`Net`] opens loopback connections (nothing else is ever
//! contacted), reads each with its own thread and writes each send on a short-lived one, and
//! reports everything back as firmware [`NetEvent`]s through the core's channel.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::firmware::{NetEvent, SocketId};
use super::names::is_loopback;
use super::runtime::CoreEvent;

/// How often blocked reads look at the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// Longest a single send may block on a peer that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Read size: one TCP segment, what one `+IPD` carries at most.
const SEGMENT: usize = 1460;

struct Socket {
    stream: TcpStream,
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
    threads: Vec<JoinHandle<()>>,
}

impl Net {
    pub fn new(events: Sender<CoreEvent>) -> Net {
        Net {
            events,
            sockets: HashMap::new(),
            threads: Vec::new(),
        }
    }

    /// Connects on a worker thread; the result comes back as [`CoreEvent::Opened`] or a
    /// `ConnectFailed`. Addresses off 127.0.0.0/8 fail without a packet being sent.
    pub fn connect(&mut self, socket: SocketId, addr: SocketAddr, timeout: Duration) {
        let events = self.events.clone();
        if !is_loopback(addr.ip()) {
            tracing::warn!("sim: refusing to connect to {addr}: only loopback is reachable");
            let _ = events.send(CoreEvent::Net(NetEvent::ConnectFailed { socket }));
            return;
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
        let (Ok(local), Ok(peer), Ok(reader)) =
            (stream.local_addr(), stream.peer_addr(), stream.try_clone())
        else {
            return NetEvent::ConnectFailed { socket };
        };
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
        let stop = Arc::new(AtomicBool::new(false));
        let order = Arc::new(Mutex::new(()));
        let events = self.events.clone();
        let flag = Arc::clone(&stop);
        let rx_order = Arc::clone(&order);
        if !self.spawn("sim-tcp-rx", move || {
            read_loop(socket, reader, &flag, &rx_order, &events)
        }) {
            let _ = stream.shutdown(Shutdown::Both);
            return NetEvent::ConnectFailed { socket };
        }
        self.sockets.insert(
            socket,
            Socket {
                stream,
                stop,
                order,
            },
        );
        NetEvent::Connected {
            socket,
            local,
            peer,
        }
    }

    /// Writes `data` on a worker thread and reports `Sent` or `SendFailed`.
    pub fn send(&mut self, socket: SocketId, data: Vec<u8>) {
        let events = self.events.clone();
        let Some((mut stream, order)) = self.sockets.get(&socket).and_then(|s| {
            let stream = s.stream.try_clone().ok()?;
            Some((stream, Arc::clone(&s.order)))
        }) else {
            let _ = events.send(CoreEvent::Net(NetEvent::SendFailed { socket }));
            return;
        };
        let failed = events.clone();
        let started = self.spawn("sim-tcp-tx", move || {
            // A poisoned lock only means another worker panicked; the order still holds.
            let _turn = order.lock().unwrap_or_else(|e| e.into_inner());
            let event = match stream.write_all(&data).and_then(|()| stream.flush()) {
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
            let _ = s.stream.shutdown(Shutdown::Both);
        }
        self.threads.retain(|t| !t.is_finished());
    }

    /// Closes everything and waits for the workers until `deadline`.
    pub fn shutdown(&mut self, deadline: Instant) {
        let ids: Vec<SocketId> = self.sockets.keys().copied().collect();
        for id in ids {
            self.close(id);
        }
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

fn read_loop(
    socket: SocketId,
    mut stream: TcpStream,
    stop: &AtomicBool,
    order: &Mutex<()>,
    events: &Sender<CoreEvent>,
) {
    let post = |event: NetEvent| {
        let _turn = order.lock().unwrap_or_else(|e| e.into_inner());
        events.send(CoreEvent::Net(event)).is_ok()
    };
    let _ = stream.set_read_timeout(Some(POLL));
    let mut buf = [0u8; SEGMENT];
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut buf) {
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
