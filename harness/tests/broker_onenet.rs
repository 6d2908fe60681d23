//! OneNET as a platform of its own, end to end: seed 004's 37-byte CONNECT accepted with
//! `20 02 00 00` by the fixture device it names, its wrong and anonymous forms refused;
//! mosquitto's clients logging in with the legacy form and paho-mqtt with the token form
//! (signed by Python's own hmac/base64/urllib, not by athil), refused with CONNACK 4 when
//! wrong; a token device publishing to another device's topic losing its link; and
//! `athil broker --onenet-profile` as a process.
//!
//! A missing tool skips its test with a printed reason, except under `CI=true`.

mod broker_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use athil::broker::{RefusalKind, SeenDirection};
use athil::mqtt::{encode, parse_hex, Connect, Packet, PacketType};
use broker_support::*;

const PRODUCT_004: &str = "20190156";
const DEVICE_004: &str = "657077";
const TOKEN_PID: &str = "238322";
const TOKEN_DN: &str = "mqtts-test-device";
const TOKEN_KEY: &str = "EnW4T71eIE55xOIQMN6pFMKuqel5T5HTzsGJRPiDhlM=";

/// Seed 004's CONNECT as the fixture keeps it (keepalive 30, `657077`/`20190156`/`sn888`).
fn connect_004() -> Vec<u8> {
    let path = devices_dir().join("../packets/seed004_connect_onenet.hex");
    let text = std::fs::read_to_string(&path).expect("read the seed 004 fixture");
    let bytes = parse_hex(&text).expect("the fixture is hex");
    assert_eq!(bytes.len(), 37, "AT+QISEND=0,37");
    bytes
}

#[tokio::test]
async fn seed_004s_connect_is_accepted_byte_for_byte() {
    let (broker, _events) = start().await;
    let mut c = RawClient::connect(broker.addr()).await;
    c.send(&connect_004()).await;
    assert_eq!(c.recv().await, hex("20 02 00 00"));

    // The auth info's last byte changed: CONNACK 4, then the link closes.
    let mut wrong = connect_004();
    *wrong.last_mut().unwrap() = b'9';
    let mut c = RawClient::connect(broker.addr()).await;
    c.send(&wrong).await;
    assert_eq!(c.recv().await, hex("20 02 00 04"));
    c.expect_closed(Duration::from_secs(2)).await;
    let refusal = &broker.refusals()[0];
    assert_eq!(
        (refusal.code, refusal.reason.kind),
        (4, RefusalKind::SignMismatch)
    );
    assert!(!refusal.to_string().contains("sn88"), "{refusal}");

    // No user name and password: closed without CONNACK.
    let anonymous = encode(&Packet::from(Connect::new(DEVICE_004, 30))).unwrap();
    let mut c = RawClient::connect(broker.addr()).await;
    c.send(&anonymous).await;
    c.expect_closed(Duration::from_secs(2)).await;
    let drops = broker.drops();
    assert_eq!(drops.len(), 1, "{drops:?}");
    assert_eq!(drops[0].packet, PacketType::Connect);
    assert!(drops[0].reason.contains("anonymous"), "{}", drops[0].reason);
    broker.shutdown(DEADLINE).await.unwrap();
}

fn mosquitto_pub(addr: SocketAddr, id: &str, user: &str, password: &str, topic: &str) -> Command {
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(["-V", "mqttv311", "-k", "30", "-q", "1"])
        .args(["-i", id, "-u", user, "-P", password, "-t", topic])
        .args(["-m", r#"{"temperature":21}"#])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[tokio::test]
async fn mosquitto_logs_in_with_the_legacy_form_and_is_refused_with_4_when_wrong() {
    if !available("mosquitto_pub", has_command("mosquitto_pub")) {
        return;
    }
    let (broker, _events) = start().await;
    let addr = broker.addr();
    for (password, code) in [("sn888", 0), ("sn889", 4)] {
        let child = mosquitto_pub(addr, DEVICE_004, PRODUCT_004, password, "$dp")
            .spawn()
            .expect("start mosquitto_pub");
        let out = tokio::task::spawn_blocking(move || finish(child, DEADLINE))
            .await
            .unwrap();
        // mosquitto_pub exits with the CONNACK return code.
        assert_eq!(
            out.status.code(),
            Some(code),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
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
    assert_eq!(p.topic, "$dp");
    assert_eq!(broker.refusals().len(), 1);
    broker.shutdown(DEADLINE).await.unwrap();
}

/// Builds the token with Python's standard library, logs in with paho, subscribes to the
/// property post's reply, posts, and prints `rc=<code>` and the reply it got.
const PAHO_TOKEN_SCRIPT: &str = r#"
import sys, time, hmac, hashlib, base64, urllib.parse
import paho.mqtt.client as mqtt
host, port, pid, dn, key, method = sys.argv[1:7]
et = str(int(time.time()) + 3600)
res = "products/%s/devices/%s" % (pid, dn)
text = "\n".join([et, method, res, "2018-10-31"]).encode()
sign = base64.b64encode(hmac.new(base64.b64decode(key), text, getattr(hashlib, method)).digest()).decode()
q = lambda v: urllib.parse.quote(v, safe="")
token = "version=2018-10-31&res=%s&et=%s&method=%s&sign=%s" % (q(res), et, method, q(sign))
try:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=dn, protocol=mqtt.MQTTv311)
except AttributeError:
    c = mqtt.Client(client_id=dn, protocol=mqtt.MQTTv311)
c.username_pw_set(pid, token)
res_ = {}
c.on_connect = lambda cl, ud, flags, rc: res_.setdefault("rc", rc)
c.on_subscribe = lambda cl, ud, mid, granted: res_.setdefault("granted", granted)
c.on_message = lambda cl, ud, msg: res_.setdefault("reply", (msg.qos, msg.topic, msg.payload.decode()))
c.connect(host, int(port), 120)
c.loop_start()
def wait(k):
    deadline = time.time() + 5
    while k not in res_ and time.time() < deadline:
        time.sleep(0.02)
wait("rc")
rc = res_.get("rc", -1)
if rc == 0:
    top = "$sys/%s/%s/thing/property/post" % (pid, dn)
    c.subscribe(top + "/reply", qos=1)
    wait("granted")
    c.publish(top, '{"id":"42","version":"1.0","params":{"temp":{"value":21}}}', qos=1)
    wait("reply")
    print("granted", res_.get("granted"))
    print("reply", res_.get("reply"))
    c.disconnect()
c.loop_stop()
print("rc=%s" % rc)
"#;

#[tokio::test]
async fn paho_logs_in_with_a_token_gets_the_post_reply_and_is_refused_with_4_when_wrong() {
    let python = python_with_paho();
    if !available("python3 with paho-mqtt", python.is_some()) {
        return;
    }
    let python = python.unwrap_or("python3");
    let (broker, _events) = start().await;
    let addr = broker.addr();
    // A key of the right shape that is not the device's.
    let wrong_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    for (key, method, want) in [
        (TOKEN_KEY, "md5", "rc=0"),
        (TOKEN_KEY, "sha1", "rc=0"),
        (TOKEN_KEY, "sha256", "rc=0"),
        (wrong_key, "sha1", "rc=4"),
    ] {
        let child = Command::new(python)
            .args(["-c", PAHO_TOKEN_SCRIPT])
            .args([&addr.ip().to_string(), &addr.port().to_string()])
            .args([TOKEN_PID, TOKEN_DN, key, method])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start python");
        let out = tokio::task::spawn_blocking(move || finish(child, Duration::from_secs(15)))
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(want),
            "{method}: stdout {stdout:?} stderr {:?}",
            String::from_utf8_lossy(&out.stderr)
        );
        if want == "rc=0" {
            // Granted QoS 0 whatever was asked; the reply at QoS 0, on …/post/reply.
            assert!(stdout.contains("granted (0,)"), "{stdout}");
            assert!(
                stdout.contains(&format!(
                    "reply (0, '$sys/{TOKEN_PID}/{TOKEN_DN}/thing/property/post/reply'"
                )),
                "{stdout}"
            );
            assert!(stdout.contains(r#""code":200"#), "{stdout}");
            assert!(stdout.contains(r#""id":"42""#), "{stdout}");
        }
    }
    let refusals = broker.refusals();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].code, 4);
    broker.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test]
async fn a_token_device_publishing_to_another_devices_topic_loses_its_link() {
    if !available("mosquitto_pub", has_command("mosquitto_pub")) {
        return;
    }
    let token = athil::cloud::OneNetCredentials::token(
        TOKEN_PID,
        TOKEN_DN,
        &athil::cloud::DeviceSecret::new(TOKEN_KEY),
        4_000_000_000,
        athil::cloud::SignMethod::HmacSha1,
    )
    .unwrap()
    .password;
    let (broker, _events) = start().await;
    let foreign = format!("$sys/{TOKEN_PID}/another-device/thing/property/post");
    let child = mosquitto_pub(broker.addr(), TOKEN_DN, TOKEN_PID, &token, &foreign)
        .spawn()
        .expect("start mosquitto_pub");
    let out = tokio::task::spawn_blocking(move || finish(child, DEADLINE))
        .await
        .unwrap();
    // The QoS 1 PUBLISH is never acknowledged: the broker closed the link.
    assert_ne!(out.status.code(), Some(0));
    let drops = broker.drops();
    assert_eq!(drops.len(), 1, "{drops:?}");
    assert_eq!(drops[0].packet, PacketType::Publish);
    assert!(
        drops[0].reason.contains("another device's"),
        "{}",
        drops[0].reason
    );
    broker.shutdown(DEADLINE).await.unwrap();
}

/// `athil broker --onenet-profile` with the shipped profile: seed 004 accepted, the keepalive
/// note in the log; with `legacy_minimum` on, the same CONNECT closed without CONNACK.
#[tokio::test]
async fn athil_broker_plays_the_onenet_profile_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let strict = dir.path().join("strict.yaml");
    std::fs::write(&strict, "keepalive: { legacy_minimum: true }\n").unwrap();
    let shipped = devices_dir().join("../profiles/onenet.yaml");
    for (n, profile, accepted) in [(1u8, shipped, true), (2, strict, false)] {
        let port_octet = (std::process::id() % 200 + 20) as u8;
        let listen: SocketAddr = format!("127.78.{port_octet}.{n}:1883").parse().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_athil"))
            .args(["broker", "--listen", &listen.to_string(), "--devices"])
            .arg(devices_dir())
            .arg("--onenet-profile")
            .arg(&profile)
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
        let banner = lines.recv_timeout(DEADLINE).expect("a banner");
        assert!(
            banner.contains(&format!("listening on {listen}")),
            "{banner}"
        );

        let mut c = RawClient::connect(listen).await;
        c.send(&connect_004()).await;
        if accepted {
            assert_eq!(c.recv().await, hex("20 02 00 00"));
        } else {
            c.expect_closed(Duration::from_secs(2)).await;
        }
        let want = if accepted {
            "keepalive.legacy_minimum is off"
        } else {
            "closing without CONNACK"
        };
        let deadline = Instant::now() + DEADLINE;
        let mut log = Vec::new();
        while !log.iter().any(|l: &String| l.contains(want)) {
            let left = deadline.saturating_duration_since(Instant::now());
            log.push(
                lines
                    .recv_timeout(left)
                    .unwrap_or_else(|_| panic!("no line with {want:?} in {log:#?}")),
            );
        }
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let out = tokio::task::spawn_blocking(move || finish(child, DEADLINE))
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
    }
}

/// `athil sign` and the broker agree: the CONNECT `athil sign` prints for each OneNET fixture
/// device (legacy: seed 004's 37 bytes; token: a fresh token) is accepted.
#[tokio::test]
async fn the_connect_athil_sign_prints_for_each_onenet_device_is_accepted() {
    let (broker, _events) = start().await;
    for device in ["onenet/657077", "onenet/mqtts-test-device"] {
        let out = Command::new(env!("CARGO_BIN_EXE_athil"))
            .args(["sign", "--device", device, "--devices"])
            .arg(devices_dir())
            .output()
            .expect("run athil sign");
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let connect = stdout
            .lines()
            .skip_while(|l| !l.starts_with("CONNECT ("))
            .nth(1)
            .unwrap_or_else(|| panic!("no CONNECT in {stdout}"));
        let bytes = hex(connect);
        if device == "onenet/657077" {
            assert_eq!(bytes, connect_004());
        }
        let mut c = RawClient::connect(broker.addr()).await;
        c.send(&bytes).await;
        assert_eq!(c.recv().await, hex("20 02 00 00"), "{device}");
    }
    broker.shutdown(DEADLINE).await.unwrap();
}
