//! Broker-side faults over real TCP on loopback, through the real gateway and rumqttd: one test
//! per fault, each timed or checked byte for byte, plus aiming (device A, not B), clearing at
//! the mark, and the split as two frames in the pcap.

mod broker_support;

use std::time::{Duration, Instant};

use athil::broker::{
    BrokerError, DelayedPacket, Direction, Fault, FaultTarget, RefusalKind, SeenDirection,
};
use athil::cloud::{AliyunCredentials, DeviceRegistry, SignMethod};
use athil::mqtt::{encode, Packet, Publish, QoS};
use athil::report::pcap::PcapBuilder;
use athil::run::{RunEvent, Stamped, TcpDirection};
use broker_support::*;
use pcap_file::pcap::PcapReader;
use tokio::io::AsyncReadExt;

fn device2() -> FaultTarget {
    FaultTarget::Device("aliyun/device2".into())
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The `fault:` notes among `events`.
fn fault_notes(events: &[Stamped]) -> Vec<String> {
    events
        .iter()
        .filter_map(|s| match &s.event {
            RunEvent::BrokerNote { text, .. } if text.starts_with("fault:") => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn has_note(events: &[Stamped], needle: &str) -> bool {
    let notes = fault_notes(events);
    notes.iter().any(|n| n.contains(needle))
}

/// Bytes of each downlink write, in order.
fn downlink_writes(events: &[Stamped]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|s| match &s.event {
            RunEvent::TcpData {
                direction: TcpDirection::Downlink,
                bytes,
                ..
            } => Some(bytes.clone()),
            _ => None,
        })
        .collect()
}

/// One `read` on the raw socket, within the deadline.
async fn read_once(c: &mut RawClient) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(DEADLINE, c.stream.read(&mut buf))
        .await
        .expect("bytes within the deadline")
        .expect("read");
    buf[..n].to_vec()
}

/// Asserts nothing arrives for `quiet`.
async fn expect_silence(c: &mut RawClient, quiet: Duration) {
    let mut buf = [0u8; 64];
    if let Ok(read) = tokio::time::timeout(quiet, c.stream.read(&mut buf)).await {
        let n = read.expect("read");
        panic!("expected silence, got {:02X?}", &buf[..n]);
    }
}

/// The CONNECT of a fixture device other than device2, signed with its secret.
fn connect_of(name: &str) -> Vec<u8> {
    let reg = DeviceRegistry::load_dir(devices_dir()).expect("fixture devices");
    let d = reg.get(name).expect("the device is a fixture");
    let params = d.client_id_params(SignMethod::HmacSha1).expect("params");
    let secret = d.secret().expect("the fixture secret");
    let c = AliyunCredentials::compute(&d.product_key, &d.device_name, &secret, params);
    encode(&Packet::from(c.to_connect(100))).expect("encodes")
}

#[tokio::test]
async fn refuse_next_connect_answers_its_code_then_the_next_connect_is_accepted() {
    let (broker, mut events) = start().await;
    broker
        .inject(device2(), Fault::RefuseNextConnect { code: 5 })
        .unwrap();
    let mut c = RawClient::connect(broker.addr()).await;
    c.send(&hex(CONNECT_002)).await;
    assert_eq!(c.recv().await, hex("20 02 00 05"));
    c.expect_closed(Duration::from_secs(2)).await;

    let refusals = broker.refusals();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    let r = &refusals[0];
    assert_eq!((r.code, r.reason.kind), (5, RefusalKind::FaultInjected));
    assert_eq!(r.reason.detail, "fault injected");
    assert_eq!(r.client_id, CLIENT_ID_002);
    // Only the next one: the sign is right, so the following CONNECT gets in.
    RawClient::connect_002(broker.addr()).await;
    assert_eq!(broker.refusals().len(), 1);
    let events = drain(&mut events);
    assert!(has_note(
        &events,
        "fault: refuse the next CONNECT with code 5 for aliyun/device2"
    ));
    assert!(has_note(
        &events,
        "refused the CONNECT of aliyun/device2 with code 5"
    ));
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn connack_held_300ms_arrives_no_earlier_and_intact() {
    let (broker, mut events) = start().await;
    broker
        .inject(
            device2(),
            Fault::Delay {
                packet: DelayedPacket::Connack,
                by: ms(300),
                count: None,
            },
        )
        .unwrap();
    let mut c = RawClient::connect(broker.addr()).await;
    let sent = Instant::now();
    c.send(&hex(CONNECT_002)).await;
    assert_eq!(c.recv().await, hex("20 02 00 00"));
    let waited = sent.elapsed();
    assert!(waited >= ms(300) && waited < ms(2000), "{waited:?}");
    // Only the CONNACK: a PINGRESP is prompt.
    let pinged = Instant::now();
    c.send(&hex("C0 00")).await;
    assert_eq!(c.recv().await, hex("D0 00"));
    assert!(pinged.elapsed() < ms(250), "{:?}", pinged.elapsed());
    assert!(has_note(
        &drain(&mut events),
        "fault: CONNACK to aliyun/device2 held 300ms"
    ));
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn suback_held_300ms_arrives_no_earlier_and_intact() {
    let (broker, _events) = start().await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    broker
        .inject(
            device2(),
            Fault::Delay {
                packet: DelayedPacket::Suback,
                by: ms(300),
                count: None,
            },
        )
        .unwrap();
    let sent = Instant::now();
    c.send(&hex(SUBSCRIBE_002)).await;
    assert_eq!(c.recv().await, hex("90 03 00 0A 01"));
    let waited = sent.elapsed();
    assert!(waited >= ms(300) && waited < ms(2000), "{waited:?}");
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn puback_held_300ms_arrives_no_earlier_and_intact() {
    let (broker, _events) = start().await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    broker
        .inject(
            device2(),
            Fault::Delay {
                packet: DelayedPacket::Puback,
                by: ms(300),
                count: None,
            },
        )
        .unwrap();
    let publish = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: POST_TOPIC_002.into(),
        packet_id: Some(7),
        payload: br#"{"id":"1","params":{"PowerSwitch":1}}"#.to_vec(),
    });
    let sent = Instant::now();
    c.send(&encode(&publish).unwrap()).await;
    assert_eq!(c.recv().await, hex("40 02 00 07"));
    let waited = sent.elapsed();
    assert!(waited >= ms(300) && waited < ms(2000), "{waited:?}");
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn drop_link_now_closes_the_socket_promptly() {
    let (broker, mut events) = start().await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    broker
        .inject(
            device2(),
            Fault::DropLink {
                after_next_packet: false,
            },
        )
        .unwrap();
    c.expect_closed(ms(1000)).await;
    // The gateway records the close after lingering for late bytes; shutting down waits for it.
    broker.shutdown(DEADLINE).await.unwrap();
    let events = drain(&mut events);
    let notes = fault_notes(&events);
    assert!(notes[0].starts_with("fault: drop the link now for aliyun/device2; applies to conn"));
    assert!(
        notes[1].starts_with("fault: armed on aliyun/device2"),
        "{notes:?}"
    );
    assert!(has_note(&events, "dropping the link to aliyun/device2 now"));
    assert!(events.iter().any(|s| matches!(
        s.event,
        RunEvent::TcpClosed {
            by_broker: true,
            ..
        }
    )));
}

#[tokio::test]
async fn drop_link_after_the_next_packet_lets_it_through_then_closes() {
    let (broker, _events) = start().await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    broker
        .inject(
            device2(),
            Fault::DropLink {
                after_next_packet: true,
            },
        )
        .unwrap();
    // Nothing happens until the device sends something.
    expect_silence(&mut c, ms(200)).await;
    c.send(&hex("C0 00")).await;
    // The broker saw the PINGREQ, and the close came instead of the PINGRESP.
    c.expect_closed(Duration::from_secs(2)).await;
    let seen = broker
        .wait_seen(
            |p| p.direction == SeenDirection::FromDevice && p.packet == Packet::Pingreq,
            std::time::Instant::now() + DEADLINE,
        )
        .await
        .unwrap();
    assert_eq!(seen.client_id.as_deref(), Some(CLIENT_ID_002));
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn downlink_black_hole_swallows_the_pingresp_then_lets_the_next_through() {
    let (broker, mut events) = start().await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    let started = Instant::now();
    broker
        .inject(
            device2(),
            Fault::BlackHole {
                direction: Direction::Downlink,
                duration: ms(500),
            },
        )
        .unwrap();
    c.send(&hex("C0 00")).await;
    expect_silence(&mut c, ms(300)).await;
    tokio::time::sleep_until((started + ms(550)).into()).await;
    c.send(&hex("C0 00")).await;
    assert_eq!(c.recv().await, hex("D0 00"));
    // Swallowed, not buffered: exactly one PINGRESP ever arrives.
    expect_silence(&mut c, ms(200)).await;
    let pings = broker
        .seen()
        .iter()
        .filter(|p| p.direction == SeenDirection::FromDevice && p.packet == Packet::Pingreq)
        .count();
    assert_eq!(pings, 2);
    assert!(has_note(
        &drain(&mut events),
        "fault: downlink black hole dropped the PINGRESP to aliyun/device2"
    ));
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn uplink_black_hole_keeps_the_cloud_from_seeing_a_publish() {
    let (broker, mut events) = start().await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    broker
        .inject(
            device2(),
            Fault::BlackHole {
                direction: Direction::Uplink,
                duration: ms(400),
            },
        )
        .unwrap();
    c.send(&hex(PROPERTY_POST_002)).await;
    let at_cloud = |p: &athil::broker::SeenPacket| p.direction == SeenDirection::AtCloud;
    let missed = broker
        .wait_seen(at_cloud, std::time::Instant::now() + ms(500))
        .await;
    assert!(
        matches!(missed, Err(BrokerError::NotSeen { .. })),
        "{missed:?}"
    );
    c.send(&hex(PROPERTY_POST_002)).await;
    broker
        .wait_seen(at_cloud, std::time::Instant::now() + DEADLINE)
        .await
        .unwrap();
    assert!(has_note(
        &drain(&mut events),
        "uplink black hole dropped the PUBLISH from aliyun/device2"
    ));
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn split_connack_arrives_as_two_segments_100ms_apart_and_two_frames_in_the_pcap() {
    let (broker, mut events) = start().await;
    broker
        .inject(
            device2(),
            Fault::SplitNext {
                segments: 2,
                gap: ms(100),
            },
        )
        .unwrap();
    let mut c = RawClient::connect(broker.addr()).await;
    c.send(&hex(CONNECT_002)).await;
    assert_eq!(read_once(&mut c).await, hex("20 02"));
    let first = Instant::now();
    assert_eq!(read_once(&mut c).await, hex("00 00"));
    // The gateway waits 100 ms after its first write; the first read returned a little after
    // that write, so allow a few milliseconds of that latency.
    let gap = first.elapsed();
    assert!(gap >= ms(95) && gap < ms(1000), "{gap:?}");
    // The link is usable afterwards.
    c.send(&hex("C0 00")).await;
    assert_eq!(c.recv().await, hex("D0 00"));
    broker.shutdown(DEADLINE).await.unwrap();

    let events = drain(&mut events);
    let writes = downlink_writes(&events);
    assert_eq!(writes[..2], [hex("20 02"), hex("00 00")]);
    assert!(has_note(
        &events,
        "fault: CONNACK to aliyun/device2 split into 2 segments, 100ms apart"
    ));
    // The pcap shows the CONNACK as two server→client frames.
    let pcap = PcapBuilder::new().pcap_file(&events).unwrap();
    let mut reader = PcapReader::new(&pcap[..]).unwrap();
    let mut from_server = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let data = packet.unwrap().data.into_owned();
        let ihl = usize::from(data[0] & 0x0F) * 4;
        let tcp = &data[ihl..];
        let src_port = u16::from_be_bytes([tcp[0], tcp[1]]);
        let payload = &tcp[usize::from(tcp[12] >> 4) * 4..];
        if src_port == broker.addr().port() && !payload.is_empty() {
            from_server.push(payload.to_vec());
        }
    }
    assert_eq!(
        from_server[..2],
        [hex("20 02"), hex("00 00")],
        "{from_server:02X?}"
    );
}

#[tokio::test]
async fn send_raw_bytes_arrive_exactly() {
    let (broker, mut events) = start().await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    broker
        .inject(
            device2(),
            Fault::SendRaw {
                hex: "20 02 00".into(),
            },
        )
        .unwrap();
    assert_eq!(read_once(&mut c).await, hex("20 02 00"));
    expect_silence(&mut c, ms(150)).await;
    let events = drain(&mut events);
    assert!(has_note(
        &events,
        "sent 3 raw bytes to aliyun/device2: 20 02 00"
    ));
    assert!(downlink_writes(&events).contains(&hex("20 02 00")));
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn a_fault_aimed_at_one_device_leaves_another_alone() {
    let (broker, _events) = start().await;
    let mut a = RawClient::connect_002(broker.addr()).await;
    let mut b = RawClient::connect(broker.addr()).await;
    b.send(&connect_of("aliyun/LY-1")).await;
    assert_eq!(b.recv().await, hex("20 02 00 00"));
    broker
        .inject(
            device2(),
            Fault::Delay {
                packet: DelayedPacket::Pingresp,
                by: ms(400),
                count: None,
            },
        )
        .unwrap();
    let sent = Instant::now();
    a.send(&hex("C0 00")).await;
    b.send(&hex("C0 00")).await;
    assert_eq!(b.recv().await, hex("D0 00"));
    assert!(sent.elapsed() < ms(300), "b waited {:?}", sent.elapsed());
    assert_eq!(a.recv().await, hex("D0 00"));
    assert!(sent.elapsed() >= ms(400), "a waited {:?}", sent.elapsed());

    broker
        .inject(
            device2(),
            Fault::DropLink {
                after_next_packet: false,
            },
        )
        .unwrap();
    a.expect_closed(ms(1000)).await;
    b.send(&hex("C0 00")).await;
    assert_eq!(b.recv().await, hex("D0 00"));
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn mark_clears_faults_that_never_fired() {
    let (broker, mut events) = start().await;
    broker
        .inject(
            device2(),
            Fault::SplitNext {
                segments: 2,
                gap: ms(100),
            },
        )
        .unwrap();
    broker.mark();
    RawClient::connect_002(broker.addr()).await;
    let events = drain(&mut events);
    assert_eq!(downlink_writes(&events), [hex("20 02 00 00")]);
    assert!(has_note(&events, "1 faults never fired and are cleared"));
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn inject_refuses_what_it_cannot_carry_out() {
    let (broker, _events) = start().await;
    let unknown = broker.inject(
        FaultTarget::Device("aliyun/nobody".into()),
        Fault::DropLink {
            after_next_packet: false,
        },
    );
    let text = unknown.unwrap_err().to_string();
    assert!(
        text.contains("no device `aliyun/nobody` is registered"),
        "{text}"
    );
    let bad_hex = broker.inject(FaultTarget::All, Fault::SendRaw { hex: "2".into() });
    assert!(
        matches!(bad_hex, Err(BrokerError::Fault { .. })),
        "{bad_hex:?}"
    );
    broker.shutdown(DEADLINE).await.unwrap();
    let after = broker.inject(FaultTarget::All, Fault::RefuseNextConnect { code: 5 });
    assert!(matches!(after, Err(BrokerError::ShutDown)), "{after:?}");
}

#[tokio::test]
async fn mark_disarms_what_a_live_connection_holds() {
    let (broker, mut events) = start().await;
    let mut c = RawClient::connect_002(broker.addr()).await;
    broker
        .inject(
            device2(),
            Fault::DropLink {
                after_next_packet: true,
            },
        )
        .unwrap();
    // Let the connection pick the fault up before the scenario boundary.
    tokio::time::sleep(ms(50)).await;
    broker.mark();
    c.send(&hex("C0 00")).await;
    assert_eq!(c.recv().await, hex("D0 00"));
    assert!(has_note(
        &drain(&mut events),
        "cleared the faults armed on aliyun/device2"
    ));
    broker.shutdown(DEADLINE).await.unwrap();
}

/// A refused login is not a login: it must not take over the device's live connection (as an
/// accepted second login does).
#[tokio::test]
async fn a_refused_connect_leaves_the_devices_live_connection_alone() {
    let (broker, _events) = start().await;
    let mut live = RawClient::connect_002(broker.addr()).await;
    broker
        .inject(device2(), Fault::RefuseNextConnect { code: 5 })
        .unwrap();
    let mut second = RawClient::connect(broker.addr()).await;
    second.send(&hex(CONNECT_002)).await;
    assert_eq!(second.recv().await, hex("20 02 00 05"));
    second.expect_closed(Duration::from_secs(2)).await;
    live.send(&hex("C0 00")).await;
    assert_eq!(live.recv().await, hex("D0 00"));
    broker.shutdown(DEADLINE).await.unwrap();
}
