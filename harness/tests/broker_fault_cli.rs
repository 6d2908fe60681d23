//! `athil broker --fault …` as a lab engineer runs it for a board tested by hand: the real
//! binary on 127.0.0.1, faults given on the command line or in a file, every wait bounded and
//! the process killed (by its own id) if it outlives the test.

mod broker_support;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use broker_support::*;
use tokio::io::AsyncReadExt;

const ATHIL: &str = env!("CARGO_BIN_EXE_athil");
const LIMIT: Duration = Duration::from_secs(10);

fn data(name: &str) -> String {
    format!(
        "{}/tests/data/broker_fault/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A running `athil broker`, its stdout read line by line on a thread.
struct Process {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Process {
    fn spawn(args: &[&str]) -> Process {
        let mut child = Command::new(ATHIL)
            .arg("broker")
            .args(["--listen", "127.0.0.1:0", "--devices"])
            .arg(devices_dir())
            .args(args)
            .env_remove("ATHIL_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start athil broker");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Process {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line (from now on) containing `needle`, within [`LIMIT`].
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
                Err(_) => panic!(
                    "no line with {needle:?} within {LIMIT:?}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Where the gateway listens, from its first line.
    fn addr(&mut self) -> SocketAddr {
        let line = self.wait_line("athil broker: listening on ");
        let rest = line
            .split_once("listening on ")
            .map(|(_, r)| r)
            .unwrap_or("");
        let addr = rest.split_once(' ').map(|(a, _)| a).unwrap_or(rest);
        addr.parse()
            .unwrap_or_else(|_| panic!("no address in {line:?}"))
    }

    /// Waits for an exit that should come by itself; returns the code and stderr.
    fn exit(mut self) -> (Option<i32>, String) {
        let until = Instant::now() + LIMIT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    let mut stderr = String::new();
                    if let Some(mut e) = self.child.stderr.take() {
                        let _ = e.read_to_string(&mut stderr);
                    }
                    return (status.code(), stderr);
                }
                Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
                Ok(None) | Err(_) => panic!("athil broker did not exit within {LIMIT:?}"),
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test]
async fn a_startup_refusal_refuses_the_next_connect_only() {
    let mut p = Process::spawn(&["--fault", "refuse_next_connect 5"]);
    let addr = p.addr();
    let mut c = RawClient::connect(addr).await;
    c.send(&hex(CONNECT_002)).await;
    assert_eq!(c.recv().await, hex("20 02 00 05"));
    c.expect_closed(Duration::from_secs(2)).await;
    RawClient::connect_002(addr).await;
    p.wait_line("fault: refuse the next CONNECT with code 5 for every device");
    p.wait_line("fault: refused the CONNECT of aliyun/device2 with code 5");
}

#[tokio::test]
async fn a_fault_file_aimed_at_a_device_holds_and_splits_its_connack() {
    let file = data("connack-held.yaml");
    let mut p = Process::spawn(&["--fault-file", &file, "--fault-device", "aliyun/device2"]);
    let addr = p.addr();
    let mut c = RawClient::connect(addr).await;
    let sent = Instant::now();
    c.send(&hex(CONNECT_002)).await;
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(DEADLINE, c.stream.read(&mut buf))
        .await
        .expect("the first segment in time")
        .expect("read");
    assert_eq!(buf[..n], hex("20 02"));
    assert!(
        sent.elapsed() >= Duration::from_millis(300),
        "{:?}",
        sent.elapsed()
    );
    let n = tokio::time::timeout(DEADLINE, c.stream.read(&mut buf))
        .await
        .expect("the second segment in time")
        .expect("read");
    assert_eq!(buf[..n], hex("00 00"));
    p.wait_line("fault: CONNACK to aliyun/device2 held 300ms");
    p.wait_line("fault: CONNACK to aliyun/device2 split into 2 segments, 50ms apart");
}

#[test]
fn a_bad_fault_is_a_usage_error_before_anything_listens() {
    let (code, stderr) = Process::spawn(&["--fault", "split_next 1 5ms"]).exit();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("at least 2 segments"), "{stderr}");

    let (code, stderr) = Process::spawn(&["--fault-file", &data("bad-fault.yaml")]).exit();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("bad-fault.yaml"), "{stderr}");
    assert!(stderr.contains("at least 2 segments"), "{stderr}");
    assert!(stderr.contains("line 4"), "{stderr}");

    let (code, stderr) =
        Process::spawn(&["--fault", "drop_link", "--fault-device", "aliyun/nobody"]).exit();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("no device `aliyun/nobody` is registered"),
        "{stderr}"
    );
}
