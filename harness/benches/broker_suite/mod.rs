//! The broker benchmark: athil broker, plain rumqttd and mosquitto measured side by side in
//! one run, each a child process, the load clients in this process. `cargo bench --bench
//! broker` prints the full table (`../broker.rs`); `tests/bench_broker_short.rs` runs the same
//! code with tiny counts and asserts only correctness, so the benchmark cannot rot.
//! Main items: [`Settings`], [`run`], [`Column`], [`print`].

pub mod brokers;
pub mod client;
pub mod flow;
pub mod measure;
pub mod table;

use std::path::PathBuf;
use std::time::Duration;

use athil::mqtt::QoS;

pub use brokers::BrokerKind;
use brokers::{Fleet, RunningBroker};
pub use flow::{Flow, FlowShape};
pub use measure::{FirstDownlink, Held, Reconnects, RssGrowth, Way};
pub use table::print;

/// A measurement's figures, or why there are none (printed in the broker's column).
pub type Outcome<T> = Result<T, String>;

/// The counts and sizes of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The `athil` binary (athil broker and the plain-rumqttd peer).
    pub athil: PathBuf,
    pub brokers: Vec<BrokerKind>,
    /// Messages per direction per QoS.
    pub messages: u64,
    /// Messages in flight at most, for throughput.
    pub window: usize,
    /// Times each throughput flow is run; the median run is reported. One run of a couple of
    /// seconds swings by half either way on a shared 2-core machine.
    pub rounds: usize,
    /// Payload bytes of the throughput messages.
    pub payload: usize,
    /// Rounds of SUBSCRIBE → SUBACK → first downlink.
    pub first_downlink: usize,
    /// How long a first downlink may take before it counts as not arrived.
    pub first_downlink_wait: Duration,
    /// QoS 0 messages each way, of `rss_payload` bytes, between the two RSS readings.
    pub rss_messages: u64,
    pub rss_payload: usize,
    /// Concurrent device connections to hold.
    pub devices: usize,
    pub login_concurrency: usize,
    /// How long the devices stay up before they are asked for a PINGRESP.
    pub hold: Duration,
    pub reconnects: usize,
    /// A flow gives up when nothing has moved for this long.
    pub idle: Duration,
}

impl Settings {
    /// The benchmark's defaults (issue 7's figures).
    pub fn benchmark(athil: PathBuf) -> Settings {
        Settings {
            athil,
            brokers: BrokerKind::ALL.to_vec(),
            messages: 200_000,
            window: 100,
            rounds: 5,
            payload: 64,
            first_downlink: 50,
            first_downlink_wait: Duration::from_secs(2),
            rss_messages: 100_000,
            rss_payload: 1024,
            devices: 10_000,
            login_concurrency: 200,
            hold: Duration::from_secs(3),
            reconnects: 10_000,
            idle: Duration::from_secs(10),
        }
    }

    /// Tiny counts for the test suite: correctness, not speed.
    pub fn short(athil: PathBuf) -> Settings {
        Settings {
            messages: 200,
            window: 20,
            rounds: 1,
            first_downlink: 5,
            rss_messages: 300,
            devices: 50,
            login_concurrency: 20,
            hold: Duration::from_millis(500),
            reconnects: 200,
            ..Settings::benchmark(athil)
        }
    }

    fn shape(&self, qos: QoS) -> FlowShape {
        FlowShape {
            count: self.messages,
            qos,
            window: self.window,
            payload: self.payload,
            idle: self.idle,
        }
    }
}

/// One broker's figures.
#[derive(Debug, Clone)]
pub struct Column {
    pub broker: BrokerKind,
    /// Set when the broker could not be run at all (not installed, did not start).
    pub skipped: Option<String>,
    /// Uplink and downlink flows at QoS 0 and QoS 1.
    pub up: [Outcome<Flow>; 2],
    pub down: [Outcome<Flow>; 2],
    pub first_downlink: Outcome<FirstDownlink>,
    pub rss: Outcome<RssGrowth>,
    pub held: Outcome<Held>,
    pub reconnects: Outcome<Reconnects>,
}

impl Column {
    fn all(broker: BrokerKind, why: &str) -> Column {
        let why = why.to_owned();
        Column {
            broker,
            skipped: Some(why.clone()),
            up: [Err(why.clone()), Err(why.clone())],
            down: [Err(why.clone()), Err(why.clone())],
            first_downlink: Err(why.clone()),
            rss: Err(why.clone()),
            held: Err(why.clone()),
            reconnects: Err(why),
        }
    }
}

/// Raises this process's soft open-files limit to the hard one: the client sockets of the
/// devices-held measurement are all opened here (the brokers inherit the raised limit).
pub fn raise_fd_limit() -> Result<u64, String> {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
        }
        lim.rlim_cur = lim.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
        }
        // rlim_t is u64 on Linux; the conversion keeps other targets building.
        #[allow(clippy::unnecessary_cast)]
        Ok(lim.rlim_cur as u64)
    }
}

/// Measures every broker in `settings.brokers` and returns a column each. `progress` gets a
/// line as each measurement starts (the benchmark prints them; a long run should not look
/// hung).
///
/// All the brokers are up during the throughput rounds (an idle one costs nothing) and the
/// rounds alternate between them: a spell in which the shared machine is slow then costs one
/// round of each broker, not every round of one, and the ratios compare like with like.
pub async fn run(settings: &Settings, progress: &dyn Fn(&str)) -> Result<Vec<Column>, String> {
    // Two devices at least: one for the flows, one for the reconnects.
    let fleet = Fleet::generate(settings.devices.max(2))?;
    let mut benched = Vec::new();
    for &kind in &settings.brokers {
        progress(&format!("{}: starting", kind.title()));
        benched.push(Benched::start(kind, settings, &fleet));
    }
    let rounds = settings.rounds.max(1);
    for round in 1..=rounds {
        for b in benched.iter_mut() {
            b.throughput_round(settings, &fleet, (round, rounds), progress)
                .await;
        }
    }
    let mut columns = Vec::new();
    for b in benched {
        columns.push(b.finish(settings, &fleet, progress).await);
    }
    Ok(columns)
}

/// One broker under measurement: its column so far and the process, while it runs.
struct Benched {
    column: Column,
    broker: Option<RunningBroker>,
    /// Each throughput flow's runs so far, by QoS.
    ups: [Vec<Outcome<Flow>>; 2],
    downs: [Vec<Outcome<Flow>>; 2],
}

impl Benched {
    fn start(kind: BrokerKind, settings: &Settings, fleet: &Fleet) -> Benched {
        let skipped = |why: String| Benched {
            column: Column::all(kind, &why),
            broker: None,
            ups: Default::default(),
            downs: Default::default(),
        };
        if kind == BrokerKind::Mosquitto && brokers::mosquitto_path().is_none() {
            return skipped("skipped: mosquitto is not installed".to_owned());
        }
        match brokers::start(kind, &settings.athil, fleet) {
            Ok(broker) => {
                let mut column = Column::all(kind, "");
                column.skipped = None;
                Benched {
                    column,
                    broker: Some(broker),
                    ups: Default::default(),
                    downs: Default::default(),
                }
            }
            Err(why) => skipped(format!("did not start: {why}")),
        }
    }

    /// Runs all four throughput flows once: round `(n, of)`.
    async fn throughput_round(
        &mut self,
        settings: &Settings,
        fleet: &Fleet,
        (round, rounds): (usize, usize),
        progress: &dyn Fn(&str),
    ) {
        let Some(broker) = &mut self.broker else {
            return;
        };
        let kind = self.column.broker;
        let step = |what: &str| progress(&format!("{}: {what}", kind.title()));
        let of = if rounds > 1 {
            format!(" (round {round} of {rounds})")
        } else {
            String::new()
        };
        let device = &fleet.devices[0];
        for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce].into_iter().enumerate() {
            step(&format!("uplink QoS {}{of}", qos as u8));
            let up = measure::flow(broker, device, Way::Up, settings.shape(qos)).await;
            self.ups[i].push(checked(broker, up));
            step(&format!("downlink QoS {}{of}", qos as u8));
            let down = measure::flow(broker, device, Way::Down, settings.shape(qos)).await;
            self.downs[i].push(checked(broker, down));
        }
    }

    /// The medians, then the measurements that run once.
    async fn finish(self, settings: &Settings, fleet: &Fleet, progress: &dyn Fn(&str)) -> Column {
        let Benched {
            mut column,
            broker,
            mut ups,
            mut downs,
        } = self;
        let Some(mut broker) = broker else {
            return column;
        };
        let kind = column.broker;
        let step = |what: &str| progress(&format!("{}: {what}", kind.title()));
        for i in 0..2 {
            column.up[i] = median(std::mem::take(&mut ups[i]));
            column.down[i] = median(std::mem::take(&mut downs[i]));
        }
        let device = &fleet.devices[0];
        step("first downlink after SUBSCRIBE");
        let first = measure::first_downlink(
            &broker,
            device,
            settings.first_downlink,
            settings.first_downlink_wait,
        )
        .await;
        column.first_downlink = checked(&mut broker, first);
        step("RSS around the long QoS 0 run");
        let shape = FlowShape {
            count: settings.rss_messages,
            qos: QoS::AtMostOnce,
            window: settings.window,
            payload: settings.rss_payload,
            idle: settings.idle,
        };
        let rss = measure::rss_growth(&mut broker, device, shape).await;
        column.rss = checked(&mut broker, rss);
        step("quick reconnects");
        let reconnects = measure::reconnects(&broker, &fleet.devices[1], settings.reconnects).await;
        column.reconnects = checked(&mut broker, reconnects);
        // The devices are held by a fresh broker, so its RSS is theirs and not the traffic's.
        drop(broker);
        step(&format!("{} concurrent devices", settings.devices));
        column.held = match brokers::start(kind, &settings.athil, fleet) {
            Ok(mut b) => {
                let devices = &fleet.devices[..settings.devices];
                let held = measure::devices_held(
                    &mut b,
                    devices,
                    settings.login_concurrency,
                    settings.hold,
                )
                .await;
                checked(&mut b, held)
            }
            Err(why) => Err(format!("did not start: {why}")),
        };
        column
    }
}

/// The run with the median throughput; a failed run fails the measurement (a broker that
/// loses messages once in five is not fast, it is broken).
fn median(runs: Vec<Outcome<Flow>>) -> Outcome<Flow> {
    let mut flows = Vec::with_capacity(runs.len());
    for run in runs {
        flows.push(run?);
    }
    flows.sort_by(|a, b| a.per_sec.total_cmp(&b.per_sec));
    let middle = flows.len() / 2;
    flows
        .into_iter()
        .nth(middle)
        .ok_or_else(|| "no run".to_owned())
}

/// A measurement's outcome, with the broker's exit added to the reason when it died on it.
fn checked<T>(broker: &mut RunningBroker, outcome: Outcome<T>) -> Outcome<T> {
    match (outcome, broker.alive()) {
        (Err(why), Err(died)) => Err(format!("{why}; {died}")),
        (outcome, _) => outcome,
    }
}
