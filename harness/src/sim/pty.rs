//! The module's UART, for real: a pseudo-terminal pair whose slave path the harness opens like
//! any serial device. One thread reads what the host types, one writes what the module prints,
//! optionally paced at the wire rate (10 bits per byte at the configured baud).

use std::io::{ErrorKind, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

use super::error::SimError;
use super::runtime::CoreEvent;

/// How long blocking pty calls wait before looking at the stop flag again.
const POLL: Duration = Duration::from_millis(50);
/// A write the host does not drain within this is dropped, as a UART without flow control
/// loses what nobody reads.
const WRITE_TIMEOUT: Duration = Duration::from_millis(200);

/// What the writer thread is told.
pub enum Outgoing {
    Bytes(Vec<u8>),
    /// The AT port's rate changed (pacing follows).
    Baud(u32),
}

/// The two ends of the pseudo-terminal. The slave is held open for the module's whole life so
/// the host can close and reopen the path between scenarios without the master seeing EIO.
pub struct Pty {
    pub device: PathBuf,
    pub master: TTYPort,
    pub slave: TTYPort,
}

impl Pty {
    pub fn open() -> Result<Pty, SimError> {
        let (master, slave) = TTYPort::pair().map_err(SimError::Pty)?;
        let device = slave.name().map(PathBuf::from).ok_or_else(|| {
            SimError::Pty(serialport::Error::new(
                serialport::ErrorKind::Unknown,
                "the pseudo-terminal slave has no name",
            ))
        })?;
        Ok(Pty {
            device,
            master,
            slave,
        })
    }
}

/// Starts the thread that turns host keystrokes into [`CoreEvent::Serial`].
pub fn spawn_reader(
    mut port: TTYPort,
    stop: Arc<AtomicBool>,
    events: Sender<CoreEvent>,
) -> Result<JoinHandle<()>, SimError> {
    let _ = port.set_timeout(POLL);
    spawn("sim-uart-rx", move || {
        let mut buf = [0u8; 1024];
        while !stop.load(Ordering::SeqCst) {
            match port.read(&mut buf) {
                Ok(0) => std::thread::sleep(Duration::from_millis(5)),
                Ok(n) => {
                    if events.send(CoreEvent::Serial(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    // EIO while no slave is open; the held slave makes this rare. Retry.
                    tracing::trace!("sim: pty read: {e}");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    })
}

/// Starts the thread that prints the module's output, at the wire rate if `pace` is set.
pub fn spawn_writer(
    mut port: TTYPort,
    stop: Arc<AtomicBool>,
    outgoing: Receiver<Outgoing>,
    mut baud: u32,
    pace: bool,
) -> Result<JoinHandle<()>, SimError> {
    let _ = port.set_timeout(WRITE_TIMEOUT);
    spawn("sim-uart-tx", move || {
        let mut due = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            match outgoing.recv_timeout(POLL) {
                Ok(Outgoing::Bytes(bytes)) => {
                    if pace {
                        due = write_paced(&mut port, &bytes, baud, due, &stop);
                    } else {
                        write_or_drop(&mut port, &bytes);
                    }
                }
                Ok(Outgoing::Baud(rate)) => baud = rate.max(1),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    })
}

/// Writes in slices of about 5 ms of wire time, each no earlier than the previous one would
/// have finished on a real UART. Returns when the line is next free.
fn write_paced(
    port: &mut TTYPort,
    bytes: &[u8],
    baud: u32,
    mut due: Instant,
    stop: &AtomicBool,
) -> Instant {
    let bytes_per_sec = (baud / 10).max(1) as usize;
    let slice = (bytes_per_sec / 200).max(1);
    for chunk in bytes.chunks(slice) {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        write_or_drop(port, chunk);
        let wire = Duration::from_secs_f64(chunk.len() as f64 / bytes_per_sec as f64);
        due = due.max(now) + wire;
    }
    due
}

fn write_or_drop(port: &mut TTYPort, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match port.write(bytes) {
            Ok(0) => break,
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::debug!("sim: host is not reading; {} bytes lost ({e})", bytes.len());
                return;
            }
        }
    }
}

fn spawn(
    name: &'static str,
    work: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, SimError> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(work)
        .map_err(|source| SimError::Thread { name, source })
}
