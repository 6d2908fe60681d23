//! The `athil` binary: logging set-up and dispatch; everything else is in the library.

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let cli = athil::cli::Cli::parse();
    // rumqttd logs its own internals (a client that left, a router detail) at error level;
    // they are not the lab engineer's business unless asked for with -vv.
    let default = match cli.verbose {
        0 => "warn,rumqttd=off",
        1 => "info,rumqttd=warn",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("ATHIL_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    athil::cli::dispatch(cli).into()
}
