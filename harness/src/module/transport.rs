//! The serial line under the driver: [`SerialTransport`] over the blocking `serialport` crate,
//! with a reader thread that hands chunks to tokio, and [`SerialSettings`], the passive
//! description a rig file gives (115200 8N1, no flow control unless it says otherwise). Every
//! byte in either direction is emitted to the run's event stream as it passes.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serialport::{SerialPort, TTYPort};
use tokio::sync::mpsc;

use super::error::{ControlLine, TransportError};
use crate::events::{EventSink, RunEvent};

/// How long one blocking read waits before the reader thread checks whether it should stop.
/// It bounds how long dropping the transport takes.
const READ_POLL: Duration = Duration::from_millis(20);

/// A write that cannot finish in this time means the line is stuck (no reader on a pty, flow
/// control holding it); failing beats hanging.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Line settings of a serial port. Deserialises from a rig file with every field optional:
/// `{ baud: 115200, data_bits: 8, parity: none, stop_bits: 1, flow_control: none }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct SerialSettings {
    pub baud: u32,
    pub data_bits: DataBits,
    pub parity: Parity,
    pub stop_bits: StopBits,
    pub flow_control: FlowControl,
}

impl Default for SerialSettings {
    fn default() -> Self {
        // The AT firmware default for ESP8266, ESP-AT, Air601 and Quectel's auto-baud.
        SerialSettings {
            baud: 115_200,
            data_bits: DataBits(8),
            parity: Parity::None,
            stop_bits: StopBits(1),
            flow_control: FlowControl::None,
        }
    }
}

/// 5 to 8 data bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "u8", into = "u8")]
pub struct DataBits(u8);

impl TryFrom<u8> for DataBits {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            5..=8 => Ok(DataBits(v)),
            other => Err(format!("data bits must be 5, 6, 7 or 8, not {other}")),
        }
    }
}

impl From<DataBits> for u8 {
    fn from(d: DataBits) -> u8 {
        d.0
    }
}

/// 1 or 2 stop bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "u8", into = "u8")]
pub struct StopBits(u8);

impl TryFrom<u8> for StopBits {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            1 | 2 => Ok(StopBits(v)),
            other => Err(format!("stop bits must be 1 or 2, not {other}")),
        }
    }
}

impl From<StopBits> for u8 {
    fn from(s: StopBits) -> u8 {
        s.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Parity {
    None,
    Odd,
    Even,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FlowControl {
    None,
    /// XON/XOFF. Unusable with binary MQTT payloads, which may hold 0x11 and 0x13.
    Software,
    /// RTS/CTS.
    Hardware,
}

impl SerialSettings {
    fn builder(&self, path: &str) -> serialport::SerialPortBuilder {
        serialport::new(path, self.baud)
            .data_bits(match self.data_bits.0 {
                5 => serialport::DataBits::Five,
                6 => serialport::DataBits::Six,
                7 => serialport::DataBits::Seven,
                _ => serialport::DataBits::Eight,
            })
            .parity(match self.parity {
                Parity::None => serialport::Parity::None,
                Parity::Odd => serialport::Parity::Odd,
                Parity::Even => serialport::Parity::Even,
            })
            .stop_bits(match self.stop_bits.0 {
                2 => serialport::StopBits::Two,
                _ => serialport::StopBits::One,
            })
            .flow_control(match self.flow_control {
                FlowControl::None => serialport::FlowControl::None,
                FlowControl::Software => serialport::FlowControl::Software,
                FlowControl::Hardware => serialport::FlowControl::Hardware,
            })
            .timeout(WRITE_TIMEOUT)
    }
}

/// What the reader thread hands over.
#[derive(Debug)]
enum Incoming {
    Bytes(Vec<u8>),
    /// The port failed or hung up; the thread has stopped.
    Ended(String),
}

/// An open serial line: writes are async, reads arrive as chunks from a reader thread. Dropping
/// it stops and joins the thread (within [`READ_POLL`]).
#[derive(Debug)]
pub struct SerialTransport {
    path: String,
    writer: Arc<Mutex<Box<dyn SerialPort>>>,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    ended: Option<String>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    events: EventSink,
}

impl SerialTransport {
    /// Opens a device (`/dev/ttyUSB0`, `/dev/pts/3`) with the given line settings, dropping
    /// whatever input was waiting from before.
    pub fn open(
        path: &str,
        settings: &SerialSettings,
        events: EventSink,
    ) -> Result<SerialTransport, TransportError> {
        let port = settings
            .builder(path)
            .open()
            .map_err(|source| TransportError::Open {
                path: path.to_string(),
                source,
            })?;
        // Bytes the module printed before the port was opened (or garbled before the settings
        // applied) belong to no run. A port that cannot flush still works, so ignore failure.
        let _ = port.clear(serialport::ClearBuffer::Input);
        SerialTransport::from_port(port, path.to_string(), events)
    }

    /// Uses a port that is already open, such as one end of `TTYPort::pair()`.
    pub fn from_tty(port: TTYPort, events: EventSink) -> Result<SerialTransport, TransportError> {
        let path = port.name().unwrap_or_else(|| "pseudo-terminal".to_string());
        SerialTransport::from_port(Box::new(port), path, events)
    }

    /// Uses any open `serialport` port; `path` names it in messages.
    pub fn from_port(
        mut port: Box<dyn SerialPort>,
        path: String,
        events: EventSink,
    ) -> Result<SerialTransport, TransportError> {
        let clone_err = |source| TransportError::Clone {
            path: path.clone(),
            source,
        };
        port.set_timeout(WRITE_TIMEOUT).map_err(clone_err)?;
        let mut reader_port = port.try_clone().map_err(clone_err)?;
        reader_port.set_timeout(READ_POLL).map_err(clone_err)?;

        let (tx, incoming) = mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let thread_events = events.clone();
        let reader = std::thread::Builder::new()
            .name(format!("serial reader {path}"))
            .spawn(move || read_loop(reader_port, tx, thread_stop, thread_events))
            .map_err(|source| TransportError::Thread {
                path: path.clone(),
                source,
            })?;
        Ok(SerialTransport {
            path,
            writer: Arc::new(Mutex::new(port)),
            incoming,
            ended: None,
            stop,
            reader: Some(reader),
            events,
        })
    }

    /// The device path (or pty name) this transport talks to.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Writes all of `bytes`, recording them first so the event stream orders the host's
    /// bytes before the module's answer to them.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.events.emit(RunEvent::SerialOut {
            bytes: bytes.to_vec(),
        });
        let writer = self.writer.clone();
        let data = bytes.to_vec();
        // serialport writes block; keep them off the async threads. The port's own timeout
        // bounds each write, so this task always finishes.
        let result = tokio::task::spawn_blocking(move || {
            let mut port = writer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            port.write_all(&data)
        })
        .await
        .unwrap_or_else(|join| Err(std::io::Error::other(join.to_string())));
        result.map_err(|source| TransportError::Write {
            path: self.path.clone(),
            len: bytes.len(),
            source,
        })
    }

    /// The next chunk the module sent; an error once the port has failed or hung up.
    /// Cancel-safe: a chunk is never lost when the future is dropped.
    pub async fn recv(&mut self) -> Result<Vec<u8>, TransportError> {
        if let Some(reason) = &self.ended {
            return Err(self.read_error(reason.clone()));
        }
        match self.incoming.recv().await {
            Some(Incoming::Bytes(bytes)) => Ok(bytes),
            Some(Incoming::Ended(reason)) => {
                self.ended = Some(reason.clone());
                Err(self.read_error(reason))
            }
            None => Err(self.read_error("the reader thread stopped".into())),
        }
    }

    /// A chunk that has already arrived, without waiting.
    pub fn try_recv(&mut self) -> Result<Option<Vec<u8>>, TransportError> {
        if let Some(reason) = &self.ended {
            return Err(self.read_error(reason.clone()));
        }
        match self.incoming.try_recv() {
            Ok(Incoming::Bytes(bytes)) => Ok(Some(bytes)),
            Ok(Incoming::Ended(reason)) => {
                self.ended = Some(reason.clone());
                Err(self.read_error(reason))
            }
            Err(mpsc::error::TryRecvError::Empty) => Ok(None),
            Err(mpsc::error::TryRecvError::Disconnected) => {
                Err(self.read_error("the reader thread stopped".into()))
            }
        }
    }

    /// Drives DTR or RTS. A pty has neither, and some adapters lack one: callers that use this
    /// for a reset should treat an error as "no reset line" and fall back to `AT+RST`.
    pub fn set_control_line(
        &mut self,
        line: ControlLine,
        asserted: bool,
    ) -> Result<(), TransportError> {
        let mut port = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let result = match line {
            ControlLine::Dtr => port.write_data_terminal_ready(asserted),
            ControlLine::Rts => port.write_request_to_send(asserted),
        };
        result.map_err(|source| TransportError::ControlLine {
            path: self.path.clone(),
            line,
            source,
        })
    }

    /// Asserts `line` for `hold`, then releases it: the reset pulse of boards that wire RTS
    /// or DTR to the module's EN pin.
    pub async fn pulse(&mut self, line: ControlLine, hold: Duration) -> Result<(), TransportError> {
        self.set_control_line(line, true)?;
        tokio::time::sleep(hold).await;
        self.set_control_line(line, false)
    }

    fn read_error(&self, reason: String) -> TransportError {
        TransportError::Read {
            path: self.path.clone(),
            reason,
        }
    }
}

impl Drop for SerialTransport {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(reader) = self.reader.take() {
            // Returns within READ_POLL: the thread checks `stop` after every read timeout.
            let _ = reader.join();
        }
    }
}

fn read_loop(
    mut port: Box<dyn SerialPort>,
    tx: mpsc::UnboundedSender<Incoming>,
    stop: Arc<AtomicBool>,
    events: EventSink,
) {
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match port.read(&mut buf) {
            Ok(0) => {
                let _ = tx.send(Incoming::Ended("the port hung up".into()));
                return;
            }
            Ok(n) => {
                let bytes = buf[..n].to_vec();
                events.emit(RunEvent::SerialIn {
                    bytes: bytes.clone(),
                });
                if tx.send(Incoming::Bytes(bytes)).is_err() {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                let _ = tx.send(Incoming::Ended(e.to_string()));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rig_file_settings_default_to_115200_8n1() {
        let s: SerialSettings = serde_yaml::from_str("{}").unwrap();
        assert_eq!(s, SerialSettings::default());
        let s: SerialSettings = serde_yaml::from_str(
            "{baud: 74880, parity: even, stop_bits: 2, flow_control: hardware}",
        )
        .unwrap();
        assert_eq!(s.baud, 74880);
        assert_eq!(s.parity, Parity::Even);
        assert_eq!(u8::from(s.stop_bits), 2);
        assert_eq!(u8::from(s.data_bits), 8);
        assert_eq!(s.flow_control, FlowControl::Hardware);
    }

    #[test]
    fn impossible_settings_are_refused_with_a_reason() {
        let err = serde_yaml::from_str::<SerialSettings>("{data_bits: 9}").unwrap_err();
        assert!(
            err.to_string().contains("data bits must be 5, 6, 7 or 8"),
            "{err}"
        );
        let err = serde_yaml::from_str::<SerialSettings>("{parity: mark}").unwrap_err();
        assert!(err.to_string().contains("mark"), "{err}");
    }
}
