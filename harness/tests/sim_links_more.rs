//! Issue 8.3: UDP links and the TCP server answered ERROR. Pinned over a real pseudo-terminal,
//! with the network side driven from the test over real loopback sockets, byte for byte.

#[path = "data/thirdparty/support.rs"]
mod support;

use support::exchange;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use athil::sim::{spawn, Flavour, SimConfig, SimHandle};
use serialport::{ClearBuffer, SerialPort, TTYPort};

fn joined(firmware: Flavour) -> (SimHandle, TTYPort) {
    let sim = spawn(SimConfig {
        firmware,
        ..SimConfig::default()
    })
    .unwrap();
    let mut port = serialport::new(sim.device_path().to_string_lossy(), 115_200)
        .timeout(Duration::from_millis(10))
        .open_native()
        .expect("open the sim's pty like a serial device");
    port.clear(ClearBuffer::Input).unwrap();
    exchange(&mut port, b"ATE0\r\n", b"\r\nOK\r\n");
    exchange(
        &mut port,
        b"AT+CWJAP=\"athil-lab\",\"athil-pass\"\r\n",
        b"WIFI GOT IP\r\n\r\nOK\r\n",
    );
    (sim, port)
}

/// A loopback port nobody listens on right now (bound, then let go).
fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Issue 8.3: `AT+CIPSTART="UDP",…` answered ERROR. A UDP link sends each `AT+CIPSEND` as one
/// datagram from the local port asked for, and each datagram that comes back is one `+IPD`.
#[test]
fn udp_link_sends_datagrams_from_its_local_port_and_reports_replies_as_ipd() {
    let (sim, mut port) = joined(Flavour::Nonos);
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(support::DEADLINE)).unwrap();
    let remote = peer.local_addr().unwrap().port();
    let local = free_udp_port();
    let line = format!("AT+CIPSTART=\"UDP\",\"127.0.0.1\",{remote},{local},0\r\n");
    let reply = exchange(&mut port, line.as_bytes(), b"\r\nOK\r\n");
    assert_eq!(reply, b"CONNECT\r\n\r\nOK\r\n");
    let status = exchange(&mut port, b"AT+CIPSTATUS\r\n", b"\r\nOK\r\n");
    assert_eq!(
        String::from_utf8_lossy(&status),
        format!("STATUS:3\r\n+CIPSTATUS:0,\"UDP\",\"127.0.0.1\",{remote},{local},0\r\n\r\nOK\r\n")
    );
    exchange(&mut port, b"AT+CIPSEND=5\r\n", b"\r\nOK\r\n> ");
    let sent = exchange(&mut port, b"hello", b"SEND OK\r\n");
    assert_eq!(sent, b"\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n");
    let mut buf = [0u8; 64];
    let (n, from) = peer
        .recv_from(&mut buf)
        .expect("the datagram within the deadline");
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(from.port(), local);
    peer.send_to(b"wor\r\nld", from).unwrap();
    let got = exchange(&mut port, b"", b"wor\r\nld");
    assert_eq!(got, b"\r\n+IPD,7:wor\r\nld");
    let closed = exchange(&mut port, b"AT+CIPCLOSE\r\n", b"\r\nOK\r\n");
    assert_eq!(closed, b"CLOSED\r\n\r\nOK\r\n");
    assert!(sim.shutdown());
}

/// Issue 8.3: `AT+CIPSERVER=1,<port>` answered ERROR. With `AT+CIPMUX=1` the module listens on
/// loopback; each client that connects is `<id>,CONNECT`, its data `+IPD,<id>,<n>:`, the module's
/// `AT+CIPSEND=<id>,<n>` reaches it, and its close is `<id>,CLOSED`.
#[test]
fn tcp_server_accepts_clients_as_links_with_connect_ipd_and_closed() {
    let (sim, mut port) = joined(Flavour::EspAt);
    let listen = free_tcp_port();
    let line = format!("AT+CIPSERVER=1,{listen}\r\n");
    assert_eq!(
        exchange(&mut port, line.as_bytes(), b"\r\nERROR\r\n"),
        b"\r\nERROR\r\n",
        "a server needs AT+CIPMUX=1"
    );
    exchange(&mut port, b"AT+CIPMUX=1\r\n", b"\r\nOK\r\n");
    assert_eq!(
        exchange(&mut port, line.as_bytes(), b"\r\nOK\r\n"),
        b"\r\nOK\r\n"
    );
    let mut client = TcpStream::connect(("127.0.0.1", listen)).expect("the module listens");
    client.set_read_timeout(Some(support::DEADLINE)).unwrap();
    assert_eq!(exchange(&mut port, b"", b"0,CONNECT\r\n"), b"0,CONNECT\r\n");
    let client_port = client.local_addr().unwrap().port();
    let status = exchange(&mut port, b"AT+CIPSTATUS\r\n", b"\r\nOK\r\n");
    assert_eq!(
        String::from_utf8_lossy(&status),
        format!(
            "STATUS:3\r\n+CIPSTATUS:0,\"TCP\",\"127.0.0.1\",{client_port},{listen},1\r\n\r\nOK\r\n"
        )
    );
    client.write_all(b"ping").unwrap();
    assert_eq!(exchange(&mut port, b"", b"ping"), b"\r\n+IPD,0,4:ping");
    exchange(&mut port, b"AT+CIPSEND=0,4\r\n", b"\r\n>");
    assert_eq!(
        exchange(&mut port, b"pong", b"SEND OK\r\n"),
        b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n"
    );
    let mut got = [0u8; 4];
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"pong");
    let second = TcpStream::connect(("127.0.0.1", listen)).expect("a second client");
    assert_eq!(exchange(&mut port, b"", b"1,CONNECT\r\n"), b"1,CONNECT\r\n");
    drop(client);
    assert_eq!(exchange(&mut port, b"", b"0,CLOSED\r\n"), b"0,CLOSED\r\n");
    assert_eq!(
        exchange(&mut port, b"AT+CIPSERVER=0\r\n", b"\r\nOK\r\n"),
        b"\r\nOK\r\n"
    );
    drop(second);
    assert!(sim.shutdown());
}
