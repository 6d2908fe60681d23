//! Shared by the broker integration tests: seed 002's packets, a broker over the fixture
//! devices, and a tiny raw-TCP MQTT client that sends exact bytes and reads whole packets.

#![allow(dead_code)] // each test file uses a different part of this module

mod peers;
#[allow(unused_imports)] // only the interop tests drive third-party peers
pub use peers::*;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use athil::broker::{Broker, BrokerConfig, BrokerHandle};
use athil::mqtt::{parse_hex, Framer};
use athil::run::{EventSink, Stamped};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{timeout, Instant};

/// Every read in these tests gives up after this.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// Seed 002's accepted CONNECT (device2, sign 5caeef5b…, keepalive 100).
pub const CONNECT_002: &str = "10 74 00 04 4D 51 54 54 04 C2 00 64 00 29 64 65 76 69 63 65 32 \
    7C 73 65 63 75 72 65 6D 6F 64 65 3D 33 2C 73 69 67 6E 6D 65 74 68 6F 64 3D 68 6D 61 63 73 68 \
    61 31 7C 00 13 64 65 76 69 63 65 32 26 61 31 6E 64 50 51 48 63 58 37 66 00 28 35 63 61 65 65 \
    66 35 62 39 32 35 31 39 34 30 36 39 36 62 30 32 64 63 38 30 62 36 31 35 63 33 66 37 33 39 66 \
    34 36 62 63";
/// Seed 002's SUBSCRIBE to `/sys/a1ndPQHcX7f/device2/thing/service/property/set`, QoS 0.
pub const SUBSCRIBE_002: &str = "82 38 00 0A 00 33 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 \
    66 2F 64 65 76 69 63 65 32 2F 74 68 69 6E 67 2F 73 65 72 76 69 63 65 2F 70 72 6F 70 65 72 74 \
    79 2F 73 65 74 00";
/// Seed 002's property set as the device received it (QoS 0, remaining length `9A 01`).
pub const PROPERTY_SET_002: &str = "30 9A 01 00 33 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 \
    66 2F 64 65 76 69 63 65 32 2F 74 68 69 6E 67 2F 73 65 72 76 69 63 65 2F 70 72 6F 70 65 72 74 \
    79 2F 73 65 74 7B 22 6D 65 74 68 6F 64 22 3A 22 74 68 69 6E 67 2E 73 65 72 76 69 63 65 2E 70 \
    72 6F 70 65 72 74 79 2E 73 65 74 22 2C 22 69 64 22 3A 22 34 31 30 37 34 39 36 34 33 22 2C 22 \
    70 61 72 61 6D 73 22 3A 7B 22 50 6F 77 65 72 53 77 69 74 63 68 22 3A 31 7D 2C 22 76 65 72 73 \
    69 6F 6E 22 3A 22 31 2E 30 2E 30 22 7D";
/// Seed 002's property post, QoS 0 (`30 98 01 …`).
pub const PROPERTY_POST_002: &str = "30 98 01 00 32 2F 73 79 73 2F 61 31 6E 64 50 51 48 63 58 37 \
    66 2F 64 65 76 69 63 65 32 2F 74 68 69 6E 67 2F 65 76 65 6E 74 2F 70 72 6F 70 65 72 74 79 2F \
    70 6F 73 74 7B 22 6D 65 74 68 6F 64 22 3A 22 74 68 69 6E 67 2E 65 76 65 6E 74 2E 70 72 6F 70 \
    65 72 74 79 2E 70 6F 73 74 22 2C 22 69 64 22 3A 22 38 30 33 33 38 31 30 31 37 22 2C 22 70 61 \
    72 61 6D 73 22 3A 7B 22 50 6F 77 65 72 53 77 69 74 63 68 22 3A 31 7D 2C 22 76 65 72 73 69 6F \
    6E 22 3A 22 31 2E 30 2E 30 22 7D";

pub const SET_TOPIC_002: &str = "/sys/a1ndPQHcX7f/device2/thing/service/property/set";
pub const POST_TOPIC_002: &str = "/sys/a1ndPQHcX7f/device2/thing/event/property/post";
pub const CLIENT_ID_002: &str = "device2|securemode=3,signmethod=hmacsha1|";
pub const USERNAME_002: &str = "device2&a1ndPQHcX7f";
pub const SIGN_002: &str = "5caeef5b9251940696b02dc80b615c3f739f46bc";

pub fn hex(s: &str) -> Vec<u8> {
    parse_hex(s).expect("test hex parses")
}

/// Seed 002's CONNECT with the sign's last character changed: a wrong sign.
pub fn connect_002_wrong_sign() -> Vec<u8> {
    let mut bytes = hex(CONNECT_002);
    let last = bytes.len() - 1;
    bytes[last] = b'd';
    bytes
}

pub fn devices_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/devices")
}

pub fn config() -> BrokerConfig {
    BrokerConfig::from_devices_dir(&devices_dir()).expect("fixture devices load")
}

/// A broker over the fixture devices on a random 127.x.y.z:1883, with its event stream.
pub async fn start() -> (BrokerHandle, UnboundedReceiver<Stamped>) {
    start_with(config()).await
}

pub async fn start_with(config: BrokerConfig) -> (BrokerHandle, UnboundedReceiver<Stamped>) {
    let (events, rx) = EventSink::channel();
    let broker = Broker::start(config, events).await.expect("broker starts");
    (broker, rx)
}

/// A raw MQTT client: exact bytes out, whole packets in.
pub struct RawClient {
    pub stream: TcpStream,
    framer: Framer,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = timeout(DEADLINE, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        RawClient {
            stream,
            framer: Framer::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
    }

    /// The next whole packet's bytes; panics if none arrives within [`DEADLINE`].
    pub async fn recv(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + DEADLINE;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(p) = self
                .framer
                .next_packet()
                .expect("broker sent frameable bytes")
            {
                return p;
            }
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut buf))
                .await
                .expect("a packet within the deadline")
                .expect("read");
            assert!(
                n > 0,
                "the broker closed the connection instead of answering"
            );
            self.framer.push(&buf[..n]);
        }
    }

    /// Seed 002's CONNECT, expecting `20 02 00 00`.
    pub async fn connect_002(addr: SocketAddr) -> RawClient {
        let mut c = RawClient::connect(addr).await;
        c.send(&hex(CONNECT_002)).await;
        assert_eq!(c.recv().await, hex("20 02 00 00"));
        c
    }

    /// Asserts the broker closes the connection within `within` and sends nothing more.
    pub async fn expect_closed(&mut self, within: Duration) {
        assert!(
            self.framer.buffered().is_empty(),
            "unread bytes before the close"
        );
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(within, self.stream.read(&mut buf))
            .await
            .expect("the broker closes the connection in time");
        match read {
            Ok(0) => {}
            Ok(n) => panic!("expected the close, got {:02X?}", &buf[..n]),
            // A reset also means closed; the gateway avoids it, but it is not this check's job.
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        }
    }
}

/// Every event received so far (the sink keeps sending; this takes what is queued).
pub fn drain(rx: &mut UnboundedReceiver<Stamped>) -> Vec<Stamped> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}
