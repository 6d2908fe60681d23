//! `athil schema [--out FILE]`: writes the scenario format's JSON Schema (draft-07), the one
//! committed as `scenarios/scenario.schema.json` for editors.

use std::path::PathBuf;

use crate::exit::ExitCode;
use crate::scenario::schema::schema_json;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the schema to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    let json = schema_json();
    match args.out {
        None => {
            print!("{json}");
            ExitCode::Success
        }
        Some(path) => match std::fs::write(&path, json) {
            Ok(()) => ExitCode::Success,
            Err(e) => {
                eprintln!("athil schema: failed to write `{}`: {e}", path.display());
                ExitCode::Usage
            }
        },
    }
}
