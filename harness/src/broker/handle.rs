//! Starting and driving the broker: [`Broker::start`] links into the process's rumqttd under a
//! scope of its own, opens the cloud link, binds the gateway, and returns the [`BrokerHandle`]
//! the runner keeps for the whole run.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::capacity::{raise_fd_limit, Capacity};
use super::cloud::CloudLink;
use super::cloud_api::{self, CloudApiConfig};
use super::error::BrokerError;
use super::fault::{Fault, FaultBoard, FaultTarget, Placement};
use super::gateway::{self, Listen, Shared};
use super::namespace::Namespace;
use super::observed::{Dropped, Mark, Observed, Refusal, SeenPacket, Window};
use super::policy::CloudPolicy;
use super::profile::{CloudProfile, ProfileOverride};
use super::reach::Reach;
use super::rumqttd::Rumqttd;
use crate::cloud::DeviceRegistry;
use crate::events::EventSink;
use crate::mqtt::QoS;

/// How the broker is set up.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Where modules connect. Default: a random 127.x.y.z on port 1883.
    pub listen: Listen,
    /// The device registry (and the questions the gateway asks of it).
    pub policy: CloudPolicy,
    /// The cloud's rules for the whole run (`athil broker --profile`); scenarios change them
    /// with [`BrokerHandle::set_override`].
    pub profile: CloudProfile,
    /// How much the broker remembers of what it saw (`Window::Scenario` for a run, whose marks
    /// drop the previous scenario's; a small `Window::Recent` for a stand-alone broker).
    pub window: Window,
    /// Device connections held before logins get CONNACK 3; `None`: as many as the process's
    /// file descriptors allow (the soft limit is raised to the hard one at start).
    pub max_devices: Option<usize>,
    /// The credentialed cloud-side listener (`athil broker --cloud-listen`); none in a run,
    /// whose cloud side is the scenario's `cloud_publish` and `broker_saw` steps.
    pub cloud_api: Option<CloudApiConfig>,
    /// Whether every TCP read and write is an event of its own (true: the run's transcripts
    /// and pcaps are built from them); the stand-alone broker, whose log shows whole packets,
    /// turns them off.
    pub byte_events: bool,
    /// How many of each connection's packets a second become events of their own; the rest
    /// are counted by type (`packet_budget.rs`). `None`, as in a run: every packet.
    pub packet_events_per_second: Option<u32>,
}

impl BrokerConfig {
    /// Default listen address and cloud rules over `devices`.
    pub fn new(devices: DeviceRegistry) -> BrokerConfig {
        BrokerConfig {
            listen: Listen::default(),
            policy: CloudPolicy::new(devices),
            profile: CloudProfile::default(),
            window: Window::scenario(),
            max_devices: None,
            cloud_api: None,
            byte_events: true,
            packet_events_per_second: None,
        }
    }

    /// Like [`BrokerConfig::new`] with the devices under `dir` (`fixtures/devices`).
    pub fn from_devices_dir(dir: &Path) -> Result<BrokerConfig, BrokerError> {
        let devices = DeviceRegistry::load_dir(dir).map_err(|e| BrokerError::Devices {
            dir: dir.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(BrokerConfig::new(devices))
    }
}

/// Starts brokers.
pub struct Broker;

impl Broker {
    /// Starts rumqttd, opens the cloud link, binds the gateway, and returns once modules
    /// can connect. Events go to `events`.
    pub async fn start(
        config: BrokerConfig,
        events: EventSink,
    ) -> Result<BrokerHandle, BrokerError> {
        // The gateway's address first: rumqttd cannot be stopped, so do not start one for a
        // broker whose port is taken.
        let (listener, addr) = gateway::bind(&config.listen).await?;
        let cloud_side = match &config.cloud_api {
            Some(api) => Some((cloud_api::bind(api.listen).await?, api.credential.clone())),
            None => None,
        };
        let fd_limit = raise_fd_limit();
        let capacity = match config.max_devices {
            Some(n) => Capacity::new(n, format!("the broker was started to hold {n}")),
            None => Capacity::from_fd_limit(fd_limit),
        };
        let rumqttd = Rumqttd::shared();
        let namespace = Namespace::next();
        let link = rumqttd.link(namespace.client_id("athil-cloud")).await?;
        let cloud = CloudLink::open(link, namespace.clone());
        let mut policy = config.policy;
        policy.install(config.profile);
        let shared = Arc::new(Shared {
            policy,
            observed: Observed::new(config.window),
            events,
            rumqttd,
            namespace,
            capacity: Arc::new(capacity),
            byte_events: config.byte_events,
            packet_events_per_second: config.packet_events_per_second,
            next_conn: AtomicU64::new(1),
            faults: FaultBoard::default(),
            reach: Reach::default(),
            cloud: cloud.clone(),
        });
        let (stop, stopped) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(gateway::run(
            listener,
            shared.clone(),
            stopped.clone(),
        ))];
        let cloud_api_addr = cloud_side.as_ref().map(|((_, a), _)| *a);
        if let Some(((api_listener, _), credential)) = cloud_side {
            let api = cloud_api::run(api_listener, credential, shared.clone(), stopped);
            tasks.push(tokio::spawn(api));
        }
        Ok(BrokerHandle {
            addr,
            cloud_api_addr,
            shared,
            cloud,
            stop,
            tasks: Mutex::new(tasks),
        })
    }
}

/// A running broker. Dropping it stops the gateway and the cloud link without waiting; call
/// [`BrokerHandle::shutdown`] to wait for them (with a bound).
#[derive(Debug)]
pub struct BrokerHandle {
    addr: SocketAddr,
    cloud_api_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    cloud: CloudLink,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl BrokerHandle {
    /// Where modules connect (the gateway).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the credentialed cloud side listens, if it was asked for.
    pub fn cloud_api_addr(&self) -> Option<SocketAddr> {
        self.cloud_api_addr
    }

    /// How many device connections the gateway holds before answering CONNACK 3, and why.
    pub fn capacity(&self) -> (usize, &str) {
        (self.shared.capacity.limit, &self.shared.capacity.why)
    }

    /// Publishes from the cloud to `topic`, as the console's property set does. Subscribed
    /// devices receive it at `qos` (0 or 1), whatever QoS they subscribed with.
    pub fn publish(&self, topic: &str, payload: &[u8], qos: QoS) -> Result<(), BrokerError> {
        if *self.stop.borrow() {
            return Err(BrokerError::ShutDown);
        }
        self.cloud.publish(&self.shared, topic, payload, qos)
    }

    /// The first packet since the mark that matches `predicate`, as soon as it is seen, or
    /// [`BrokerError::NotSeen`] at `deadline`.
    pub async fn wait_seen<F>(
        &self,
        predicate: F,
        deadline: Instant,
    ) -> Result<SeenPacket, BrokerError>
    where
        F: Fn(&SeenPacket) -> bool,
    {
        self.shared.observed.wait_seen(predicate, deadline).await
    }

    /// Every packet seen since the mark, in order.
    pub fn seen(&self) -> Vec<SeenPacket> {
        self.shared.observed.seen()
    }

    /// Every refused CONNECT since the mark, in order.
    pub fn refusals(&self) -> Vec<Refusal> {
        self.shared.observed.refusals()
    }

    /// Every packet the cloud did not take since the mark (an unpermitted or oversized
    /// PUBLISH, a refused subscription), in order, each with its reason.
    pub fn drops(&self) -> Vec<Dropped> {
        self.shared.observed.drops()
    }

    /// Applies a scenario's profile override over the run's profile, from the next packet on;
    /// `None` goes back to the run's profile. Says so in the event stream when it changes
    /// anything.
    pub fn set_override(&self, o: Option<ProfileOverride>) {
        let before = self.shared.policy.profile();
        self.shared.policy.set_override(o.as_ref());
        if *before != *self.shared.policy.profile() {
            let text = match &o {
                Some(_) => "cloud profile: the scenario's override applies",
                None => "cloud profile: back to the run's profile",
            };
            self.shared.note(None, text);
        }
    }

    /// The profile in force now (the run's, with the current override).
    pub fn profile(&self) -> CloudProfile {
        CloudProfile::clone(&self.shared.policy.profile())
    }

    /// From now on, `wait_seen`, `seen` and `refusals` ignore earlier traffic, which is
    /// forgotten (call at the start of each scenario). Injected faults that have not fired are
    /// forgotten too.
    pub fn mark(&self) -> Mark {
        self.clear_faults();
        self.shared.observed.mark()
    }

    /// Injects `fault` for `target` (see broker/fault/board.rs for which faults wait for a
    /// CONNECT and which act on the live connection). Fails for a fault that cannot be carried
    /// out (bad hex, an unknown device) or once the broker is shut down.
    pub fn inject(&self, target: FaultTarget, fault: Fault) -> Result<(), BrokerError> {
        if *self.stop.borrow() {
            return Err(BrokerError::ShutDown);
        }
        let refused = |reason: String| BrokerError::Fault {
            fault: fault.to_string(),
            reason,
        };
        fault.validate().map_err(refused)?;
        if let FaultTarget::Device(name) = &target {
            if self.shared.policy.devices().get(name).is_none() {
                return Err(refused(format!("no device `{name}` is registered")));
            }
        }
        let text = format!("fault: {fault} for {target}");
        self.shared.faults.inject(target, fault, |placement| {
            let text = match placement {
                Placement::Waiting => format!("{text}; waits for its CONNECT"),
                Placement::Delivered(conns) => format!("{text}; applies to conn {conns:?}"),
            };
            self.shared.note(None, text);
        });
        Ok(())
    }

    /// Forgets faults that have not fired, saying so when there were any.
    fn clear_faults(&self) {
        let forgotten = self.shared.faults.clear();
        if forgotten > 0 {
            self.shared.note(
                None,
                format!("fault: {forgotten} faults never fired and are cleared at the mark"),
            );
        }
    }

    /// Stops accepting, closes every device connection and the cloud link, and waits for
    /// them up to `within`. rumqttd itself cannot be stopped and idles until the process
    /// exits (see `rumqttd.rs`). Calling it again returns at once; afterwards `publish`
    /// fails with [`BrokerError::ShutDown`].
    pub async fn shutdown(&self, within: Duration) -> Result<(), BrokerError> {
        let deadline = tokio::time::Instant::now() + within;
        self.stop.send_replace(true);
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        let joined = tokio::time::timeout_at(deadline, async {
            for task in &mut tasks {
                let _ = task.await;
            }
        })
        .await;
        if joined.is_err() {
            tasks.iter().for_each(JoinHandle::abort);
            return Err(BrokerError::ShutdownTimeout { waited: within });
        }
        self.cloud.close();
        Ok(())
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runner shares one handle between scenario tasks.
    #[test]
    fn handle_is_send_and_sync() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<BrokerHandle>();
    }

    #[tokio::test]
    async fn shutdown_is_idempotent_and_stops_publishing() {
        let broker = Broker::start(
            BrokerConfig::new(DeviceRegistry::default()),
            EventSink::discard(),
        )
        .await
        .unwrap();
        broker.shutdown(Duration::from_secs(3)).await.unwrap();
        broker.shutdown(Duration::from_secs(3)).await.unwrap();
        assert!(matches!(
            broker.publish("/t", b"x", QoS::AtMostOnce),
            Err(BrokerError::ShutDown)
        ));
        // The gateway no longer accepts.
        assert!(tokio::net::TcpStream::connect(broker.addr()).await.is_err());
    }
}
