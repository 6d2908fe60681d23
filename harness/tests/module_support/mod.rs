//! A scripted module for the driver's pty tests: a thread on the master end of a real
//! pseudo-terminal that waits for what the host must send and answers with the bytes the
//! real firmware prints (at-dialects.md literals). Minimal on purpose: it tests the driver, it
//! is not the virtual module (`athil::sim`).

#![allow(dead_code)] // each test file uses part of it

use std::io::{Read, Write};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use athil::module::dialect::DialectKind;
use athil::module::{DriverOptions, ModuleDriver, SerialTransport};
use athil::run::EventSink;
use serialport::{SerialPort, TTYPort};

/// One step of the module's script.
#[derive(Debug, Clone)]
pub enum Step {
    /// Wait until the host has sent exactly these bytes next (anything before them fails).
    Expect(Vec<u8>),
    /// Write these bytes to the host.
    Send(Vec<u8>),
    /// Stay quiet for a while.
    Pause(Duration),
}

pub fn expect(bytes: impl AsRef<[u8]>) -> Step {
    Step::Expect(bytes.as_ref().to_vec())
}

pub fn send(bytes: impl AsRef<[u8]>) -> Step {
    Step::Send(bytes.as_ref().to_vec())
}

pub fn pause(ms: u64) -> Step {
    Step::Pause(Duration::from_millis(ms))
}

/// How long the module waits for one expected input before giving up, so a broken test fails
/// instead of hanging.
const EXPECT_WITHIN: Duration = Duration::from_secs(3);

/// The longest the module keeps its end open after its script, if the test never releases it.
const HOLD_AT_MOST: Duration = Duration::from_secs(10);

/// The module side of a running script.
pub struct Peer {
    handle: JoinHandle<Result<Vec<u8>, String>>,
    release: std::sync::mpsc::Sender<()>,
}

impl Peer {
    /// Waits for the script to finish; returns every byte the host sent, or what went wrong.
    pub fn finish(self) -> Vec<u8> {
        // Let the host's last bytes land before the module stops listening.
        std::thread::sleep(Duration::from_millis(30));
        let _ = self.release.send(());
        match self.handle.join() {
            Ok(Ok(received)) => received,
            Ok(Err(e)) => panic!("scripted module: {e}"),
            Err(_) => panic!("scripted module thread panicked"),
        }
    }
}

/// Starts `script` on the master end of a new pty pair and returns a driver on the slave end.
pub fn driver_with(
    kind: DialectKind,
    script: Vec<Step>,
    events: EventSink,
) -> (ModuleDriver, Peer) {
    driver_with_options(kind, script, events, DriverOptions::default())
}

/// [`driver_with`] and driver options of the test's choosing.
pub fn driver_with_options(
    kind: DialectKind,
    script: Vec<Step>,
    events: EventSink,
    options: DriverOptions,
) -> (ModuleDriver, Peer) {
    let (master, slave) = TTYPort::pair().expect("open a pseudo-terminal pair");
    let peer = spawn(master, script);
    let transport = SerialTransport::from_tty(slave, events).expect("wrap the pty slave");
    let driver = ModuleDriver::new(transport, kind.dialect(), options);
    (driver, peer)
}

pub fn esp(script: Vec<Step>) -> (ModuleDriver, Peer) {
    driver_with(DialectKind::EspAt, script, EventSink::discard())
}

pub fn spawn(mut master: TTYPort, script: Vec<Step>) -> Peer {
    let (release_tx, release) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        master
            .set_timeout(Duration::from_millis(10))
            .map_err(|e| e.to_string())?;
        let mut received = Vec::new();
        let mut cursor = 0;
        for step in script {
            match step {
                Step::Send(bytes) => {
                    master
                        .write_all(&bytes)
                        .map_err(|e| format!("write: {e}"))?;
                }
                Step::Pause(d) => std::thread::sleep(d),
                Step::Expect(want) => {
                    let until = Instant::now() + EXPECT_WITHIN;
                    while received.len() < cursor + want.len() {
                        if Instant::now() > until {
                            return Err(format!(
                                "expected {:?}, host sent {:?}",
                                String::from_utf8_lossy(&want),
                                String::from_utf8_lossy(&received[cursor..])
                            ));
                        }
                        read_some(&mut master, &mut received)?;
                    }
                    let got = &received[cursor..cursor + want.len()];
                    if got != want.as_slice() {
                        return Err(format!(
                            "expected {:?}, host sent {:?}",
                            String::from_utf8_lossy(&want),
                            String::from_utf8_lossy(got)
                        ));
                    }
                    cursor += want.len();
                }
            }
        }
        // Keep the line open (a closed master is a hang-up the driver would rightly report)
        // and keep collecting what the host sends, until the test is done with the module.
        let until = Instant::now() + HOLD_AT_MOST;
        while Instant::now() < until {
            match release.try_recv() {
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
                Ok(()) | Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
            }
            // The host may already have closed its end; what arrived so far is the answer.
            if read_some(&mut master, &mut received).is_err() {
                break;
            }
        }
        Ok(received)
    });
    Peer {
        handle,
        release: release_tx,
    }
}

fn read_some(master: &mut TTYPort, into: &mut Vec<u8>) -> Result<(), String> {
    let mut buf = [0u8; 1024];
    match master.read(&mut buf) {
        Ok(n) => {
            into.extend_from_slice(&buf[..n]);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(()),
        Err(e) => Err(format!("read: {e}")),
    }
}
