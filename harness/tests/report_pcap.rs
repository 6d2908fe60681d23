//! The per-scenario pcap: read back with pcap-file's reader, every frame checked (IP and TCP
//! checksums computed here independently, sequence and acknowledgement numbers followed per
//! direction), and, when tshark is installed, dissected as MQTT with no options.

mod report_support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use athil::report::{Console, Redactor, Reporter};
use athil::run::{Outcome, RunEvent, TcpDirection};
use pcap_file::pcap::PcapReader;
use pcap_file::DataLink;
use report_support::*;

/// One parsed frame.
#[derive(Debug)]
struct Frame {
    ts: Duration,
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: Vec<u8>,
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let hi = u32::from(pair[0]) << 8;
        sum += hi | pair.get(1).map_or(0, |&b| u32::from(b));
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// Parses a RAW IPv4 frame, asserting both checksums hold.
fn parse(ts: Duration, data: &[u8], orig_len: u32) -> Frame {
    assert_eq!(data.len() as u32, orig_len, "frames are never cut");
    assert!(data.len() <= 65535);
    assert_eq!(data[0], 0x45, "IPv4 with a 20-byte header");
    assert_eq!(u16::from_be_bytes([data[2], data[3]]) as usize, data.len());
    assert_eq!(data[9], 6, "TCP");
    assert_eq!(checksum(&data[..20]), 0, "IP header checksum");
    let tcp = &data[20..];
    let mut pseudo = data[12..20].to_vec();
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(tcp);
    assert_eq!(checksum(&pseudo), 0, "TCP checksum");
    let ip = |o: usize| [data[o], data[o + 1], data[o + 2], data[o + 3]];
    let be32 = |o: usize| u32::from_be_bytes([tcp[o], tcp[o + 1], tcp[o + 2], tcp[o + 3]]);
    Frame {
        ts,
        src: (ip(12), u16::from_be_bytes([tcp[0], tcp[1]])),
        dst: (ip(16), u16::from_be_bytes([tcp[2], tcp[3]])),
        seq: be32(4),
        ack: be32(8),
        flags: tcp[13],
        payload: tcp[usize::from(tcp[12] >> 4) * 4..].to_vec(),
    }
}

fn read(path: &Path) -> Vec<Frame> {
    let mut r = PcapReader::new(std::fs::File::open(path).unwrap()).unwrap();
    assert_eq!(r.header().datalink, DataLink::RAW);
    let mut frames = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        frames.push(parse(p.timestamp, &p.data, p.orig_len));
    }
    frames
}

/// Follows the byte stream each way: every segment starts where the previous one of its
/// direction ended, and every ACK acknowledges all the other side has sent.
fn check_sequence(frames: &[Frame]) {
    let mut next: HashMap<(u16, u16), u32> = HashMap::new();
    for f in frames {
        let key = (f.src.1, f.dst.1);
        if f.flags & 0x02 == 0 {
            assert_eq!(Some(&f.seq), next.get(&key), "seq continues in {f:?}");
        }
        if f.flags & 0x10 != 0 {
            assert_eq!(
                Some(&f.ack),
                next.get(&(key.1, key.0)),
                "ack is up to date in {f:?}"
            );
        }
        let used = f.payload.len() as u32 + u32::from(f.flags & 0x03 != 0);
        next.insert(key, f.seq.wrapping_add(used));
    }
}

fn run(s: &Script) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Reporter::new(
        dir.path(),
        None,
        Redactor::none(),
        Console::new(SharedBuf::default(), false),
    )
    .unwrap();
    for ev in &s.events {
        r.handle(ev);
    }
    let paths = r.finish();
    assert!(paths.is_complete(), "{:?}", paths.problems);
    let pcaps = paths
        .scenarios
        .iter()
        .map(|f| f.pcap.clone().unwrap())
        .collect();
    (dir, pcaps)
}

fn refused() -> Script {
    let mut s = Script::new();
    s.scenario("connect refused", "scenarios/connect_refused.yaml")
        .connect_flow(1, CONNACK_REFUSED)
        .step_done(3, Outcome::Failed(refused_failure()), 6)
        .push(RunEvent::TcpClosed {
            conn: 1,
            by_broker: true,
        })
        .push(RunEvent::ScenarioFinished {
            name: "connect refused".into(),
            outcome: Outcome::Failed(refused_failure()),
            elapsed: Duration::from_millis(951),
        });
    s
}

#[test]
fn handshake_data_acks_and_close_add_up() {
    let (_dir, pcaps) = run(&refused());
    let frames = read(&pcaps[0]);
    let flags: Vec<u8> = frames.iter().map(|f| f.flags).collect();
    // SYN, SYN-ACK, ACK; CONNECT and its ACK; CONNACK and its ACK; broker FIN, module FIN, ACK.
    assert_eq!(
        flags,
        [0x02, 0x12, 0x10, 0x18, 0x10, 0x18, 0x10, 0x11, 0x11, 0x10]
    );
    let (module, broker) = (([127, 0, 0, 1], 50312), ([127, 0, 0, 1], 1883));
    assert_eq!((frames[0].src, frames[0].dst), (module, broker));
    assert_eq!((frames[5].src, frames[5].dst), (broker, module));
    assert_eq!(
        (frames[7].src, frames[7].dst),
        (broker, module),
        "the broker closed first"
    );
    assert_eq!(frames[3].payload, connect_bytes());
    assert_eq!(frames[5].payload, CONNACK_REFUSED);
    check_sequence(&frames);
    // Timestamps are the events' wall-clock times: the CONNECT went up 936 ms into the run.
    let epoch = Duration::from_secs(1_700_000_000);
    assert_eq!(frames[3].ts - epoch, Duration::from_millis(936));
}

#[test]
fn large_data_is_split_into_segments_that_fit() {
    let mut s = Script::new();
    let big: Vec<u8> = (0..140_000u32).map(|i| (i % 251) as u8).collect();
    s.scenario("big publish", "big.yaml")
        .push(RunEvent::TcpOpened {
            conn: 4,
            client: client(),
            server: server(),
        })
        .tcp(4, TcpDirection::Uplink, &big)
        .push(RunEvent::TcpClosed {
            conn: 4,
            by_broker: false,
        });
    let (_dir, pcaps) = run(&s);
    let frames = read(&pcaps[0]);
    let sizes: Vec<usize> = frames
        .iter()
        .filter(|f| f.flags == 0x18)
        .map(|f| f.payload.len())
        .collect();
    assert_eq!(sizes, [65495, 65495, 140_000 - 2 * 65495]);
    let data: Vec<u8> = frames.iter().flat_map(|f| f.payload.clone()).collect();
    assert_eq!(data, big);
    check_sequence(&frames);
}

#[test]
fn a_connection_kept_across_scenarios_continues_its_sequence() {
    let mut s = Script::new();
    s.scenario("first", "a.yaml")
        .push(RunEvent::TcpOpened {
            conn: 7,
            client: client(),
            server: server(),
        })
        .tcp(7, TcpDirection::Uplink, &[0xC0, 0x00])
        .push(RunEvent::ScenarioFinished {
            name: "first".into(),
            outcome: Outcome::Passed,
            elapsed: Duration::ZERO,
        })
        .scenario("second", "b.yaml")
        .tcp(7, TcpDirection::Downlink, &[0xD0, 0x00])
        .push(RunEvent::ScenarioFinished {
            name: "second".into(),
            outcome: Outcome::Passed,
            elapsed: Duration::ZERO,
        });
    let (_dir, pcaps) = run(&s);
    let mut all = read(&pcaps[0]);
    let second = read(&pcaps[1]);
    assert_eq!(second.len(), 2, "PINGRESP and its ACK, no new handshake");
    all.extend(second);
    check_sequence(&all);
}

/// tshark must be there in CI; elsewhere its absence skips these checks, saying so.
fn tshark() -> Option<&'static str> {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("tshark");
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "tshark is not installed but CI=true: .ci/run should have installed it"
    );
    println!("skipped: tshark is not installed (apt-get install tshark)");
    None
}

fn tshark_fields(pcap: &Path, filter: &str, fields: &[&str], extra: &[&str]) -> String {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n")
        .arg("-r")
        .arg(pcap)
        .args(extra)
        .args(["-Y", filter, "-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tshark_dissects_connect_and_connack() {
    let Some(_) = tshark() else { return };
    let (_dir, pcaps) = run(&refused());
    let out = tshark_fields(
        &pcaps[0],
        "mqtt",
        &["mqtt.msgtype", "mqtt.clientid", "mqtt.conack.val"],
        &[],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [format!("1\t{CLIENT_ID}\t"), "2\t\t4".to_string()],
        "{out}"
    );
    // Checksums verified, and no TCP analysis complaint (lost segment, bad ACK, window full...).
    let checks = [
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
    ];
    let sums = tshark_fields(
        &pcaps[0],
        "tcp",
        &["ip.checksum.status", "tcp.checksum.status"],
        &checks,
    );
    assert_eq!(sums.lines().count(), 10, "{sums}");
    assert!(
        sums.lines().all(|l| l == "1\t1"),
        "every checksum Good:\n{sums}"
    );
    let flagged = tshark_fields(
        &pcaps[0],
        "tcp.analysis.flags || _ws.expert.severity >= warning",
        &["frame.number"],
        &[],
    );
    assert_eq!(flagged, "", "tshark flags frames");
}

#[test]
fn tshark_reassembles_a_connect_split_over_two_chunks() {
    let Some(_) = tshark() else { return };
    let connect = connect_bytes();
    let (a, b) = connect.split_at(30);
    let mut s = Script::new();
    s.scenario("split", "split.yaml")
        .push(RunEvent::TcpOpened {
            conn: 2,
            client: client(),
            server: server(),
        })
        .tcp(2, TcpDirection::Uplink, a)
        .wait(5)
        .tcp(2, TcpDirection::Uplink, b)
        .tcp(2, TcpDirection::Downlink, &CONNACK_OK);
    let (_dir, pcaps) = run(&s);
    let out = tshark_fields(&pcaps[0], "mqtt", &["mqtt.msgtype", "mqtt.username"], &[]);
    assert_eq!(out, format!("1\t{USERNAME}\n2\t\n"));
}
