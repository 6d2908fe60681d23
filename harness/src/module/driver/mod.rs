//! [`ModuleDriver`]: the async AT driver over a [`SerialTransport`], a [`Dialect`] and the
//! sans-IO [`AtParser`]. The runner calls it; every wait takes a deadline and a timeout says what
//! was awaited and shows the last serial bytes.
//!
//! One stream, two views, one read position. The parser turns serial bytes into events
//! (for [`command`](ModuleDriver::command), [`send_data`](ModuleDriver::send_data)) and into
//! text (serial bytes minus socket payloads, for [`wait_text`](ModuleDriver::wait_text)). Both
//! share a cursor: consuming an event consumes the text up to it and the reverse, so a scenario
//! mixing typed commands and raw expectations never matches the same `OK` twice. Socket payloads
//! bypass both and go to per-link byte queues; URCs also update link state and a history, so a
//! `CLOSED` is known whoever consumes it.

mod command;
mod link;
mod socket;
mod text;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::at::{AtEvent, AtParser, Located, Urc};
use super::dialect::Dialect;
use super::error::DriverError;
use super::transport::SerialTransport;

pub use command::{Response, SyncReport};

/// Unconsumed text beyond this is dropped from the front: a run that never reads the text view
/// must not grow without bound.
const MAX_PENDING_TEXT: usize = 256 * 1024;
/// Likewise for unconsumed events.
const MAX_PENDING_EVENTS: usize = 4096;
/// URCs kept for [`ModuleDriver::urcs_since`].
const MAX_URC_HISTORY: usize = 1024;

/// Tunables of the driver; the defaults suit ESP8266 and Air601 at 115200 baud.
#[derive(Debug, Clone)]
pub struct DriverOptions {
    /// Echo after [`ModuleDriver::reset_and_sync`]: `false` sends `ATE0`, as every production
    /// driver does (mbed, Zephyr, WiFiEspAT, RT-Thread), so responses carry no copy of the
    /// command; raw-replay text matching does not depend on it either way.
    pub echo: bool,
    /// After `busy p...`, how long to wait for a late final result before sending the command
    /// again.
    pub busy_retry: Duration,
    /// How long each `AT` of the sync loop waits for `OK`.
    pub sync_attempt: Duration,
    /// How long to wait for the ready line after a reset before syncing anyway (`ready` can be
    /// missed; the sync loop is what proves the module answers).
    pub ready_wait: Duration,
    /// How many of the module's most recent bytes [`ModuleDriver::last_serial`] keeps.
    pub recent_bytes: usize,
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions {
            echo: false,
            busy_retry: Duration::from_millis(250),
            sync_attempt: Duration::from_millis(300),
            ready_wait: Duration::from_secs(3),
            recent_bytes: 512,
        }
    }
}

/// A URC as the driver saw it arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenUrc {
    /// Increases by one per URC for the life of the driver; see [`ModuleDriver::urc_mark`].
    pub seq: u64,
    pub urc: Urc,
    pub at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    Open,
    Closed,
}

/// Drives one module over one serial line.
#[derive(Debug)]
pub struct ModuleDriver {
    transport: SerialTransport,
    dialect: Arc<dyn Dialect>,
    parser: AtParser,
    options: DriverOptions,
    /// Unconsumed text; `text[0]` is text offset `text_base`.
    text: Vec<u8>,
    text_base: usize,
    pending: VecDeque<Located>,
    /// Socket payload bytes per link. Links are numbers: single-connection mode (`+IPD,<n>:`,
    /// no id) is link 0, which is also what a Quectel send without a link means.
    sockets: BTreeMap<u8, VecDeque<u8>>,
    /// Where each queued socket payload's header ended in the text, per link, with how many of
    /// its bytes are still queued: taking a payload's bytes consumes the text through its
    /// `+IPD` header, so a later text step does not see it again.
    socket_marks: VecDeque<SocketMark>,
    links: BTreeMap<u8, LinkState>,
    /// Links whose module announced bytes kept for a read command (Quectel buffer access
    /// `+QIURC: "recv",<id>`) that have not been read out yet.
    buffered: BTreeSet<u8>,
    default_link: u8,
    /// Whether this driver put the module in multi-link mode (the dialect's
    /// [`multi_link_command`](crate::module::dialect::Dialect::multi_link_command)) since its
    /// last reset.
    multi_link: bool,
    urcs: VecDeque<SeenUrc>,
    next_urc_seq: u64,
    recent: VecDeque<u8>,
    /// Every byte the module sent so far, counted: see [`ModuleDriver::serial_mark`].
    received: u64,
}

/// One socket payload in the queue of its link (see `ModuleDriver::socket_marks`).
#[derive(Debug, Clone, Copy)]
struct SocketMark {
    link: u8,
    left: usize,
    text_end: usize,
}

/// The link number the driver files data and state under.
pub(super) fn link_key(link: Option<u8>) -> u8 {
    link.unwrap_or(0)
}

impl ModuleDriver {
    pub fn new(
        transport: SerialTransport,
        dialect: Arc<dyn Dialect>,
        options: DriverOptions,
    ) -> ModuleDriver {
        let parser = AtParser::new(dialect.rules());
        ModuleDriver {
            transport,
            dialect,
            parser,
            options,
            text: Vec::new(),
            text_base: 0,
            pending: VecDeque::new(),
            sockets: BTreeMap::new(),
            socket_marks: VecDeque::new(),
            links: BTreeMap::new(),
            buffered: BTreeSet::new(),
            default_link: 0,
            multi_link: false,
            urcs: VecDeque::new(),
            next_urc_seq: 0,
            recent: VecDeque::new(),
            received: 0,
        }
    }

    pub fn dialect(&self) -> &Arc<dyn Dialect> {
        &self.dialect
    }

    pub fn transport(&self) -> &SerialTransport {
        &self.transport
    }

    /// For reset-line helpers ([`SerialTransport::pulse`]).
    pub fn transport_mut(&mut self) -> &mut SerialTransport {
        &mut self.transport
    }

    /// The most recent bytes the module sent, oldest first, for failure messages. Only the
    /// module's side: mixed with the host's bytes they could not be told apart (the event
    /// stream has both directions, each marked).
    pub fn last_serial(&self) -> Vec<u8> {
        self.recent.iter().copied().collect()
    }

    /// How many bytes the module has sent so far: pass it to
    /// [`last_serial_since`](Self::last_serial_since) later for what came after. Counts what
    /// the driver has taken in, so bytes still queued in the transport count once read.
    pub fn serial_mark(&mut self) -> u64 {
        // What has reached the host belongs before the mark.
        let _ = self.drain_now();
        self.received
    }

    /// The module's bytes since `mark` (at most the last [`DriverOptions::recent_bytes`] of
    /// them), and how many arrived since it in all.
    pub fn last_serial_since(&self, mark: u64) -> (Vec<u8>, u64) {
        let total = self.received.saturating_sub(mark);
        let keep = usize::try_from(total)
            .unwrap_or(usize::MAX)
            .min(self.recent.len());
        let skip = self.recent.len() - keep;
        (self.recent.iter().skip(skip).copied().collect(), total)
    }

    /// Whether a `CLOSED` (or a reboot, or a lost data context) ended `link` and no `CONNECT`
    /// reopened it since. Unknown links are not closed.
    pub fn link_closed(&self, link: Option<u8>) -> bool {
        self.links.get(&link_key(link)) == Some(&LinkState::Closed)
    }

    /// The sequence number the next URC will get: pass it to [`urcs_since`](Self::urcs_since)
    /// later to see what arrived in between (a `CLOSED` mid-flow, `WIFI DISCONNECT`).
    pub fn urc_mark(&self) -> u64 {
        self.next_urc_seq
    }

    /// URCs that arrived since `mark` (still in the bounded history), oldest first.
    pub fn urcs_since(&self, mark: u64) -> impl Iterator<Item = &SeenUrc> {
        self.urcs.iter().filter(move |u| u.seq >= mark)
    }

    /// The link [`read_socket`](Self::read_socket) and
    /// [`read_mqtt_packet`](Self::read_mqtt_packet) read from. Starts at 0 (which is also
    /// single-connection mode) and follows the last [`send_data`](Self::send_data).
    pub fn set_default_link(&mut self, link: Option<u8>) {
        self.default_link = link_key(link);
    }

    /// Bytes received on `link` and not yet read.
    pub fn socket_pending(&self, link: Option<u8>) -> usize {
        self.sockets.get(&link_key(link)).map_or(0, VecDeque::len)
    }

    /// Writes a command line: `line` plus the dialect's line ending (CR LF).
    pub async fn send_line(&mut self, line: &str) -> Result<(), DriverError> {
        let mut bytes = line.as_bytes().to_vec();
        bytes.extend_from_slice(self.dialect.line_ending());
        self.parser.expect_echo(line);
        self.write_raw(&bytes).await
    }

    /// Writes bytes exactly as given (data after a prompt, raw-replay steps).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), DriverError> {
        self.transport.write(bytes).await?;
        Ok(())
    }

    fn remember(&mut self, bytes: &[u8]) {
        self.received += bytes.len() as u64;
        let cap = self.options.recent_bytes;
        let skip = bytes.len().saturating_sub(cap);
        self.recent.extend(&bytes[skip..]);
        while self.recent.len() > cap {
            self.recent.pop_front();
        }
    }

    /// Feeds one received chunk through the parser and files what it yields.
    fn ingest(&mut self, chunk: &[u8]) {
        self.remember(chunk);
        let feed = self.parser.feed(chunk);
        self.text.extend_from_slice(&feed.text);
        if self.text.len() > MAX_PENDING_TEXT {
            let drop = self.text.len() - MAX_PENDING_TEXT;
            self.advance_text(self.text_base + drop);
        }
        for located in feed.events {
            match &located.event {
                AtEvent::SocketData { link, bytes } => {
                    let key = link_key(*link);
                    self.sockets
                        .entry(key)
                        .or_default()
                        .extend(bytes.iter().copied());
                    self.socket_marks.push_back(SocketMark {
                        link: key,
                        left: bytes.len(),
                        text_end: located.text_end,
                    });
                    if self.socket_marks.len() > MAX_PENDING_EVENTS {
                        self.socket_marks.pop_front();
                    }
                    // Data proves the link is up even when its opening was announced in a
                    // form not tracked here (`+LINK_CONN` with AT+SYSMSG); a later CLOSED in
                    // the same chunk still closes it.
                    self.links.insert(key, LinkState::Open);
                    continue;
                }
                AtEvent::Urc(urc) => self.note_urc(urc.clone()),
                AtEvent::Echo(_)
                | AtEvent::Line(_)
                | AtEvent::Final(_)
                | AtEvent::Busy(_)
                | AtEvent::Prompt => {}
            }
            self.pending.push_back(located);
            if self.pending.len() > MAX_PENDING_EVENTS {
                self.pending.pop_front();
            }
        }
    }

    fn note_urc(&mut self, urc: Urc) {
        match &urc {
            Urc::Connect { link } => {
                self.links.insert(link_key(*link), LinkState::Open);
            }
            Urc::Opened { link, error: 0 } => {
                self.links.insert(*link, LinkState::Open);
            }
            Urc::Closed { link } | Urc::ConnectFail { link } => {
                self.links.insert(link_key(*link), LinkState::Closed);
            }
            // A restart or a lost data context ends every socket without a CLOSED for each.
            Urc::Ready | Urc::Reboot { .. } | Urc::PoweredDown | Urc::PdpDeactivated { .. } => {
                for state in self.links.values_mut() {
                    *state = LinkState::Closed;
                }
            }
            // Only a dialect with a read command keeps data for the host to fetch; ESP's
            // passive-mode notice is filed and otherwise left alone.
            Urc::DataAvailable { link, .. } => {
                if self.dialect.read_command(*link).is_some() {
                    self.buffered.insert(link_key(*link));
                }
            }
            Urc::Opened { .. }
            | Urc::AppReady
            | Urc::SimReady
            | Urc::BootStatus { .. }
            | Urc::WifiConnected
            | Urc::WifiGotIp
            | Urc::WifiDisconnect
            | Urc::RecvBytes { .. }
            | Urc::DnsResult { .. }
            | Urc::DnsAddress { .. }
            | Urc::Other { .. } => {}
        }
        self.urcs.push_back(SeenUrc {
            seq: self.next_urc_seq,
            urc,
            at: Instant::now(),
        });
        self.next_urc_seq += 1;
        if self.urcs.len() > MAX_URC_HISTORY {
            self.urcs.pop_front();
        }
    }

    /// Takes `n` queued bytes of link `key` and consumes the text through the header of every
    /// payload they came from. A step that read a reply has seen its `+IPD` too: when the
    /// reply follows `SEND OK`, as it does on real modules, nothing else consumes that header,
    /// and a later `expect_not: +IPD` would find the old one.
    pub(super) fn take_socket(&mut self, key: u8, n: usize) -> Vec<u8> {
        let taken: Vec<u8> = self.sockets.entry(key).or_default().drain(..n).collect();
        let mut left = n;
        let mut through = None;
        self.socket_marks.retain_mut(|mark| {
            if mark.link != key || left == 0 {
                return true;
            }
            let used = mark.left.min(left);
            mark.left -= used;
            left -= used;
            through = Some(mark.text_end);
            mark.left > 0
        });
        if let Some(end) = through {
            self.consume_text_to(end);
        }
        taken
    }

    /// Drops text up to text offset `to`, leaving events alone.
    fn advance_text(&mut self, to: usize) {
        if to > self.text_base {
            let n = (to - self.text_base).min(self.text.len());
            self.text.drain(..n);
            self.text_base += n;
        }
    }

    /// Moves the shared read position to text offset `to`: the text before it and the events
    /// that were complete by then are consumed.
    fn consume_text_to(&mut self, to: usize) {
        self.advance_text(to);
        while self
            .pending
            .front()
            .is_some_and(|e| e.text_end <= self.text_base)
        {
            self.pending.pop_front();
        }
    }

    /// Ingests every chunk that has already arrived, without waiting.
    fn drain_now(&mut self) -> Result<(), DriverError> {
        while let Some(chunk) = self.transport.try_recv()? {
            self.ingest(&chunk);
        }
        Ok(())
    }

    /// Forgets everything received so far (text and events; socket data and URC history stay):
    /// nothing that arrived before a command was sent can be its answer.
    fn discard_pending(&mut self) -> Result<(), DriverError> {
        self.drain_now()?;
        self.consume_text_to(self.parser.text_offset());
        self.pending.clear();
        Ok(())
    }

    /// Waits for at least one more chunk until `until`; `false` when the time ran out.
    async fn pump(&mut self, until: Instant) -> Result<bool, DriverError> {
        match tokio::time::timeout_at(until, self.transport.recv()).await {
            Ok(chunk) => {
                self.ingest(&chunk?);
                self.drain_now()?;
                Ok(true)
            }
            Err(_elapsed) => Ok(false),
        }
    }

    /// The next unconsumed event, consuming it (and the text up to it); `None` at `until`.
    async fn next_event(&mut self, until: Instant) -> Result<Option<AtEvent>, DriverError> {
        loop {
            if let Some(located) = self.pending.pop_front() {
                // Text only: a URC cut into an echo ends at the same offset as the echo, and
                // the echo is still to be read.
                self.advance_text(located.text_end);
                return Ok(Some(located.event));
            }
            if !self.pump(until).await? {
                return Ok(None);
            }
        }
    }

    fn timeout(&self, awaited: String, waited: Duration) -> DriverError {
        DriverError::Timeout {
            awaited,
            waited,
            last_serial: self.last_serial(),
        }
    }
}
