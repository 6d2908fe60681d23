//! The cloud profile as a third-party client sees it: Python's paho-mqtt 1.6 (Debian's
//! python3-paho-mqtt, v1 callback API) against the gateway. Right credentials are accepted,
//! wrong ones refused with rc 4; a subscription to another device's topic is granted 128
//! (0x80) and the link stays up; a property post receives the cloud's post_reply. Also
//! `athil broker --profile FILE` as a process.
//!
//! As in broker_interop.rs: without Python and paho the test is skipped with a printed reason,
//! except under `CI=true`, where their absence is a failure.

mod broker_profile_support;
mod broker_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use broker_profile_support::*;
use broker_support::*;

/// Connects; when accepted, subscribes to another device's property/set and to its own
/// post_reply, posts a property at QoS 1 and prints the reply. One line per fact.
const PAHO_SCRIPT: &str = r#"
import sys, time
import paho.mqtt.client as mqtt
host, port, cid, user, pw, foreign, reply_topic, post_topic = sys.argv[1:9]
try:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=cid, protocol=mqtt.MQTTv311)
except AttributeError:
    c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv311)
c.username_pw_set(user, pw)
res = {}
c.on_connect = lambda cl, ud, flags, rc: res.setdefault("rc", rc)
c.on_subscribe = lambda cl, ud, mid, granted: res.setdefault(mid, granted)
c.on_message = lambda cl, ud, msg: res.setdefault("reply", msg.payload.decode())
def wait(key):
    deadline = time.time() + 5
    while key not in res and time.time() < deadline:
        time.sleep(0.02)
    return res.get(key)
c.connect(host, int(port), 60)
c.loop_start()
rc = wait("rc")
print("rc=%s" % rc)
if rc == 0:
    _, mid = c.subscribe(foreign, 1)
    print("foreign granted=%s" % (wait(mid),))
    _, mid = c.subscribe(reply_topic, 0)
    print("reply granted=%s" % (wait(mid),))
    c.publish(post_topic, '{"id":"77","version":"1.0","params":{"PowerSwitch":1},"method":"thing.event.property.post"}', qos=1)
    print("reply=%s" % wait("reply"))
    print("connected=%s" % c.is_connected())
    c.disconnect()
c.loop_stop()
"#;

fn run_paho(python: &str, addr: std::net::SocketAddr, password: &str) -> String {
    let child = Command::new(python)
        .args([
            "-c",
            PAHO_SCRIPT,
            &addr.ip().to_string(),
            &addr.port().to_string(),
        ])
        .args([CLIENT_ID_002, USERNAME_002, password])
        .args([
            "/sys/a1ndPQHcX7f/device3/thing/service/property/set",
            "/sys/a1ndPQHcX7f/device2/thing/event/property/post_reply",
            POST_TOPIC_002,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let out = finish(child, Duration::from_secs(20));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "paho failed: stdout {stdout:?} stderr {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn paho_meets_the_clouds_login_permissions_and_replies() {
    let python = python_with_paho();
    if !available("python3 with paho-mqtt", python.is_some()) {
        return;
    }
    let Some(python) = python else {
        return;
    };
    let (broker, _events) = start_profile("{}").await;
    let addr = broker.addr();
    let refused = tokio::task::spawn_blocking(move || run_paho(python, addr, "not-the-sign"))
        .await
        .unwrap();
    assert_eq!(refused.trim(), "rc=4");
    let accepted = tokio::task::spawn_blocking(move || run_paho(python, addr, SIGN_002))
        .await
        .unwrap();
    let lines: Vec<&str> = accepted.lines().collect();
    assert_eq!(
        lines,
        [
            "rc=0",
            "foreign granted=(128,)",
            "reply granted=(1,)",
            r#"reply={"code":200,"data":{},"id":"77","message":"success","method":"thing.event.property.post","version":"1.0"}"#,
            "connected=True",
        ],
        "{accepted}"
    );
    assert_eq!(broker.refusals().len(), 1);
    assert_eq!(broker.drops().len(), 1, "{:?}", broker.drops());
    broker.shutdown(DEADLINE).await.unwrap();
}

/// `athil broker --profile` plays the file's rules (here keepalive at least 200 s, so seed
/// 002's keepalive 100 gets CONNACK 3), and a profile with an unknown key stops it with exit
/// code 2 and the file's name.
#[tokio::test]
async fn athil_broker_plays_the_profile_file_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "keepalive: { minimum: 200 }\n").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_athil"))
        .args(["broker", "--listen", "127.78.0.9:1883", "--devices"])
        .arg(broker_profile_support::devices_dir())
        .arg("--profile")
        .arg(&bad)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start athil broker");
    let out = tokio::task::spawn_blocking(move || finish(child, DEADLINE))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("failed to load the cloud profile from") && stderr.contains("bad.yaml"),
        "{stderr}"
    );

    let good = dir.path().join("strict.yaml");
    std::fs::write(&good, "keepalive: { min: 200 }\n").unwrap();
    let port_octet = (std::process::id() % 200 + 20) as u8;
    let listen: SocketAddr = format!("127.78.{port_octet}.9:1883").parse().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_athil"))
        .args(["broker", "--listen", &listen.to_string(), "--devices"])
        .arg(broker_profile_support::devices_dir())
        .arg("--profile")
        .arg(&good)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start athil broker");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, lines) = std::sync::mpsc::channel::<String>();
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
    c.send(&hex(CONNECT_002)).await;
    assert_eq!(c.recv().await, hex("20 02 00 03"));
    c.expect_closed(Duration::from_secs(2)).await;
    let _ = child.kill();
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
}
