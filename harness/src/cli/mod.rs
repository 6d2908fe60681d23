//! The `athil` command line: a thin layer over the library. Each subcommand owns one file with
//! its clap `Args` and a `run` that returns an [`ExitCode`]; parsing stays here.

pub mod bench_peer;
pub mod broker;
mod broker_log;
pub mod check;
pub mod decode;
pub mod encode;
pub mod run;
pub mod schema;
pub mod sign;
pub mod signals;
pub mod sim;

use clap::{Parser, Subcommand};

use crate::exit::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "athil",
    version,
    about = "Hardware-in-the-loop tests for AT-command modules speaking MQTT to a cloud IoT platform"
)]
pub struct Cli {
    /// More logging (-v info, -vv debug, -vvv trace); ATHIL_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

// The command line is parsed once per process: boxing the larger variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against a module (the virtual module by default) and the embedded broker.
    Run(run::Args),
    /// Validate scenario files without running them; lists every problem at once.
    Check(check::Args),
    /// Write the JSON Schema of the scenario format.
    Schema(schema::Args),
    /// Decode MQTT packets from hex (or a module's serial capture) with a field-by-field breakdown.
    Decode(decode::Args),
    /// Build an MQTT packet from fields and print it as hex with its AT send line.
    Encode(encode::Args),
    /// Compute cloud credentials (client id, username, password) and the CONNECT packet.
    Sign(sign::Args),
    /// Run the virtual ESP8266 module stand-alone on a pseudo-terminal.
    Sim(sim::Args),
    /// Run the impersonating cloud broker stand-alone.
    Broker(broker::Args),
    /// A benchmark peer (plain rumqttd) for `cargo bench --bench broker`; not a lab command.
    #[command(hide = true)]
    BenchPeer(bench_peer::Args),
}

/// Runs the parsed command line; the binary's `main` only sets up logging and calls this.
pub fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(a) => run::run(a),
        Command::Check(a) => check::run(a),
        Command::Schema(a) => schema::run(a),
        Command::Decode(a) => decode::run(a),
        Command::Encode(a) => encode::run(a),
        Command::Sign(a) => sign::run(a),
        Command::Sim(a) => sim::run(a),
        Command::Broker(a) => broker::run(a),
        Command::BenchPeer(a) => bench_peer::run(a),
    }
}
