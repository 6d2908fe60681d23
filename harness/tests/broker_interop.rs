//! Third-party MQTT clients against the broker: mosquitto's command-line clients and Python's
//! paho-mqtt, with the right credentials (accepted, traffic reaches the cloud and back) and
//! with wrong ones (refused with the code the cloud uses). Also `athil broker` as a process.
//!
//! A missing tool skips its test with a printed reason, except under `CI=true`, where
//! `.ci/run` installs the tools and their absence is a failure.

mod broker_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use athil::broker::{RefusalKind, SeenDirection};
use athil::mqtt::{Packet, QoS};
use broker_support::*;

fn mosquitto_pub(addr: SocketAddr, password: &str) -> Command {
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(["-V", "mqttv311", "-k", "60", "-q", "1"])
        .args(["-i", CLIENT_ID_002, "-u", USERNAME_002, "-P", password])
        .args([
            "-t",
            POST_TOPIC_002,
            "-m",
            r#"{"id":"7","params":{"PowerSwitch":1}}"#,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[tokio::test]
async fn mosquitto_pub_with_the_right_sign_reaches_the_cloud() {
    if !available("mosquitto_pub", has_command("mosquitto_pub")) {
        return;
    }
    let (broker, _events) = start().await;
    let child = mosquitto_pub(broker.addr(), SIGN_002)
        .spawn()
        .expect("start mosquitto_pub");
    let out = tokio::task::spawn_blocking(move || finish(child, DEADLINE))
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = broker
        .wait_seen(
            |p| p.direction == SeenDirection::AtCloud,
            Instant::now() + DEADLINE,
        )
        .await
        .unwrap();
    let Packet::Publish(p) = seen.packet else {
        unreachable!()
    };
    assert_eq!(
        (p.topic.as_str(), p.qos),
        (POST_TOPIC_002, QoS::AtLeastOnce)
    );
    assert_eq!(p.payload, br#"{"id":"7","params":{"PowerSwitch":1}}"#);
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn mosquitto_pub_with_a_wrong_sign_exits_with_the_connack_code() {
    if !available("mosquitto_pub", has_command("mosquitto_pub")) {
        return;
    }
    let (broker, _events) = start().await;
    let wrong = "5caeef5b9251940696b02dc80b615c3f739f46bd";
    let child = mosquitto_pub(broker.addr(), wrong)
        .spawn()
        .expect("start mosquitto_pub");
    let out = tokio::task::spawn_blocking(move || finish(child, DEADLINE))
        .await
        .unwrap();
    // mosquitto_pub exits with the CONNACK return code: 4, bad user name or password.
    assert_eq!(
        out.status.code(),
        Some(4),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad user name or password"));
    assert_eq!(broker.refusals()[0].reason.kind, RefusalKind::SignMismatch);
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn mosquitto_sub_receives_a_cloud_downlink_at_qos_0() {
    if !available("mosquitto_sub", has_command("mosquitto_sub")) {
        return;
    }
    let (broker, _events) = start().await;
    let addr = broker.addr();
    let child = Command::new("mosquitto_sub")
        .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args([
            "-V", "mqttv311", "-k", "60", "-q", "1", "-C", "1", "-W", "5",
        ])
        .args([
            "-i",
            CLIENT_ID_002,
            "-u",
            USERNAME_002,
            "-P",
            SIGN_002,
            "-t",
            SET_TOPIC_002,
        ])
        .args(["-F", "%q %t %p"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mosquitto_sub");
    // Publish once the subscription is through, as the console would.
    broker
        .wait_seen(
            |p| p.direction == SeenDirection::ToDevice && matches!(p.packet, Packet::Suback(_)),
            Instant::now() + DEADLINE,
        )
        .await
        .unwrap();
    broker
        .publish(
            SET_TOPIC_002,
            br#"{"params":{"PowerSwitch":1}}"#,
            QoS::AtMostOnce,
        )
        .unwrap();
    let out = tokio::task::spawn_blocking(move || finish(child, DEADLINE))
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Subscribed at QoS 1, granted 01, and still delivered at the cloud's QoS 0.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!(r#"0 {SET_TOPIC_002} {{"params":{{"PowerSwitch":1}}}}"#)
    );
    broker.shutdown(DEADLINE).await.unwrap();
}

/// Connects with paho, publishes one QoS 1 message when accepted, prints `rc=<code>`.
const PAHO_SCRIPT: &str = r#"
import sys, time
import paho.mqtt.client as mqtt
host, port, cid, user, pw, topic = sys.argv[1:7]
try:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=cid, protocol=mqtt.MQTTv311)
except AttributeError:
    c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv311)
c.username_pw_set(user, pw)
res = {}
c.on_connect = lambda cl, ud, flags, rc: res.setdefault("rc", rc)
c.connect(host, int(port), 60)
c.loop_start()
deadline = time.time() + 5
while "rc" not in res and time.time() < deadline:
    time.sleep(0.02)
rc = res.get("rc", -1)
if rc == 0:
    info = c.publish(topic, '{"id":"8"}', qos=1)
    info.wait_for_publish(5)
    print("published", info.is_published())
    c.disconnect()
c.loop_stop()
print("rc=%s" % rc)
"#;

#[tokio::test]
async fn paho_is_accepted_with_the_right_sign_and_refused_with_4_otherwise() {
    let python = python_with_paho();
    if !available("python3 with paho-mqtt", python.is_some()) {
        return;
    }
    let python = python.unwrap_or("python3");
    let (broker, _events) = start().await;
    let addr = broker.addr();
    for (password, want) in [(SIGN_002, "rc=0"), ("not-the-sign", "rc=4")] {
        let child = Command::new(python)
            .args([
                "-c",
                PAHO_SCRIPT,
                &addr.ip().to_string(),
                &addr.port().to_string(),
            ])
            .args([CLIENT_ID_002, USERNAME_002, password, POST_TOPIC_002])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start python");
        let out = tokio::task::spawn_blocking(move || finish(child, Duration::from_secs(10)))
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(want),
            "stdout {stdout:?} stderr {:?}",
            String::from_utf8_lossy(&out.stderr)
        );
        if want == "rc=0" {
            assert!(stdout.contains("published True"), "{stdout}");
        }
    }
    let at_cloud = broker
        .wait_seen(
            |p| p.direction == SeenDirection::AtCloud,
            Instant::now() + DEADLINE,
        )
        .await
        .unwrap();
    assert_eq!(at_cloud.client_id.as_deref(), Some(CLIENT_ID_002));
    assert_eq!(broker.refusals().len(), 1);
    broker.shutdown(DEADLINE).await.unwrap();
}

/// `athil broker` as a process: logs the refusal and the packets, masks the password, and
/// exits 0 on Ctrl-C (SIGINT).
#[tokio::test]
async fn athil_broker_logs_connections_refusals_and_packets_until_ctrl_c() {
    // A random loopback address; another process taking it first would fail the start, so
    // the first few lines are checked for the "listening" banner.
    let port_octet = (std::process::id() % 200 + 20) as u8;
    let listen: SocketAddr = format!("127.77.{port_octet}.9:1883").parse().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_athil"))
        .args(["broker", "--listen", &listen.to_string(), "--devices"])
        .arg(devices_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start athil broker");
    let (tx, lines) = mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let banner = lines
        .recv_timeout(DEADLINE)
        .expect("athil broker prints its banner");
    assert!(
        banner.contains(&format!("listening on {listen}")),
        "{banner}"
    );

    let mut c = RawClient::connect(listen).await;
    c.send(&connect_002_wrong_sign()).await;
    assert_eq!(c.recv().await, hex("20 02 00 04"));
    c.expect_closed(Duration::from_secs(2)).await;

    let mut log = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while !log
        .iter()
        .any(|l: &String| l.contains("closed by the broker"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        log.push(lines.recv_timeout(left).expect("a log line for each event"));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || finish(child, DEADLINE))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0));

    let text = log.join("\n");
    assert!(text.contains("conn 1 opened"), "{text}");
    assert!(text.contains("refused client \"device2|securemode=3,signmethod=hmacsha1|\" with code 4 because the sign did not match"), "{text}");
    assert!(
        text.contains("broker -> device 20 02 00 04  [CONNACK code 4]"),
        "{text}"
    );
    // The CONNECT is printed as hex with the password masked, never the DeviceSecret.
    assert!(
        text.contains("device -> broker 10 74 00 04 4D 51 54 54 04 C2 00 64"),
        "{text}"
    );
    assert!(text.contains("00 28 ** **"), "{text}");
    assert!(!text.contains("1448e1c5"), "{text}");
}

#[test]
fn athil_broker_on_a_taken_address_fails_with_exit_code_2() {
    let taken = std::net::TcpListener::bind("127.77.3.10:0").expect("bind a loopback port");
    let addr = taken.local_addr().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_athil"))
        .args(["broker", "--listen", &addr.to_string(), "--devices"])
        .arg(devices_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start athil broker");
    let out = finish(child, DEADLINE);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("failed to listen for modules on {addr}")),
        "{stderr}"
    );
}
