//! Property tests of the MQTT codec: every valid packet survives encode → decode unchanged, is
//! read the same way by an independent implementation (rumqttc's `mqttbytes::v4`) and, the
//! other way round, what rumqttc writes decodes to the same fields here. Random and mutated
//! bytes never panic the decoder, the dissector, the framer or the renderers.

use athil::mqtt::{
    decode, dissect, dissect_packet, encode, frame_len, parse_hex, render, Connack, Connect,
    Framer, Packet, Publish, QoS, Suback, Subscribe, SubscribeFilter, Unsubscribe, Will,
};
use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use rumqttc::mqttbytes::v4 as rq;

// ---------------------------------------------------------------------------------------------
// Strategies: only packets MQTT 3.1.1 allows.

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

/// Any MQTT string: no U+0000 (surrogates cannot occur in a Rust string).
fn text() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,24}"
}

fn topic_name() -> impl Strategy<Value = String> {
    "[^\u{0}+#]{1,40}"
}

fn topic_filter() -> impl Strategy<Value = String> {
    let level = prop_oneof![3 => "[^\u{0}+#/]{0,8}", 1 => Just("+".to_string())];
    (vec(level, 1..5), any::<bool>()).prop_map(|(levels, hash)| {
        let mut f = levels.join("/");
        if hash {
            f.push_str(if f.is_empty() { "#" } else { "/#" });
        }
        if f.is_empty() {
            f.push('+');
        }
        f
    })
}

fn packet_id() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

fn will() -> impl Strategy<Value = Will> {
    (topic_name(), vec(any::<u8>(), 0..30), qos(), any::<bool>()).prop_map(
        |(topic, message, qos, retain)| Will {
            topic,
            message,
            qos,
            retain,
        },
    )
}

/// A CONNECT; `binary_password` allows non-UTF-8 passwords (rumqttc only takes text).
fn connect(binary_password: bool) -> impl Strategy<Value = Connect> {
    let password = if binary_password {
        vec(any::<u8>(), 0..40).boxed()
    } else {
        text().prop_map(String::into_bytes).boxed()
    };
    (
        any::<bool>(),
        any::<u16>(),
        text(),
        proptest::option::of(will()),
        proptest::option::of((text(), proptest::option::of(password))),
    )
        .prop_map(|(clean_session, keepalive, client_id, will, login)| {
            let (username, password) = match login {
                Some((u, p)) => (Some(u), p),
                None => (None, None),
            };
            Connect {
                protocol_name: "MQTT".into(),
                protocol_level: 4,
                // An empty client id needs clean session.
                clean_session: clean_session || client_id.is_empty(),
                keepalive,
                client_id,
                will,
                username,
                password,
            }
        })
}

fn publish() -> impl Strategy<Value = Publish> {
    (
        any::<bool>(),
        qos(),
        any::<bool>(),
        topic_name(),
        packet_id(),
        vec(any::<u8>(), 0..300),
    )
        .prop_map(|(dup, qos, retain, topic, id, payload)| {
            let qos0 = qos == QoS::AtMostOnce;
            Publish {
                dup: dup && !qos0,
                qos,
                retain,
                topic,
                packet_id: (!qos0).then_some(id),
                payload,
            }
        })
}

fn packet(binary_password: bool) -> impl Strategy<Value = Packet> {
    prop_oneof![
        connect(binary_password).prop_map(Packet::from),
        (any::<bool>(), 0u8..=5).prop_map(|(sp, code)| Packet::Connack(Connack {
            session_present: sp && code == 0,
            return_code: code,
        })),
        publish().prop_map(Packet::Publish),
        packet_id().prop_map(|packet_id| Packet::Puback { packet_id }),
        packet_id().prop_map(|packet_id| Packet::Pubrec { packet_id }),
        packet_id().prop_map(|packet_id| Packet::Pubrel { packet_id }),
        packet_id().prop_map(|packet_id| Packet::Pubcomp { packet_id }),
        (packet_id(), vec((topic_filter(), qos()), 1..4)).prop_map(|(packet_id, f)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                filters: f
                    .into_iter()
                    .map(|(filter, qos)| SubscribeFilter { filter, qos })
                    .collect(),
            })
        }),
        (
            packet_id(),
            vec(prop_oneof![Just(0u8), Just(1), Just(2), Just(0x80)], 1..4)
        )
            .prop_map(|(packet_id, return_codes)| Packet::Suback(Suback {
                packet_id,
                return_codes
            })),
        (packet_id(), vec(topic_filter(), 1..4)).prop_map(|(packet_id, filters)| {
            Packet::Unsubscribe(Unsubscribe { packet_id, filters })
        }),
        packet_id().prop_map(|packet_id| Packet::Unsuback { packet_id }),
        Just(Packet::Pingreq),
        Just(Packet::Pingresp),
        Just(Packet::Disconnect),
    ]
}

// ---------------------------------------------------------------------------------------------
// The independent implementation, mapped onto our model for comparison.

fn rq_qos(q: QoS) -> rumqttc::mqttbytes::QoS {
    match q {
        QoS::AtMostOnce => rumqttc::mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::mqttbytes::QoS::ExactlyOnce,
    }
}

fn from_rq_qos(q: rumqttc::mqttbytes::QoS) -> QoS {
    match q {
        rumqttc::mqttbytes::QoS::AtMostOnce => QoS::AtMostOnce,
        rumqttc::mqttbytes::QoS::AtLeastOnce => QoS::AtLeastOnce,
        rumqttc::mqttbytes::QoS::ExactlyOnce => QoS::ExactlyOnce,
    }
}

/// What rumqttc read, in our model. rumqttc folds "no user name" and "empty user name" (and
/// the same for passwords) into one, so both sides are compared through [`login_view`].
fn from_rq(p: rq::Packet) -> Packet {
    match p {
        rq::Packet::Connect(c) => Packet::from(Connect {
            protocol_name: "MQTT".into(),
            protocol_level: 4,
            clean_session: c.clean_session,
            keepalive: c.keep_alive,
            client_id: c.client_id,
            will: c.last_will.map(|w| Will {
                topic: w.topic,
                message: w.message.to_vec(),
                qos: from_rq_qos(w.qos),
                retain: w.retain,
            }),
            username: c
                .login
                .as_ref()
                .map(|l| l.username.clone())
                .filter(|u| !u.is_empty()),
            password: c
                .login
                .map(|l| l.password.into_bytes())
                .filter(|p| !p.is_empty()),
        }),
        rq::Packet::ConnAck(c) => Packet::Connack(Connack {
            session_present: c.session_present,
            return_code: c.code as u8,
        }),
        rq::Packet::Publish(p) => Packet::Publish(Publish {
            dup: p.dup,
            qos: from_rq_qos(p.qos),
            retain: p.retain,
            topic: p.topic,
            packet_id: (p.pkid != 0).then_some(p.pkid),
            payload: p.payload.to_vec(),
        }),
        rq::Packet::PubAck(a) => Packet::Puback { packet_id: a.pkid },
        rq::Packet::PubRec(a) => Packet::Pubrec { packet_id: a.pkid },
        rq::Packet::PubRel(a) => Packet::Pubrel { packet_id: a.pkid },
        rq::Packet::PubComp(a) => Packet::Pubcomp { packet_id: a.pkid },
        rq::Packet::Subscribe(s) => Packet::Subscribe(Subscribe {
            packet_id: s.pkid,
            filters: s
                .filters
                .into_iter()
                .map(|f| SubscribeFilter {
                    filter: f.path,
                    qos: from_rq_qos(f.qos),
                })
                .collect(),
        }),
        rq::Packet::SubAck(s) => Packet::Suback(Suback {
            packet_id: s.pkid,
            return_codes: s
                .return_codes
                .into_iter()
                .map(|c| match c {
                    rq::SubscribeReasonCode::Success(q) => q as u8,
                    rq::SubscribeReasonCode::Failure => 0x80,
                })
                .collect(),
        }),
        rq::Packet::Unsubscribe(u) => Packet::Unsubscribe(Unsubscribe {
            packet_id: u.pkid,
            filters: u.topics,
        }),
        rq::Packet::UnsubAck(u) => Packet::Unsuback { packet_id: u.pkid },
        rq::Packet::PingReq => Packet::Pingreq,
        rq::Packet::PingResp => Packet::Pingresp,
        rq::Packet::Disconnect => Packet::Disconnect,
    }
}

/// Our packet with empty user names and passwords treated as absent, as rumqttc sees them.
fn login_view(p: &Packet) -> Packet {
    match p {
        Packet::Connect(c) => Packet::from(Connect {
            username: c.username.clone().filter(|u| !u.is_empty()),
            password: c.password.clone().filter(|p| !p.is_empty()),
            ..(**c).clone()
        }),
        other => other.clone(),
    }
}

/// rumqttc writing the same packet; `None` where its model cannot say it (a password with no
/// user name never occurs: our strategy gives passwords only with user names).
fn rq_write(p: &Packet) -> Option<Vec<u8>> {
    let mut buf = BytesMut::new();
    let written = match p {
        Packet::Connect(c) => {
            let mut rc = rq::Connect::new(c.client_id.clone());
            rc.keep_alive = c.keepalive;
            rc.clean_session = c.clean_session;
            rc.last_will = c.will.as_ref().map(|w| {
                rq::LastWill::new(w.topic.clone(), w.message.clone(), rq_qos(w.qos), w.retain)
            });
            if let Some(u) = &c.username {
                // rumqttc writes an empty user name as "no user name" but still sets the
                // password flag: a CONNECT 3.1.1 forbids (see the test below), so skip those.
                if u.is_empty() && c.password.as_ref().is_some_and(|p| !p.is_empty()) {
                    return None;
                }
                let pw = String::from_utf8(c.password.clone().unwrap_or_default()).ok()?;
                rc.login = Some(rq::Login::new(u.clone(), pw));
            }
            rc.write(&mut buf)
        }
        Packet::Connack(c) => {
            let code = match c.return_code {
                0 => rq::ConnectReturnCode::Success,
                1 => rq::ConnectReturnCode::RefusedProtocolVersion,
                2 => rq::ConnectReturnCode::BadClientId,
                3 => rq::ConnectReturnCode::ServiceUnavailable,
                4 => rq::ConnectReturnCode::BadUserNamePassword,
                _ => rq::ConnectReturnCode::NotAuthorized,
            };
            rq::ConnAck::new(code, c.session_present).write(&mut buf)
        }
        Packet::Publish(p) => {
            let mut rp = rq::Publish::new(p.topic.clone(), rq_qos(p.qos), p.payload.clone());
            rp.dup = p.dup;
            rp.retain = p.retain;
            rp.pkid = p.packet_id.unwrap_or(0);
            rp.write(&mut buf)
        }
        Packet::Puback { packet_id } => rq::PubAck::new(*packet_id).write(&mut buf),
        Packet::Pubrec { packet_id } => rq::PubRec::new(*packet_id).write(&mut buf),
        Packet::Pubrel { packet_id } => rq::PubRel::new(*packet_id).write(&mut buf),
        Packet::Pubcomp { packet_id } => rq::PubComp::new(*packet_id).write(&mut buf),
        Packet::Subscribe(s) => {
            let mut rs = rq::Subscribe::new_many(
                s.filters
                    .iter()
                    .map(|f| rq::SubscribeFilter::new(f.filter.clone(), rq_qos(f.qos))),
            );
            rs.pkid = s.packet_id;
            rs.write(&mut buf)
        }
        Packet::Suback(s) => {
            let codes = s
                .return_codes
                .iter()
                .map(|&c| rq::SubscribeReasonCode::try_from(c).expect("strategy codes are valid"))
                .collect();
            rq::SubAck::new(s.packet_id, codes).write(&mut buf)
        }
        Packet::Unsubscribe(u) => rq::Unsubscribe {
            pkid: u.packet_id,
            topics: u.filters.clone(),
        }
        .write(&mut buf),
        Packet::Unsuback { packet_id } => rq::UnsubAck::new(*packet_id).write(&mut buf),
        Packet::Pingreq => rq::PingReq.write(&mut buf),
        Packet::Pingresp => rq::PingResp.write(&mut buf),
        Packet::Disconnect => rq::Disconnect.write(&mut buf),
    };
    written.ok().map(|_| buf.to_vec())
}

proptest! {
    // Failures print their minimal input; nothing is written into the source tree.
    #![proptest_config(ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn encode_then_decode_gives_the_packet_back(p in packet(true)) {
        let bytes = encode(&p).expect("the strategy only builds valid packets");
        prop_assert_eq!(decode(&bytes), Ok((p.clone(), bytes.len())));
        prop_assert_eq!(frame_len(&bytes), Ok(Some(bytes.len())));
        let d = dissect(&bytes);
        prop_assert!(d.is_valid(), "{:?}", d.diagnostics());
        prop_assert_eq!(d.packets.len(), 1);
        prop_assert_eq!(d.packets[0].packet_type, p.packet_type());
    }

    #[test]
    fn rumqttc_reads_what_we_write(p in packet(false)) {
        let bytes = encode(&p).unwrap();
        let mut stream = BytesMut::from(&bytes[..]);
        let theirs = rq::read(&mut stream, 1 << 20).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert!(stream.is_empty(), "rumqttc left bytes over");
        prop_assert_eq!(from_rq(theirs), login_view(&p));
    }

    #[test]
    fn we_read_what_rumqttc_writes(p in packet(false)) {
        let Some(bytes) = rq_write(&p) else { return Ok(()) };
        let (ours, used) = decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(login_view(&ours), login_view(&p));
        // And both encoders agree byte for byte where the models coincide.
        if login_view(&p) == p {
            prop_assert_eq!(encode(&p).unwrap(), bytes);
        }
    }

    #[test]
    fn a_stream_of_packets_dissects_and_frames_in_order(
        ps in vec(packet(true), 1..6),
        cuts in vec(1usize..40, 0..10),
    ) {
        let encoded: Vec<Vec<u8>> = ps.iter().map(|p| encode(p).unwrap()).collect();
        let stream: Vec<u8> = encoded.concat();
        let d = dissect(&stream);
        prop_assert!(d.is_valid());
        let types: Vec<_> = d.packets.iter().map(|x| x.packet_type).collect();
        let want: Vec<_> = ps.iter().map(|p| p.packet_type()).collect();
        prop_assert_eq!(types, want);
        // The framer hands out the same packets however the stream is chopped.
        let mut framer = Framer::new();
        let mut got = Vec::new();
        let mut rest = &stream[..];
        for cut in cuts.iter().chain(std::iter::once(&usize::MAX)) {
            let (now, later) = rest.split_at((*cut).min(rest.len()));
            framer.push(now);
            rest = later;
            while let Some(frame) = framer.next_packet().unwrap() {
                got.push(frame);
            }
        }
        prop_assert_eq!(got, encoded);
    }

    #[test]
    fn random_bytes_never_panic(data in vec(any::<u8>(), 0..400)) {
        exercise(&data);
    }

    #[test]
    fn mutated_packets_never_panic(
        p in packet(true),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut data = encode(&p).unwrap();
        for (i, b) in flips {
            let at = i.index(data.len());
            data[at] = b;
        }
        exercise(&data);
        exercise(&data[..cut.index(data.len() + 1)]);
    }

    #[test]
    fn random_text_never_panics_the_hex_reader(text in "\\PC{0,60}") {
        let _ = parse_hex(&text);
    }
}

#[test]
fn rumqttc_empty_user_name_with_password_is_caught() {
    // rumqttc's Login("", "pw") writes flags 42: a password without a user name.
    let mut c = rq::Connect::new("dev");
    c.login = Some(rq::Login::new("", "pw"));
    let mut buf = BytesMut::new();
    c.write(&mut buf).unwrap();
    assert_eq!(buf[9], 0x42);
    let err = decode(&buf).unwrap_err();
    assert!(
        err.to_string()
            .contains("the password flag is set without the user name flag"),
        "{err}"
    );
}

/// Runs every entry point over `data`; the assertions are the absence of panics plus the
/// promises each one makes about its own output.
fn exercise(data: &[u8]) {
    if let Ok((_, used)) = decode(data) {
        assert!(used <= data.len());
    }
    let _ = dissect_packet(data);
    let d = dissect(data);
    let covered: usize = d.packets.iter().map(|p| p.length).sum();
    assert!(covered <= data.len());
    let _ = render::to_text(&d, data, &|o| o);
    let _ = render::to_json(&d, &|o| o);
    if let Ok(Some(n)) = frame_len(data) {
        assert!(n <= data.len());
    }
    let mut framer = Framer::new();
    framer.push(data);
    while let Ok(Some(_)) = framer.next_packet() {}
}
