//! `athil broker`: runs the impersonating cloud broker stand-alone, for boards whose own
//! firmware drives the module, and logs each connection, refusal and packet on one line each
//! until Ctrl-C. With `--cloud-listen` it also opens the credentialed cloud side, where any
//! MQTT client that logs in with the cloud's user name and password publishes downlinks and
//! watches uplinks, as the real cloud's console and server APIs do.
//!
//! Secrets: a CONNECT's password is masked in the hex (`**` per byte), because OneNET's legacy
//! login sends the device secret itself as the password. A refused Alibaba Cloud login of a
//! public fixture (secret inline in its YAML) shows the expected and the sent sign: comparing
//! the two HMACs is how a hand-built CONNECT gets fixed (seed 002). For a device whose secret
//! comes from `device_secret_env` or `device_secret_file` the valid sign is a login that never
//! expires, so its refusal names the input that differs instead (`cloud::SignDiffers`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::broker::{
    Broker, BrokerConfig, BrokerHandle, CloudApiConfig, CloudCredential, Fault, FaultTarget,
    Listen, Window,
};
use crate::exit::ExitCode;

use super::broker_log::{log_lines, DEFAULT_PACKETS_PER_SECOND};
use super::signals::StopSignals;
use crate::run::EventSink;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address modules connect to (the cloud's MQTT port is 1883).
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub listen: SocketAddr,
    /// Directory of device YAML files (ProductKey, DeviceName, DeviceSecret).
    #[arg(long, default_value = "fixtures/devices")]
    pub devices: PathBuf,
    /// Cloud profile (YAML): the rules the gateway plays, e.g. fixtures/profiles/aliyun.yaml.
    /// Absent keys keep the documented defaults (docs/cloud-fidelity.md).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// OneNET profile (YAML): the OneNET rules no source confirms, e.g.
    /// fixtures/profiles/onenet.yaml. Absent keys keep the defaults (docs/cloud-fidelity.md).
    #[arg(long, value_name = "FILE")]
    pub onenet_profile: Option<PathBuf>,
    /// A fault injected at start-up (repeatable): `refuse_next_connect 5`, `delay connack 2s`,
    /// `delay suback 1s 3`, `drop_link [after_next_packet]`, `black_hole downlink 500ms`,
    /// `split_next 2 50ms`, `send_raw 20 02 00`, or YAML such as
    /// `{ delay: { packet: connack, by: 2s } }`. Faults wait for the next CONNECT.
    #[arg(long = "fault", value_name = "FAULT", value_parser = parse_fault)]
    pub faults: Vec<Fault>,
    /// A YAML file holding a list of faults to inject at start-up, as scenarios write them.
    #[arg(long, value_name = "FILE")]
    pub fault_file: Option<PathBuf>,
    /// Aim the start-up faults at this device (registry name, e.g. `aliyun/device2`) instead
    /// of at whichever device connects first.
    #[arg(long, value_name = "NAME")]
    pub fault_device: Option<String>,
    /// Also listen here for the cloud side (e.g. 127.0.0.1:1884): an MQTT client that logs in
    /// with `--cloud-user` and the cloud password may subscribe to any topic (every device's
    /// uplinks) and publish downlinks. Needs the password, from `--cloud-password-file` or
    /// ATHIL_CLOUD_PASSWORD.
    #[arg(long, value_name = "ADDR")]
    pub cloud_listen: Option<SocketAddr>,
    /// The cloud side's user name.
    #[arg(long, value_name = "NAME", default_value = "cloud")]
    pub cloud_user: String,
    /// A file whose first line is the cloud side's password.
    #[arg(long, value_name = "FILE")]
    pub cloud_password_file: Option<PathBuf>,
    /// Packet lines each connection may log per second; the rest of that second are counted
    /// and summed up in one line by packet type (connections, refusals and notes are always
    /// logged). 0 logs every packet.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PACKETS_PER_SECOND)]
    pub log_packets: u32,
}

/// The cloud side's listener and credential, if asked for.
fn cloud_api(args: &Args) -> Result<Option<CloudApiConfig>, String> {
    let Some(listen) = args.cloud_listen else {
        return Ok(None);
    };
    let user = args.cloud_user.clone();
    let credential = match (
        &args.cloud_password_file,
        std::env::var("ATHIL_CLOUD_PASSWORD"),
    ) {
        (Some(path), _) => CloudCredential::from_file(user, path),
        (None, Ok(password)) => CloudCredential::new(user, password),
        (None, Err(_)) => {
            return Err(
                "open the cloud side on --cloud-listen: it needs a password, from \
                 --cloud-password-file FILE or the ATHIL_CLOUD_PASSWORD environment variable"
                    .to_owned(),
            )
        }
    };
    let credential = credential.map_err(|e| e.to_string())?;
    Ok(Some(CloudApiConfig { listen, credential }))
}

fn parse_fault(text: &str) -> Result<Fault, String> {
    text.parse()
}

/// The `--fault` faults, then the `--fault-file` ones.
fn startup_faults(args: &Args) -> Result<Vec<Fault>, String> {
    let mut faults = args.faults.clone();
    if let Some(path) = &args.fault_file {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("read `{shown}`: {e}"))?;
        let listed: Vec<Fault> = serde_yaml::from_str(&text)
            .map_err(|e| format!("read the faults in `{shown}`: {e}"))?;
        faults.extend(listed);
    }
    Ok(faults)
}

/// How often the log takes what the broker emitted: well under what a person notices, and
/// rare enough that the broker's tasks never wake the log's.
const LOG_EVERY: Duration = Duration::from_millis(10);

/// One thread runs every connection's task (the router has a thread of its own), as rumqttd
/// runs its own listeners: a message crosses tasks on one thread instead of waking a second
/// worker, which the benchmark measured at 0.7 × the throughput and twice the latency on two
/// cores. Nothing in a task blocks: sign checks are microseconds, and opening a router link
/// waits on the blocking pool.
pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("athil broker: failed to start the async runtime: {e}");
            return ExitCode::Usage;
        }
    };
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> ExitCode {
    let faults = match startup_faults(&args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("athil broker: failed to {e}");
            return ExitCode::Usage;
        }
    };
    let mut config = match BrokerConfig::from_devices_dir(&args.devices) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("athil broker: failed to {e}");
            return ExitCode::Usage;
        }
    };
    config.listen = Listen::Addr(args.listen);
    // Nobody marks a stand-alone broker's record: keep only recent traffic (memory stays flat).
    config.window = Window::recent();
    // The log shows whole packets; raw reads and writes would only cost a copy each.
    config.byte_events = false;
    // A flood's packets beyond each connection's budget are only counted, at the source.
    config.packet_events_per_second = (args.log_packets > 0).then_some(args.log_packets);
    match cloud_api(&args) {
        Ok(api) => config.cloud_api = api,
        Err(e) => {
            eprintln!("athil broker: failed to {e}");
            return ExitCode::Usage;
        }
    }
    if let Some(path) = &args.profile {
        match crate::broker::CloudProfile::load(path) {
            Ok(p) => config.profile = p,
            Err(e) => {
                eprintln!("athil broker: failed to {e}");
                return ExitCode::Usage;
            }
        }
    }
    if let Some(path) = &args.onenet_profile {
        match crate::broker::OneNetProfile::load(path) {
            Ok(p) => config.policy.install_onenet(p),
            Err(e) => {
                eprintln!("athil broker: failed to {e}");
                return ExitCode::Usage;
            }
        }
    }
    let device_count = config.policy.devices().len();
    // Caught before the broker says where it listens, so a stop right after start is clean.
    let mut signals = match StopSignals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("athil broker: failed to catch the stop signals: {e}");
            return ExitCode::Usage;
        }
    };
    let (events, mut rx) = EventSink::channel();
    let broker: BrokerHandle = match Broker::start(config, events).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("athil broker: failed to {e}");
            return ExitCode::Usage;
        }
    };
    let target = args
        .fault_device
        .clone()
        .map_or(FaultTarget::All, FaultTarget::Device);
    // Before saying where it listens: a board connecting at once must meet the faults.
    for fault in faults {
        if let Err(e) = broker.inject(target.clone(), fault) {
            eprintln!("athil broker: failed to {e}");
            let _ = broker.shutdown(Duration::from_secs(3)).await;
            return ExitCode::Usage;
        }
    }
    let cloud_side = match broker.cloud_api_addr() {
        Some(addr) => format!(", cloud side on {addr} (user {:?})", args.cloud_user),
        None => ", no cloud side (--cloud-listen)".to_owned(),
    };
    let (limit, why) = broker.capacity();
    println!(
        "athil broker: listening on {} for devices{cloud_side}, {device_count} devices from \
         {}; holds up to {limit} device connections ({why}); Ctrl-C or SIGTERM stops",
        broker.addr(),
        args.devices.display()
    );
    // Log until Ctrl-C; then print what shutting down added, without waiting for a channel
    // that outlives the handle. The queue of events is drained every `LOG_EVERY` rather than
    // awaited event by event: a receiver waiting on the channel makes every packet's send a
    // futex wake and a task switch (perf: a tenth of the broker's CPU under a flood), while
    // one that looks in on a timer is never woken. Lines go out in one write per drain, and a
    // flood's packets beyond the per-connection budget are only counted, in the broker itself
    // (`broker/packet_budget.rs`).
    let mut lines = Vec::new();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut write = |lines: &mut Vec<String>| {
        use std::io::Write;
        for line in lines.drain(..) {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    };
    let mut drain = tokio::time::interval(LOG_EVERY);
    drain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = drain.tick() => {
                while let Ok(stamped) = rx.try_recv() {
                    log_lines(&stamped, &mut lines);
                }
                write(&mut lines);
            }
            signal = signals.next() => {
                // A lab service is stopped this way (a service manager's SIGTERM, a closed
                // terminal's SIGHUP): a normal end, with the connections closed and logged.
                eprintln!("athil broker: {}: closing every connection", signal.label());
                break;
            }
        }
    }
    let result = broker.shutdown(Duration::from_secs(3)).await;
    while let Ok(stamped) = rx.try_recv() {
        log_lines(&stamped, &mut lines);
    }
    write(&mut lines);
    match result {
        Ok(()) => ExitCode::Success,
        Err(e) => {
            eprintln!("athil broker: failed to {e}");
            ExitCode::Failure
        }
    }
}
