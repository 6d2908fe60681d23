//! Synthetic event streams for the report tests. The reports are pure consumers of `Stamped`
//! events, so events built here are their real input; the bytes are the seeds' (CONNACK
//! `20 02 00 00` / `20 02 00 04`, `+IPD,4:`) and a CONNECT laid out as Alibaba Cloud wants it.
#![allow(dead_code)]

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use athil::mqtt::{Connack, Connect, Packet};
use athil::run::{Failure, FailureKind, Outcome, RunEvent, Stamped, TcpDirection};

/// The Wi-Fi password every script here types; no output file may contain it.
pub const WIFI_PASSWORD: &str = "hunter22-lab";
pub const CLIENT_ID: &str = "dev1|securemode=3,signmethod=hmacsha1,timestamp=1|";
pub const USERNAME: &str = "dev1&a1ProdKey";
pub const SIGN: &str = "0123456789abcdef0123456789abcdef01234567";
pub const CONNACK_OK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
pub const CONNACK_REFUSED: [u8; 4] = [0x20, 0x02, 0x00, 0x04];

/// A 3.1.1 CONNECT (clean session, keepalive 60, user name and password), written out field by
/// field as the seeds do.
pub fn connect_bytes() -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u16).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xC2, 0x00, 0x3C];
    string(&mut body, CLIENT_ID);
    string(&mut body, USERNAME);
    string(&mut body, SIGN);
    assert!(body.len() < 128, "one-byte remaining length");
    let mut out = vec![0x10, body.len() as u8];
    out.extend_from_slice(&body);
    out
}

pub fn connect_packet() -> Packet {
    let mut c = Connect::new(CLIENT_ID, 60);
    c.username = Some(USERNAME.into());
    c.password = Some(SIGN.as_bytes().to_vec());
    Packet::from(c)
}

pub fn client() -> SocketAddr {
    "127.0.0.1:50312".parse().unwrap()
}

pub fn server() -> SocketAddr {
    "127.0.0.1:1883".parse().unwrap()
}

/// Builds a stamped event stream on a fake clock starting at a fixed wall-clock time.
pub struct Script {
    start: SystemTime,
    pub now: Duration,
    pub events: Vec<Stamped>,
}

impl Script {
    pub fn new() -> Script {
        Script {
            start: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            now: Duration::ZERO,
            events: Vec::new(),
        }
    }

    /// Moves the clock forward.
    pub fn wait(&mut self, ms: u64) -> &mut Script {
        self.now += Duration::from_millis(ms);
        self
    }

    pub fn push(&mut self, event: RunEvent) -> &mut Script {
        self.push_at(self.now, event)
    }

    /// An event stamped at `since_start`, whatever the clock says (out-of-order emission).
    pub fn push_at(&mut self, since_start: Duration, event: RunEvent) -> &mut Script {
        self.events
            .push(Stamped::new(self.start + since_start, since_start, event));
        self
    }

    /// `RunFinished` with the clock's time as the run's length.
    pub fn run_finished(
        &mut self,
        passed: usize,
        failed: usize,
        skipped: usize,
        interrupted: bool,
    ) -> &mut Script {
        let elapsed = self.now;
        self.push(RunEvent::RunFinished {
            passed,
            failed,
            skipped,
            elapsed,
            interrupted,
        })
    }

    pub fn scenario(&mut self, name: &str, file: &str) -> &mut Script {
        self.push(RunEvent::ScenarioStarted {
            name: name.into(),
            file: PathBuf::from(file),
        })
    }

    pub fn step(&mut self, index: usize, label: &str, line: usize) -> &mut Script {
        self.push(RunEvent::StepStarted {
            index,
            label: label.into(),
            name: None,
            line,
        })
    }

    pub fn step_done(&mut self, index: usize, outcome: Outcome, ms: u64) -> &mut Script {
        self.push(RunEvent::StepFinished {
            index,
            outcome,
            elapsed: Duration::from_millis(ms),
        })
    }

    pub fn out(&mut self, bytes: &[u8]) -> &mut Script {
        self.push(RunEvent::SerialOut {
            bytes: bytes.to_vec(),
        })
    }

    pub fn inn(&mut self, bytes: &[u8]) -> &mut Script {
        self.push(RunEvent::SerialIn {
            bytes: bytes.to_vec(),
        })
    }

    pub fn tcp(&mut self, conn: u64, direction: TcpDirection, bytes: &[u8]) -> &mut Script {
        self.push(RunEvent::TcpData {
            conn,
            direction,
            bytes: bytes.to_vec(),
        })
    }

    /// A scenario that joins Wi-Fi (the password echoed back in two chunks that split it),
    /// opens TCP, sends CONNECT and gets `connack` back through `+IPD,4:`. Ends with the CONNACK
    /// step still running; the caller finishes it.
    pub fn connect_flow(&mut self, conn: u64, connack: [u8; 4]) -> &mut Script {
        let cwjap = format!("AT+CWJAP=\"lab\",\"{WIFI_PASSWORD}\"\r\n");
        let (a, b) = cwjap.as_bytes().split_at(cwjap.find("ter22").unwrap());
        let connect = connect_bytes();
        self.step(0, "send AT+CWJAP", 5)
            .out(cwjap.as_bytes())
            .wait(3)
            .inn(a)
            .wait(2)
            .inn(b)
            .wait(900)
            .inn(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n")
            .step_done(0, Outcome::Passed, 905)
            .wait(10)
            .step(1, "send AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883", 7)
            .out(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n")
            .wait(5)
            .push(RunEvent::TcpOpened {
                conn,
                client: client(),
                server: server(),
            })
            .wait(1)
            .inn(b"CONNECT\r\n\r\nOK\r\n")
            .step_done(1, Outcome::Passed, 6)
            .wait(10)
            .step(2, &format!("send AT+CIPSEND={}", connect.len()), 9)
            .out(format!("AT+CIPSEND={}\r\n", connect.len()).as_bytes())
            .wait(2)
            .inn(b"\r\nOK\r\n> ")
            .out(&connect)
            .wait(3)
            .tcp(conn, TcpDirection::Uplink, &connect)
            .push(RunEvent::MqttPacket {
                conn,
                direction: TcpDirection::Uplink,
                packet: connect_packet(),
            })
            .inn(format!("\r\nRecv {} bytes\r\n\r\nSEND OK\r\n", connect.len()).as_bytes())
            .step_done(2, Outcome::Passed, 5)
            .wait(1)
            .step(3, "receive 20 02 00 00", 11)
            .wait(4)
            .tcp(conn, TcpDirection::Downlink, &connack)
            .push(RunEvent::MqttPacket {
                conn,
                direction: TcpDirection::Downlink,
                packet: Packet::Connack(Connack {
                    session_present: false,
                    return_code: connack[3],
                }),
            })
            .wait(1);
        let mut ipd = b"\r\n+IPD,4:".to_vec();
        ipd.extend_from_slice(&connack);
        ipd.extend_from_slice(b"\r\n");
        self.inn(&ipd)
    }
}

/// The failure a refused CONNACK makes.
pub fn refused_failure() -> Failure {
    Failure {
        step: "receive: 20 02 00 00 (line 11)".into(),
        message: "expected CONNACK return code 0, got 4".into(),
        kind: FailureKind::Bytes,
        expected: "20 02 00 00".into(),
        actual: "20 02 00 04".into(),
        last_serial: b"\r\n+IPD,4: \x02\x00\x04\r\n".to_vec(),
        last_serial_window: athil::run::SerialWindow::SinceStep { total: 15 },
    }
}

/// An `io::Write` the test can read back after the console has been moved into a reporter.
#[derive(Clone, Default)]
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer whose every write fails, like a closed terminal.
pub struct BrokenPipe;

impl Write for BrokenPipe {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
