//! Issue 7, item 5, on the broker's own log: `athil broker` refusing a wrong sign of a device
//! whose DeviceSecret comes from an environment variable says which input differs and prints
//! neither the valid sign nor the one sent. The real binary on 127.0.0.1, every wait bounded,
//! the process killed by its own id when the test ends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use athil::cloud::{aliyun, AliyunCredentials, ClientIdParams, DeviceSecret, SignMethod};
use athil::mqtt::{encode, Packet};

const ATHIL: &str = env!("CARGO_BIN_EXE_athil");
const LIMIT: Duration = Duration::from_secs(10);
const VAR: &str = "ATHIL_TEST_BROKER_LAMP_SECRET";
/// Made up for this test.
const SECRET: &str = "2b7e151628aed2a6abf7158809cf4f3c";

struct Broker {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Broker {
    fn start(devices: &std::path::Path) -> Broker {
        let mut child = Command::new(ATHIL)
            .args(["broker", "--listen", "127.0.0.1:0", "--devices"])
            .arg(devices)
            .env(VAR, SECRET)
            .env_remove("ATHIL_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start athil broker");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Broker {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn wait_line(&mut self, needle: &str) -> String {
        let until = Instant::now() + LIMIT;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {needle:?}; saw:\n{}", self.seen.join("\n")),
            }
        }
    }

    fn addr(&mut self) -> SocketAddr {
        let line = self.wait_line("listening on ");
        let rest = line.split_once("listening on ").map_or("", |(_, r)| r);
        let addr = rest.split_once(' ').map_or(rest, |(a, _)| a);
        addr.parse()
            .unwrap_or_else(|_| panic!("no address in {line:?}"))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn a_wrong_sign_of_an_env_backed_device_is_logged_without_any_sign() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::create_dir(dir.path().join("aliyun")).expect("mkdir");
    std::fs::write(
        dir.path().join("aliyun/lamp.yaml"),
        format!("platform: aliyun\nproduct_key: a1LampPk001\ndevice_name: lamp\ndevice_secret_env: {VAR}\n"),
    )
    .expect("write the device");
    let mut broker = Broker::start(dir.path());
    let addr = broker.addr();

    // Signed with hmacsha256 while the client id says hmacsha1: a classic hand-built mistake.
    let key = DeviceSecret::new(SECRET);
    let params = ClientIdParams::new("lamp", SignMethod::HmacSha1);
    let valid = AliyunCredentials::compute("a1LampPk001", "lamp", &key, params.clone());
    let content = aliyun::sign_content("lamp", "lamp", "a1LampPk001", None);
    let sent = aliyun::sign(&key, SignMethod::HmacSha256, &content);
    let mut connect = valid.to_connect(100);
    connect.password = Some(sent.clone().into_bytes());
    let bytes = encode(&Packet::from(connect)).expect("encode");

    let mut stream = TcpStream::connect_timeout(&addr, LIMIT).expect("connect");
    stream.set_read_timeout(Some(LIMIT)).expect("timeout");
    stream.write_all(&bytes).expect("send CONNECT");
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack).expect("CONNACK");
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x04]);

    let line = broker.wait_line("refused client");
    assert!(
        line.contains("the password is this content's hmacsha256 sign, but the client id says signmethod=hmacsha1"),
        "{line}"
    );
    assert!(
        line.contains("clientIdlampdeviceNamelampproductKeya1LampPk001"),
        "{line}"
    );
    broker.wait_line("closed by the broker");
    let log = broker.seen.join("\n");
    for (what, sign) in [("valid", &valid.password), ("sent", &sent)] {
        assert!(
            !log.contains(&sign[..12]),
            "the log holds the {what} sign:\n{log}"
        );
        assert!(
            !log.to_ascii_uppercase()
                .contains(&sign[..12].to_ascii_uppercase()),
            "the log holds the {what} sign:\n{log}"
        );
    }
    assert!(!log.contains(&SECRET[..12]), "{log}");
}
