//! Transparent transmission ("passthrough", `AT+CIPMODE=1`, single-connection mode only): after
//! `AT+CIPSEND` with no length every byte from the host goes to link 0 and the peer's bytes come
//! out on the UART raw, with no `+IPD` header and no `SEND OK`. [`Passthrough`] is the mode.
//!
//! The rules, as Espressif documents them (NonOS AT instruction set, execute form of
//! `AT+CIPSEND`; ESP-AT's `AT+CIPSEND` and `+++` pages; `at-dialects.md` §2.12), in our words:
//! the UART stream is cut into packets whenever it has been silent for 20 ms, and a packet never
//! grows past 2048 bytes. A packet that is nothing but `+++` is not sent: it takes the module back
//! to command mode, with no reply, and the link stays up (another `AT+CIPSEND` re-enters). For
//! it to count, the three `+` must come within 20 ms of each other with 20 ms of silence before
//! and after; in packet terms, the packet holds exactly `+++` and the one before it ended by
//! silence (not by the 2048-byte cut).
//!
//! Silence is measured with the firmware's timers: each serial chunk re-arms a 20 ms wake-up
//! named by a serial number, and only the wake-up of the latest chunk cuts the packet.

use std::collections::VecDeque;

use super::framing::Mode;
use super::{Effect, Firmware, SocketId, TimerKind};

/// Silence that ends a packet (ESP8266, NonOS and ESP-AT alike).
const PACKET_GAP_MS: u64 = 20;
/// The longest packet; the next byte starts a new one.
const PACKET_MAX: usize = 2048;
/// The escape packet.
const ESCAPE: &[u8] = b"+++";

/// Data mode after `AT+CIPSEND` with `AT+CIPMODE=1`.
pub struct Passthrough {
    link: usize,
    socket: SocketId,
    /// Bytes since the last packet was cut.
    packet: Vec<u8>,
    /// The current packet began after silence (or the prompt), so it may be the escape.
    after_silence: bool,
}

/// Packets handed to the TCP stack one at a time, so they reach the peer in order.
#[derive(Default)]
pub struct Transmit {
    /// The socket whose write is under way, until its `Sent`/`SendFailed`.
    in_flight: Option<SocketId>,
    queue: VecDeque<(SocketId, Vec<u8>)>,
}

impl Firmware {
    /// `AT+CIPSEND` with no length: enters data mode on link 0.
    pub(super) fn enter_passthrough(&mut self) {
        if !self.session.cipmode || self.session.mux {
            return self.error();
        }
        let Some(socket) = self.session.links[0].as_ref().map(|l| l.socket) else {
            return self.fail(b"link is not valid\r\n");
        };
        let prompt = self.flavour.send_prompt();
        self.put(prompt);
        self.mode = Mode::Passthrough(Passthrough {
            link: 0,
            socket,
            packet: Vec::new(),
            after_silence: true,
        });
    }

    /// Serial bytes in data mode: packets cut at [`PACKET_MAX`], the silence timer re-armed.
    pub(super) fn passthrough_bytes(&mut self, bytes: &[u8]) {
        let Mode::Passthrough(p) = &mut self.mode else {
            return;
        };
        let mut cut = Vec::new();
        for &b in bytes {
            p.packet.push(b);
            if p.packet.len() == PACKET_MAX {
                cut.push(std::mem::take(&mut p.packet));
                p.after_silence = false;
            }
        }
        let (link, socket) = (p.link, p.socket);
        for packet in cut {
            self.transmit(link, socket, packet);
        }
        self.quiet_serial += 1;
        let serial = self.quiet_serial;
        self.wake(PACKET_GAP_MS, TimerKind::Quiet(serial));
    }

    /// 20 ms passed since serial chunk `serial`; a later chunk's timer supersedes it.
    pub(super) fn quiet(&mut self, serial: u64) {
        if serial != self.quiet_serial {
            return;
        }
        let Mode::Passthrough(p) = &mut self.mode else {
            return;
        };
        let packet = std::mem::take(&mut p.packet);
        let escape = p.after_silence && packet == ESCAPE;
        p.after_silence = true;
        let (link, socket) = (p.link, p.socket);
        if escape {
            self.mode = Mode::command();
        } else if !packet.is_empty() {
            self.transmit(link, socket, packet);
        }
    }

    /// Counts the packet on its link and writes it, or queues it behind the one in flight.
    fn transmit(&mut self, link: usize, socket: SocketId, packet: Vec<u8>) {
        if let Some(l) = self.session.links[link]
            .as_mut()
            .filter(|l| l.socket == socket)
        {
            l.sent += packet.len() as u64;
        }
        if self.transmit.in_flight.is_some() {
            self.transmit.queue.push_back((socket, packet));
        } else {
            self.transmit.in_flight = Some(socket);
            self.out.push(Effect::Send {
                socket,
                data: packet,
            });
        }
    }

    /// The socket finished a passthrough write; true if it was one (no `SEND OK` either way).
    /// A failed write drops what waits behind it: the link is going.
    pub(super) fn passthrough_sent(&mut self, socket: SocketId, ok: bool) -> bool {
        if self.transmit.in_flight != Some(socket) {
            return false;
        }
        self.transmit.in_flight = None;
        if !ok {
            self.transmit.queue.retain(|(s, _)| *s != socket);
        }
        if let Some((socket, data)) = self.transmit.queue.pop_front() {
            self.transmit.in_flight = Some(socket);
            self.out.push(Effect::Send { socket, data });
        }
        true
    }

    /// Data from the peer in data mode goes to the UART as it is; false if not in data mode on
    /// this socket.
    pub(super) fn passthrough_received(&mut self, socket: SocketId, data: &[u8]) -> bool {
        let Mode::Passthrough(p) = &self.mode else {
            return false;
        };
        if p.socket != socket {
            return false;
        }
        if let Some(link) = self.session.links[p.link].as_mut() {
            link.received += data.len() as u64;
        }
        self.put(data);
        true
    }

    /// The link went away under data mode: back to command mode, unsent bytes dropped.
    pub(super) fn passthrough_link_lost(&mut self, socket: SocketId) {
        if matches!(&self.mode, Mode::Passthrough(p) if p.socket == socket) {
            self.mode = Mode::command();
        }
        self.transmit.queue.retain(|(s, _)| *s != socket);
    }

    /// A reset forgets every write under way (their sockets are closed).
    pub(super) fn passthrough_reset(&mut self) {
        self.transmit = Transmit::default();
    }
}
