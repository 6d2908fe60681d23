//! The embedded rumqttd: [`Rumqttd::start`] runs one on a free 127.0.0.1 port, waits until it
//! answers a real MQTT CONNECT, and hands back its address and the in-process cloud link.
//!
//! This is the only file that builds rumqttd's configuration; with `cloud.rs` it is the only
//! place that names rumqttd at all (STYLE.md rule 7).
//!
//! rumqttd 0.20 has no way to stop: `Broker::start` joins its server threads, whose accept loop
//! never ends, and the router thread lives as long as they hold its channel. So one rumqttd
//! lives until the process exits. What athil can stop (the gateway, every proxied session and
//! the cloud link) it stops in `BrokerHandle::shutdown`; afterwards this rumqttd has no clients
//! and idles on its loopback port. The runner starts one broker per run, so that is one idle
//! thread pair per run, not a leak that grows with scenarios.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::{sleep, timeout_at, Instant};

use super::error::BrokerError;
use crate::mqtt::{encode, to_hex, Connack, Connect, Packet};

/// How long rumqttd may take to listen before we give up on this port and try another.
const READY_WITHIN: Duration = Duration::from_secs(10);
/// Ports are chosen by asking the OS for a free one and releasing it; another process may take
/// it first. rumqttd then fails to bind, its thread ends, and we try a fresh port.
const PORT_ATTEMPTS: u32 = 5;

/// The probe's client id (its CONNECT: MQTT 3.1.1, clean session, keepalive 60).
const PROBE_CLIENT_ID: &str = "athil-probe";

/// A running embedded rumqttd and the cloud's link into it.
pub struct Rumqttd {
    /// Where the gateway connects upstream (127.0.0.1 and a port the OS chose).
    pub addr: SocketAddr,
    pub cloud_tx: rumqttd::local::LinkTx,
    pub cloud_rx: rumqttd::local::LinkRx,
}

impl std::fmt::Debug for Rumqttd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rumqttd").field("addr", &self.addr).finish()
    }
}

impl Rumqttd {
    /// Starts rumqttd on its own thread and returns once it has accepted a probe CONNECT.
    pub async fn start() -> Result<Rumqttd, BrokerError> {
        let mut last_reason = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let addr = free_loopback_port()?;
            let mut broker = rumqttd::Broker::new(config(addr));
            // The link must be taken before `start`, which blocks its thread for good.
            let (cloud_tx, cloud_rx) =
                broker
                    .link("athil-cloud")
                    .map_err(|e| BrokerError::CloudLink {
                        reason: e.to_string(),
                    })?;
            let (exited_tx, exited_rx) = oneshot::channel::<String>();
            std::thread::Builder::new()
                .name(format!("rumqttd-{}", addr.port()))
                .spawn(move || {
                    let why = match broker.start() {
                        Ok(()) => "its server thread ended (could it bind the port?)".to_owned(),
                        Err(e) => e.to_string(),
                    };
                    let _ = exited_tx.send(why);
                })
                .map_err(|e| BrokerError::RumqttdStart {
                    reason: format!("spawn its thread: {e}"),
                })?;
            match wait_ready(addr, exited_rx).await {
                Ok(()) => {
                    return Ok(Rumqttd {
                        addr,
                        cloud_tx,
                        cloud_rx,
                    })
                }
                Err(Ready::Exited(why)) => last_reason = format!("on {addr}: {why}"),
                Err(Ready::TimedOut) => {
                    return Err(BrokerError::RumqttdNotReady {
                        addr,
                        waited: READY_WITHIN,
                    })
                }
            }
        }
        Err(BrokerError::RumqttdStart {
            reason: format!("gave up after {PORT_ATTEMPTS} ports; last {last_reason}"),
        })
    }
}

/// rumqttd's configuration, built in code. Limits are generous on purpose: the gateway, not
/// rumqttd, plays the cloud's limits, so rumqttd must never be the one to refuse. The
/// benchmark's plain-rumqttd peer (`plain.rs`) runs with this same configuration.
pub(super) fn config(listen: SocketAddr) -> rumqttd::Config {
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 10_000,
        // Alibaba Cloud's limit is 256 KB; leave room so the gateway decides, not rumqttd.
        max_payload_size: 1024 * 1024,
        // The cloud keeps at most 100 unacknowledged QoS 1 messages per client.
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "athil-upstream".to_owned(),
        listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    let router = rumqttd::RouterConfig {
        max_connections: 1000,
        max_outgoing_packet_count: 200,
        max_segment_size: 4 * 1024 * 1024,
        max_segment_count: 10,
        custom_segment: None,
        initialized_filters: None,
        shared_subscriptions_strategy: rumqttd::Strategy::default(),
    };
    rumqttd::Config {
        id: 0,
        router,
        v4: Some(HashMap::from([("athil".to_owned(), server)])),
        ..rumqttd::Config::default()
    }
}

/// Asks the OS for a free port on 127.0.0.1 and releases it for rumqttd to bind.
fn free_loopback_port() -> Result<SocketAddr, BrokerError> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| BrokerError::RumqttdStart {
            reason: format!("find a free port: {e}"),
        })?;
    listener
        .local_addr()
        .map_err(|e| BrokerError::RumqttdStart {
            reason: format!("read the free port: {e}"),
        })
}

enum Ready {
    Exited(String),
    TimedOut,
}

/// Waits until rumqttd answers a CONNECT with `20 02 00 00`. A bare TCP connect is not proof:
/// if another process took the port, that connect succeeds while rumqttd's bind failed.
async fn wait_ready(addr: SocketAddr, mut exited: oneshot::Receiver<String>) -> Result<(), Ready> {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if let Ok(why) = exited.try_recv() {
            return Err(Ready::Exited(why));
        }
        if Instant::now() >= deadline {
            return Err(Ready::TimedOut);
        }
        match timeout_at(deadline, probe(addr)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(_)) => sleep(Duration::from_millis(10)).await,
            Err(_) => return Err(Ready::TimedOut),
        }
    }
}

async fn probe(addr: SocketAddr) -> std::io::Result<()> {
    let [connect, accepted, disconnect] = probe_packets()?;
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(&connect).await?;
    let mut connack = vec![0u8; accepted.len()];
    stream.read_exact(&mut connack).await?;
    if connack != accepted {
        return Err(std::io::Error::other(format!(
            "answered the probe with {}, not CONNACK 0",
            to_hex(&connack)
        )));
    }
    stream.write_all(&disconnect).await?;
    Ok(())
}

/// The probe's CONNECT, the CONNACK 0 it expects and its DISCONNECT, as the codec writes them.
fn probe_packets() -> std::io::Result<[Vec<u8>; 3]> {
    let bytes = |p: &Packet| encode(p).map_err(std::io::Error::other);
    let accepted = Connack {
        session_present: false,
        return_code: 0,
    };
    Ok([
        bytes(&Packet::Connect(Connect::new(PROBE_CLIENT_ID, 60)))?,
        bytes(&Packet::Connack(accepted))?,
        bytes(&Packet::Disconnect)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_packets_are_the_plain_3_1_1_ones() {
        let [connect, accepted, disconnect] = probe_packets().expect("the probe encodes");
        let want = crate::mqtt::parse_hex(
            "10 17 00 04 4D 51 54 54 04 02 00 3C 00 0B 61 74 68 69 6C 2D 70 72 6F 62 65",
        )
        .expect("literal hex");
        assert_eq!(connect, want);
        assert_eq!(accepted, [0x20, 0x02, 0x00, 0x00]);
        assert_eq!(disconnect, [0xE0, 0x00]);
    }

    #[tokio::test]
    async fn starts_and_accepts_a_connect() {
        let r = Rumqttd::start().await.expect("rumqttd starts");
        assert!(r.addr.ip().is_loopback());
        probe(r.addr)
            .await
            .expect("a second CONNECT is accepted too");
    }
}
