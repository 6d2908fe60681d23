//! Running the virtual module: [`spawn`] wires a [`Firmware`] to a real pseudo-terminal and
//! real loopback TCP on plain threads (independent of any async runtime) and returns a
//! [`SimHandle`] whose [`SimHandle::device_path`] the harness opens like hardware.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serialport::TTYPort;

use super::config::{Faults, SimConfig};
use super::error::SimError;
use super::firmware::{Effect, Input, NetEvent, SocketId, Timer};
use super::net::Net;
use super::personality::{self, Personality};
use super::pty::{self, Outgoing, Pty};

/// How long [`SimHandle::shutdown`] waits for all threads before giving up on them.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(2);
/// Longest the core sleeps without looking at the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// What reaches the firmware's thread.
pub enum CoreEvent {
    Serial(Vec<u8>),
    Net(NetEvent),
    /// A connect succeeded; the stream is handed over to be adopted.
    Opened {
        socket: SocketId,
        stream: TcpStream,
    },
    /// A client connected to the module's TCP server.
    Incoming {
        stream: TcpStream,
    },
    /// Pull the RST pin (see [`SimHandle::reset`]).
    Reset {
        factory: bool,
    },
    SetFaults(Faults),
    Stop,
}

/// A running virtual module. Dropping it stops it too; [`SimHandle::shutdown`] also reports
/// whether every thread ended in time.
pub struct SimHandle {
    device: PathBuf,
    link: Option<PathBuf>,
    baud: u32,
    stop: Arc<AtomicBool>,
    events: Sender<CoreEvent>,
    threads: Vec<JoinHandle<()>>,
    /// Held so the pty stays usable while the host has the path closed.
    slave: Option<TTYPort>,
}

/// Starts a virtual module on a fresh pseudo-terminal.
pub fn spawn(config: SimConfig) -> Result<SimHandle, SimError> {
    config.validate()?;
    let Pty {
        device,
        master,
        slave,
    } = Pty::open()?;
    let reader_port = master.try_clone_native().map_err(SimError::Pty)?;
    let stop = Arc::new(AtomicBool::new(false));
    let (events_tx, events_rx) = mpsc::channel();
    let (out_tx, out_rx) = mpsc::channel();
    let baud = config.baud;
    let what = personality::describe(&config);
    let mut handle = SimHandle {
        device,
        link: None,
        baud,
        stop: Arc::clone(&stop),
        events: events_tx.clone(),
        threads: Vec::new(),
        slave: Some(slave),
    };
    // Pushed one by one so a failure part-way still stops what already runs (Drop).
    handle.threads.push(pty::spawn_writer(
        master,
        Arc::clone(&stop),
        out_rx,
        baud,
        config.pace,
    )?);
    handle.threads.push(pty::spawn_reader(
        reader_port,
        Arc::clone(&stop),
        events_tx.clone(),
    )?);
    let core_stop = Arc::clone(&stop);
    let core = std::thread::Builder::new()
        .name("sim-core".to_string())
        .spawn(move || run_core(config, events_rx, events_tx, out_tx, &core_stop))
        .map_err(|source| SimError::Thread {
            name: "sim-core",
            source,
        })?;
    handle.threads.push(core);
    tracing::info!("sim: {what} on {} ({baud} baud)", handle.device.display());
    Ok(handle)
}

impl SimHandle {
    /// The pseudo-terminal's slave path (`/dev/pts/N`), to open with `serialport::new`.
    pub fn device_path(&self) -> &Path {
        &self.device
    }

    /// The stable symlink made by [`SimHandle::create_link`], if any.
    pub fn link_path(&self) -> Option<&Path> {
        self.link.as_deref()
    }

    /// The AT port's configured baud rate.
    pub fn baud(&self) -> u32 {
        self.baud
    }

    /// Makes `path` a symlink to the pty, replacing an older symlink there (never a file);
    /// it is removed again on shutdown.
    pub fn create_link(&mut self, path: &Path) -> Result<(), SimError> {
        let link_error = |source| SimError::Link {
            path: path.to_path_buf(),
            source,
        };
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_symlink() {
                return Err(link_error(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "a file that is not a symlink is in the way",
                )));
            }
            std::fs::remove_file(path).map_err(link_error)?;
        }
        std::os::unix::fs::symlink(&self.device, path).map_err(link_error)?;
        self.link = Some(path.to_path_buf());
        Ok(())
    }

    /// Pulls the module's RST pin: links drop, then the power-on banner and `ready` follow
    /// on the same device path (a Quectel personality: `RDY` and its boot URCs). With
    /// `factory` the ESP's flash is wiped too (saved AP, CWMODE, UART_DEF), giving a module as
    /// fresh as a new one.
    pub fn reset(&self, factory: bool) {
        let _ = self.events.send(CoreEvent::Reset { factory });
    }

    /// Replaces the fault knobs for what follows (e.g. per scenario), without a restart.
    pub fn set_faults(&self, faults: Faults) {
        let _ = self.events.send(CoreEvent::SetFaults(faults));
    }

    /// Stops every thread the module started, waiting at most two seconds; true if all ended.
    pub fn shutdown(mut self) -> bool {
        self.stop_all()
    }

    fn stop_all(&mut self) -> bool {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.events.send(CoreEvent::Stop);
        let deadline = Instant::now() + SHUTDOWN_DEADLINE;
        let mut all = true;
        for thread in self.threads.drain(..) {
            all &= join_until(thread, deadline);
        }
        if let Some(link) = self.link.take() {
            let _ = std::fs::remove_file(link);
        }
        self.slave = None;
        all
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Joins `thread` if it ends before `deadline`; otherwise leaves it detached and says so.
pub fn join_until(thread: JoinHandle<()>, deadline: Instant) -> bool {
    while !thread.is_finished() {
        if Instant::now() >= deadline {
            tracing::warn!("sim: a thread did not stop in time; leaving it detached");
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    thread.join().is_ok()
}

/// The firmware's thread: feeds the chosen personality serial bytes, socket events and due
/// timers, and carries out what it asks.
fn run_core(
    config: SimConfig,
    events: Receiver<CoreEvent>,
    events_tx: Sender<CoreEvent>,
    out: Sender<Outgoing>,
    stop: &AtomicBool,
) {
    let mut firmware: Box<dyn Personality> = personality::choose(config);
    let mut net = Net::new(events_tx);
    let mut timers: Vec<(Instant, Timer)> = Vec::new();
    apply(firmware.start(), &mut net, &mut timers, &out);
    // Sockets of accepted clients are named here, in a range the firmware's own never reach.
    let mut next_accepted: SocketId = 1 << 48;
    loop {
        let now = Instant::now();
        while let Some(i) = (0..timers.len())
            .filter(|&i| timers[i].0 <= now)
            .min_by_key(|&i| timers[i].0)
        {
            let (_, timer) = timers.remove(i);
            let effects = firmware.input(Input::Timer(timer));
            apply(effects, &mut net, &mut timers, &out);
        }
        let wait = timers
            .iter()
            .map(|(at, _)| at.saturating_duration_since(now))
            .min()
            .unwrap_or(POLL)
            .min(POLL);
        let input = match events.recv_timeout(wait) {
            Ok(CoreEvent::Serial(bytes)) => Input::Serial(bytes),
            Ok(CoreEvent::Net(event)) => Input::Net(event),
            Ok(CoreEvent::Opened { socket, stream }) => Input::Net(net.adopt(socket, stream)),
            Ok(CoreEvent::Incoming { stream }) => {
                let socket = next_accepted;
                next_accepted += 1;
                match net.adopt(socket, stream) {
                    NetEvent::Connected {
                        socket,
                        local,
                        peer,
                    } => Input::Net(NetEvent::Accepted {
                        socket,
                        local,
                        peer,
                    }),
                    _ => continue,
                }
            }
            Ok(CoreEvent::Reset { factory }) => Input::Reset { factory },
            Ok(CoreEvent::SetFaults(faults)) => {
                firmware.set_faults(faults);
                continue;
            }
            Ok(CoreEvent::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) if stop.load(Ordering::SeqCst) => break,
            Err(RecvTimeoutError::Timeout) => continue,
        };
        let effects = firmware.input(input);
        apply(effects, &mut net, &mut timers, &out);
    }
    net.shutdown(Instant::now() + SHUTDOWN_DEADLINE / 2);
}

fn apply(
    effects: Vec<Effect>,
    net: &mut Net,
    timers: &mut Vec<(Instant, Timer)>,
    out: &Sender<Outgoing>,
) {
    for effect in effects {
        match effect {
            Effect::Serial(bytes) => {
                let _ = out.send(Outgoing::Bytes(bytes));
            }
            Effect::Connect {
                socket,
                addr,
                timeout,
                kind,
            } => net.connect(socket, addr, timeout, kind),
            Effect::Listen { port } => net.listen(port),
            Effect::Unlisten => net.unlisten(),
            Effect::Send { socket, data } => net.send(socket, data),
            Effect::Close { socket } => net.close(socket),
            Effect::Wake { after, timer } => timers.push((Instant::now() + after, timer)),
            Effect::Baud(baud) => {
                let _ = out.send(Outgoing::Baud(baud));
            }
        }
    }
}
