//! The AT command interpreter of the virtual module, [`Firmware`]: a sans-IO state machine.
//! Serial bytes, socket events and timer wake-ups go in ([`Input`]); serial bytes, socket
//! actions and timer requests come out ([`Effect`]). It never reads a clock or touches a
//! socket, so every exchange is testable with literal bytes.

mod basic;
mod framing;
mod line;
mod passthrough;
mod probe;
mod recv;
mod send;
mod server;
mod state;
mod station;
mod tcpip;
mod wifi;

#[cfg(test)]
mod testbench;
#[cfg(test)]
mod tests_basic;
#[cfg(test)]
mod tests_links;
#[cfg(test)]
mod tests_order;
#[cfg(test)]
mod tests_passthrough;
#[cfg(test)]
mod tests_probe;
#[cfg(test)]
mod tests_tcp;

use std::net::SocketAddr;
use std::time::Duration;

use super::config::{Flavour, SimConfig};
use framing::Mode;
use state::{Flash, Session};

pub use line::{Command, Form, Param, Variant};
// The Quectel personality parses its command lines the same way (`sim/quectel/`).
pub(crate) use line::{int_in, parse as parse_line};

/// Names one TCP connection for as long as it lives; never reused within a [`Firmware`].
pub type SocketId = u64;

/// What a link carries: a TCP stream, or UDP datagrams from `local_port` (0: any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Tcp,
    Udp { local_port: u16 },
}

/// What the firmware asks its surroundings to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Bytes to the host, in order.
    Serial(Vec<u8>),
    /// Open a TCP connection (or a UDP socket fixed to `addr`); answer with exactly one
    /// `Connected` or `ConnectFailed`.
    Connect {
        socket: SocketId,
        addr: SocketAddr,
        timeout: Duration,
        kind: LinkKind,
    },
    /// Listen for TCP clients on this port of the module's address; answer with `Listening`,
    /// then one `Accepted` per client.
    Listen { port: u16 },
    /// Stop listening (clients already accepted stay).
    Unlisten,
    /// Write all of `data`; answer with exactly one `Sent` or `SendFailed`, even if the socket
    /// is already gone.
    Send { socket: SocketId, data: Vec<u8> },
    /// Close the socket; nothing more is expected from it.
    Close { socket: SocketId },
    /// Feed `timer` back as [`Input::Timer`] once `after` has passed.
    Wake { after: Duration, timer: Timer },
    /// The AT port now runs at this rate (`AT+UART_CUR`), for pacing.
    Baud(u32),
}

/// What happened on the network side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    Connected {
        socket: SocketId,
        local: SocketAddr,
        peer: SocketAddr,
    },
    ConnectFailed {
        socket: SocketId,
    },
    Sent {
        socket: SocketId,
    },
    SendFailed {
        socket: SocketId,
    },
    Received {
        socket: SocketId,
        data: Vec<u8>,
    },
    /// The peer closed (FIN or RST) or the socket broke.
    Closed {
        socket: SocketId,
    },
    /// The answer to [`Effect::Listen`].
    Listening {
        ok: bool,
    },
    /// A client connected to the module's TCP server; its socket is already open.
    Accepted {
        socket: SocketId,
        local: SocketAddr,
        peer: SocketAddr,
    },
}

/// A wake-up the firmware asked for; opaque outside this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    epoch: u64,
    kind: TimerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimerKind {
    Booted,
    Associated,
    GotIp,
    JoinFailed(u8),
    AutoAssociated(usize),
    AutoGotIp(usize),
    AutoFailed,
    /// The ACK time of the send with this serial number ran out.
    SendOk(u64),
    /// Passthrough: 20 ms without serial input since the chunk with this serial number.
    Quiet(u64),
    /// A wake-up of the Quectel personality: the runtime keeps one timer type for both
    /// personalities, so the other's wake-ups travel inside it (never fed to this one).
    Quectel(crate::sim::quectel::Wake),
}

impl Timer {
    /// A Quectel wake-up in the shared timer type.
    pub(crate) fn quectel(epoch: u64, wake: crate::sim::quectel::Wake) -> Timer {
        Timer {
            epoch,
            kind: TimerKind::Quectel(wake),
        }
    }

    /// The Quectel wake-up and its epoch, if this timer carries one.
    pub(crate) fn as_quectel(&self) -> Option<(u64, crate::sim::quectel::Wake)> {
        match self.kind {
            TimerKind::Quectel(wake) => Some((self.epoch, wake)),
            _ => None,
        }
    }
}

/// Everything that can happen to the firmware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Serial(Vec<u8>),
    Net(NetEvent),
    Timer(Timer),
    /// The RST pin or the power was cycled; `factory` also wipes flash (a fresh module).
    Reset {
        factory: bool,
    },
}

/// The emulated module: configuration, what is in flash, what this boot knows, and what the
/// serial input is currently feeding (a command line, send data, nothing while busy).
pub struct Firmware {
    flavour: Flavour,
    config: SimConfig,
    flash: Flash,
    session: Session,
    mode: Mode,
    /// Bumped whenever pending timers must be forgotten (reset, a new join).
    epoch: u64,
    next_socket: SocketId,
    /// Command lines executed since power-on, for the `reset_at_command` fault.
    commands: u32,
    /// Payloads handed to a socket so far; names each send's `SEND OK` timer.
    send_serial: u64,
    /// Serial chunks taken in passthrough so far; names each chunk's silence timer.
    quiet_serial: u64,
    /// Passthrough packets on their way to the socket.
    transmit: passthrough::Transmit,
    out: Vec<Effect>,
}

impl Firmware {
    /// A module that has been powered for a while: booted, idle, nothing printed.
    pub fn new(config: SimConfig) -> Firmware {
        // Access points that name no radio get their own now, whoever put them in the list.
        let config = config.radios_assigned();
        let flash = Flash::factory(&config);
        let session = Session::boot(&flash, &config);
        Firmware {
            flavour: config.firmware,
            config,
            flash,
            session,
            mode: Mode::command(),
            epoch: 0,
            next_socket: 1,
            commands: 0,
            send_serial: 0,
            quiet_serial: 0,
            transmit: passthrough::Transmit::default(),
            out: Vec::new(),
        }
    }

    /// Swaps the fault knobs; `reset_at_command` then counts command lines from now.
    pub fn set_faults(&mut self, faults: super::config::Faults) {
        self.config.faults = faults;
        self.commands = 0;
    }

    /// Feeds one input and returns what the firmware does about it, in order.
    pub fn input(&mut self, input: Input) -> Vec<Effect> {
        match input {
            Input::Serial(bytes) => self.on_serial(&bytes),
            Input::Net(event) => self.on_net(event),
            Input::Timer(timer) if timer.epoch == self.epoch => self.on_timer(timer.kind),
            Input::Timer(_) => {}
            Input::Reset { factory } => self.reset(super::boot::ResetCause::PowerOn, factory),
        }
        std::mem::take(&mut self.out)
    }

    fn on_timer(&mut self, kind: TimerKind) {
        match kind {
            TimerKind::Booted => self.booted(),
            TimerKind::Associated => self.associated(),
            TimerKind::GotIp => self.got_ip(),
            TimerKind::JoinFailed(code) => self.join_failed(code),
            TimerKind::AutoAssociated(ap) => self.auto_associated(ap),
            TimerKind::AutoGotIp(ap) => self.auto_got_ip(ap),
            TimerKind::AutoFailed => self.auto_failed(),
            TimerKind::SendOk(serial) => self.send_ok_due(serial),
            TimerKind::Quiet(serial) => self.quiet(serial),
            // Only the Quectel personality asks for these.
            TimerKind::Quectel(_) => {}
        }
    }

    fn on_net(&mut self, event: NetEvent) {
        match event {
            NetEvent::Connected {
                socket,
                local,
                peer,
            } => self.connected(socket, local, peer),
            NetEvent::ConnectFailed { socket } => self.connect_failed(socket),
            NetEvent::Sent { socket } if self.passthrough_sent(socket, true) => {}
            NetEvent::SendFailed { socket } if self.passthrough_sent(socket, false) => {}
            NetEvent::Sent { socket } => self.sent(socket, true),
            NetEvent::SendFailed { socket } => self.sent(socket, false),
            NetEvent::Received { socket, data } => self.received(socket, &data),
            NetEvent::Closed { socket } => self.peer_closed(socket),
            NetEvent::Listening { ok } => self.listening(ok),
            NetEvent::Accepted {
                socket,
                local,
                peer,
            } => self.accepted(socket, local, peer),
        }
    }

    /// Runs one complete command line (without its CR LF), after the fault knobs had their say.
    fn execute(&mut self, line: &[u8]) {
        self.commands = self.commands.saturating_add(1);
        if self.config.faults.reset_at_command == Some(self.commands) {
            self.reset(super::boot::ResetCause::Watchdog, false);
            return;
        }
        let faults = &self.config.faults;
        if faults.silent.iter().any(|p| line.starts_with(p.as_bytes())) {
            // Only the command name: the parameters may hold a Wi-Fi password.
            let name = line.split(|&b| b == b'=').next().unwrap_or_default();
            tracing::debug!(
                "sim: fault `silent` swallows {}",
                String::from_utf8_lossy(name)
            );
            return;
        }
        if faults.error.iter().any(|p| line.starts_with(p.as_bytes())) {
            self.error();
            return;
        }
        match line::parse(&line[2..]) {
            Ok(command) => self.dispatch(command),
            Err(line::Malformed) => self.error(),
        }
    }

    fn dispatch(&mut self, command: Command) {
        let handled = self.basic(&command)
            || self.wifi(&command)
            || self.tcpip(&command)
            || self.probe(&command);
        if !handled {
            tracing::debug!("sim: `AT{}` is not emulated; answering ERROR", command.name);
            self.error();
        }
    }

    // ---- output helpers ----

    fn put(&mut self, bytes: &[u8]) {
        super::personality::put_serial(&mut self.out, bytes);
    }

    /// An information line: text then CR LF, no leading CR LF (F1/F2 literals).
    fn line(&mut self, text: &str) {
        self.put(text.as_bytes());
        self.put(b"\r\n");
    }

    fn ok(&mut self) {
        self.put(b"\r\nOK\r\n");
    }

    fn error(&mut self) {
        self.put(b"\r\nERROR\r\n");
    }

    /// NonOS's reason line before `ERROR` (nothing extra on ESP-AT, see [`Flavour::reason`]).
    fn fail(&mut self, reason: &'static [u8]) {
        let reason = self.flavour.reason(reason);
        self.put(reason);
        self.error();
    }

    fn wake(&mut self, after_ms: u64, kind: TimerKind) {
        self.out.push(Effect::Wake {
            after: Duration::from_millis(after_ms),
            timer: Timer {
                epoch: self.epoch,
                kind,
            },
        });
    }

    fn new_socket(&mut self) -> SocketId {
        let id = self.next_socket;
        self.next_socket += 1;
        id
    }
}

/// The serial bytes among `effects`, concatenated (what the host would read).
pub fn serial_bytes(effects: &[Effect]) -> Vec<u8> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Serial(bytes) => Some(bytes.as_slice()),
            Effect::Connect { .. }
            | Effect::Listen { .. }
            | Effect::Unlisten
            | Effect::Send { .. }
            | Effect::Close { .. }
            | Effect::Wake { .. }
            | Effect::Baud(_) => None,
        })
        .flatten()
        .copied()
        .collect()
}
