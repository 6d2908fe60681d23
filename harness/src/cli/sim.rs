//! `athil sim`: the virtual ESP8266 (or Quectel EC20/BG96) stand-alone on a pseudo-terminal, so any program (a serial
//! terminal, socat, picocom, pyserial) can drive it. Prints the device path, serves until
//! Ctrl-C, SIGTERM or SIGHUP (a stand-alone server's normal end: exit 0, the `--link` removed).

use std::path::PathBuf;

use crate::exit::ExitCode;

use super::signals::StopSignals;
use crate::sim::personality;
use crate::sim::{spawn, AccessPoint, FirmwareChoice, Flavour, NameMap, SimConfig, SimError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A YAML sim config (firmware, access points, name map, timing, faults); the flags
    /// below override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// An access point the module can join, as SSID:PASSWORD (SSID alone for an open one).
    /// Repeatable; replaces the configured list.
    #[arg(long = "ap", value_name = "SSID:PASSWORD")]
    pub access_points: Vec<String>,
    /// A name-map entry HOST=ADDR: HOST may use `*` for one label part
    /// (`*.iot-as-mqtt.*.aliyuncs.com`); ADDR is IP or IP:PORT on 127.0.0.0/8. Repeatable;
    /// takes precedence over the configured entries.
    #[arg(long = "map", value_name = "HOST=ADDR")]
    pub names: Vec<String>,
    /// The AT port's baud rate (what the boot banner is garbled against, and the pace).
    #[arg(long, value_name = "N")]
    pub baud: Option<u32>,
    /// Let output leave at the wire rate of --baud (10 bits per byte), like a real UART.
    #[arg(long)]
    pub pace: bool,
    /// Which firmware's bytes to speak: nonos (ESP8266 NonOS AT 1.7), esp-at (ESP-AT 2.2),
    /// or a Quectel cellular module's QI dialect (quectel-ec20, quectel-bg96).
    #[arg(long, value_name = "nonos|esp-at|quectel-ec20|quectel-bg96")]
    pub firmware: Option<FirmwareChoice>,
    /// Also create PATH as a stable symlink to the pseudo-terminal (removed on exit).
    #[arg(long, value_name = "PATH")]
    pub link: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    let config = match resolve(&args) {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    let ssids: Vec<&str> = config
        .access_points
        .iter()
        .map(|ap| ap.ssid.as_str())
        .collect();
    let ssids = ssids.join(", ");
    let mut sim = match spawn(config.clone()) {
        Ok(sim) => sim,
        Err(e) => return fail(&e),
    };
    if let Some(link) = &args.link {
        if let Err(e) = sim.create_link(link) {
            sim.shutdown();
            return fail(&e);
        }
    }
    println!(
        "athil sim: {} on {} ({} baud)",
        personality::describe(&config),
        sim.device_path().display(),
        config.baud
    );
    if let Some(link) = sim.link_path() {
        println!(
            "athil sim: linked {} -> {}",
            link.display(),
            sim.device_path().display()
        );
    }
    let about = match (&config.quectel, config.firmware) {
        (Some(q), _) => format!(
            "{} ({}); registered {} ms after power-on",
            q.model.name(),
            q.model.revision(),
            q.registration_ms
        ),
        (None, Flavour::Nonos) => format!("NonOS AT 1.7; access points: {ssids}"),
        (None, Flavour::EspAt) => format!("ESP-AT 2.2; access points: {ssids}"),
    };
    // The signals are caught before saying how to stop, so a service manager's SIGTERM right
    // after that line still removes the link.
    let waited = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|rt| {
            let mut signals = {
                let _inside = rt.enter();
                StopSignals::install()?
            };
            println!("athil sim: {about}; Ctrl-C to stop");
            Ok(rt.block_on(signals.next()))
        });
    let stopped = sim.shutdown();
    match waited {
        Ok(_) if stopped => ExitCode::Success,
        Ok(_) => {
            eprintln!("athil sim: failed to stop every thread within 2 s");
            ExitCode::Failure
        }
        Err(e) => {
            eprintln!("athil sim: failed to catch SIGINT, SIGTERM and SIGHUP: {e}");
            ExitCode::Failure
        }
    }
}

/// The config file (or the default) with the command-line flags applied, validated.
fn resolve(args: &Args) -> Result<SimConfig, SimError> {
    let mut config = match &args.config {
        Some(path) => SimConfig::load(path)?,
        None => SimConfig::default(),
    };
    if !args.access_points.is_empty() {
        config.access_points = args
            .access_points
            .iter()
            // Each gets its own BSSID, channel and RSSI by its place (`radios_assigned`).
            .map(|entry| match entry.split_once(':') {
                Some((ssid, password)) => AccessPoint::new(ssid, password),
                None => AccessPoint::new(entry, ""),
            })
            .collect();
    }
    let mut problems = Vec::new();
    for entry in args.names.iter().rev() {
        match NameMap::parse_entry(entry) {
            Ok(rule) => config.names.prepend(&rule.host, rule.to),
            Err(problem) => problems.push(problem),
        }
    }
    if !problems.is_empty() {
        return Err(SimError::InvalidConfig { problems });
    }
    if let Some(baud) = args.baud {
        config.baud = baud;
    }
    config.pace |= args.pace;
    if let Some(choice) = args.firmware {
        config.choose_firmware(choice);
    }
    config.validate()?;
    Ok(config)
}

fn fail(error: &SimError) -> ExitCode {
    let mut message = format!("athil sim: failed to {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("{message}");
    ExitCode::Usage
}
