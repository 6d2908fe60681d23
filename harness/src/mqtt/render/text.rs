//! The human breakdown `athil decode` prints: each packet as a table of offset, bytes, field
//! and value (flag bits and worked-out lengths underneath), its diagnostics right below it,
//! and a one-line verdict.

use std::fmt::Write;

use crate::mqtt::hex::to_hex;
use crate::mqtt::{Diagnostic, Dissection, PacketDissection, Severity};

/// Bytes shown in full in the bytes column; longer fields are cut with `…`.
const BYTES_SHOWN: usize = 8;

/// Renders `d`, made from `data`; `offset` maps dissected-input offsets to displayed ones.
pub fn to_text(d: &Dissection, data: &[u8], offset: &dyn Fn(usize) -> usize) -> String {
    let mut out = String::new();
    let mut stream = d.stream_diagnostics.iter().peekable();
    for (i, p) in d.packets.iter().enumerate() {
        while let Some(diag) = stream.next_if(|x| x.offset < p.offset) {
            diagnostic(&mut out, diag, offset, "");
        }
        if i > 0 || !out.is_empty() {
            out.push('\n');
        }
        packet(&mut out, p, data, offset);
    }
    for diag in stream {
        out.push('\n');
        diagnostic(&mut out, diag, offset, "");
    }
    let all = d.diagnostics();
    let errors = all.iter().filter(|x| x.severity == Severity::Error).count();
    let warnings = all.len() - errors;
    let _ = writeln!(
        out,
        "\n{}, {}, {}: {}",
        plural(d.packets.len(), "packet"),
        plural(errors, "error"),
        plural(warnings, "warning"),
        if d.is_valid() { "valid" } else { "INVALID" }
    );
    out
}

fn packet(out: &mut String, p: &PacketDissection, data: &[u8], offset: &dyn Fn(usize) -> usize) {
    let size = match p.declared_length {
        Some(n) if n == p.length => plural(n, "byte"),
        Some(n) => format!("{} of {n} bytes present", p.length),
        None => format!("{} present, length unknown", plural(p.length, "byte")),
    };
    let _ = writeln!(
        out,
        "{} at offset {}, {size}",
        p.packet_type,
        offset(p.offset)
    );
    let w = p
        .fields
        .iter()
        .map(|f| f.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    let _ = writeln!(
        out,
        "  {:>6}  {:<26}  {:<w$}  value",
        "offset", "bytes", "field"
    );
    for f in &p.fields {
        let bytes = data.get(f.offset..f.offset + f.len).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:>6}  {:<26}  {:<w$}  {}",
            offset(f.offset),
            shown_bytes(bytes),
            f.name,
            f.value
        );
        for line in &f.details {
            let _ = writeln!(out, "  {:>6}  {:<26}  {:<w$}    {line}", "", "", "");
        }
    }
    for diag in &p.diagnostics {
        diagnostic(out, diag, offset, "  ");
    }
}

fn diagnostic(out: &mut String, d: &Diagnostic, offset: &dyn Fn(usize) -> usize, indent: &str) {
    let label = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(
        out,
        "{indent}{label} at offset {}: {}",
        offset(d.offset),
        d.message
    );
}

fn shown_bytes(bytes: &[u8]) -> String {
    if bytes.len() <= BYTES_SHOWN {
        to_hex(bytes)
    } else {
        format!("{} … ({})", to_hex(&bytes[..BYTES_SHOWN - 2]), bytes.len())
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::dissect;

    #[test]
    fn connack_refusal_of_seed_002_reads_plainly() {
        let data = [0x20, 0x02, 0x00, 0x04];
        let text = to_text(&dissect(&data), &data, &|o| o);
        assert!(text.starts_with("CONNACK at offset 0, 4 bytes\n"), "{text}");
        assert!(
            text.contains("       3  04                          return code  "),
            "{text}"
        );
        assert!(
            text.contains("4 (refused: bad user name or password)"),
            "{text}"
        );
        assert!(
            text.ends_with("1 packet, 0 errors, 0 warnings: valid\n"),
            "{text}"
        );
    }

    #[test]
    fn long_fields_are_cut_and_diagnostics_follow_their_packet() {
        let mut data = vec![0x30, 0x0C, 0x00, 0x01, b'a'];
        data.extend_from_slice(b"123456789");
        data.extend_from_slice(&[0x0D, 0x0A]);
        let text = to_text(&dissect(&data), &data, &|o| o);
        assert!(text.contains("31 32 33 34 35 36 … (9)"), "{text}");
        assert!(
            text.contains("\nerror at offset 14: remaining length of the PUBLISH"),
            "{text}"
        );
        assert!(
            text.ends_with("1 packet, 1 error, 0 warnings: INVALID\n"),
            "{text}"
        );
    }
}
