//! Secret redaction: a [`Redactor`] masks a run's secrets (Wi-Fi passwords, DeviceSecrets,
//! values taken from the environment) in text and in bytes before any report writes them, and an
//! [`EventRedactor`] does it for batches of events, catching secrets split across serial or TCP
//! chunks.
//!
//! Two masks, on purpose:
//! - in **text** (labels, messages, broker notes, packet fields) a secret becomes [`TEXT_MASK`]
//!   (`***`), which does not even tell its length;
//! - in **bytes** (serial and TCP streams, packet payloads, pcap payloads, the hex of a byte
//!   failure) every byte of a secret becomes [`BYTE_MASK`] (`*`, 0x2A). The length is kept so
//!   MQTT remaining lengths, TCP sequence numbers and byte offsets in diffs stay true; that
//!   reveals the secret's length, which we accept.
//!
//! Not only whole copies are masked: any run of [`PIECE_LEN`] or more bytes taken from a secret
//! is, so a truncated or corrupted copy (an echo cut short, one byte wrong) does not leak most of
//! it. In text the same pieces are also looked for as hex (`73 33 63 72 33 74`, `733363723374`).
//! The price is that an innocent 6-byte run equal to part of a secret is masked too; with
//! secrets that look random that is rare, with `password123` it is not.
//!
//! Secrets shorter than [`MIN_SECRET_LEN`] bytes are ignored: masking every `ab` or `1` would
//! make the reports useless, and such a value protects nothing anyway.
//! [`Redactor::ignored_count`] tells how many were ignored so the runner can warn.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::events::{ConnId, Failure, FailureKind, Outcome, RunEvent, Stamped, TcpDirection};
use crate::mqtt::Packet;

use super::text::{hex, parse_hex};

/// Secrets shorter than this many bytes are not redacted (see the module documentation).
pub const MIN_SECRET_LEN: usize = 4;
/// Any run of this many bytes taken from a secret is masked; shorter secrets only whole.
pub const PIECE_LEN: usize = 6;
/// What a secret becomes in text.
pub const TEXT_MASK: &str = "***";
/// What each byte of a secret becomes in byte streams.
pub const BYTE_MASK: u8 = b'*';
/// A partial secret at the very end (or start) of a stream window is masked only from this many
/// bytes on; one byte alone would mask too much innocent traffic.
const MIN_PARTIAL_LEN: usize = 2;

/// Byte strings to look for, grouped by length so a scan hashes each window once per length.
#[derive(Debug, Default)]
struct Needles(HashMap<usize, HashSet<Vec<u8>>>);

impl Needles {
    fn add(&mut self, n: Vec<u8>) {
        self.0.entry(n.len()).or_default().insert(n);
    }

    /// Marks every byte of `hay` covered by a needle.
    fn mark(&self, hay: &[u8], marks: &mut [bool]) {
        for (&len, set) in &self.0 {
            if len == 0 || len > hay.len() {
                continue;
            }
            for i in 0..=hay.len() - len {
                if set.contains(&hay[i..i + len]) {
                    marks[i..i + len].iter_mut().for_each(|m| *m = true);
                }
            }
        }
    }
}

/// The secret values of one run. Cheap to clone; its `Debug` never shows the values.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<[Vec<u8>]>,
    /// Pieces of secrets as bytes.
    bytes: Arc<Needles>,
    /// Pieces of secrets as bytes and as hex, for text.
    text: Arc<Needles>,
    ignored: usize,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .field("ignored", &self.ignored)
            .finish()
    }
}

impl Redactor {
    /// A redactor for these secret values; values shorter than [`MIN_SECRET_LEN`] bytes are
    /// ignored (and counted), duplicates kept once.
    pub fn new<I, S>(secrets: I) -> Redactor
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut kept: Vec<Vec<u8>> = Vec::new();
        let mut ignored = 0;
        for s in secrets {
            let s = s.as_ref().as_bytes();
            if s.len() < MIN_SECRET_LEN {
                ignored += 1;
            } else if !kept.iter().any(|k| k == s) {
                kept.push(s.to_vec());
            }
        }
        let (mut bytes, mut text) = (Needles::default(), Needles::default());
        for s in &kept {
            for piece in s.windows(PIECE_LEN.min(s.len())) {
                bytes.add(piece.to_vec());
                text.add(piece.to_vec());
                let upper: Vec<String> = piece.iter().map(|b| format!("{b:02X}")).collect();
                let lower: Vec<String> = piece.iter().map(|b| format!("{b:02x}")).collect();
                text.add(upper.join(" ").into_bytes());
                text.add(lower.join(" ").into_bytes());
                text.add(upper.concat().into_bytes());
                text.add(lower.concat().into_bytes());
            }
        }
        Redactor {
            secrets: kept.into(),
            bytes: Arc::new(bytes),
            text: Arc::new(text),
            ignored,
        }
    }

    /// A redactor with no secrets (tools that print nothing secret, tests).
    pub fn none() -> Redactor {
        Redactor::default()
    }

    /// How many given secrets were too short to redact.
    pub fn ignored_count(&self) -> usize {
        self.ignored
    }

    fn max_len(&self) -> usize {
        self.secrets.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// `text` with every piece of a secret (as text, or as hex in either case) replaced by
    /// [`TEXT_MASK`], one mask per masked run.
    pub fn redact_text(&self, text: &str) -> String {
        if self.secrets.is_empty() {
            return text.to_string();
        }
        let mut marks = vec![false; text.len()];
        self.text.mark(text.as_bytes(), &mut marks);
        if !marks.contains(&true) {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut in_run = false;
        for (i, c) in text.char_indices() {
            if marks[i..i + c.len_utf8()].contains(&true) {
                if !in_run {
                    out.push_str(TEXT_MASK);
                    in_run = true;
                }
            } else {
                out.push(c);
                in_run = false;
            }
        }
        out
    }

    /// Masks, in place, every piece of a secret in `bytes`.
    pub fn mask_bytes(&self, bytes: &mut [u8]) {
        let mut marks = vec![false; bytes.len()];
        self.mark_pieces(bytes, &mut marks);
        apply(bytes, &marks, 0);
    }

    fn mark_pieces(&self, hay: &[u8], marks: &mut [bool]) {
        self.bytes.mark(hay, marks);
    }

    /// Seed-style hex with the secret bytes in it masked (so the byte diff still lines up), or
    /// plain text redaction if it is not hex.
    fn redact_hex(&self, text: &str) -> String {
        match parse_hex(text) {
            Some(mut b) if !b.is_empty() => {
                self.mask_window(&mut b);
                hex(&b)
            }
            Some(_) | None => self.redact_text(text),
        }
    }

    /// Masks `bytes` cut out of a longer stream (such as the last serial bytes of a failure):
    /// every piece, and also a short tail of a secret at the very start or a short head at the end.
    pub fn mask_window(&self, bytes: &mut [u8]) {
        let mut marks = vec![false; bytes.len()];
        self.mark_pieces(bytes, &mut marks);
        self.mark_trailing_prefix(bytes, &mut marks);
        for s in self.secrets.iter() {
            for k in (MIN_PARTIAL_LEN..s.len()).rev() {
                if bytes.starts_with(&s[s.len() - k..]) {
                    marks[..k].iter_mut().for_each(|m| *m = true);
                    break;
                }
            }
        }
        apply(bytes, &marks, 0);
    }

    /// Marks the end of `hay` when it is the beginning of a secret, so a secret cut by the end of
    /// what we have seen so far is not written half in clear.
    fn mark_trailing_prefix(&self, hay: &[u8], marks: &mut [bool]) {
        for s in self.secrets.iter() {
            for k in (MIN_PARTIAL_LEN..s.len()).rev() {
                if hay.ends_with(&s[..k]) {
                    let n = hay.len();
                    marks[n - k..].iter_mut().for_each(|m| *m = true);
                    break;
                }
            }
        }
    }

    /// The packet with secrets masked in its text fields and its byte fields.
    pub fn redact_packet(&self, packet: &mut Packet) {
        match packet {
            Packet::Connect(c) => {
                c.client_id = self.redact_text(&c.client_id);
                if let Some(u) = &mut c.username {
                    *u = self.redact_text(u);
                }
                if let Some(p) = &mut c.password {
                    self.mask_bytes(p);
                }
                if let Some(w) = &mut c.will {
                    w.topic = self.redact_text(&w.topic);
                    self.mask_bytes(&mut w.message);
                }
            }
            Packet::Publish(p) => {
                p.topic = self.redact_text(&p.topic);
                self.mask_bytes(&mut p.payload);
            }
            Packet::Subscribe(s) => {
                for f in &mut s.filters {
                    f.filter = self.redact_text(&f.filter);
                }
            }
            Packet::Unsubscribe(u) => {
                for f in &mut u.filters {
                    *f = self.redact_text(f);
                }
            }
            Packet::Connack(_)
            | Packet::Puback { .. }
            | Packet::Pubrec { .. }
            | Packet::Pubrel { .. }
            | Packet::Pubcomp { .. }
            | Packet::Suback(_)
            | Packet::Unsuback { .. }
            | Packet::Pingreq
            | Packet::Pingresp
            | Packet::Disconnect => {}
        }
    }

    /// The failure with secrets masked in every field.
    pub fn redact_failure(&self, f: &mut Failure) {
        f.step = self.redact_text(&f.step);
        f.message = self.redact_text(&f.message);
        match f.kind {
            FailureKind::Bytes => {
                f.expected = self.redact_hex(&f.expected);
                f.actual = self.redact_hex(&f.actual);
            }
            FailureKind::Fields | FailureKind::Text | FailureKind::Timeout | FailureKind::Other => {
                f.expected = self.redact_text(&f.expected);
                f.actual = self.redact_text(&f.actual);
            }
        }
        self.mask_window(&mut f.last_serial);
    }

    pub fn redact_outcome(&self, o: &mut Outcome) {
        match o {
            Outcome::Passed => {}
            Outcome::Failed(f) => self.redact_failure(f),
            Outcome::Skipped { reason } => *reason = self.redact_text(reason),
        }
    }
}

fn apply(bytes: &mut [u8], marks: &[bool], offset: usize) {
    for (b, m) in bytes.iter_mut().zip(&marks[offset..]) {
        if *m {
            *b = BYTE_MASK;
        }
    }
}

/// Masks one byte stream handed over in batches of chunks, remembering the end of the previous
/// batch so a secret split across chunks, or across batches, is still caught.
#[derive(Debug, Default)]
pub struct StreamRedactor {
    /// The last bytes of the stream seen so far, unmasked: only ever compared, never written.
    context: Vec<u8>,
}

impl StreamRedactor {
    /// Masks these consecutive chunks of the stream in place. The end of the batch is masked if
    /// it is the beginning of a secret, since the rest may come in the next batch.
    pub fn mask_chunks(&mut self, redactor: &Redactor, chunks: &mut [&mut [u8]]) {
        let max = redactor.max_len();
        if max == 0 {
            return;
        }
        let skip = self.context.len();
        let mut hay = std::mem::take(&mut self.context);
        for c in chunks.iter() {
            hay.extend_from_slice(c);
        }
        let mut marks = vec![false; hay.len()];
        redactor.mark_pieces(&hay, &mut marks);
        redactor.mark_trailing_prefix(&hay, &mut marks);
        let mut at = skip;
        for c in chunks.iter_mut() {
            apply(c, &marks, at);
            at += c.len();
        }
        let keep = (max - 1).min(hay.len());
        self.context = hay[hay.len() - keep..].to_vec();
    }
}

/// Redacts batches of events (a scenario's worth) in place: text fields, packets, failures, and
/// the serial and TCP byte streams with chunk boundaries taken into account.
#[derive(Debug, Default)]
pub struct EventRedactor {
    redactor: Redactor,
    serial_out: StreamRedactor,
    serial_in: StreamRedactor,
    tcp: HashMap<(ConnId, bool), StreamRedactor>,
}

impl EventRedactor {
    pub fn new(redactor: Redactor) -> EventRedactor {
        EventRedactor {
            redactor,
            ..EventRedactor::default()
        }
    }

    /// Redacts `events`, which must be in the order they were emitted.
    pub fn redact_batch(&mut self, events: &mut [Stamped]) {
        let r = &self.redactor;
        let mut out: Vec<&mut [u8]> = Vec::new();
        let mut inn: Vec<&mut [u8]> = Vec::new();
        let mut tcp: HashMap<(ConnId, bool), Vec<&mut [u8]>> = HashMap::new();
        for ev in events.iter_mut() {
            match &mut ev.event {
                RunEvent::RunStarted { .. } | RunEvent::RunFinished { .. } => {}
                RunEvent::ScenarioStarted { name, .. } => *name = r.redact_text(name),
                RunEvent::StepStarted { label, .. } => *label = r.redact_text(label),
                RunEvent::SerialOut { bytes } => out.push(bytes),
                RunEvent::SerialIn { bytes } => inn.push(bytes),
                RunEvent::TcpOpened { .. } | RunEvent::TcpClosed { .. } => {}
                RunEvent::TcpData {
                    conn,
                    direction,
                    bytes,
                } => {
                    let up = *direction == TcpDirection::Uplink;
                    tcp.entry((*conn, up)).or_default().push(bytes);
                }
                RunEvent::MqttPacket { packet, .. } => r.redact_packet(packet),
                RunEvent::BrokerNote { text, .. } => *text = r.redact_text(text),
                RunEvent::StepFinished { outcome, .. } => r.redact_outcome(outcome),
                RunEvent::ScenarioFinished { name, outcome, .. } => {
                    *name = r.redact_text(name);
                    r.redact_outcome(outcome);
                }
            }
        }
        self.serial_out.mask_chunks(r, &mut out);
        self.serial_in.mask_chunks(r, &mut inn);
        for (key, mut chunks) in tcp {
            self.tcp.entry(key).or_default().mask_chunks(r, &mut chunks);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Redactor {
        Redactor::new(["hunter22", "abc", "", "s3cr3tDeviceSecret"])
    }

    #[test]
    fn short_and_empty_secrets_are_ignored_and_counted() {
        let r = r();
        assert_eq!(r.ignored_count(), 2);
        assert_eq!(r.redact_text("abc and hunter22"), "abc and ***");
        assert!(!format!("{r:?}").contains("hunter22"));
    }

    #[test]
    fn text_masks_plain_and_hex_forms() {
        let r = Redactor::new(["pass"]);
        assert_eq!(r.redact_text("pw=pass"), "pw=***");
        assert_eq!(r.redact_text("22 70 61 73 73 22"), "22 *** 22");
        assert_eq!(r.redact_text("70617373"), "***");
        assert_eq!(r.redact_text("pass, pass"), "***, ***");
    }

    #[test]
    fn truncated_and_corrupted_copies_are_masked() {
        let r = r();
        // The echo cut short after 6 bytes of the secret, and a copy with its last byte wrong.
        assert_eq!(r.redact_text("echo: \"hunter\r\n"), "echo: \"***\r\n");
        let mut b = b"s3cr3tDeviceSecreX".to_vec();
        r.mask_bytes(&mut b);
        assert_eq!(b, b"*****************X".to_vec());
        // Five bytes of it are not enough to say.
        assert_eq!(r.redact_text("hunte"), "hunte");
    }

    #[test]
    fn byte_failures_stay_hex_and_aligned() {
        let r = Redactor::new(["hunter22"]);
        let mut f = Failure {
            step: "send".into(),
            message: "m".into(),
            kind: FailureKind::Bytes,
            expected: "22 68 75 6E 74 65 72 32 32 22".into(),
            actual: "22 68 75 6E 74 65 72 32 33 22".into(),
            last_serial: Vec::new(),
        };
        r.redact_failure(&mut f);
        assert_eq!(f.expected, "22 2A 2A 2A 2A 2A 2A 2A 2A 22");
        assert_eq!(f.actual, "22 2A 2A 2A 2A 2A 2A 2A 33 22");
    }

    #[test]
    fn bytes_keep_their_length() {
        let r = r();
        let mut b = b"AT+CWJAP=\"lab\",\"hunter22\"\r\n".to_vec();
        r.mask_bytes(&mut b);
        assert_eq!(b, b"AT+CWJAP=\"lab\",\"********\"\r\n".to_vec());
    }

    #[test]
    fn a_secret_split_over_three_chunks_is_masked() {
        let r = r();
        let mut s = StreamRedactor::default();
        let (mut a, mut b, mut c) = (b"\"hu".to_vec(), b"nt".to_vec(), b"er22\"".to_vec());
        s.mask_chunks(&r, &mut [&mut a, &mut b, &mut c]);
        assert_eq!([a, b, c].concat(), b"\"********\"".to_vec());
    }

    #[test]
    fn a_secret_split_across_batches_is_masked_on_both_sides() {
        let r = r();
        let mut s = StreamRedactor::default();
        let mut a = b"pw=hunt".to_vec();
        s.mask_chunks(&r, &mut [&mut a]);
        assert_eq!(a, b"pw=****".to_vec());
        let mut b = b"er22;ok".to_vec();
        s.mask_chunks(&r, &mut [&mut b]);
        assert_eq!(b, b"****;ok".to_vec());
    }

    #[test]
    fn a_window_starting_mid_secret_is_masked() {
        let r = r();
        let mut b = b"ter22\"\r\nOK\r\n".to_vec();
        r.mask_window(&mut b);
        assert_eq!(b, b"*****\"\r\nOK\r\n".to_vec());
    }

    #[test]
    fn no_secrets_leaves_everything() {
        let r = Redactor::none();
        let mut s = StreamRedactor::default();
        let mut a = b"hunter22".to_vec();
        s.mask_chunks(&r, &mut [&mut a]);
        assert_eq!(a, b"hunter22".to_vec());
        assert_eq!(r.redact_text("hunter22"), "hunter22");
    }
}
