//! The per-connection fault machine over literal packets from seed 002 (device2's CONNECT,
//! SUBACK `90 03 00 0A 01`, CONNACK `20 02 00 00`). The steps are written the way the session
//! returns them for those packets.

use super::*;
use crate::broker::fault::FaultTarget;
use crate::mqtt::{decode, parse_hex, Connack, Suback};
use rstest::rstest;
use std::path::PathBuf;

const DEVICE2: &str = "aliyun/device2";

/// What one call appends, as a Vec (the gateway appends to a buffer it keeps).
/// What `c` makes of one turn's `steps` from `side` at `now` (the registry is always
/// [`devices`]).
fn feed(
    c: &mut ConnFaults,
    mut steps: Vec<Step>,
    side: Side,
    now: Instant,
    board: &FaultBoard,
) -> Vec<Action> {
    let mut out = Vec::new();
    c.on_steps(&mut steps, side, now, board, &devices(), &mut out);
    out
}

fn hex(s: &str) -> Vec<u8> {
    parse_hex(s).unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn devices() -> DeviceRegistry {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/devices");
    DeviceRegistry::load_dir(dir).unwrap()
}

fn connect_002() -> Connect {
    let mut c = Connect::new("device2|securemode=3,signmethod=hmacsha1|", 100);
    c.username = Some("device2&a1ndPQHcX7f".into());
    c.password = Some(b"5caeef5b9251940696b02dc80b615c3f739f46bc".to_vec());
    c
}

/// The session's steps for an accepted seed-002 CONNECT.
fn accepted_connect() -> Vec<Step> {
    vec![
        Step::FromDevice(Packet::from(connect_002())),
        Step::Note("accepted client as device `aliyun/device2` (Alibaba Cloud)".into()),
        Step::OpenUpstream {
            client_id: "a1ndPQHcX7f.device2.0".into(),
        },
    ]
}

/// What a device's PUBLISH hands rumqttd.
fn post() -> Step {
    Step::ToCloud(crate::mqtt::Publish {
        dup: false,
        qos: crate::mqtt::QoS::AtMostOnce,
        retain: false,
        topic: "/a1ndPQHcX7f/device2/user/update".into(),
        packet_id: None,
        payload: b"{}".to_vec(),
    })
}

fn to_device(text: &str) -> Step {
    let bytes = hex(text);
    let (packet, _) = decode(&bytes).unwrap();
    Step::ToDevice { bytes, packet }
}

fn writes(actions: &[Action]) -> Vec<&Write> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Write(w) => Some(w),
            Action::Step(_) => None,
        })
        .collect()
}

fn notes(actions: &[Action]) -> Vec<&str> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Step(Step::Note(n)) => Some(n.as_str()),
            _ => None,
        })
        .collect()
}

fn closes(actions: &[Action]) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::Step(Step::Close)))
}

/// A connection on which device2's CONNECT was accepted.
fn connected(board: &FaultBoard, now: Instant) -> (ConnFaults, Vec<Action>) {
    let mut c = ConnFaults::new(1, board);
    let out = feed(&mut c, accepted_connect(), Side::Device, now, board);
    (c, out)
}

fn inject(board: &FaultBoard, fault: Fault) {
    board.inject(FaultTarget::Device(DEVICE2.into()), fault, |_| {});
}

#[test]
fn claimed_device_is_found_whatever_the_sign() {
    let mut c = connect_002();
    c.password = Some(b"wrong".to_vec());
    assert_eq!(claimed_device(&c, &devices()).as_deref(), Some(DEVICE2));
    c.username = Some("nobody&a1ndPQHcX7f".into());
    assert_eq!(claimed_device(&c, &devices()), None);
}

fn connect_bytes() -> Vec<u8> {
    crate::mqtt::encode(&Packet::from(connect_002())).unwrap()
}

#[test]
fn a_waiting_refusal_answers_the_connect_before_the_session_sees_it() {
    let board = FaultBoard::default();
    inject(&board, Fault::RefuseNextConnect { code: 5 });
    let mut c = ConnFaults::new(1, &board);
    let bytes = connect_bytes();
    // Half a CONNECT: nothing to decide yet, the session gets the bytes.
    assert_eq!(c.screen(&bytes[..20], &board, &devices()), None);
    let out = c
        .screen(&bytes[20..], &board, &devices())
        .expect("the refusal answers");
    assert!(matches!(
        &out[0],
        Action::Step(Step::FromDevice(Packet::Connect(_)))
    ));
    assert!(out.iter().any(|a| matches!(a,
        Action::Step(Step::Refused { code: 5, reason, .. }) if reason.detail == "fault injected"
            && reason.kind == RefusalKind::FaultInjected)));
    assert_eq!(writes(&out).len(), 1);
    assert_eq!(writes(&out)[0].bytes, hex("20 02 00 05"));
    assert!(matches!(out.last(), Some(Action::Step(Step::Close))));
    assert!(notes(&out)[0].contains("refused the CONNECT of aliyun/device2 with code 5"));
    assert!(c.device.is_none());
    assert_eq!(board.waiting(), 0);
}

#[test]
fn a_refusal_for_another_device_leaves_the_connect_to_the_session() {
    let board = FaultBoard::default();
    board.inject(
        FaultTarget::Device("aliyun/LY-1".into()),
        Fault::RefuseNextConnect { code: 5 },
        |_| {},
    );
    let mut c = ConnFaults::new(1, &board);
    assert_eq!(c.screen(&connect_bytes(), &board, &devices()), None);
    assert_eq!(board.waiting(), 1);
    let out = feed(
        &mut c,
        accepted_connect(),
        Side::Device,
        Instant::now(),
        &board,
    );
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::Step(Step::OpenUpstream { .. }))));
    assert_eq!(c.device.as_deref(), Some(DEVICE2));
}

#[test]
fn only_the_first_packet_is_screened() {
    let board = FaultBoard::default();
    let mut c = ConnFaults::new(1, &board);
    assert_eq!(c.screen(&connect_bytes(), &board, &devices()), None);
    inject(&board, Fault::RefuseNextConnect { code: 5 });
    // A second CONNECT on the link is the session's protocol error, not a login.
    assert_eq!(c.screen(&connect_bytes(), &board, &devices()), None);
    assert_eq!(board.waiting(), 1);
    // A link that opens with something else is not screened either.
    let mut other = ConnFaults::new(2, &board);
    assert_eq!(other.screen(&hex("C0 00"), &board, &devices()), None);
    assert_eq!(other.screen(&connect_bytes(), &board, &devices()), None);
    assert_eq!(board.waiting(), 1);
}

#[test]
fn a_waiting_split_cuts_the_connack_in_two() {
    let board = FaultBoard::default();
    inject(
        &board,
        Fault::SplitNext {
            segments: 2,
            gap: ms(100),
        },
    );
    let now = Instant::now();
    let (mut c, out) = connected(&board, now);
    assert!(notes(&out)
        .iter()
        .any(|n| n.contains("armed on aliyun/device2")));
    let out = feed(
        &mut c,
        vec![to_device("20 02 00 00")],
        Side::Upstream,
        now,
        &board,
    );
    let w = writes(&out);
    assert_eq!(w.len(), 2);
    assert_eq!(
        (w[0].bytes.clone(), w[0].packet.clone(), w[0].gap),
        (hex("20 02"), None, Duration::ZERO)
    );
    assert_eq!(w[1].bytes, hex("00 00"));
    assert_eq!(w[1].gap, ms(100));
    assert!(matches!(w[1].packet, Some(Packet::Connack(_))));
    assert_eq!(
        notes(&out),
        ["fault: CONNACK to aliyun/device2 split into 2 segments, 100ms apart"]
    );
    // Only the next packet.
    let out = feed(
        &mut c,
        vec![to_device("D0 00")],
        Side::Upstream,
        now,
        &board,
    );
    assert_eq!(writes(&out).len(), 1);
}

#[test]
fn a_delay_holds_the_next_count_packets_of_its_type_only() {
    let board = FaultBoard::default();
    let now = Instant::now();
    let (mut c, _) = connected(&board, now);
    inject(
        &board,
        Fault::Delay {
            packet: DelayedPacket::Suback,
            by: ms(2000),
            count: Some(2),
        },
    );
    c.take_delivered(&board, now);
    let mut run = |text: &str| {
        let out = feed(&mut c, vec![to_device(text)], Side::Upstream, now, &board);
        (writes(&out)[0].hold, notes(&out).join("|"))
    };
    assert_eq!(run("D0 00").0, Duration::ZERO);
    let (hold, note) = run("90 03 00 0A 01");
    assert_eq!(hold, ms(2000));
    assert_eq!(note, "fault: SUBACK to aliyun/device2 held 2s");
    assert_eq!(run("90 03 00 0B 01").0, ms(2000));
    assert_eq!(run("90 03 00 0C 01").0, Duration::ZERO);
}

#[test]
fn a_downlink_black_hole_swallows_packets_until_it_ends() {
    let board = FaultBoard::default();
    let t0 = Instant::now();
    let (mut c, _) = connected(&board, t0);
    inject(
        &board,
        Fault::BlackHole {
            direction: Direction::Downlink,
            duration: ms(500),
        },
    );
    c.take_delivered(&board, t0);
    let out = feed(
        &mut c,
        vec![to_device("D0 00")],
        Side::Upstream,
        t0 + ms(100),
        &board,
    );
    assert!(writes(&out).is_empty());
    assert_eq!(
        notes(&out),
        ["fault: downlink black hole dropped the PINGRESP to aliyun/device2"]
    );
    let out = feed(
        &mut c,
        vec![to_device("D0 00")],
        Side::Upstream,
        t0 + ms(500),
        &board,
    );
    assert_eq!(writes(&out)[0].bytes, hex("D0 00"));
}

#[test]
fn an_uplink_black_hole_sees_the_packet_but_forwards_nothing() {
    let board = FaultBoard::default();
    let t0 = Instant::now();
    let (mut c, _) = connected(&board, t0);
    inject(
        &board,
        Fault::BlackHole {
            direction: Direction::Uplink,
            duration: ms(500),
        },
    );
    c.take_delivered(&board, t0);
    let ping = || vec![Step::FromDevice(Packet::Pingreq), post()];
    let out = feed(&mut c, ping(), Side::Device, t0 + ms(10), &board);
    assert!(matches!(
        &out[0],
        Action::Step(Step::FromDevice(Packet::Pingreq))
    ));
    assert!(!out
        .iter()
        .any(|a| matches!(a, Action::Step(Step::ToUpstream(_) | Step::ToCloud(_)))));
    assert!(notes(&out)[0].contains("uplink black hole dropped the PINGREQ"));
    // Nor does the gateway answer for the cloud (a SUBACK it would have written itself).
    let subscribe = vec![
        Step::FromDevice(Packet::Pingreq),
        to_device("90 03 00 0A 80"),
    ];
    let out = feed(&mut c, subscribe, Side::Device, t0 + ms(20), &board);
    assert!(writes(&out).is_empty());
    let out = feed(&mut c, ping(), Side::Device, t0 + ms(600), &board);
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::Step(Step::ToUpstream(_) | Step::ToCloud(_)))));
}

#[test]
fn drop_after_next_packet_forwards_it_then_closes_and_ignores_the_rest() {
    let board = FaultBoard::default();
    let t0 = Instant::now();
    let (mut c, _) = connected(&board, t0);
    inject(
        &board,
        Fault::DropLink {
            after_next_packet: true,
        },
    );
    assert!(!closes(&c.take_delivered(&board, t0)));
    let steps = vec![
        Step::FromDevice(Packet::Pingreq),
        post(),
        Step::FromDevice(Packet::Disconnect),
        post(),
    ];
    let out = feed(&mut c, steps, Side::Device, t0, &board);
    assert_eq!(
        out.iter()
            .filter(|a| matches!(a, Action::Step(Step::ToUpstream(_) | Step::ToCloud(_))))
            .count(),
        1
    );
    assert!(matches!(out.last(), Some(Action::Step(Step::Close))));
    assert!(notes(&out).iter().any(|n| n.contains("after its PINGREQ")));
}

#[rstest]
#[case(Fault::DropLink { after_next_packet: false }, true, &[])]
#[case(Fault::SendRaw { hex: "20 02 00".into() }, false, &[0x20, 0x02, 0x00])]
fn immediate_faults_act_when_delivered(
    #[case] fault: Fault,
    #[case] close: bool,
    #[case] raw: &[u8],
) {
    let board = FaultBoard::default();
    let t0 = Instant::now();
    let (mut c, _) = connected(&board, t0);
    inject(&board, fault);
    let out = c.take_delivered(&board, t0);
    assert_eq!(closes(&out), close);
    let w = writes(&out);
    if raw.is_empty() {
        assert!(w.is_empty());
    } else {
        assert_eq!((w[0].bytes.as_slice(), &w[0].packet), (raw, &None));
    }
}

#[test]
fn clearing_the_board_disarms_what_a_connection_holds() {
    let board = FaultBoard::default();
    let t0 = Instant::now();
    let (mut c, _) = connected(&board, t0);
    inject(
        &board,
        Fault::Delay {
            packet: DelayedPacket::Pingresp,
            by: ms(1000),
            count: None,
        },
    );
    c.take_delivered(&board, t0);
    board.clear();
    let out = feed(&mut c, vec![to_device("D0 00")], Side::Upstream, t0, &board);
    assert_eq!(writes(&out)[0].hold, Duration::ZERO);
    assert!(notes(&out)[0].contains("cleared the faults armed on aliyun/device2"));
}

#[test]
fn a_refusal_connack_by_the_policy_is_not_touched_by_a_waiting_split() {
    // A refused CONNECT does not claim the device, so the split waits for an accepted one.
    let board = FaultBoard::default();
    inject(
        &board,
        Fault::SplitNext {
            segments: 2,
            gap: ms(10),
        },
    );
    let mut c = ConnFaults::new(1, &board);
    let refused = vec![
        Step::FromDevice(Packet::from(connect_002())),
        Step::ToDevice {
            bytes: hex("20 02 00 04"),
            packet: Packet::Connack(Connack {
                session_present: false,
                return_code: 4,
            }),
        },
        Step::Close,
    ];
    let out = feed(&mut c, refused, Side::Device, Instant::now(), &board);
    assert_eq!(writes(&out).len(), 1);
    assert_eq!(board.waiting(), 1);
}

#[rstest]
#[case("20 02 00 00", 2, &["20 02", "00 00"])]
#[case("20 02 00 00", 3, &["20 02", "00", "00"])]
#[case("D0 00", 5, &["D0", "00"])]
#[case("90 03 00 0A 01", 2, &["90 03 00", "0A 01"])]
fn split_bytes_cuts_evenly(#[case] bytes: &str, #[case] k: u32, #[case] pieces: &[&str]) {
    let expected: Vec<Vec<u8>> = pieces.iter().map(|p| hex(p)).collect();
    assert_eq!(split_bytes(&hex(bytes), k), expected);
}

#[test]
fn suback_type_is_matched_by_delay() {
    let p = Packet::Suback(Suback {
        packet_id: 10,
        return_codes: vec![1],
    });
    assert!(DelayedPacket::Suback.matches(&p));
    assert!(!DelayedPacket::Puback.matches(&p));
}
