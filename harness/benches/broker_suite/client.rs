//! The load clients' side of a connection: MQTT 3.1.1 over tokio TCP with athil's own codec
//! ([`athil::mqtt::encode`], [`athil::mqtt::Framer`], [`athil::mqtt::decode`]). Main types:
//! [`Reader`] and [`Writer`], the two halves of one connection, so a publisher can keep writing
//! while a task of its own drains what the broker sends back. Every receive has a deadline.

use std::net::SocketAddr;

use athil::mqtt::{decode, encode, Connect, Framer, Packet, QoS, Subscribe, SubscribeFilter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

/// Why a receive ended without a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecvError {
    /// The broker closed the connection (EOF) or reset it.
    Closed(String),
    /// Nothing whole arrived before the deadline.
    TimedOut,
    /// The bytes do not frame or decode as MQTT.
    Garbled(String),
}

impl std::fmt::Display for RecvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecvError::Closed(how) => write!(f, "the broker closed the connection ({how})"),
            RecvError::TimedOut => f.write_str("nothing arrived before the deadline"),
            RecvError::Garbled(why) => write!(f, "unreadable bytes: {why}"),
        }
    }
}

/// The receiving half: frames and decodes what the broker sends.
pub struct Reader {
    rd: OwnedReadHalf,
    framer: Framer,
    buf: Vec<u8>,
}

/// The sending half.
pub struct Writer {
    wr: OwnedWriteHalf,
}

impl Reader {
    /// The next packet, or why none came before `deadline`.
    pub async fn recv(&mut self, deadline: Instant) -> Result<Packet, RecvError> {
        loop {
            match self.framer.next_packet() {
                Ok(Some(bytes)) => {
                    return decode(&bytes)
                        .map(|(p, _)| p)
                        .map_err(|e| RecvError::Garbled(e.to_string()))
                }
                Ok(None) => {}
                Err(e) => return Err(RecvError::Garbled(e.to_string())),
            }
            match timeout_at(deadline, self.rd.read(&mut self.buf)).await {
                Err(_) => return Err(RecvError::TimedOut),
                Ok(Ok(0)) => return Err(RecvError::Closed("EOF".to_owned())),
                Ok(Ok(n)) => self.framer.push(&self.buf[..n]),
                Ok(Err(e)) => return Err(RecvError::Closed(e.to_string())),
            }
        }
    }

    /// Whether a packet is already framed and waiting (so a batch of PUBACKs can be flushed
    /// only when the socket has nothing more to give right now).
    pub fn has_buffered_packet(&self) -> bool {
        matches!(athil::mqtt::frame_len(self.framer.buffered()), Ok(Some(_)))
    }
}

impl Writer {
    pub async fn send(&mut self, packet: &Packet) -> std::io::Result<()> {
        let bytes = encode(packet).map_err(std::io::Error::other)?;
        self.wr.write_all(&bytes).await
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.wr.write_all(bytes).await
    }
}

/// A connection that got CONNACK 0.
pub struct Session {
    pub reader: Reader,
    pub writer: Writer,
}

/// How a login went.
#[derive(Debug)]
pub enum Login {
    Accepted(Session),
    /// CONNACK with this non-zero code.
    Refused(u8),
    Failed(String),
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Session")
    }
}

/// Opens TCP (with TCP_NODELAY: the load client must not add Nagle's delay of its own),
/// sends `connect` and waits for the CONNACK until `deadline`.
pub async fn login(addr: SocketAddr, connect: &Connect, deadline: Instant, buffer: usize) -> Login {
    let stream = match timeout_at(deadline, TcpStream::connect(addr)).await {
        Err(_) => return Login::Failed("TCP connect timed out".to_owned()),
        Ok(Err(e)) => return Login::Failed(format!("TCP connect: {e}")),
        Ok(Ok(s)) => s,
    };
    if let Err(e) = stream.set_nodelay(true) {
        return Login::Failed(format!("set TCP_NODELAY: {e}"));
    }
    let (rd, wr) = stream.into_split();
    let mut reader = Reader {
        rd,
        framer: Framer::new(),
        buf: vec![0; buffer],
    };
    let mut writer = Writer { wr };
    if let Err(e) = writer.send(&Packet::from(connect.clone())).await {
        return Login::Failed(format!("send CONNECT: {e}"));
    }
    match reader.recv(deadline).await {
        Ok(Packet::Connack(c)) if c.return_code == 0 => Login::Accepted(Session { reader, writer }),
        Ok(Packet::Connack(c)) => Login::Refused(c.return_code),
        Ok(other) => Login::Failed(format!(
            "answered CONNECT with {}",
            other.packet_type().name()
        )),
        Err(e) => Login::Failed(format!("waiting for CONNACK: {e}")),
    }
}

impl Login {
    /// The session, or a sentence saying why there is none.
    pub fn accepted(self, who: &str) -> Result<Session, String> {
        match self {
            Login::Accepted(s) => Ok(s),
            Login::Refused(code) => Err(format!("{who} got CONNACK {code}")),
            Login::Failed(why) => Err(format!("{who}: {why}")),
        }
    }
}

impl Session {
    /// SUBSCRIBE one filter and wait for its SUBACK; the granted code, or why not.
    pub async fn subscribe(
        &mut self,
        packet_id: u16,
        filter: &str,
        qos: QoS,
        deadline: Instant,
    ) -> Result<u8, String> {
        let subscribe = Packet::Subscribe(Subscribe {
            packet_id,
            filters: vec![SubscribeFilter {
                filter: filter.to_owned(),
                qos,
            }],
        });
        self.writer
            .send(&subscribe)
            .await
            .map_err(|e| format!("send SUBSCRIBE: {e}"))?;
        loop {
            match self.reader.recv(deadline).await {
                Ok(Packet::Suback(s)) if s.packet_id == packet_id => {
                    let code = s.return_codes.first().copied().unwrap_or(0x80);
                    return if code == 0x80 {
                        Err(format!("SUBACK 80 (refused) for {filter}"))
                    } else {
                        Ok(code)
                    };
                }
                // A stray publish (e.g. a retained one) before the SUBACK is not ours to judge.
                Ok(_) => {}
                Err(e) => return Err(format!("waiting for SUBACK to {filter}: {e}")),
            }
        }
    }
}
