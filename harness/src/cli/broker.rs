//! `athil broker` (being written; see the issue tracker).

use crate::exit::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    eprintln!("athil broker: not implemented yet");
    ExitCode::Usage
}
