//! `athil bench-peer rumqttd --listen ADDR`, hidden from `--help`: a benchmark peer, not a lab
//! command. It serves plain rumqttd (no gateway, no auth, the embedded one's configuration) so
//! `cargo bench --bench broker` can compare athil broker with the broker it embeds, each in
//! a process of its own. The benchmark itself cannot host it: only `broker/` imports rumqttd.

use std::net::SocketAddr;

use crate::exit::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub peer: Peer,
}

#[derive(Debug, clap::Subcommand)]
pub enum Peer {
    /// Plain rumqttd with a v4 TCP listener and no auth, until killed.
    Rumqttd {
        /// Address to listen on (loopback only in the benchmark).
        #[arg(long)]
        listen: SocketAddr,
    },
}

pub fn run(args: Args) -> ExitCode {
    match args.peer {
        Peer::Rumqttd { listen } => {
            eprintln!(
                "athil bench-peer: plain rumqttd on {listen} (a benchmark peer); kill to stop"
            );
            let stopped = crate::broker::serve_plain_rumqttd(listen);
            eprintln!("athil bench-peer: failed to {stopped}");
            ExitCode::Failure
        }
    }
}
