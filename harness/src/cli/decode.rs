//! `athil decode`: MQTT packets from hex (or from a module's serial capture) with an annotated
//! field-by-field breakdown and a plain-language diagnosis of every mistake, each at its exact
//! byte offset. Exit 0 when every packet is valid, 1 when any error is found, 2 when the input
//! is unusable (not hex, file unreadable, no socket data in a capture).

use std::io::Read;
use std::path::PathBuf;

use crate::exit::ExitCode;
use crate::module::capture::{extract_socket_payloads, SocketChunk};
use crate::mqtt::decode::{Diagnostic, Severity};
use crate::mqtt::render::{to_json, to_text};
use crate::mqtt::{dissect, parse_hex};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    athil decode 20 02 00 00\n  \
    athil decode --file connect.hex --format json\n  \
    athil decode --serial '0D 0A 2B 49 50 44 2C 34 3A 20 02 00 00 0D 0A'\n  \
    pbpaste | athil decode -")]
pub struct Args {
    /// Hex bytes as the seeds print them (`10 70 00 04 …`, also `0x10,0x70` or `107000`);
    /// several arguments are joined. `-` or nothing reads standard input.
    #[arg(value_name = "HEX", conflicts_with = "file")]
    pub hex: Vec<String>,
    /// Read the hex from a file (`#` comments allowed).
    #[arg(long, short, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Output format: an annotated table, or one JSON object for tools.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The input is a module's serial capture: strip the AT framing (`+IPD,<n>:`,
    /// `+QIURC: "recv",<id>,<n>`) and decode the MQTT it carried. Offsets are then
    /// positions in the capture.
    #[arg(long)]
    pub serial: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run(args: Args) -> ExitCode {
    let text = match read_input(&args) {
        Ok(t) => t,
        Err(message) => {
            eprintln!("athil decode: failed to {message}");
            return ExitCode::Usage;
        }
    };
    let input = match parse_hex(&text) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("athil decode: failed to {e}");
            return ExitCode::Usage;
        }
    };
    let (stream, chunks) = if args.serial {
        let chunks = extract_socket_payloads(&input);
        if chunks.is_empty() {
            eprintln!(
                "athil decode: failed to find socket data in the serial capture: no `+IPD,<n>:` \
                 or `+QIURC: \"recv\",<id>,<n>` notice with payload (is it raw MQTT? drop --serial)"
            );
            return ExitCode::Usage;
        }
        let stream: Vec<u8> = chunks
            .iter()
            .flat_map(|c| c.bytes.iter().copied())
            .collect();
        (stream, chunks)
    } else {
        (input, Vec::new())
    };
    let mut dissection = dissect(&stream);
    if let Some(cut) = truncation(&chunks, stream.len()) {
        dissection.stream_diagnostics.push(cut);
    }
    let offset = |o: usize| serial_offset(&chunks, o);
    match args.format {
        Format::Text => print!("{}", to_text(&dissection, &stream, &offset)),
        Format::Json => println!("{}", to_json(&dissection, &offset)),
    }
    if dissection.is_valid() {
        ExitCode::Success
    } else {
        ExitCode::Failure
    }
}

/// The hex text from the arguments, the file or standard input; `Err` reads after "failed to".
fn read_input(args: &Args) -> Result<String, String> {
    if let Some(path) = &args.file {
        return std::fs::read_to_string(path)
            .map_err(|e| format!("read hex file `{}`: {e}", path.display()));
    }
    if args.hex.is_empty() || args.hex == ["-"] {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("read hex from standard input: {e}"))?;
        return Ok(text);
    }
    Ok(args.hex.join(" "))
}

/// The error for a capture that ends inside a socket payload, placed (in stream offsets) at the
/// end of the stream, which maps to where the missing bytes should have been in the capture.
/// Only the last chunk can be cut off: the parser counts every earlier payload out in full.
fn truncation(chunks: &[SocketChunk], stream_len: usize) -> Option<Diagnostic> {
    let last = chunks.last().filter(|c| c.is_truncated())?;
    let header = if last.header.is_empty() {
        "the socket-data notice".to_string()
    } else {
        format!("`{}`", last.header)
    };
    Some(Diagnostic {
        offset: stream_len,
        severity: Severity::Error,
        message: format!(
            "{header} announces {} but the capture ends after {}: the capture was cut off, or \
             the module's length is wrong",
            bytes(last.announced),
            last.bytes.len()
        ),
    })
}

fn bytes(n: usize) -> String {
    match n {
        1 => "1 byte".to_string(),
        n => format!("{n} bytes"),
    }
}

/// Maps an offset in the concatenated socket payloads to the capture offset it came from.
/// Without chunks (plain hex input) offsets are already input offsets.
fn serial_offset(chunks: &[SocketChunk], offset: usize) -> usize {
    let mut start = 0;
    for c in chunks {
        if offset < start + c.bytes.len() {
            return c.serial_offset + (offset - start);
        }
        start += c.bytes.len();
    }
    // One past the end (where "the input ends" diagnostics point): after the last payload byte.
    match chunks.last() {
        Some(c) => c.serial_offset + c.bytes.len() + (offset - start),
        None => offset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_across_chunks() {
        // Two +IPD notices each carrying half of `20 02 00 00`.
        let chunks = vec![
            SocketChunk {
                serial_offset: 9,
                header: "+IPD,2:".to_string(),
                announced: 2,
                bytes: vec![0x20, 0x02],
            },
            SocketChunk {
                serial_offset: 22,
                header: "+IPD,2:".to_string(),
                announced: 2,
                bytes: vec![0x00, 0x00],
            },
        ];
        let mapped: Vec<usize> = (0..5).map(|o| serial_offset(&chunks, o)).collect();
        assert_eq!(mapped, [9, 10, 22, 23, 24]);
        assert_eq!(serial_offset(&[], 7), 7);
        assert_eq!(truncation(&chunks, 4), None);
    }

    #[test]
    fn a_cut_off_chunk_is_an_error_at_the_end_of_the_stream() {
        let chunks = extract_socket_payloads(b"+IPD,10:\x20\x02\x00\x00");
        let cut = truncation(&chunks, 4).expect("the capture is cut off");
        assert_eq!(cut.offset, 4);
        assert_eq!(serial_offset(&chunks, cut.offset), 12);
        assert_eq!(cut.severity, Severity::Error);
        assert_eq!(
            cut.message,
            "`+IPD,10:` announces 10 bytes but the capture ends after 4: the capture was cut \
             off, or the module's length is wrong"
        );
    }
}
