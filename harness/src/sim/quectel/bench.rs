//! A test bench for [`Quectel`]: a fake clock that fires the requested timers in order and a
//! record of the socket actions, so tests read as literal byte exchanges.

use std::net::SocketAddr;
use std::time::Duration;

use super::{Quectel, QuectelConfig, QuectelModel};
use crate::sim::config::SimConfig;
use crate::sim::firmware::{serial_bytes, Effect, Input, NetEvent, SocketId, Timer};
use crate::sim::personality::Personality;

pub struct Bench {
    pub q: Quectel,
    now: Duration,
    timers: Vec<(Duration, Timer)>,
    pub connects: Vec<(SocketId, SocketAddr)>,
    pub sends: Vec<(SocketId, Vec<u8>)>,
    pub closes: Vec<SocketId>,
}

impl Bench {
    /// A freshly started module of `model` whose name map sends `*.heclouds.com` to
    /// 127.0.0.9:6002; nothing printed yet, the network search running.
    pub fn new(model: QuectelModel) -> Bench {
        let mut config = SimConfig::default();
        config
            .names
            .prepend("*.heclouds.com", "127.0.0.9:6002".parse().unwrap());
        let settings = QuectelConfig {
            model,
            ..QuectelConfig::default()
        };
        let mut bench = Bench {
            q: Quectel::new(settings, config),
            now: Duration::ZERO,
            timers: Vec::new(),
            connects: Vec::new(),
            sends: Vec::new(),
            closes: Vec::new(),
        };
        let effects = bench.q.start();
        bench.record(&effects);
        bench
    }

    fn record(&mut self, effects: &[Effect]) {
        for effect in effects {
            match effect {
                Effect::Serial(_) | Effect::Listen { .. } | Effect::Unlisten | Effect::Baud(_) => {}
                Effect::Connect { socket, addr, .. } => self.connects.push((*socket, *addr)),
                Effect::Send { socket, data } => self.sends.push((*socket, data.clone())),
                Effect::Close { socket } => self.closes.push(*socket),
                Effect::Wake { after, timer } => self.timers.push((self.now + *after, *timer)),
            }
        }
    }

    fn feed(&mut self, input: Input) -> Vec<u8> {
        let effects = self.q.input(input);
        self.record(&effects);
        serial_bytes(&effects)
    }

    /// The host types `bytes`; returns what the module printed at once.
    pub fn typed(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.feed(Input::Serial(bytes.to_vec()))
    }

    pub fn net(&mut self, event: NetEvent) -> Vec<u8> {
        self.feed(Input::Net(event))
    }

    pub fn reset(&mut self) -> Vec<u8> {
        self.feed(Input::Reset { factory: false })
    }

    /// Lets time pass until no timer is left; returns everything printed meanwhile.
    pub fn settle(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(next) = (0..self.timers.len()).min_by_key(|&i| self.timers[i].0) {
            let (at, timer) = self.timers.remove(next);
            self.now = self.now.max(at);
            out.extend(self.feed(Input::Timer(timer)));
        }
        out
    }

    /// Types a command and lets it finish.
    pub fn run(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = self.typed(bytes);
        out.extend(self.settle());
        out
    }

    /// Registered, echo off, context 1 active: where RT-Thread's ec20 init leaves a module.
    pub fn attached(model: QuectelModel) -> Bench {
        let mut bench = Bench::new(model);
        bench.settle();
        assert_eq!(bench.run(b"ATE0\r"), b"ATE0\r\r\nOK\r\n");
        assert_eq!(
            bench.run(b"AT+QICSGP=1,1,\"CMNET\",\"\",\"\",0\r\n"),
            b"\r\nOK\r\n"
        );
        assert_eq!(bench.run(b"AT+QIACT=1\r\n"), b"\r\nOK\r\n");
        bench
    }

    /// Answers the last connect with success; returns what was printed.
    pub fn accept(&mut self, local_port: u16) -> Vec<u8> {
        let (socket, peer) = *self.connects.last().expect("a connect was requested");
        self.net(NetEvent::Connected {
            socket,
            local: SocketAddr::new(peer.ip(), local_port),
            peer,
        })
    }

    pub fn last_socket(&self) -> SocketId {
        self.connects.last().expect("a connect was requested").0
    }
}
