//! The measurements other than a plain flow: the first downlink after SUBSCRIBE, the broker's
//! RSS around a long QoS 0 run, how many concurrent devices it holds, and whether quick
//! reconnects lose an accepted connection. Main items: [`first_downlink`], [`rss_growth`],
//! [`devices_held`], [`reconnects`]; each returns its figures or why it could not.

use std::sync::Arc;
use std::time::Duration;

use athil::mqtt::{Packet, QoS, Unsubscribe};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::{sleep, Instant};

use super::brokers::{CloudAccess, DeviceId, RunningBroker};
use super::client::{login, Login, RecvError, Session};
use super::flow::{payload, publish, quantile, read_payload, run_flow, Flow, FlowShape};

/// Read buffer of a connection that carries bulk traffic, and of one that only logs in.
const BULK_BUFFER: usize = 64 * 1024;
const IDLE_BUFFER: usize = 256;

/// Deadline for one login, one SUBACK, one PINGRESP.
const STEP: Duration = Duration::from_secs(10);

/// Which way a flow goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// The device publishes, the cloud side receives.
    Up,
    /// The cloud side publishes, the device receives.
    Down,
}

async fn device_session(
    broker: &RunningBroker,
    device: &DeviceId,
    buffer: usize,
) -> Result<Session, String> {
    let connect = device.connect_for(broker.kind);
    login(broker.device_addr, &connect, Instant::now() + STEP, buffer)
        .await
        .accepted("the device")
}

async fn cloud_session(cloud: &CloudAccess) -> Result<Session, String> {
    login(
        cloud.addr,
        &cloud.connect,
        Instant::now() + STEP,
        BULK_BUFFER,
    )
    .await
    .accepted("the cloud client")
}

/// One flow between `device` and the cloud side, each on a fresh connection.
pub async fn flow(
    broker: &RunningBroker,
    device: &DeviceId,
    way: Way,
    shape: FlowShape,
) -> Result<Flow, String> {
    let cloud_access = broker.cloud.as_ref().map_err(|why| why.clone())?;
    let mut dev = device_session(broker, device, BULK_BUFFER).await?;
    let mut cloud = cloud_session(cloud_access).await?;
    let deadline = Instant::now() + STEP;
    match way {
        Way::Up => {
            let topic = device.uplink_topic();
            cloud.subscribe(1, &topic, shape.qos, deadline).await?;
            run_flow(dev, cloud, &topic, shape).await
        }
        Way::Down => {
            let topic = device.downlink_topic();
            dev.subscribe(1, &topic, shape.qos, deadline).await?;
            run_flow(cloud, dev, &topic, shape).await
        }
    }
}

/// First-downlink latency after SUBSCRIBE.
#[derive(Debug, Clone)]
pub struct FirstDownlink {
    pub repeats: usize,
    /// How many of the downlinks arrived within the deadline.
    pub arrived: usize,
    pub p50: Duration,
    pub max: Duration,
}

/// `repeats` times: the device SUBSCRIBEs and waits for SUBACK, then the cloud publishes one
/// QoS 1 message at once; the time from that write to the device holding it. Then UNSUBSCRIBE,
/// so the next round's SUBSCRIBE is a new subscription again.
pub async fn first_downlink(
    broker: &RunningBroker,
    device: &DeviceId,
    repeats: usize,
    wait: Duration,
) -> Result<FirstDownlink, String> {
    let cloud_access = broker.cloud.as_ref().map_err(|why| why.clone())?;
    let mut dev = device_session(broker, device, BULK_BUFFER).await?;
    let cloud = cloud_session(cloud_access).await?;
    let Session {
        reader: cloud_reader,
        writer: mut cloud_writer,
    } = cloud;
    let acks = tokio::spawn(async move {
        let mut r = cloud_reader;
        while r
            .recv(Instant::now() + Duration::from_secs(3600))
            .await
            .is_ok()
        {}
    });
    let topic = device.downlink_topic();
    let epoch = Instant::now();
    let mut latencies = Vec::new();
    for round in 0..repeats {
        let id = (round % 30000) as u16 * 2 + 1;
        dev.subscribe(id, &topic, QoS::AtLeastOnce, Instant::now() + STEP)
            .await?;
        let message = publish(
            &topic,
            QoS::AtLeastOnce,
            id,
            payload(round as u64, epoch, 32),
        );
        cloud_writer
            .send(&message)
            .await
            .map_err(|e| format!("the cloud's publish: {e}"))?;
        let deadline = Instant::now() + wait;
        loop {
            match dev.reader.recv(deadline).await {
                Ok(Packet::Publish(p)) => {
                    if let Some(pid) = p.packet_id {
                        let _ = dev.writer.send(&Packet::Puback { packet_id: pid }).await;
                    }
                    match read_payload(&p.payload, epoch) {
                        Some((seq, latency)) if seq == round as u64 => {
                            latencies.push(latency);
                            break;
                        }
                        // A late downlink of an earlier round.
                        _ => {}
                    }
                }
                Ok(_) => {}
                Err(RecvError::TimedOut) => break,
                Err(e) => return Err(format!("round {round}: {e}")),
            }
        }
        let unsubscribe = Packet::Unsubscribe(Unsubscribe {
            packet_id: id + 1,
            filters: vec![topic.clone()],
        });
        dev.writer
            .send(&unsubscribe)
            .await
            .map_err(|e| format!("send UNSUBSCRIBE: {e}"))?;
        let deadline = Instant::now() + STEP;
        loop {
            match dev.reader.recv(deadline).await {
                Ok(Packet::Unsuback { packet_id }) if packet_id == id + 1 => break,
                Ok(Packet::Publish(p)) => {
                    if let Some(pid) = p.packet_id {
                        let _ = dev.writer.send(&Packet::Puback { packet_id: pid }).await;
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(format!("round {round}, waiting for UNSUBACK: {e}")),
            }
        }
    }
    acks.abort();
    let arrived = latencies.len();
    latencies.sort_unstable();
    Ok(FirstDownlink {
        repeats,
        arrived,
        p50: quantile(&latencies, 0.5),
        max: latencies.last().copied().unwrap_or_default(),
    })
}

/// The broker's RSS around a long QoS 0 run with big payloads.
#[derive(Debug, Clone)]
pub struct RssGrowth {
    pub before: u64,
    pub after: u64,
    pub up: Flow,
    pub down: Flow,
}

impl RssGrowth {
    pub fn growth(&self) -> i64 {
        self.after as i64 - self.before as i64
    }
}

/// RSS, then `shape.count` messages up, then as many down, then (after the broker has had a
/// second to let go of buffers) RSS again.
pub async fn rss_growth(
    broker: &mut RunningBroker,
    device: &DeviceId,
    shape: FlowShape,
) -> Result<RssGrowth, String> {
    let before = broker.rss()?;
    let up = flow(broker, device, Way::Up, shape).await?;
    let down = flow(broker, device, Way::Down, shape).await?;
    sleep(Duration::from_secs(1)).await;
    let after = broker.rss()?;
    Ok(RssGrowth {
        before,
        after,
        up,
        down,
    })
}

/// Concurrent devices held.
#[derive(Debug, Clone, Default)]
pub struct Held {
    pub target: usize,
    /// Got CONNACK 0.
    pub accepted: usize,
    /// Got a CONNACK with another code.
    pub refused: usize,
    /// No CONNACK at all (closed, reset, timed out).
    pub failed: usize,
    /// Accepted, and still answered PINGREQ after the hold.
    pub held: usize,
    pub rss: u64,
    /// The first thing that went wrong, for the table's notes.
    pub first_problem: Option<String>,
}

/// What one device's task reports.
enum Report {
    Login(Result<(), String>),
    Ping(Result<(), String>),
}

/// Opens one connection per device, `concurrency` logins at a time, holds them all for `hold`,
/// then asks each for a PINGRESP: a device counts as held if it got CONNACK 0 and still answers.
/// The broker's RSS is read after the hold, with every connection still open.
pub async fn devices_held(
    broker: &mut RunningBroker,
    devices: &[DeviceId],
    concurrency: usize,
    hold: Duration,
) -> Result<Held, String> {
    let logins = Arc::new(Semaphore::new(concurrency));
    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let (ping_tx, ping_rx) = watch::channel(false);
    let (close_tx, close_rx) = watch::channel(false);
    let kind = broker.kind;
    let addr = broker.device_addr;
    let mut tasks = tokio::task::JoinSet::new();
    for device in devices {
        let connect = device.connect_for(kind);
        let (logins, report, mut ping, mut close) = (
            logins.clone(),
            report_tx.clone(),
            ping_rx.clone(),
            close_rx.clone(),
        );
        tasks.spawn(async move {
            let permit = logins.clone().acquire_owned().await;
            let outcome = login(addr, &connect, Instant::now() + STEP, IDLE_BUFFER).await;
            drop(permit);
            let mut session = match outcome {
                Login::Accepted(s) => {
                    let _ = report.send(Report::Login(Ok(())));
                    s
                }
                Login::Refused(code) => {
                    let _ = report.send(Report::Login(Err(format!("CONNACK {code}"))));
                    return;
                }
                Login::Failed(why) => {
                    let _ = report.send(Report::Login(Err(why)));
                    return;
                }
            };
            let _ = ping.wait_for(|go| *go).await;
            // Pings go out concurrency at a time too, so the answer times measure the broker,
            // not a burst of 10,000 at once.
            let permit = logins.acquire_owned().await;
            let answered = ping_once(&mut session).await;
            drop(permit);
            let _ = report.send(Report::Ping(answered));
            let _ = close.wait_for(|go| *go).await;
        });
    }
    drop(report_tx);
    let mut held = Held {
        target: devices.len(),
        ..Held::default()
    };
    let note = |held: &mut Held, why: String| {
        held.first_problem.get_or_insert(why);
    };
    // Every task reports its login once, within STEP of getting a permit.
    let login_deadline = Instant::now() + STEP * (devices.len() / concurrency.max(1) + 2) as u32;
    while held.accepted + held.refused + held.failed < devices.len() {
        match tokio::time::timeout_at(login_deadline, reports.recv()).await {
            Ok(Some(Report::Login(Ok(())))) => held.accepted += 1,
            Ok(Some(Report::Login(Err(why)))) if why.starts_with("CONNACK") => {
                held.refused += 1;
                note(&mut held, why);
            }
            Ok(Some(Report::Login(Err(why)))) => {
                held.failed += 1;
                note(&mut held, why);
            }
            Ok(Some(Report::Ping(_))) => {}
            Ok(None) | Err(_) => {
                note(
                    &mut held,
                    "logins did not all report before their deadline".to_owned(),
                );
                break;
            }
        }
    }
    sleep(hold).await;
    held.rss = broker.rss()?;
    let _ = ping_tx.send(true);
    let ping_deadline = Instant::now() + STEP * (held.accepted / concurrency.max(1) + 2) as u32;
    let mut pinged = 0;
    while pinged < held.accepted {
        match tokio::time::timeout_at(ping_deadline, reports.recv()).await {
            Ok(Some(Report::Ping(r))) => {
                pinged += 1;
                match r {
                    Ok(()) => held.held += 1,
                    Err(why) => note(&mut held, format!("after the hold: {why}")),
                }
            }
            Ok(Some(Report::Login(_))) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let _ = close_tx.send(true);
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    Ok(held)
}

/// PINGREQ, then PINGRESP within STEP.
async fn ping_once(session: &mut Session) -> Result<(), String> {
    session
        .writer
        .send(&Packet::Pingreq)
        .await
        .map_err(|e| format!("send PINGREQ: {e}"))?;
    let deadline = Instant::now() + STEP;
    loop {
        match session.reader.recv(deadline).await {
            Ok(Packet::Pingresp) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("waiting for PINGRESP: {e}")),
        }
    }
}

/// Quick reconnects of one device.
#[derive(Debug, Clone, Default)]
pub struct Reconnects {
    pub cycles: usize,
    /// CONNACK 0, PINGRESP, DISCONNECT: the whole cycle.
    pub ok: usize,
    /// CONNACK 0, then closed by the broker before the device's own DISCONNECT.
    pub lost: usize,
    /// No CONNACK 0, or no PINGRESP in time on a connection still open.
    pub failed: usize,
    pub first_problem: Option<String>,
}

/// `cycles` times: CONNECT → CONNACK → PINGREQ → PINGRESP → DISCONNECT, close, and at once
/// the next CONNECT with the same client id.
pub async fn reconnects(
    broker: &RunningBroker,
    device: &DeviceId,
    cycles: usize,
) -> Result<Reconnects, String> {
    let connect = device.connect_for(broker.kind);
    let mut r = Reconnects {
        cycles,
        ..Reconnects::default()
    };
    for cycle in 0..cycles {
        let session = login(
            broker.device_addr,
            &connect,
            Instant::now() + STEP,
            IDLE_BUFFER,
        )
        .await;
        let mut session = match session.accepted("the device") {
            Ok(s) => s,
            Err(why) => {
                r.failed += 1;
                r.first_problem
                    .get_or_insert(format!("cycle {cycle}: {why}"));
                continue;
            }
        };
        let sent = session.writer.send(&Packet::Pingreq).await;
        let answer = match sent {
            Ok(()) => loop {
                match session.reader.recv(Instant::now() + STEP).await {
                    Ok(Packet::Pingresp) => break Ok(()),
                    Ok(_) => {}
                    Err(e) => break Err(e),
                }
            },
            Err(e) => Err(RecvError::Closed(e.to_string())),
        };
        match answer {
            Ok(()) => {
                let _ = session.writer.send(&Packet::Disconnect).await;
                r.ok += 1;
            }
            Err(RecvError::Closed(how)) => {
                r.lost += 1;
                r.first_problem
                    .get_or_insert(format!("cycle {cycle}: accepted, then closed ({how})"));
            }
            Err(e) => {
                r.failed += 1;
                r.first_problem.get_or_insert(format!("cycle {cycle}: {e}"));
            }
        }
    }
    Ok(r)
}
