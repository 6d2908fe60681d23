//! A one-way stream of PUBLISHes between a device and the cloud side: a fixed count, a bounded
//! window of messages in flight, each payload carrying its sequence number and send time so the
//! receiver computes latency (publish write to receipt) itself. Main item: [`run_flow`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use athil::mqtt::{encode, Packet, Publish, QoS};
use tokio::sync::Semaphore;
use tokio::time::{timeout_at, Instant};

use super::client::{Reader, RecvError, Session, Writer};

/// The sequence number of the probes that prove the route is up before the timed run.
const PROBE: u64 = u64::MAX;

/// What one flow measured.
#[derive(Debug, Clone)]
pub struct Flow {
    pub sent: u64,
    /// Distinct sequence numbers received.
    pub received: u64,
    pub duplicates: u64,
    pub p50: Duration,
    pub p99: Duration,
    /// Received messages per second, first write to last receipt.
    pub per_sec: f64,
}

/// How a flow is shaped.
#[derive(Debug, Clone, Copy)]
pub struct FlowShape {
    pub count: u64,
    pub qos: QoS,
    pub window: usize,
    pub payload: usize,
    /// Give up when nothing moves for this long.
    pub idle: Duration,
}

/// The payload: sequence number and send time (nanoseconds since `epoch`), big-endian, then
/// padding up to `len` bytes.
pub fn payload(seq: u64, epoch: Instant, len: usize) -> Vec<u8> {
    let nanos = epoch.elapsed().as_nanos() as u64;
    let mut p = Vec::with_capacity(len.max(16));
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&nanos.to_be_bytes());
    p.resize(len.max(16), b'.');
    p
}

/// (sequence number, latency) of a received payload.
pub fn read_payload(payload: &[u8], epoch: Instant) -> Option<(u64, Duration)> {
    let seq = u64::from_be_bytes(payload.get(..8)?.try_into().ok()?);
    let sent = u64::from_be_bytes(payload.get(8..16)?.try_into().ok()?);
    let now = epoch.elapsed().as_nanos() as u64;
    Some((seq, Duration::from_nanos(now.saturating_sub(sent))))
}

pub fn publish(topic: &str, qos: QoS, packet_id: u16, payload: Vec<u8>) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic: topic.to_owned(),
        packet_id: (qos != QoS::AtMostOnce).then_some(packet_id),
        payload,
    })
}

/// Packet ids 1..=65535, round and round (0 is not a packet id).
pub fn packet_id(seq: u64) -> u16 {
    (seq % 65535) as u16 + 1
}

/// The value at quantile `q` of sorted durations.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Sends probes on `topic` until one reaches `receiver`, so the timed run does not measure a
/// subscription still on its way through the broker. Answers the probe's QoS 1 with PUBACK.
async fn wait_route(
    sender: &mut Session,
    receiver: &mut Session,
    topic: &str,
    qos: QoS,
    epoch: Instant,
    idle: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + idle;
    while Instant::now() < deadline {
        let probe = publish(topic, qos, 65535, payload(PROBE, epoch, 16));
        sender
            .writer
            .send(&probe)
            .await
            .map_err(|e| format!("send a probe: {e}"))?;
        let round = (Instant::now() + Duration::from_millis(200)).min(deadline);
        loop {
            match receiver.reader.recv(round).await {
                Ok(Packet::Publish(p)) => {
                    if let Some(id) = p.packet_id {
                        let _ = receiver
                            .writer
                            .send(&Packet::Puback { packet_id: id })
                            .await;
                    }
                    if read_payload(&p.payload, epoch).is_some_and(|(s, _)| s == PROBE) {
                        drain_until_quiet(sender, Duration::from_millis(100)).await;
                        drain_until_quiet(receiver, Duration::from_millis(100)).await;
                        return Ok(());
                    }
                }
                Ok(_) => {}
                Err(RecvError::TimedOut) => break,
                Err(e) => return Err(format!("while probing the route: {e}")),
            }
        }
    }
    Err(format!("no probe on {topic} got through within {idle:?}"))
}

/// Reads (and PUBACKs) whatever is still coming, until nothing has for `quiet`: stray probes
/// must not count as, or block, the run's messages.
async fn drain_until_quiet(s: &mut Session, quiet: Duration) {
    loop {
        match s.reader.recv(Instant::now() + quiet).await {
            Ok(Packet::Publish(p)) => {
                if let Some(id) = p.packet_id {
                    let _ = s.writer.send(&Packet::Puback { packet_id: id }).await;
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// Runs `shape.count` messages from `sender` to `receiver` on `topic` (the receiver is already
/// subscribed) and measures them.
pub async fn run_flow(
    mut sender: Session,
    mut receiver: Session,
    topic: &str,
    shape: FlowShape,
) -> Result<Flow, String> {
    let epoch = Instant::now();
    wait_route(
        &mut sender,
        &mut receiver,
        topic,
        shape.qos,
        epoch,
        shape.idle,
    )
    .await?;

    let window = Arc::new(Semaphore::new(shape.window));
    let Session {
        reader: sender_reader,
        writer: sender_writer,
    } = sender;
    // The sender's PUBACKs are drained by a task of their own, or its socket would fill.
    let acks = tokio::spawn(drain_acks(sender_reader));
    let started = Instant::now();
    let mut send = tokio::spawn(send_all(
        sender_writer,
        topic.to_owned(),
        shape,
        window.clone(),
        epoch,
    ));
    let received = receive_all(receiver, shape, window.clone(), epoch).await;
    window.close();
    // The window is closed, so the sender stops at its next message; a write stuck on a
    // broker that stopped reading is cut off after `idle`.
    let sent = match timeout_at(Instant::now() + shape.idle, &mut send).await {
        Ok(joined) => joined.map_err(|e| format!("the sender task: {e}"))?,
        Err(_) => {
            send.abort();
            Err(format!("a publish write was stuck for {:?}", shape.idle))
        }
    };
    acks.abort();
    let (mut latencies, duplicates, last) = received;
    let sent = sent?;
    latencies.sort_unstable();
    let received = latencies.len() as u64 - duplicates;
    let elapsed = last
        .saturating_duration_since(started)
        .max(Duration::from_micros(1));
    Ok(Flow {
        sent,
        received,
        duplicates,
        p50: quantile(&latencies, 0.50),
        p99: quantile(&latencies, 0.99),
        per_sec: received as f64 / elapsed.as_secs_f64(),
    })
}

async fn drain_acks(mut reader: Reader) {
    while reader
        .recv(Instant::now() + Duration::from_secs(3600))
        .await
        .is_ok()
    {}
}

/// Publishes `count` messages, each after taking a place in the window. Returns how many were
/// written; stops early (with that count) if the window stays full for `idle`.
async fn send_all(
    mut writer: Writer,
    topic: String,
    shape: FlowShape,
    window: Arc<Semaphore>,
    epoch: Instant,
) -> Result<u64, String> {
    for seq in 0..shape.count {
        match timeout_at(Instant::now() + shape.idle, window.acquire()).await {
            Ok(Ok(permit)) => permit.forget(),
            // Closed: the receiver is done (complete or given up).
            Ok(Err(_)) | Err(_) => return Ok(seq),
        }
        let p = publish(
            &topic,
            shape.qos,
            packet_id(seq),
            payload(seq, epoch, shape.payload),
        );
        writer
            .send(&p)
            .await
            .map_err(|e| format!("publish message {seq}: {e}"))?;
    }
    Ok(shape.count)
}

/// Receives until every sequence number has arrived or nothing has for `idle`. Returns every
/// latency (duplicates included), the duplicate count and the time of the last receipt.
async fn receive_all(
    mut receiver: Session,
    shape: FlowShape,
    window: Arc<Semaphore>,
    epoch: Instant,
) -> (Vec<Duration>, u64, Instant) {
    let mut seen = HashSet::with_capacity(shape.count as usize);
    let mut latencies = Vec::with_capacity(shape.count as usize);
    let mut duplicates = 0;
    let mut last = Instant::now();
    let mut acks = Vec::new();
    while (seen.len() as u64) < shape.count {
        let packet = match receiver.reader.recv(Instant::now() + shape.idle).await {
            Ok(p) => p,
            Err(_) => break,
        };
        let Packet::Publish(p) = packet else { continue };
        if let Some(id) = p.packet_id {
            if let Ok(bytes) = encode(&Packet::Puback { packet_id: id }) {
                acks.extend_from_slice(&bytes);
            }
        }
        if let Some((seq, latency)) = read_payload(&p.payload, epoch) {
            if seq != PROBE {
                last = Instant::now();
                latencies.push(latency);
                if seen.insert(seq) {
                    window.add_permits(1);
                } else {
                    duplicates += 1;
                }
            }
        }
        // PUBACKs go out in one write per burst the socket delivered.
        if !acks.is_empty() && !receiver.reader.has_buffered_packet() {
            if receiver.writer.send_bytes(&acks).await.is_err() {
                break;
            }
            acks.clear();
        }
    }
    if !acks.is_empty() {
        let _ = receiver.writer.send_bytes(&acks).await;
    }
    (latencies, duplicates, last)
}
