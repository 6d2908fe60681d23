//! The virtual Quectel module over a real pseudo-terminal and real loopback TCP: `athil sim
//! --firmware quectel-ec20` driven through boot, attach, open, send, receive and close; and
//! seed 004's RT-Thread log replayed byte for byte against it, a real listener answering the
//! CONNECT as OneNET did.

#[path = "data/thirdparty/support.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use athil::sim::{spawn, QuectelConfig, QuectelModel, SimConfig, Target};
use serialport::{ClearBuffer, SerialPort, TTYPort};
use support::{expect_bytes as expect, read_n, DEADLINE};

fn open(path: &str) -> TTYPort {
    let port = serialport::new(path, 115_200)
        .timeout(Duration::from_millis(20))
        .open_native()
        .expect("open the sim's pty like a serial device");
    port.clear(ClearBuffer::Input).unwrap();
    port
}

fn exchange(port: &mut TTYPort, typed: &[u8], expected: &[u8]) {
    port.write_all(typed).unwrap();
    expect(port, expected);
}

/// Polls `AT+CREG?` until the module says registered (stat 1), as RT-Thread's init does.
fn wait_registered(port: &mut TTYPort) {
    let end = Instant::now() + DEADLINE;
    loop {
        port.write_all(b"AT+CREG?\r\n").unwrap();
        let answer = read_n(port, b"\r\n+CREG: 0,1\r\n\r\nOK\r\n".len(), DEADLINE);
        if answer == b"\r\n+CREG: 0,1\r\n\r\nOK\r\n" {
            return;
        }
        assert_eq!(answer, b"\r\n+CREG: 0,2\r\n\r\nOK\r\n");
        assert!(Instant::now() < end, "never registered");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop(mut child: Child) {
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let end = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("athil sim did not stop after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn athil_sim_quectel_ec20_boots_attaches_and_carries_a_tcp_link() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let broker = listener.local_addr().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_athil"))
        .args(["sim", "--firmware", "quectel-ec20"])
        .args(["--map", &format!("mqtt.heclouds.com={broker}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let device = first
        .strip_prefix("athil sim: virtual Quectel EC20 on ")
        .and_then(|rest| rest.strip_suffix(" (115200 baud)\n"))
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    let mut port = open(&device);

    // A full power cycle: echo back on after it, the boot URCs in the EC20's order.
    exchange(&mut port, b"AT+CFUN=1,1\r", b"AT+CFUN=1,1\r\r\nOK\r\n");
    expect(
        &mut port,
        b"\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n\r\n+QIND: PB DONE\r\n",
    );
    exchange(&mut port, b"ATE0\r", b"ATE0\r\r\nOK\r\n");
    exchange(&mut port, b"AT+CMEE=2\r\n", b"\r\nOK\r\n");
    exchange(
        &mut port,
        b"ATI\r\n",
        b"\r\nQuectel\r\nEC20F\r\nRevision: EC20CEFDR02A09M4G\r\n\r\nSubEdition: V04\r\n\r\nOK\r\n",
    );
    wait_registered(&mut port);
    exchange(&mut port, b"AT+CSQ\r\n", b"\r\n+CSQ: 24,99\r\n\r\nOK\r\n");
    exchange(
        &mut port,
        b"AT+QICSGP=1,1,\"CMNET\",\"\",\"\",0\r\n",
        b"\r\nOK\r\n",
    );
    exchange(&mut port, b"AT+QIACT=1\r\n", b"\r\nOK\r\n");
    exchange(
        &mut port,
        b"AT+QIACT?\r\n",
        b"\r\n+QIACT: 1,1,1,\"10.68.40.17\"\r\n\r\nOK\r\n",
    );

    exchange(
        &mut port,
        b"AT+QIOPEN=1,0,\"TCP\",\"mqtt.heclouds.com\",6002,0,1\r\n",
        b"\r\nOK\r\n",
    );
    let (mut peer, _) = listener.accept().unwrap();
    expect(&mut port, b"\r\n+QIOPEN: 0,0\r\n");
    exchange(&mut port, b"AT+QISEND=0,5\r\n", b"\r\n> ");
    exchange(&mut port, b"hello", b"\r\nSEND OK\r\n");
    let mut got = [0u8; 5];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello");
    peer.write_all(b"world").unwrap();
    expect(&mut port, b"\r\n+QIURC: \"recv\",0,5\r\nworld\r\n");
    drop(peer);
    expect(&mut port, b"\r\n+QIURC: \"closed\",0\r\n");
    exchange(&mut port, b"AT+QICLOSE=0\r\n", b"\r\nOK\r\n");
    exchange(&mut port, b"AT+QISTATE?\r\n", b"\r\nOK\r\n");
    drop(port);
    stop(child);
}

/// One line of the seed 004 fixture.
enum Chunk {
    Host(Vec<u8>),
    Module(Vec<u8>),
}

fn seed_004() -> Vec<Chunk> {
    let text = include_str!("data/quectel/seed004.txt");
    let hex = |s: &str| -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    };
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| match l.split_once(':') {
            Some(("host", bytes)) => Chunk::Host(hex(bytes)),
            Some(("module", bytes)) => Chunk::Module(hex(bytes)),
            _ => panic!("bad fixture line {l:?}"),
        })
        .collect()
}

#[test]
fn seed_004_replayed_byte_for_byte_gets_the_module_side_of_its_log_back() {
    // OneNET's stand-in: takes the 37-byte CONNECT and answers CONNACK 0, as in the log.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let onenet = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut connect = [0u8; 37];
        stream.read_exact(&mut connect).unwrap();
        stream.write_all(&[0x20, 0x02, 0x00, 0x00]).unwrap();
        // Hold the link open until the test has read everything.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        connect
    });
    let mut config = SimConfig {
        quectel: Some(QuectelConfig {
            model: QuectelModel::Ec20,
            registration_ms: 0,
            ..QuectelConfig::default()
        }),
        ..SimConfig::default()
    };
    config
        .names
        .prepend("183.230.40.39", Target::Socket(onenet));
    let sim = spawn(config).unwrap();
    let mut port = open(&sim.device_path().to_string_lossy());

    // What RT-Thread's ec20 class does before the excerpt: echo off, attach, open socket 0 in
    // direct-push mode to OneNET's published address.
    exchange(&mut port, b"ATE0\r\n", b"ATE0\r\r\nOK\r\n");
    exchange(&mut port, b"AT+QIDEACT=1\r\n", b"\r\nOK\r\n");
    exchange(&mut port, b"AT+QIACT=1\r\n", b"\r\nOK\r\n");
    exchange(
        &mut port,
        b"AT+QIOPEN=1,0,\"TCP\",\"183.230.40.39\",6002,0,1\r\n",
        b"\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n",
    );

    // The excerpt: each host chunk written as the client wrote it, then the module's chunks
    // read in log order and compared byte for byte.
    let mut expected_all = Vec::new();
    let mut got_all = Vec::new();
    for chunk in seed_004() {
        match chunk {
            Chunk::Host(bytes) => port.write_all(&bytes).unwrap(),
            Chunk::Module(bytes) => {
                let got = read_n(&mut port, bytes.len(), DEADLINE);
                assert_eq!(got, bytes, "module chunk {bytes:02X?}");
                expected_all.extend(bytes);
                got_all.extend(got);
            }
        }
    }
    assert_eq!(
        got_all,
        b"\r\n> \r\nSEND OK\r\n\r\n+QIURC: \"recv\",0,4\r\n\x20\x02\x00\x00\r\n"
    );
    assert_eq!(got_all, expected_all);
    // Nothing more came.
    std::thread::sleep(Duration::from_millis(100));
    let mut extra = [0u8; 64];
    assert!(matches!(port.read(&mut extra), Err(e) if e.kind() == std::io::ErrorKind::TimedOut));
    sim.shutdown();
    let connect = peer.join().unwrap();
    assert_eq!(&connect[..2], &[0x10, 0x23]);
    assert_eq!(&connect[30..], b"\x00\x05sn888");
}

#[test]
fn bg96_buffer_mode_and_dns_over_a_real_pty() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = SimConfig {
        quectel: Some(QuectelConfig {
            model: QuectelModel::Bg96,
            registration_ms: 0,
            ..QuectelConfig::default()
        }),
        ..SimConfig::default()
    };
    config.names.prepend(
        "studio-mqtt.heclouds.com",
        Target::Socket(listener.local_addr().unwrap()),
    );
    let sim = spawn(config).unwrap();
    let mut port = open(&sim.device_path().to_string_lossy());
    exchange(&mut port, b"ATE0\r", b"ATE0\r\r\nOK\r\n");
    exchange(&mut port, b"AT+QIACT=1\r", b"\r\nOK\r\n");
    let ip = athil::sim::apparent_ip("studio-mqtt.heclouds.com");
    exchange(
        &mut port,
        b"AT+QIDNSGIP=1,\"studio-mqtt.heclouds.com\"\r",
        format!("\r\nOK\r\n\r\n+QIURC: \"dnsgip\",0,1,0\r\n\r\n+QIURC: \"dnsgip\",\"{ip}\"\r\n")
            .as_bytes(),
    );
    exchange(
        &mut port,
        b"AT+QIOPEN=1,2,\"TCP\",\"studio-mqtt.heclouds.com\",1883,0,0\r",
        b"\r\nOK\r\n",
    );
    let (mut peer, _) = listener.accept().unwrap();
    expect(&mut port, b"\r\n+QIOPEN: 2,0\r\n");
    // Zephyr's BG9x driver appends a Ctrl-Z after the fixed-length payload.
    exchange(&mut port, b"AT+QISEND=2,4\r", b"\r\n> ");
    exchange(&mut port, b"\xc0\x00\x01\x02\x1a", b"\r\nSEND OK\r\n");
    let mut got = [0u8; 4];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(got, [0xc0, 0x00, 0x01, 0x02]);
    peer.write_all(&[0xd0, 0x00]).unwrap();
    expect(&mut port, b"\r\n+QIURC: \"recv\",2\r\n");
    exchange(
        &mut port,
        b"AT+QIRD=2,1500\r",
        b"\r\n+QIRD: 2\r\n\xd0\x00\r\nOK\r\n",
    );
    exchange(
        &mut port,
        b"AT+QIRD=2,1500\r",
        b"\r\n+QIRD: 0\r\n\r\nOK\r\n",
    );
    let state = format!(
        "\r\n+QISTATE: 2,\"TCP\",\"{ip}\",1883,{},2,1,0,0,\"uart1\"\r\n\r\nOK\r\n",
        peer.peer_addr().unwrap().port()
    );
    exchange(&mut port, b"AT+QISTATE=1,2\r", state.as_bytes());
    exchange(&mut port, b"AT+QICLOSE=2\r", b"\r\nOK\r\n");
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "the module closed its side");
    sim.shutdown();
}
