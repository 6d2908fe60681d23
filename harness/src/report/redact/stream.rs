//! Redaction of byte streams that arrive in pieces: a [`StreamRedactor`] per stream remembers
//! the end of the previous batch, and an [`EventRedactor`] routes a batch of events' fields and
//! streams (serial each way, TCP per connection and direction) through the [`Redactor`].

use std::collections::HashMap;

use crate::events::{ConnId, RunEvent, Stamped, TcpDirection};

use super::{apply, Redactor};

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
        if redactor.secrets.is_empty() {
            return;
        }
        let skip = self.context.len();
        let mut hay = std::mem::take(&mut self.context);
        for c in chunks.iter() {
            hay.extend_from_slice(c);
        }
        let mut marks = vec![false; hay.len()];
        let spans = redactor.public_bytes.spans(&hay);
        redactor.bytes.mark(&hay, &mut marks, &spans);
        redactor.mark_trailing_prefix(&hay, &mut marks, &spans);
        let mut at = skip;
        for c in chunks.iter_mut() {
            apply(c, &marks, at);
            at += c.len();
        }
        let keep = (redactor.context_len() - 1).min(hay.len());
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
                // Packet types and counts: nothing secret.
                RunEvent::PacketsNotShown { .. } => {}
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
