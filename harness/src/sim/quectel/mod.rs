//! The virtual Quectel EC20/BG96, [`Quectel`]: a sans-IO interpreter of the Quectel QI TCP/IP
//! AT dialect with the same [`Input`]/[`Effect`] vocabulary as the ESP8266 firmware, so the
//! simulator's pty, pacing and TCP runtime drive it unchanged (see `sim/personality.rs`).
//!
//! Files: `model.rs` (what differs per model, the `quectel:` config), `framing.rs` (command
//! lines ended by CR, the send prompt's raw bytes), `boot.rs` (power-on URCs, `AT+CFUN`),
//! `identity.rs` (`ATI`, `AT+GSN`, `AT+CMEE`…), `network.rs` (registration, `AT+CSQ`,
//! `AT+COPS?`), `pdp.rs` (`AT+QICSGP`/`AT+QIACT`/`AT+QIDEACT`), `socket.rs` (`AT+QIOPEN`,
//! `AT+QICLOSE`, `AT+QISTATE`), `data.rs` (`AT+QISEND`, `+QIURC: "recv"`, `AT+QIRD`), `dns.rs`
//! (`AT+QIDNSGIP`), `errors.rs` (`+CME ERROR` codes).

mod boot;
mod data;
mod dns;
mod errors;
mod framing;
mod identity;
mod model;
mod network;
mod pdp;
mod socket;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests_basic;
#[cfg(test)]
mod tests_socket;

use std::time::Duration;

use super::config::{Faults, SimConfig};
use super::firmware::{parse_line, Command, Effect, Input, NetEvent, SocketId, Timer};
use super::personality::Personality;
pub use errors::CmeError;
use framing::Mode;
pub use model::{QuectelConfig, QuectelModel};
use pdp::Context;
use socket::{Link, LINKS};

/// A wake-up the Quectel personality asked for; opaque outside this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wake(WakeKind);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WakeKind {
    /// The reboot's quiet time is over: `RDY` and the SIM URCs.
    Booted,
    /// The network search found a cell.
    Registered,
    /// `AT+QIACT=<ctx>` completes.
    Activated(usize),
}

/// The emulated module: settings, this boot's state, and what serial input is feeding.
pub struct Quectel {
    settings: QuectelConfig,
    config: SimConfig,
    mode: Mode,
    /// The last byte ended a command line with CR: an LF right after it is the rest of a
    /// CR LF, never payload (RT-Thread sends `AT+QISEND=0,37\r\n`, then the 37 bytes).
    after_cr: bool,
    echo: bool,
    /// `AT+CMEE`: 0 plain `ERROR`, 1 numeric `+CME ERROR: <n>`, 2 verbose.
    cmee: u8,
    /// `<n>` of `AT+CREG`, `AT+CGREG`, `AT+CEREG` (0 no URC, 1 stat URC, 2 with location).
    reg_urc: [u8; 3],
    registered: bool,
    /// The PDP contexts 1..=16, index 0 unused.
    contexts: Vec<Context>,
    links: [Option<Link>; LINKS],
    /// Bumped on reboot so timers of the old boot are ignored.
    epoch: u64,
    next_socket: SocketId,
    out: Vec<Effect>,
}

impl Quectel {
    /// A module powered up before the host opened the port: booted, searching for the network
    /// (see [`Personality::start`]), nothing printed.
    pub fn new(settings: QuectelConfig, config: SimConfig) -> Quectel {
        Quectel {
            echo: config.echo,
            settings,
            config,
            mode: Mode::command(),
            after_cr: false,
            cmee: 1,
            reg_urc: [0; 3],
            registered: false,
            contexts: vec![Context::default(); pdp::CONTEXTS + 1],
            links: Default::default(),
            epoch: 0,
            next_socket: 1,
            out: Vec::new(),
        }
    }

    fn on_wake(&mut self, wake: WakeKind) {
        match wake {
            WakeKind::Booted => self.booted(),
            WakeKind::Registered => self.registered(),
            WakeKind::Activated(ctx) => self.activated(ctx),
        }
    }

    fn on_net(&mut self, event: NetEvent) {
        match event {
            NetEvent::Connected { socket, local, .. } => self.connected(socket, local),
            NetEvent::ConnectFailed { socket } => self.connect_failed(socket),
            NetEvent::Sent { socket } => self.sent(socket, true),
            NetEvent::SendFailed { socket } => self.sent(socket, false),
            NetEvent::Received { socket, data } => self.received(socket, &data),
            NetEvent::Closed { socket } => self.peer_closed(socket),
            // The QI personality has no TCP server (`AT+QIOPEN` "TCP LISTENER" is not
            // emulated), so these never come.
            NetEvent::Listening { .. } | NetEvent::Accepted { .. } => {}
        }
    }

    /// Runs one command line (without its CR), after the fault knobs had their say.
    fn execute(&mut self, line: &[u8]) {
        let faults = &self.config.faults;
        if faults.silent.iter().any(|p| line.starts_with(p.as_bytes())) {
            return;
        }
        if faults.error.iter().any(|p| line.starts_with(p.as_bytes())) {
            return self.error();
        }
        let rest = &line[2..];
        if !rest.starts_with(b"+") {
            // Basic commands (`ATE0`, `ATI`, `AT&D0`): V.250 letters, `&`, digits.
            return self.basic(rest);
        }
        // Quectel takes command names in either case.
        let name_len = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'+')
            .count();
        let mut upper = rest.to_vec();
        upper[..name_len].make_ascii_uppercase();
        match parse_line(&upper) {
            Ok(command) => self.dispatch(&command),
            Err(_) => self.error(),
        }
    }

    fn dispatch(&mut self, command: &Command) {
        let handled = self.identity(command)
            || self.network(command)
            || self.pdp(command)
            || self.socket(command)
            || self.data(command)
            || self.dns(command);
        if !handled {
            tracing::debug!("sim: `AT{}` is not emulated; answering ERROR", command.name);
            self.error();
        }
    }

    // ---- output helpers: every Quectel line is framed `\r\n<text>\r\n` ----

    fn put(&mut self, bytes: &[u8]) {
        super::personality::put_serial(&mut self.out, bytes);
    }

    /// An information response or URC: `\r\n<text>\r\n`.
    fn info(&mut self, text: &str) {
        self.put(format!("\r\n{text}\r\n").as_bytes());
    }

    /// A multi-line information response: one leading CR LF, each line ended by CR LF.
    fn info_lines(&mut self, lines: &[&str]) {
        self.put(b"\r\n");
        for line in lines {
            self.put(line.as_bytes());
            self.put(b"\r\n");
        }
    }

    fn ok(&mut self) {
        self.put(b"\r\nOK\r\n");
    }

    fn error(&mut self) {
        self.put(b"\r\nERROR\r\n");
    }

    /// A `+CME ERROR` final result as `AT+CMEE` asks for it.
    fn cme(&mut self, error: CmeError) {
        match error.render(self.cmee) {
            Some(text) => self.info(&text),
            None => self.error(),
        }
    }

    fn wake(&mut self, after_ms: u64, kind: WakeKind) {
        self.out.push(Effect::Wake {
            after: Duration::from_millis(after_ms),
            timer: Timer::quectel(self.epoch, Wake(kind)),
        });
    }

    fn new_socket(&mut self) -> SocketId {
        let id = self.next_socket;
        self.next_socket += 1;
        id
    }
}

impl Personality for Quectel {
    fn start(&mut self) -> Vec<Effect> {
        self.wake(self.settings.registration_ms, WakeKind::Registered);
        std::mem::take(&mut self.out)
    }

    fn input(&mut self, input: Input) -> Vec<Effect> {
        match input {
            Input::Serial(bytes) => self.on_serial(&bytes),
            Input::Net(event) => self.on_net(event),
            Input::Timer(timer) => match timer.as_quectel() {
                Some((epoch, Wake(kind))) if epoch == self.epoch => self.on_wake(kind),
                // A timer of an earlier boot, or not ours.
                Some(_) | None => {}
            },
            Input::Reset { .. } => self.reboot(),
        }
        std::mem::take(&mut self.out)
    }

    /// Only `silent` and `error` apply to this personality; the ESP firmware's link and
    /// reset faults have no Quectel counterpart yet.
    fn set_faults(&mut self, faults: Faults) {
        self.config.faults = faults;
    }
}
