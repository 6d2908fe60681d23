//! A test bench for [`Firmware`]: a fake clock that fires the requested timers in order, and a
//! record of the socket actions, so tests read as literal byte exchanges.

use std::net::SocketAddr;
use std::time::Duration;

use super::{serial_bytes, Effect, Firmware, Input, NetEvent, SocketId, Timer};
use crate::sim::config::SimConfig;

pub struct Bench {
    pub fw: Firmware,
    now: Duration,
    timers: Vec<(Duration, Timer)>,
    pub connects: Vec<(SocketId, SocketAddr)>,
    pub sends: Vec<(SocketId, Vec<u8>)>,
    pub closes: Vec<SocketId>,
    pub bauds: Vec<u32>,
}

impl Bench {
    pub fn new(config: SimConfig) -> Bench {
        Bench {
            fw: Firmware::new(config),
            now: Duration::ZERO,
            timers: Vec::new(),
            connects: Vec::new(),
            sends: Vec::new(),
            closes: Vec::new(),
            bauds: Vec::new(),
        }
    }

    /// A default NonOS module with the lab AP and an Aliyun-style name map.
    pub fn lab() -> Bench {
        Bench::new(lab_config())
    }

    fn feed(&mut self, input: Input) -> Vec<u8> {
        let effects = self.fw.input(input);
        for effect in &effects {
            match effect {
                Effect::Serial(_) => {}
                Effect::Connect { socket, addr, .. } => self.connects.push((*socket, *addr)),
                Effect::Send { socket, data } => self.sends.push((*socket, data.clone())),
                Effect::Close { socket } => self.closes.push(*socket),
                Effect::Wake { after, timer } => self.timers.push((self.now + *after, *timer)),
                Effect::Baud(baud) => self.bauds.push(*baud),
                Effect::Listen { .. } | Effect::Unlisten => {}
            }
        }
        serial_bytes(&effects)
    }

    /// The host types `bytes`; returns what the module printed at once.
    pub fn typed(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.feed(Input::Serial(bytes.to_vec()))
    }

    pub fn net(&mut self, event: NetEvent) -> Vec<u8> {
        self.feed(Input::Net(event))
    }

    /// Pulls the RST pin and lets the module boot; returns what it printed.
    pub fn pin_reset(&mut self, factory: bool) -> Vec<u8> {
        let mut out = self.feed(Input::Reset { factory });
        out.extend(self.settle());
        out
    }

    /// Lets time pass until no timer is left; returns everything printed meanwhile.
    pub fn settle(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..1000 {
            let Some(next) = (0..self.timers.len()).min_by_key(|&i| self.timers[i].0) else {
                return out;
            };
            let (at, timer) = self.timers.remove(next);
            self.now = self.now.max(at);
            out.extend(self.feed(Input::Timer(timer)));
        }
        panic!("timers never settled");
    }

    /// Types a command and lets it finish.
    pub fn run(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = self.typed(bytes);
        out.extend(self.settle());
        out
    }

    /// ATE0 and a successful join, output checked and discarded.
    pub fn joined(mut self) -> Bench {
        let echo_off = self.run(b"ATE0\r\n");
        assert!(echo_off.ends_with(b"\r\nOK\r\n"), "{echo_off:?}");
        assert_eq!(
            self.run(b"AT+CWJAP=\"athil-lab\",\"athil-pass\"\r\n"),
            b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n"
        );
        self
    }

    /// Answers the last connect with success; returns what was printed.
    pub fn accept(&mut self, local_port: u16) -> Vec<u8> {
        let (socket, peer) = *self.connects.last().expect("a connect was requested");
        let local = SocketAddr::new(peer.ip(), local_port);
        self.net(NetEvent::Connected {
            socket,
            local,
            peer,
        })
    }

    /// Confirms the last send and lets the ACK time pass.
    pub fn ack(&mut self) -> Vec<u8> {
        let (socket, _) = *self.sends.last().expect("a send was requested");
        let mut out = self.net(NetEvent::Sent { socket });
        out.extend(self.settle());
        out
    }

    pub fn last_socket(&self) -> SocketId {
        self.connects.last().expect("a connect was requested").0
    }
}

pub fn lab_config() -> SimConfig {
    let mut config = SimConfig::default();
    config.names.prepend(
        "iot-*.mqtt.iothub.aliyuncs.com",
        "127.0.0.7:1883".parse().unwrap(),
    );
    config.names.prepend(
        "*.iot-as-mqtt.*.aliyuncs.com",
        "127.0.0.7:1883".parse().unwrap(),
    );
    config
}
