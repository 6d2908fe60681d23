//! `cargo bench --bench broker`: athil broker, plain rumqttd and mosquitto measured side by
//! side in one run (issue 7), printed as one table plus issue 7's targets.
//!
//! Why a `cargo bench` target and not an `athil bench` subcommand: the load clients are
//! benchmark code, not a lab command, and stay out of the shipped binary; `cargo bench` builds
//! athil in the release profile, so the broker measured is the one labs run (a debug build
//! would measure the wrong thing); and `CARGO_BIN_EXE_athil` points at that very binary. The
//! plain-rumqttd peer needs a process of its own, which the hidden `athil bench-peer rumqttd`
//! gives (only `broker/` may import rumqttd).
//!
//! Options (after `--`): `--brokers athil,rumqttd,mosquitto`, `--messages N` (per direction
//! per QoS, default 200,000), `--window N`, `--rounds N` (runs of each throughput flow,
//! alternating between the brokers; the median is reported), `--first-downlink N`,
//! `--rss-messages N`, `--devices N`,
//! `--reconnects N`, `--login-concurrency N`, `--hold-ms N`.

// Shared with tests/bench_broker_short.rs, which uses parts this file does not.
#[allow(dead_code)]
#[path = "broker_suite/mod.rs"]
mod broker_suite;

use std::path::PathBuf;
use std::time::Duration;

use broker_suite::{BrokerKind, Settings};

fn main() -> std::process::ExitCode {
    let mut settings = Settings::benchmark(PathBuf::from(env!("CARGO_BIN_EXE_athil")));
    if let Err(e) = parse_args(&mut settings) {
        eprintln!("broker benchmark: {e}");
        return std::process::ExitCode::from(2);
    }
    match broker_suite::raise_fd_limit() {
        Ok(n) => eprintln!("broker benchmark: open-files limit {n}"),
        Err(e) => eprintln!("broker benchmark: failed to raise the open-files limit: {e}"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("broker benchmark: failed to start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let progress = |line: &str| eprintln!("broker benchmark: {line}");
    match runtime.block_on(broker_suite::run(&settings, &progress)) {
        Ok(columns) => {
            print!("{}", broker_suite::print(&columns, &settings));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("broker benchmark: failed to {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn parse_args(s: &mut Settings) -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        // cargo passes `--bench` to every bench target.
        if flag == "--bench" {
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: {value:?} is not a number"))
        };
        match flag.as_str() {
            "--brokers" => {
                s.brokers = value
                    .split(',')
                    .map(|b| {
                        BrokerKind::parse(b).ok_or_else(|| {
                            format!("unknown broker {b:?} (athil, rumqttd, mosquitto)")
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
            "--messages" => s.messages = number()?,
            "--window" => s.window = number()? as usize,
            "--rounds" => s.rounds = number()?.max(1) as usize,
            "--first-downlink" => s.first_downlink = number()? as usize,
            "--rss-messages" => s.rss_messages = number()?,
            "--devices" => s.devices = number()? as usize,
            "--reconnects" => s.reconnects = number()? as usize,
            "--login-concurrency" => s.login_concurrency = number()?.max(1) as usize,
            "--hold-ms" => s.hold = Duration::from_millis(number()?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(())
}
