//! The three brokers under test as child processes, each behind a guard that kills it (by its
//! own pid) when dropped: `athil broker` (the real binary, with a generated device registry),
//! plain rumqttd (`athil bench-peer rumqttd`) and Debian's `mosquitto` with a generated
//! config. Main types: [`BrokerKind`], [`RunningBroker`], [`Fleet`] (who the devices are and
//! what each one's CONNECT is).

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use athil::cloud::{AliyunCredentials, DeviceRegistry, SignMethod};
use athil::mqtt::Connect;

/// Keepalive every load client sends: inside Alibaba Cloud's 30–1200 s, and long enough that
/// no measurement needs a PINGREQ to stay within 1.5 × keepalive.
pub const KEEPALIVE: u16 = 300;

/// The cloud-side login athil broker is started with (`--cloud-user`, default `cloud`).
const CLOUD_USER: &str = "cloud";

/// How long a broker may take to listen (athil reads one YAML file per device first).
const START_WITHIN: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    Athil,
    Rumqttd,
    Mosquitto,
}

impl BrokerKind {
    pub const ALL: [BrokerKind; 3] = [
        BrokerKind::Athil,
        BrokerKind::Rumqttd,
        BrokerKind::Mosquitto,
    ];

    pub fn title(self) -> &'static str {
        match self {
            BrokerKind::Athil => "athil broker",
            BrokerKind::Rumqttd => "plain rumqttd",
            BrokerKind::Mosquitto => "mosquitto",
        }
    }

    pub fn parse(text: &str) -> Option<BrokerKind> {
        match text {
            "athil" => Some(BrokerKind::Athil),
            "rumqttd" => Some(BrokerKind::Rumqttd),
            "mosquitto" => Some(BrokerKind::Mosquitto),
            _ => None,
        }
    }
}

/// Debian installs the broker in /usr/sbin, which a non-root PATH often lacks.
pub fn mosquitto_path() -> Option<PathBuf> {
    let on_path = Command::new("mosquitto")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if on_path {
        return Some(PathBuf::from("mosquitto"));
    }
    let sbin = PathBuf::from("/usr/sbin/mosquitto");
    sbin.exists().then_some(sbin)
}

/// Whether this athil binary has the lead's cloud-side listener (`--cloud-listen`); without
/// it the measurements that need a cloud client cannot run against athil broker.
pub fn athil_has_cloud_listener(athil: &Path) -> bool {
    Command::new(athil)
        .args(["broker", "--help"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("--cloud-listen"))
}

/// Where and how the cloud-side client logs in.
#[derive(Debug, Clone)]
pub struct CloudAccess {
    pub addr: SocketAddr,
    pub connect: Connect,
}

/// A broker child process; killed and reaped on drop.
pub struct RunningBroker {
    pub kind: BrokerKind,
    child: Child,
    /// The devices' address.
    pub device_addr: SocketAddr,
    /// The cloud side's address and login, or why there is none.
    pub cloud: Result<CloudAccess, String>,
    stderr_tail: Arc<Mutex<Vec<String>>>,
    _config_dir: Option<tempfile::TempDir>,
}

impl Drop for RunningBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RunningBroker {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The broker's resident set (VmRSS) in bytes, or why it cannot be read (it exited).
    pub fn rss(&mut self) -> Result<u64, String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(format!(
                "{} exited ({status}){}",
                self.kind.title(),
                self.tail()
            ));
        }
        let path = format!("/proc/{}/status", self.pid());
        let text = std::fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
        text.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| format!("no VmRSS line in {path}"))
    }

    /// Whether the process is still running; if not, why, for the table.
    pub fn alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} exited ({status}){}",
                self.kind.title(),
                self.tail()
            )),
            Err(e) => Err(format!("poll {}: {e}", self.kind.title())),
        }
    }

    /// The last lines the broker wrote on stderr, for a failure's reason.
    fn tail(&self) -> String {
        let lines = self
            .stderr_tail
            .lock()
            .map(|l| l.join(" | "))
            .unwrap_or_default();
        if lines.is_empty() {
            String::new()
        } else {
            format!("; stderr: {lines}")
        }
    }
}

/// A free port on 127.0.0.1, released for the broker to bind. Another process could take it
/// first; the start then fails with the broker's own message, and the column says so.
fn free_port() -> Result<SocketAddr, String> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("find a free port: {e}"))?;
    l.local_addr()
        .map_err(|e| format!("read the free port: {e}"))
}

/// Reads a child's stream to its end on a thread, keeping the last lines (stderr) or nothing
/// (athil broker logs every packet on stdout; the pipe must be drained or the broker blocks).
fn drain(stream: impl Read + Send + 'static, keep: Option<Arc<Mutex<Vec<String>>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(keep) = &keep {
                if let Ok(mut k) = keep.lock() {
                    k.push(line);
                    let excess = k.len().saturating_sub(5);
                    k.drain(..excess);
                }
            }
        }
    });
}

/// Starts one broker and returns once every listener it has accepts TCP.
pub fn start(kind: BrokerKind, athil: &Path, fleet: &Fleet) -> Result<RunningBroker, String> {
    let device_addr = free_port()?;
    let mut config_dir = None;
    let mut cloud = Ok(CloudAccess {
        addr: device_addr,
        connect: Connect::new("bench-cloud", KEEPALIVE),
    });
    let mut cmd = match kind {
        BrokerKind::Athil => {
            let mut cmd = Command::new(athil);
            cmd.arg("broker")
                .arg("--listen")
                .arg(device_addr.to_string())
                .arg("--devices")
                .arg(&fleet.devices_dir);
            if athil_has_cloud_listener(athil) {
                let addr = free_port()?;
                let password = cloud_password();
                cmd.arg("--cloud-listen")
                    .arg(addr.to_string())
                    .arg("--cloud-user")
                    .arg(CLOUD_USER)
                    .env("ATHIL_CLOUD_PASSWORD", &password);
                let mut connect = Connect::new("bench-cloud", KEEPALIVE);
                connect.username = Some(CLOUD_USER.to_owned());
                connect.password = Some(password.into_bytes());
                cloud = Ok(CloudAccess { addr, connect });
            } else {
                cloud = Err(
                    "this athil broker has no --cloud-listen yet (the cloud-side \
                             listener on main), so no cloud client can log in"
                        .to_owned(),
                );
            }
            cmd
        }
        BrokerKind::Rumqttd => {
            let mut cmd = Command::new(athil);
            cmd.args(["bench-peer", "rumqttd", "--listen"])
                .arg(device_addr.to_string());
            cmd
        }
        BrokerKind::Mosquitto => {
            let exe = mosquitto_path().ok_or("mosquitto is not installed")?;
            let dir =
                tempfile::tempdir().map_err(|e| format!("make a temporary directory: {e}"))?;
            let conf = dir.path().join("mosquitto.conf");
            let text = format!(
                "listener {} 127.0.0.1\nallow_anonymous true\n",
                device_addr.port()
            );
            std::fs::write(&conf, text).map_err(|e| format!("write {}: {e}", conf.display()))?;
            let mut cmd = Command::new(exe);
            cmd.arg("-c").arg(&conf);
            config_dir = Some(dir);
            cmd
        }
    };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start {}: {e}", kind.title()))?;
    let stderr_tail = Arc::new(Mutex::new(Vec::new()));
    if let Some(out) = child.stdout.take() {
        drain(out, None);
    }
    if let Some(err) = child.stderr.take() {
        drain(err, Some(stderr_tail.clone()));
    }
    let mut broker = RunningBroker {
        kind,
        child,
        device_addr,
        cloud,
        stderr_tail,
        _config_dir: config_dir,
    };
    let mut addrs = vec![device_addr];
    if let Ok(c) = &broker.cloud {
        addrs.push(c.addr);
    }
    let deadline = Instant::now() + START_WITHIN;
    for addr in addrs {
        loop {
            broker.alive()?;
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} did not listen on {addr} within {START_WITHIN:?}{}",
                    kind.title(),
                    broker.tail()
                ));
            }
            // A child process has no readiness signal to await; a short poll is the simplest
            // bounded wait.
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(broker)
}

/// A password for this run only, not guessable from the command line (it goes by environment).
fn cloud_password() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("bench-{:x}-{:x}", nanos, std::process::id())
}

/// One device: its topics, and the CONNECT it logs in with at each broker.
#[derive(Debug, Clone)]
pub struct DeviceId {
    pub product_key: String,
    pub device_name: String,
    /// Signed with the DeviceSecret, as `athil sign` computes it.
    pub signed: Connect,
}

impl DeviceId {
    /// Where it publishes (a custom topic the default profile lets it publish to).
    pub fn uplink_topic(&self) -> String {
        format!("/{}/{}/user/update", self.product_key, self.device_name)
    }

    /// What it subscribes to for the cloud's downlinks.
    pub fn downlink_topic(&self) -> String {
        format!("/{}/{}/user/get", self.product_key, self.device_name)
    }

    /// The CONNECT for `kind`: signed for athil broker; anonymous with the same client id for
    /// the peers, which check nothing.
    pub fn connect_for(&self, kind: BrokerKind) -> Connect {
        match kind {
            BrokerKind::Athil => self.signed.clone(),
            BrokerKind::Rumqttd | BrokerKind::Mosquitto => {
                Connect::new(self.signed.client_id.clone(), KEEPALIVE)
            }
        }
    }
}

/// The made-up devices of one run, written as a registry directory athil broker reads.
pub struct Fleet {
    pub devices: Vec<DeviceId>,
    pub devices_dir: PathBuf,
    _dir: tempfile::TempDir,
}

/// A made-up ProductKey (11 characters, as the cloud's are).
const PRODUCT_KEY: &str = "a1BenchPk01";

impl Fleet {
    /// Writes `count` device YAML files, loads them back with athil's registry, and signs each
    /// device's CONNECT with athil's own credentials code (`athil sign`'s path).
    pub fn generate(count: usize) -> Result<Fleet, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("make a temporary directory: {e}"))?;
        let devices_dir = dir.path().join("devices");
        std::fs::create_dir_all(devices_dir.join("bench"))
            .map_err(|e| format!("make {}: {e}", devices_dir.display()))?;
        for i in 0..count {
            let text = format!(
                "platform: aliyun\nproduct_key: {PRODUCT_KEY}\ndevice_name: bench{i:05}\n\
                 device_secret: {:032x}\n",
                0x5eed_0000_u128 + (i as u128) * 0x9e37_79b9
            );
            let path = devices_dir.join("bench").join(format!("bench{i:05}.yaml"));
            std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
        }
        let registry = DeviceRegistry::load_dir(&devices_dir)
            .map_err(|e| format!("load the generated registry: {e}"))?;
        let mut devices = Vec::with_capacity(count);
        for i in 0..count {
            let name = format!("bench/bench{i:05}");
            let d = registry
                .get(&name)
                .ok_or_else(|| format!("the generated registry lacks {name}"))?;
            let secret = d.secret().map_err(|e| e.to_string())?;
            let params = d
                .client_id_params(SignMethod::HmacSha1)
                .map_err(|e| e.to_string())?;
            let creds = AliyunCredentials::compute(&d.product_key, &d.device_name, &secret, params);
            devices.push(DeviceId {
                product_key: d.product_key.clone(),
                device_name: d.device_name.clone(),
                signed: creds.to_connect(KEEPALIVE),
            });
        }
        Ok(Fleet {
            devices,
            devices_dir,
            _dir: dir,
        })
    }
}
