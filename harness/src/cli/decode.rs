//! `athil decode`: MQTT packets from hex (or from a module's serial capture) with an annotated
//! field-by-field breakdown and a plain-language diagnosis of every mistake, each at its exact
//! byte offset. Exit 0 when every packet is valid, 1 when any error is found, 2 when the input
//! is unusable (not hex, file unreadable, no socket data in a capture, a bad RT-Thread dump).
//!
//! With `--serial`, a console log holding RT-Thread's `[D/AT] sendline:`/`recvline:`/
//! `urc_recv:` dumps is read as such: the AT exchange in both directions, then the MQTT the
//! host sent and the MQTT the module delivered.

use std::io::Read;
use std::path::PathBuf;

use crate::exit::ExitCode;
use crate::module::capture::{extract_sent_payloads, extract_socket_payloads, SocketChunk};
use crate::module::rt_log::{is_rt_log, read_rt_log, Direction, LogRecord};
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
    /// positions in the capture. A log of RT-Thread's AT client (`[D/AT] sendline: 0000-0020:
    /// 41 54 …`) is read in both directions: the exchange, then the MQTT each side sent.
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
    if args.serial && is_rt_log(&text) {
        return run_rt_log(&text, args.format);
    }
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

/// `--serial` on an RT-Thread AT log: the exchange, then each direction's socket data decoded.
/// Offsets count the bytes of that direction in the log.
fn run_rt_log(text: &str, format: Format) -> ExitCode {
    let records = match read_rt_log(text) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("athil decode: failed to {e}");
            return ExitCode::Usage;
        }
    };
    let side = |d: Direction| -> Vec<&[u8]> {
        records
            .iter()
            .filter(|r| r.kind.direction() == d)
            .map(|r| r.bytes.as_slice())
            .collect()
    };
    let host = extract_sent_payloads(&side(Direction::HostToModule));
    let module = extract_socket_payloads(&side(Direction::ModuleToHost).concat());
    if host.is_empty() && module.is_empty() {
        eprintln!(
            "athil decode: failed to find socket data in the RT-Thread AT log: no send command              with a count (`AT+QISEND=<id>,<n>`, `AT+CIPSEND=<n>`) and no `+IPD,<n>:` or              `+QIURC: \"recv\",<id>,<n>` notice with payload"
        );
        return ExitCode::Usage;
    }
    let sides = [
        (Direction::HostToModule, decoded(&host)),
        (Direction::ModuleToHost, decoded(&module)),
    ];
    let valid = sides.iter().all(|(_, side)| side.valid);
    match format {
        Format::Text => {
            print!("{}", exchange_text(&records));
            for (direction, side) in &sides {
                if !side.chunks.is_empty() {
                    println!("\n{direction}, socket data (offsets count the {direction} bytes of the log):");
                    print!("{}", side.text);
                }
            }
        }
        Format::Json => {
            let exchange: Vec<serde_json::Value> = records
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "line": r.first_line,
                        "direction": match r.kind.direction() {
                            Direction::HostToModule => "host_to_module",
                            Direction::ModuleToHost => "module_to_host",
                        },
                        "dump": r.kind.name(),
                        "hex": crate::mqtt::to_hex(&r.bytes),
                    })
                })
                .collect();
            let [(_, host), (_, module)] = &sides;
            println!(
                "{}",
                serde_json::json!({
                    "valid": valid,
                    "exchange": exchange,
                    "host_to_module": host.json,
                    "module_to_host": module.json,
                })
            );
        }
    }
    if valid {
        ExitCode::Success
    } else {
        ExitCode::Failure
    }
}

/// One direction of a log, decoded.
struct Decoded {
    chunks: Vec<SocketChunk>,
    text: String,
    json: serde_json::Value,
    valid: bool,
}

fn decoded(chunks: &[SocketChunk]) -> Decoded {
    let stream: Vec<u8> = chunks
        .iter()
        .flat_map(|c| c.bytes.iter().copied())
        .collect();
    let mut dissection = dissect(&stream);
    if let Some(cut) = truncation(chunks, stream.len()) {
        dissection.stream_diagnostics.push(cut);
    }
    let offset = |o: usize| serial_offset(chunks, o);
    Decoded {
        chunks: chunks.to_vec(),
        text: to_text(&dissection, &stream, &offset),
        json: to_json(&dissection, &offset),
        valid: dissection.is_valid(),
    }
}

/// The exchange, one logged buffer a line: text as text (CR and LF escaped), binary as hex.
fn exchange_text(records: &[LogRecord]) -> String {
    let mut out = format!("RT-Thread AT log, {} buffers:\n", records.len());
    for r in records {
        let lines = if r.first_line == r.last_line {
            format!("line {}", r.first_line)
        } else {
            format!("lines {}-{}", r.first_line, r.last_line)
        };
        out.push_str(&format!(
            "  {lines:<11} {}  {}\n",
            r.kind.direction(),
            shown(&r.bytes)
        ));
    }
    out
}

/// Bytes as text when they are text (`AT+QISEND=0,37`, `SEND OK\r\n`), else as hex with a
/// count.
fn shown(bytes: &[u8]) -> String {
    let text = bytes
        .iter()
        .all(|&b| (0x20..0x7F).contains(&b) || b == b'\r' || b == b'\n');
    if text {
        String::from_utf8_lossy(bytes)
            .replace('\r', "\\r")
            .replace('\n', "\\n")
    } else {
        format!(
            "{}  ({})",
            crate::mqtt::to_hex(bytes),
            self::bytes(bytes.len())
        )
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
