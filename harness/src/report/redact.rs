//! Secret redaction: a [`Redactor`] masks a run's secrets (Wi-Fi passwords, DeviceSecrets, the
//! signs of devices whose secret is kept outside the registry, values taken from the
//! environment) in text and in bytes before any report writes them, and an [`EventRedactor`]
//! does it for batches of events, catching secrets split across serial or TCP chunks.
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
//! A secret written in hex (a sign, most DeviceSecrets) is also looked for in the other case
//! (the cloud takes an upper-case sign) and as the bytes it spells (`5C AE EF …`), as write-ups
//! print a digest.
//!
//! The price of pieces is that an innocent 6-byte run equal to part of a secret is masked too.
//! Where that innocent run is known, it is spared: the run's public identifiers (ProductKeys,
//! DeviceNames, client ids, SSIDs, host names, given with [`Redactor::with_public`]) win over a
//! *piece* of a secret lying inside them, so Air601's ProductKey `ksf114514` stays readable
//! although its made-up secret starts with it, and so does an SSID `factory-lab` whose password
//! is `factory-lab-2024`. A *whole* secret is masked even where it contains or touches a public
//! identifier: the secret wins there, or the identifier would reveal its start.
//!
//! Secrets shorter than [`MIN_SECRET_LEN`] bytes are ignored: masking every `ab` or `1` would
//! make the reports useless, and such a value protects nothing anyway.
//! [`Redactor::ignored_count`] tells how many were ignored so the runner can warn.

use std::sync::Arc;

use crate::events::{Failure, FailureKind, Outcome};
use crate::mqtt::Packet;

use super::text::{hex, parse_hex};

mod needles;
mod stream;

use needles::{hex_forms, CutHex, Needles, Public, Spans};
pub use stream::{EventRedactor, StreamRedactor};

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

/// The secret values of one run. Cheap to clone; its `Debug` never shows the values.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Whole secrets, with the spellings of hex ones (other case, the bytes they spell).
    secrets: Arc<[Vec<u8>]>,
    /// Pieces of secrets as bytes.
    bytes: Arc<Needles>,
    /// Pieces of secrets as bytes and as hex, for text.
    text: Arc<Needles>,
    /// Public identifiers as bytes.
    public_bytes: Arc<Public>,
    /// Public identifiers as bytes and as hex, for text.
    public_text: Arc<Public>,
    /// Their hex cut by a hex dump's line break, for text.
    public_cut: Arc<CutHex>,
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

/// `s` and, when it is hex (even length, hex digits only), its other spellings: lower and upper
/// case, and the bytes it spells.
fn spellings(s: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![s.to_vec()];
    if s.len() % 2 == 0 && s.iter().all(u8::is_ascii_hexdigit) {
        out.push(s.to_ascii_lowercase());
        out.push(s.to_ascii_uppercase());
        let text = std::str::from_utf8(s).unwrap_or_default();
        if let Some(bytes) = parse_hex(text).filter(|b| b.len() >= MIN_SECRET_LEN) {
            out.push(bytes);
        }
    }
    out.sort();
    out.dedup();
    out
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
                continue;
            }
            for spelling in spellings(s) {
                if !kept.contains(&spelling) {
                    kept.push(spelling);
                }
            }
        }
        let (mut bytes, mut text) = (Needles::default(), Needles::default());
        for s in &kept {
            bytes.add(s.clone(), true);
            text.add(s.clone(), true);
            for form in hex_forms(s) {
                text.add(form, true);
            }
            for piece in s.windows(PIECE_LEN.min(s.len())) {
                bytes.add(piece.to_vec(), false);
                text.add(piece.to_vec(), false);
                for form in hex_forms(piece) {
                    text.add(form, false);
                }
            }
        }
        Redactor {
            secrets: kept.into(),
            bytes: Arc::new(bytes),
            text: Arc::new(text),
            ignored,
            ..Redactor::default()
        }
    }

    /// This redactor, sparing the run's public identifiers (ProductKeys, DeviceNames, client
    /// ids, SSIDs, host names): a piece of a secret inside one of them is not masked. Names
    /// shorter than [`PIECE_LEN`] are dropped, as no piece fits inside them.
    pub fn with_public<I, S>(mut self, public: I) -> Redactor
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let (mut bytes, mut text) = (Public::default(), Public::default());
        let mut cut = CutHex::default();
        for p in public {
            let p = p.as_ref().as_bytes();
            if p.len() < PIECE_LEN {
                continue;
            }
            bytes.add(p.to_vec());
            text.add(p.to_vec());
            for form in hex_forms(p) {
                text.add(form);
            }
            cut.add(p, PIECE_LEN);
        }
        self.public_bytes = Arc::new(bytes);
        self.public_text = Arc::new(text);
        self.public_cut = Arc::new(cut);
        self
    }

    /// A redactor with no secrets (tools that print nothing secret, tests).
    pub fn none() -> Redactor {
        Redactor::default()
    }

    /// How many given secrets were too short to redact.
    pub fn ignored_count(&self) -> usize {
        self.ignored
    }

    /// How many bytes of a stream must be kept to see a secret, or a public identifier, that a
    /// chunk boundary splits.
    fn context_len(&self) -> usize {
        let longest = self.secrets.iter().map(Vec::len).max().unwrap_or(0);
        longest.max(self.public_bytes.longest())
    }

    /// `text` with every piece of a secret (as text, or as hex in either case) replaced by
    /// [`TEXT_MASK`], one mask per masked run.
    pub fn redact_text(&self, text: &str) -> String {
        if self.secrets.is_empty() {
            return text.to_string();
        }
        let hay = text.as_bytes();
        let mut marks = vec![false; text.len()];
        let mut spans = self.public_text.spans(hay);
        self.public_cut.extend(hay, &mut spans);
        self.text.mark(hay, &mut marks, &spans);
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
        if self.secrets.is_empty() {
            return;
        }
        let mut marks = vec![false; bytes.len()];
        let spans = self.public_bytes.spans(bytes);
        self.bytes.mark(bytes, &mut marks, &spans);
        apply(bytes, &marks, 0);
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
        if self.secrets.is_empty() {
            return;
        }
        let mut marks = vec![false; bytes.len()];
        let spans = self.public_bytes.spans(bytes);
        self.bytes.mark(bytes, &mut marks, &spans);
        self.mark_trailing_prefix(bytes, &mut marks, &spans);
        for s in self.secrets.iter() {
            for k in (MIN_PARTIAL_LEN..s.len()).rev() {
                if bytes.starts_with(&s[s.len() - k..]) {
                    if !spans.covers(0, k) {
                        marks[..k].iter_mut().for_each(|m| *m = true);
                    }
                    break;
                }
            }
        }
        apply(bytes, &marks, 0);
    }

    /// Marks the end of `hay` when it is the beginning of a secret, so a secret cut by the end of
    /// what we have seen so far is not written half in clear; unless that end is a public
    /// identifier (a stream ending in Air601's ProductKey is not the start of its secret).
    fn mark_trailing_prefix(&self, hay: &[u8], marks: &mut [bool], public: &Spans) {
        let n = hay.len();
        for s in self.secrets.iter() {
            for k in (MIN_PARTIAL_LEN..s.len()).rev() {
                if hay.ends_with(&s[..k]) {
                    if !public.covers(n - k, n) {
                        marks[n - k..].iter_mut().for_each(|m| *m = true);
                    }
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
            last_serial_window: crate::events::SerialWindow::Sync,
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

    /// Air601's made-up secret starts with its ProductKey (seed 000), so `ksf114514` was shown as
    /// `***` all over the shipped suite's transcripts, and with it the topics and the username.
    #[test]
    fn a_product_key_that_starts_the_secret_stays_readable() {
        let r = Redactor::new(["ksf1145141919810dj15ltc137666"]).with_public([
            "ksf114514",
            "Air601",
            "iot-ksf114514.mqtt.iothub.aliyuncs.com",
        ]);
        assert_eq!(
            r.redact_text("user Air601&ksf114514"),
            "user Air601&ksf114514"
        );
        assert_eq!(
            r.redact_text("/sys/ksf114514/Air601/thing/event/property/post"),
            "/sys/ksf114514/Air601/thing/event/property/post"
        );
        // As the hex of a packet too: `ksf114514` is 6B 73 66 31 31 34 35 31 34.
        assert_eq!(
            r.redact_text("26 6B 73 66 31 31 34 35 31 34 00"),
            "26 6B 73 66 31 31 34 35 31 34 00"
        );
        let mut b = b"\x00\x10Air601&ksf114514\x00\x28".to_vec();
        let before = b.clone();
        r.mask_bytes(&mut b);
        assert_eq!(b, before);
        // The secret itself is still masked whole, its public start included.
        assert_eq!(r.redact_text("k=ksf1145141919810dj15ltc137666;"), "k=***;");
        let mut b = b"k=ksf1145141919810dj15ltc137666;".to_vec();
        r.mask_bytes(&mut b);
        assert_eq!(b, b"k=*****************************;".to_vec());
        // A copy cut short is masked from its first piece that leaves the ProductKey on; the
        // four bytes before it are the ProductKey's, public anyway.
        assert_eq!(r.redact_text("ksf1145141919810"), "ksf1***");
    }

    /// An SSID `factory-lab` was masked because the password `factory-lab-2024` starts with it.
    #[test]
    fn an_ssid_that_prefixes_the_password_stays_readable() {
        let r = Redactor::new(["factory-lab-2024"]).with_public(["factory-lab"]);
        assert_eq!(
            r.redact_text(r#"AT+CWJAP="factory-lab","factory-lab-2024""#),
            r#"AT+CWJAP="factory-lab","***""#
        );
        let mut b = br#"AT+CWJAP="factory-lab","factory-lab-2024""#.to_vec();
        r.mask_bytes(&mut b);
        assert_eq!(b, br#"AT+CWJAP="factory-lab","****************""#.to_vec());
        // Split over two batches of a stream, the SSID at the end of the first is not taken
        // for the start of the password.
        let mut s = StreamRedactor::default();
        let mut a = br#"AT+CWJAP="factory-lab"#.to_vec();
        s.mask_chunks(&r, &mut [&mut a]);
        assert_eq!(a, br#"AT+CWJAP="factory-lab"#.to_vec());
        let mut c = br#"","factory-lab-2024""#.to_vec();
        s.mask_chunks(&r, &mut [&mut c]);
        assert_eq!(c, br#"","****************""#.to_vec());
    }

    /// A sign is hex: it may be sent in upper case, and write-ups print the digest as bytes.
    #[test]
    fn a_hex_secret_is_masked_in_every_spelling() {
        let r = Redactor::new(["5caeef5b9251940696b02dc80b615c3f739f46bc"]);
        for shown in [
            "5caeef5b9251940696b02dc80b615c3f739f46bc",
            "5CAEEF5B9251940696B02DC80B615C3F739F46BC",
            "5C AE EF 5B 92 51 94 06 96 B0 2D C8 0B 61 5C 3F 73 9F 46 BC",
            "5c ae ef 5b 92 51 94 06 96 b0 2d c8 0b 61 5c 3f 73 9f 46 bc",
            "35 63 61 65 65 66 35 62 39 32 35 31",
        ] {
            assert_eq!(r.redact_text(&format!("[{shown}]")), "[***]", "{shown}");
        }
        let mut b = b"\x00\x285CAEEF5B9251940696B02DC80B615C3F739F46BC".to_vec();
        r.mask_bytes(&mut b);
        assert_eq!(&b[..2], b"\x00\x28");
        assert!(b[2..].iter().all(|&x| x == BYTE_MASK), "{b:?}");
        // Two digest bytes alone are not a piece of it.
        assert_eq!(r.redact_text("5C AE 00"), "5C AE 00");
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
