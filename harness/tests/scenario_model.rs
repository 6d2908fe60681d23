//! A scenario using every step kind loads into exactly the model the executor matches on.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use athil::mqtt::QoS;
use athil::scenario::{
    load_str, Action, BrokerRefused, BrokerSaw, CloudPublish, ConnectSpec, FilterMatch, FilterSpec,
    Location, Matcher, MqttExpect, MqttSend, PacketId, Payload, PayloadMatch, PublishMatch,
    PublishSpec, Scenario, SeenPacket, Template, DEFAULT_STEP_TIMEOUT,
};
use serde_json::json;

const TOPIC: &str = "/sys/a1ndPQHcX7f/device2/thing/service/property/set";

fn devices() -> BTreeSet<String> {
    BTreeSet::from(["aliyun/device2".to_string(), "aliyun/Air601".to_string()])
}

fn load(text: &str) -> Scenario {
    match load_str(text, Path::new("every.yaml"), &devices()) {
        Ok(s) => s,
        Err(errors) => {
            let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            panic!("expected a valid scenario:\n{}", lines.join("\n"))
        }
    }
}

fn t(text: &str) -> Template {
    Template::literal(text)
}

const EVERY_KIND: &str = r#"# yaml-language-server: $schema=../scenarios/scenario.schema.json
name: device2 connects and subscribes (seed 002)
description: Every step kind once.
device: aliyun/device2
tags: [seed-002, smoke]
timeout: 3s
vars:
  wifi_password: "{{env.WIFI_PASSWORD}}"
  property_set: /sys/{{device.product_key}}/{{device.device_name}}/thing/service/property/set
virtual_module:
  drop_after_connect: false
steps:
  - send: AT+CWJAP="lab","{{vars.wifi_password}}"
    expect: {any_of: [WIFI GOT IP, {line: OK}]}
    timeout: 15s
  - send: AT+CIPSTART="TCP","{{broker.host}}",{{broker.port}}
    expect: [CONNECT, OK]
  - send: AT+CIPSEND=2
    expect: ">"
  - write: C0 00
    expect: SEND OK
  - expect: {regex: '^\+IPD,\d+:'}
    name: pingresp arrives
  - expect: {all_of: [{contains: SEND}, {line: OK}]}
  - expect_not: CLOSED
    for: 2s
  - receive: 20 02 00 00
  - mqtt: {connect: {keepalive: 100}}
  - mqtt: {connect: {secret: not-the-secret, client_id: "{{device.client_id}}"}}
  - mqtt:
      publish:
        topic: /sys/a1ndPQHcX7f/device2/thing/event/property/post
        payload_json: {id: "1", params: {Temp: 25}}
        qos: 1
        packet_id: 7
  - mqtt: {subscribe: {packet_id: 10, filters: ["{{vars.property_set}}", {filter: /x, qos: 1}]}}
  - mqtt: {unsubscribe: {packet_id: 11, filters: [/x]}}
  - mqtt: {puback: {packet_id: 7}}
  - mqtt: pingreq
  - mqtt: disconnect
  - receive_mqtt: {connack: {return_code: 0, session_present: false}}
  - receive_mqtt: {suback: {packet_id: 10, return_codes: [1]}}
  - receive_mqtt: {publish: {topic: "{{vars.property_set}}", payload_json: {params: {PowerSwitch: 1}}}}
  - receive_mqtt: {unsuback: {packet_id: 11}}
  - receive_mqtt: pingresp
  - broker_saw: {subscribe: {client_id: "device2|securemode=3,signmethod=hmacsha1|", filters: ["{{vars.property_set}}"]}}
  - broker_saw: {connect: {keepalive: 100}}
  - broker_saw: {publish: {topic: /t, payload_hex: 7B 7D, qos: 1}}
  - broker_saw: {disconnect: {}}
  - broker_refused: {code: 4, reason: sign}
  - cloud_publish:
      topic: "{{vars.property_set}}"
      payload: '{"method":"thing.service.property.set","id":"410749643","params":{"PowerSwitch":1},"version":"1.0.0"}'
  - wait: 500ms
"#;

#[test]
fn the_scenario_as_a_whole() {
    let s = load(EVERY_KIND);
    assert_eq!(s.name, "device2 connects and subscribes (seed 002)");
    assert_eq!(s.description.as_deref(), Some("Every step kind once."));
    assert_eq!(s.device, "aliyun/device2");
    assert_eq!(s.tags, vec!["seed-002", "smoke"]);
    assert_eq!(s.timeout, Duration::from_secs(3));
    assert_eq!(s.location, Location::new(2, 7));
    let vm = s.virtual_module.as_ref().unwrap();
    assert_eq!(vm.location, Location::new(11, 3));
    assert_eq!(
        vm.value["drop_after_connect"],
        serde_yaml::Value::Bool(false)
    );
    assert_eq!(s.steps.len(), 28);
    assert_eq!(s.env_names(), BTreeSet::from(["WIFI_PASSWORD".to_string()]));
    let lookup = |k: &str| (k == "env.WIFI_PASSWORD").then(|| "hunter2".to_string());
    assert_eq!(s.secret_values(&lookup), vec!["hunter2", "not-the-secret"]);
}

#[test]
fn serial_steps() {
    let s = load(EVERY_KIND);
    let step = &s.steps[0];
    assert_eq!(step.index, 0);
    assert_eq!(step.location, Location::new(13, 5));
    assert_eq!(step.timeout, Duration::from_secs(15));
    assert_eq!(
        step.label,
        r#"send AT+CWJAP="lab","{{vars.wifi_password}}""#
    );
    let Action::Send { line, expect } = &step.action else {
        panic!("{:?}", step.action)
    };
    assert!(line.is_secret());
    let rendered = line
        .render(&|k| (k == "env.WIFI_PASSWORD").then(|| "hunter2".into()))
        .unwrap();
    assert_eq!(rendered, r#"AT+CWJAP="lab","hunter2""#);
    assert_eq!(
        expect,
        &Some(Matcher::AnyOf(vec![
            Matcher::Contains(t("WIFI GOT IP")),
            Matcher::Line(t("OK")),
        ]))
    );

    let step = &s.steps[1];
    assert_eq!(
        step.timeout,
        Duration::from_secs(3),
        "the scenario's default"
    );
    assert_eq!(
        step.action,
        Action::Send {
            line: step_line(&s, 1),
            expect: Some(Matcher::InOrder(vec![
                Matcher::Contains(t("CONNECT")),
                Matcher::Contains(t("OK"))
            ])),
        }
    );
    assert_eq!(
        step.label,
        r#"send AT+CIPSTART="TCP","{{broker.host}}",{{broker.port}}"#
    );

    assert_eq!(
        s.steps[3].action,
        Action::Write {
            bytes: vec![0xC0, 0x00],
            expect: Some(Matcher::Contains(t("SEND OK")))
        }
    );
    assert_eq!(s.steps[3].label, "write C0 00");

    let Action::Expect(Matcher::Regex(p)) = &s.steps[4].action else {
        panic!("{:?}", s.steps[4].action)
    };
    assert_eq!(p.0.as_str(), r"^\+IPD,\d+:");
    assert_eq!(s.steps[4].name.as_deref(), Some("pingresp arrives"));
    assert_eq!(
        s.steps[5].action,
        Action::Expect(Matcher::AllOf(vec![
            Matcher::Contains(t("SEND")),
            Matcher::Line(t("OK"))
        ]))
    );
    assert_eq!(
        s.steps[6].action,
        Action::ExpectNot {
            matcher: Matcher::Contains(t("CLOSED")),
            window: Duration::from_secs(2)
        }
    );
    assert_eq!(s.steps[6].label, "expect_not CLOSED for 2s");
    assert_eq!(
        s.steps[7].action,
        Action::Receive(vec![0x20, 0x02, 0x00, 0x00])
    );
    assert_eq!(s.steps[7].label, "receive 20 02 00 00");
    assert_eq!(s.steps[27].action, Action::Wait(Duration::from_millis(500)));
    assert_eq!(s.steps[27].label, "wait 500ms");
}

fn step_line(s: &Scenario, i: usize) -> Template {
    match &s.steps[i].action {
        Action::Send { line, .. } => line.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn mqtt_steps() {
    let s = load(EVERY_KIND);
    assert_eq!(
        s.steps[8].action,
        Action::Mqtt(MqttSend::Connect(ConnectSpec {
            keepalive: Some(100),
            ..ConnectSpec::default()
        }))
    );
    let Action::Mqtt(MqttSend::Connect(c)) = &s.steps[9].action else {
        panic!()
    };
    assert_eq!(c.secret, Some(t("not-the-secret")));
    assert_eq!(
        c.client_id.as_ref().unwrap().source(),
        "{{device.client_id}}"
    );
    assert_eq!(
        s.steps[10].action,
        Action::Mqtt(MqttSend::Publish(PublishSpec {
            topic: t("/sys/a1ndPQHcX7f/device2/thing/event/property/post"),
            payload: Payload::Json(json!({"id": "1", "params": {"Temp": 25}})),
            qos: QoS::AtLeastOnce,
            retain: false,
            dup: false,
            packet_id: Some(7),
        }))
    );
    let Action::Mqtt(MqttSend::Subscribe { packet_id, filters }) = &s.steps[11].action else {
        panic!()
    };
    assert_eq!(*packet_id, 10);
    let dk = |k: &str| match k {
        "device.product_key" => Some("a1ndPQHcX7f".to_string()),
        "device.device_name" => Some("device2".to_string()),
        _ => None,
    };
    assert_eq!(filters[0].filter.render(&dk).unwrap(), TOPIC);
    assert_eq!(filters[0].qos, QoS::AtMostOnce);
    assert_eq!(
        filters[1],
        FilterSpec {
            filter: t("/x"),
            qos: QoS::AtLeastOnce
        }
    );
    assert_eq!(
        s.steps[11].label,
        "mqtt subscribe {{vars.property_set}} (+1 more)"
    );
    assert_eq!(
        s.steps[12].action,
        Action::Mqtt(MqttSend::Unsubscribe {
            packet_id: 11,
            filters: vec![t("/x")]
        })
    );
    assert_eq!(
        s.steps[13].action,
        Action::Mqtt(MqttSend::Puback {
            packet_id: PacketId::Fixed(7)
        })
    );
    assert_eq!(s.steps[14].action, Action::Mqtt(MqttSend::Pingreq));
    assert_eq!(s.steps[15].action, Action::Mqtt(MqttSend::Disconnect));
    assert_eq!(s.steps[15].label, "mqtt disconnect");
}

#[test]
fn receive_mqtt_steps() {
    let s = load(EVERY_KIND);
    assert_eq!(
        s.steps[16].action,
        Action::ReceiveMqtt(MqttExpect::Connack {
            session_present: Some(false),
            return_code: Some(0)
        })
    );
    assert_eq!(s.steps[16].label, "receive_mqtt connack 0");
    assert_eq!(
        s.steps[17].action,
        Action::ReceiveMqtt(MqttExpect::Suback {
            packet_id: Some(10),
            return_codes: Some(vec![1])
        })
    );
    let Action::ReceiveMqtt(MqttExpect::Publish(p)) = &s.steps[18].action else {
        panic!()
    };
    assert_eq!(
        p.payload,
        Some(PayloadMatch::JsonSubset(
            json!({"params": {"PowerSwitch": 1}})
        ))
    );
    assert_eq!(p.qos, None, "left out, not checked");
    assert_eq!(
        s.steps[19].action,
        Action::ReceiveMqtt(MqttExpect::Unsuback {
            packet_id: Some(11)
        })
    );
    assert_eq!(
        s.steps[20].action,
        Action::ReceiveMqtt(MqttExpect::Pingresp)
    );
}

#[test]
fn broker_and_cloud_steps() {
    let s = load(EVERY_KIND);
    let Action::BrokerSaw(BrokerSaw { client_id, packet }) = &s.steps[21].action else {
        panic!()
    };
    assert_eq!(
        client_id.as_ref().map(Template::source),
        Some("device2|securemode=3,signmethod=hmacsha1|")
    );
    let SeenPacket::Subscribe {
        packet_id: None,
        filters: Some(filters),
    } = packet
    else {
        panic!("{packet:?}")
    };
    assert_eq!(filters.len(), 1);
    assert!(matches!(filters[0], FilterMatch { qos: None, .. }));
    assert_eq!(
        s.steps[22].action,
        Action::BrokerSaw(BrokerSaw {
            client_id: None,
            packet: SeenPacket::Connect {
                username: None,
                keepalive: Some(100),
                clean_session: None
            }
        })
    );
    assert_eq!(
        s.steps[23].action,
        Action::BrokerSaw(BrokerSaw {
            client_id: None,
            packet: SeenPacket::Publish(PublishMatch {
                topic: Some(t("/t")),
                payload: Some(PayloadMatch::Bytes(b"{}".to_vec())),
                qos: Some(QoS::AtLeastOnce),
                ..PublishMatch::default()
            })
        })
    );
    assert_eq!(
        s.steps[24].action,
        Action::BrokerSaw(BrokerSaw {
            client_id: None,
            packet: SeenPacket::Disconnect
        })
    );
    assert_eq!(
        s.steps[25].action,
        Action::BrokerRefused(BrokerRefused {
            client_id: None,
            code: Some(4),
            reason: Some("sign".into())
        })
    );
    let Action::CloudPublish(CloudPublish {
        topic,
        payload: Payload::Text(payload),
        qos,
        retain,
    }) = &s.steps[26].action
    else {
        panic!()
    };
    assert_eq!(topic.source(), "{{vars.property_set}}");
    assert!(payload.as_literal().unwrap().contains("\"PowerSwitch\":1"));
    assert_eq!((*qos, *retain), (QoS::AtMostOnce, false));
}

#[test]
fn defaults_apply_when_the_scenario_says_nothing() {
    let s = load("name: n\ndevice: aliyun/Air601\nsteps:\n  - expect: ready\n");
    assert_eq!(s.timeout, DEFAULT_STEP_TIMEOUT);
    assert_eq!(s.steps[0].timeout, DEFAULT_STEP_TIMEOUT);
    assert!(s.virtual_module.is_none());
    assert!(s.tags.is_empty());
}

#[test]
fn virtual_module_settings_read_into_a_type_with_positions() {
    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Faults {
        drop_after_connect: bool,
    }
    let s = load(EVERY_KIND);
    let vm = s.virtual_module.unwrap();
    assert_eq!(
        vm.read::<Faults>().unwrap(),
        Faults {
            drop_after_connect: false
        }
    );
    let s = load(
        "name: n\ndevice: aliyun/Air601\nvirtual_module:\n  drop_after_conect: true\nsteps:\n  - wait: 1s\n",
    );
    let errors = s.virtual_module.unwrap().read::<Faults>().unwrap_err();
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        shown,
        vec![
            "every.yaml:4:3: unknown key `drop_after_conect`; expected one of \
             `drop_after_connect`; did you mean `drop_after_connect`?",
            "every.yaml:4:3: missing `drop_after_connect`",
        ]
    );
}

#[test]
fn a_regex_dollar_matches_at_the_end_of_a_crlf_line() {
    // Was: `$` matched only before `\n`, so `^STATUS:\d$` never matched the module's
    // `STATUS:4\r\n`, though the docs say `$` matches at line ends.
    let s = load("name: r\ndevice: aliyun/device2\nsteps:\n  - expect: {regex: '^STATUS:\\d$'}\n");
    let Action::Expect(m) = &s.steps[0].action else {
        panic!("an expect step")
    };
    let found = m
        .render(&|_: &str| None)
        .unwrap()
        .find("AT+CIPSTATUS\r\nSTATUS:4\r\n\r\nOK\r\n");
    assert_eq!(found, Some(22));
}

#[test]
fn the_neutral_link_steps_load_with_labels_and_no_dialect_of_their_own() {
    let s = load(
        "name: n\ndevice: aliyun/device2\nsteps:\n  - join: {apn: CMNET}\n    timeout: 20s\n  \
         - open: {host: \"{{broker.host}}\", port: \"{{broker.port}}\", link: 1}\n  \
         - open: {host: example.com, port: 1883}\n  - close: {link: 1}\n  - expect_closed: {}\n",
    );
    let actions: Vec<&Action> = s.steps.iter().map(|s| &s.action).collect();
    assert!(matches!(actions[0], Action::Join(j) if j.apn == Some(t("CMNET"))));
    match actions[1] {
        Action::Open(o) => {
            assert_eq!(o.host.source(), "{{broker.host}}");
            assert_eq!(o.port.source(), "{{broker.port}}");
            assert_eq!(o.link, Some(1));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(actions[2], Action::Open(o) if o.port == t("1883") && o.link.is_none()));
    assert_eq!(*actions[3], Action::Close { link: Some(1) });
    assert_eq!(*actions[4], Action::ExpectClosed { link: None });
    let labels: Vec<&str> = s.steps.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "join (APN CMNET)",
            "open {{broker.host}}:{{broker.port}} on link 1",
            "open example.com:1883",
            "close on link 1",
            "expect_closed",
        ]
    );
    assert_eq!(s.steps[0].timeout, Duration::from_secs(20));
    assert!(s.dialect_neutral());
    let raw = load("name: n\ndevice: aliyun/device2\nsteps:\n  - join: {}\n  - expect: CLOSED\n");
    assert!(
        !raw.dialect_neutral(),
        "`expect` waits for a dialect's words"
    );
}
