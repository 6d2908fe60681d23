//! Secret redaction: a [`Redactor`] masks a run's secrets (Wi-Fi passwords, DeviceSecrets,
//! values taken from the environment) in text and in bytes before any report writes them, and an
//! [`EventRedactor`] does it for batches of events, catching secrets split across serial or TCP
//! chunks.
//!
//! Two masks, on purpose:
//! - in **text** (labels, messages, broker notes, packet fields) a secret becomes [`TEXT_MASK`]
//!   (`***`), which does not even tell its length;
//! - in **bytes** (serial and TCP streams, packet payloads, pcap payloads) every byte of a secret
//!   becomes [`BYTE_MASK`] (`*`, 0x2A). The length is kept so MQTT remaining lengths, TCP sequence
//!   numbers and byte offsets in diffs stay true; that reveals the secret's length, which we
//!   accept. A secret written as seed-style hex in text (`70 61 73 73`) becomes `2A 2A 2A 2A`.
//!
//! Secrets shorter than [`MIN_SECRET_LEN`] bytes are ignored: masking every `ab` or `1` would
//! make the reports useless, and such a value protects nothing anyway.
//! [`Redactor::ignored_count`] tells how many were ignored so the runner can warn.

use std::collections::HashMap;
use std::sync::Arc;

use crate::mqtt::Packet;
use crate::run::{ConnId, Failure, Outcome, RunEvent, Stamped, TcpDirection};

/// Secrets shorter than this many bytes are not redacted (see the module documentation).
pub const MIN_SECRET_LEN: usize = 4;
/// What a secret becomes in text.
pub const TEXT_MASK: &str = "***";
/// What each byte of a secret becomes in byte streams.
pub const BYTE_MASK: u8 = b'*';
/// A partial secret at the very end (or start) of a stream window is masked only from this many
/// bytes on; one byte alone would mask too much innocent traffic.
const MIN_PARTIAL_LEN: usize = 2;

/// The secret values of one run. Cheap to clone; its `Debug` never shows the values.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<[Vec<u8>]>,
    /// (pattern, replacement) for text, longest pattern first.
    text_rules: Arc<[(String, String)]>,
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
        kept.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut rules = Vec::new();
        for s in &kept {
            let mask_hex = vec!["2A"; s.len()];
            rules.push((
                String::from_utf8_lossy(s).into_owned(),
                TEXT_MASK.to_string(),
            ));
            let upper: Vec<String> = s.iter().map(|b| format!("{b:02X}")).collect();
            let lower: Vec<String> = s.iter().map(|b| format!("{b:02x}")).collect();
            rules.push((upper.join(" "), mask_hex.join(" ")));
            rules.push((lower.join(" "), mask_hex.join(" ")));
            rules.push((upper.concat(), mask_hex.concat()));
            rules.push((lower.concat(), mask_hex.concat()));
        }
        rules.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Redactor {
            secrets: kept.into(),
            text_rules: rules.into(),
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

    /// `text` with every secret (as text, or as hex in either case) masked.
    pub fn redact_text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (pattern, replacement) in self.text_rules.iter() {
            if out.contains(pattern.as_str()) {
                out = out.replace(pattern.as_str(), replacement);
            }
        }
        out
    }

    /// Masks, in place, every whole occurrence of a secret in `bytes`.
    pub fn mask_bytes(&self, bytes: &mut [u8]) {
        let mut marks = vec![false; bytes.len()];
        self.mark_whole(bytes, &mut marks);
        apply(bytes, &marks, 0);
    }

    /// Masks `bytes` cut out of a longer stream (such as the last serial bytes of a failure):
    /// whole occurrences, and also a secret's tail at the very start or its head at the very end.
    pub fn mask_window(&self, bytes: &mut [u8]) {
        let mut marks = vec![false; bytes.len()];
        self.mark_whole(bytes, &mut marks);
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

    fn mark_whole(&self, hay: &[u8], marks: &mut [bool]) {
        for s in self.secrets.iter() {
            let mut from = 0;
            while from + s.len() <= hay.len() {
                match hay[from..].windows(s.len()).position(|w| w == s.as_slice()) {
                    Some(p) => {
                        let start = from + p;
                        marks[start..start + s.len()]
                            .iter_mut()
                            .for_each(|m| *m = true);
                        from = start + 1;
                    }
                    None => break,
                }
            }
        }
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
        f.expected = self.redact_text(&f.expected);
        f.actual = self.redact_text(&f.actual);
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
        redactor.mark_whole(&hay, &mut marks);
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
        assert_eq!(r.redact_text("22 70 61 73 73 22"), "22 2A 2A 2A 2A 22");
        assert_eq!(r.redact_text("70617373"), "2A2A2A2A");
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
