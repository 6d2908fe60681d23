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

use super::signals::StopSignals;
use crate::mqtt::{encode, to_hex, Packet};
use crate::run::{EventSink, RunEvent, Stamped, TcpDirection};

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

pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
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
    // Log as events come, until Ctrl-C; then print what shutting down added, without waiting
    // for a channel that outlives the handle. Lines go through a buffer flushed whenever the
    // queue of events is empty, so a flood costs one write per batch, not per packet.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut print = |stamped: &Stamped, more: bool| {
        use std::io::Write;
        if let Some(line) = line(stamped) {
            let _ = writeln!(out, "{line}");
        }
        if !more {
            let _ = out.flush();
        }
    };
    loop {
        tokio::select! {
            Some(stamped) = rx.recv() => print(&stamped, !rx.is_empty()),
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
        print(&stamped, !rx.is_empty());
    }
    match result {
        Ok(()) => ExitCode::Success,
        Err(e) => {
            eprintln!("athil broker: failed to {e}");
            ExitCode::Failure
        }
    }
}

/// One log line for an event, or `None` for events this command does not show (raw TCP
/// chunks: every packet is shown whole instead).
fn line(s: &Stamped) -> Option<String> {
    let t = s.since_start.as_secs_f64();
    let text = match &s.event {
        RunEvent::TcpOpened {
            conn,
            client,
            server,
        } => format!("conn {conn} opened {client} -> {server}"),
        RunEvent::TcpClosed { conn, by_broker } => {
            let by = if *by_broker {
                "the broker"
            } else {
                "the device"
            };
            format!("conn {conn} closed by {by}")
        }
        RunEvent::MqttPacket {
            conn,
            direction,
            packet,
        } => {
            let arrow = match direction {
                TcpDirection::Uplink => "device -> broker",
                TcpDirection::Downlink => "broker -> device",
            };
            format!(
                "conn {conn} {arrow} {}  [{}]",
                redacted_hex(packet),
                summary(packet)
            )
        }
        RunEvent::BrokerNote {
            conn: Some(c),
            text,
        } => format!("conn {c} {text}"),
        RunEvent::BrokerNote { conn: None, text } => text.clone(),
        RunEvent::TcpData { .. }
        | RunEvent::RunStarted { .. }
        | RunEvent::ScenarioStarted { .. }
        | RunEvent::StepStarted { .. }
        | RunEvent::SerialOut { .. }
        | RunEvent::SerialIn { .. }
        | RunEvent::StepFinished { .. }
        | RunEvent::ScenarioFinished { .. }
        | RunEvent::RunFinished { .. } => return None,
    };
    Some(format!("[{t:9.3}s] {text}"))
}

/// Bytes of a packet the log shows as hex; a longer packet's hex ends with how many more
/// there are (its summary gives topic and length). Keeps a flood's log, and its cost, bounded.
const HEX_SHOWN: usize = 64;

/// The packet as hex, with a CONNECT's password (the sign, or OneNET's auth info, which *is*
/// the device secret) shown as `**` per byte. The password is the CONNECT's last field.
fn redacted_hex(packet: &Packet) -> String {
    let Ok(bytes) = encode(packet) else {
        return "(cannot be re-encoded)".to_owned();
    };
    let hidden = match packet {
        Packet::Connect(c) => c.password.as_ref().map_or(0, Vec::len),
        _ => 0,
    };
    let shown = bytes.len().saturating_sub(hidden);
    if hidden == 0 && shown > HEX_SHOWN {
        return format!(
            "{} … (+{} bytes)",
            to_hex(&bytes[..HEX_SHOWN]),
            shown - HEX_SHOWN
        );
    }
    let mut hex = to_hex(&bytes[..shown]);
    for _ in 0..hidden {
        hex.push_str(" **");
    }
    hex
}

fn summary(packet: &Packet) -> String {
    match packet {
        Packet::Connect(c) => format!(
            "CONNECT client {:?} user {:?} keepalive {}",
            c.client_id,
            c.username.as_deref().unwrap_or(""),
            c.keepalive
        ),
        Packet::Connack(c) => format!("CONNACK code {}", c.return_code),
        Packet::Publish(p) => format!(
            "PUBLISH QoS {} to {} ({} bytes)",
            p.qos as u8,
            p.topic,
            p.payload.len()
        ),
        Packet::Subscribe(s) => {
            let filters: Vec<String> = s
                .filters
                .iter()
                .map(|f| format!("{} QoS {}", f.filter, f.qos as u8))
                .collect();
            format!("SUBSCRIBE id {}: {}", s.packet_id, filters.join(", "))
        }
        Packet::Suback(s) => format!("SUBACK id {}: {}", s.packet_id, to_hex(&s.return_codes)),
        Packet::Unsubscribe(u) => {
            format!("UNSUBSCRIBE id {}: {}", u.packet_id, u.filters.join(", "))
        }
        other => other.packet_type().name().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::Connect;

    #[test]
    fn connect_password_is_masked_byte_for_byte() {
        let mut c = Connect::new("657077", 30);
        c.username = Some("20190156".into());
        c.password = Some(b"sn888".to_vec());
        let hex = redacted_hex(&Packet::Connect(c));
        // Seed 004's CONNECT up to the password's length prefix, then five masked bytes.
        assert!(
            hex.starts_with("10 23 00 04 4D 51 54 54 04 C2 00 1E 00 06 36 35 37 30 37 37"),
            "{hex}"
        );
        assert!(hex.ends_with("00 05 ** ** ** ** **"), "{hex}");
        assert!(!hex.contains("73 6E 38 38 38"), "{hex}");
    }

    #[test]
    fn other_packets_print_as_the_seeds_do() {
        let p = Packet::Pingresp;
        assert_eq!(redacted_hex(&p), "D0 00");
    }
}
