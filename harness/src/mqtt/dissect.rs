//! Dissecting a whole byte stream: every packet in it, with fields and diagnostics, carrying
//! on past broken packets whenever a sensible place to resume exists. Main type:
//! [`Dissection`], made by [`dissect`]; `athil decode` renders it.
//!
//! The stream-level judgement is about boundaries. A packet's remaining length fixes where the
//! next one starts; when the bytes there cannot start a packet, the likelier story is that the
//! remaining length was miscounted (seed 002 wrote `94 01` for 152), so they are reported as
//! extra bytes of the packet before, with the length that would have covered them.

use crate::mqtt::decode::reader::n_bytes;
use crate::mqtt::decode::{dissect_at, Diagnostic, PacketDissection, Severity};
use crate::mqtt::framer::header;
use crate::mqtt::hex::to_hex;
use crate::mqtt::remaining_length::encode_remaining_length;

/// Every packet found in an input, and the problems between them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dissection {
    pub packets: Vec<PacketDissection>,
    /// Problems outside any packet: bytes that start no packet, AT framing in the input.
    pub stream_diagnostics: Vec<Diagnostic>,
}

impl Dissection {
    /// All diagnostics, packets' and the stream's, in offset order.
    pub fn diagnostics(&self) -> Vec<&Diagnostic> {
        let mut all: Vec<&Diagnostic> = self
            .packets
            .iter()
            .flat_map(|p| p.diagnostics.iter())
            .chain(self.stream_diagnostics.iter())
            .collect();
        all.sort_by_key(|d| d.offset);
        all
    }

    /// No error anywhere (warnings allowed) and every packet complete and decoded.
    pub fn is_valid(&self) -> bool {
        self.packets.iter().all(|p| p.is_valid())
            && self
                .stream_diagnostics
                .iter()
                .all(|d| d.severity != Severity::Error)
    }

    /// Rewrites every offset, e.g. from offsets in the MQTT stream to offsets in the serial
    /// capture it was carried in.
    pub fn map_offsets(&mut self, map: impl Fn(usize) -> usize) {
        for p in &mut self.packets {
            p.offset = map(p.offset);
            for f in &mut p.fields {
                f.offset = map(f.offset);
            }
            for d in &mut p.diagnostics {
                d.offset = map(d.offset);
            }
        }
        for d in &mut self.stream_diagnostics {
            d.offset = map(d.offset);
        }
    }
}

/// Dissects every packet in `data`.
pub fn dissect(data: &[u8]) -> Dissection {
    let mut out = Dissection::default();
    if let Some(at) = at_framing(data) {
        out.stream_diagnostics.push(Diagnostic {
            offset: at,
            severity: Severity::Warning,
            message: format!(
                "the input holds AT command text at offset {at}: is this a serial capture? \
                 `athil decode --serial` strips the AT framing"
            ),
        });
    }
    let mut clean = CleanRuns::new(data);
    let mut pos = 0;
    while pos < data.len() {
        let previous = out
            .packets
            .last()
            .filter(|p| p.offset + p.length == pos)
            .map(|p| (p.offset, p.packet_type, p.declared_length));
        let try_packet = match previous {
            None => true,
            Some(_) => starts_packet_after_another(data, pos, &mut clean),
        };
        let why_not = if try_packet {
            match dissect_at(data, pos) {
                Ok(p) => {
                    pos += p.length.max(1);
                    out.packets.push(p);
                    continue;
                }
                Err(d) => d.message,
            }
        } else {
            String::new()
        };
        let next = resync(data, pos, &mut clean);
        let extra = &data[pos..next];
        let mut message = match previous {
            Some((p_offset, p_type, Some(declared))) => {
                let rl = declared - header_len(data, p_offset);
                let covering = rl + extra.len();
                let mut m = if next == data.len() {
                    format!(
                        "remaining length of the {p_type} at offset {p_offset} says {rl} but \
                         {covering} bytes follow: {} ({}) at offset {pos} {} no packet",
                        match extra.len() {
                            1 => "1 extra byte".to_string(),
                            n => format!("{n} extra bytes"),
                        },
                        preview(extra),
                        start_verb(extra.len())
                    )
                } else {
                    format!(
                        "{} ({}) at offset {pos}, between the {p_type} at offset {p_offset} \
                         and the next packet at offset {next}, {} no packet",
                        n_bytes(extra.len()),
                        preview(extra),
                        start_verb(extra.len())
                    )
                };
                if let Ok(enc) = encode_remaining_length(covering) {
                    m.push_str(&format!(
                        "; if they belong to the {p_type}, its remaining length is {covering}, \
                         encoded {}",
                        to_hex(&enc)
                    ));
                }
                m
            }
            _ => format!(
                "{} ({}) at offset {pos} {} not an MQTT packet: {why_not}",
                n_bytes(extra.len()),
                preview(extra),
                if extra.len() == 1 { "is" } else { "are" }
            ),
        };
        if previous.is_some() && extra.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            message.push_str(" — a CR/LF the terminal or serial tool appended?");
        }
        out.stream_diagnostics.push(Diagnostic {
            offset: pos,
            severity: Severity::Error,
            message,
        });
        pos = next;
    }
    out
}

/// After a complete packet, do the next bytes start another one, or are they leftovers of
/// the packet before? A valid first byte says "packet"; a first byte with wrong flags only
/// when the bytes from there frame exactly to the end of the input.
fn starts_packet_after_another(data: &[u8], pos: usize, clean: &mut CleanRuns) -> bool {
    let first = data[pos];
    let Some(t) = crate::mqtt::packet::PacketType::from_nibble(first >> 4) else {
        return false;
    };
    let flags = first & 0x0F;
    let flags_ok = match t {
        crate::mqtt::packet::PacketType::Publish => (flags >> 1) & 3 != 3,
        crate::mqtt::packet::PacketType::Subscribe
        | crate::mqtt::packet::PacketType::Unsubscribe
        | crate::mqtt::packet::PacketType::Pubrel => flags == 0b0010,
        _ => flags == 0,
    };
    flags_ok || clean.frames_to_end(pos)
}

/// Where to resume after bytes that start no packet: the first offset from which the rest
/// is all valid packets; failing that, the first valid packet of 4 bytes or more (so a CONNACK
/// between AT text and a trailing CR LF is still found); failing that, the end.
fn resync(data: &[u8], pos: usize, clean: &mut CleanRuns) -> usize {
    if let Some(p) = (pos + 1..data.len()).find(|&p| clean.is_clean(p)) {
        return p;
    }
    (pos + 1..data.len())
        .find(|&p| matches!(dissect_at(data, p), Ok(d) if d.is_valid() && d.length >= 4))
        .unwrap_or(data.len())
}

fn header_len(data: &[u8], offset: usize) -> usize {
    match header(&data[offset..]) {
        Ok(Some((len, _))) => len,
        _ => 1,
    }
}

fn start_verb(n: usize) -> &'static str {
    if n == 1 {
        "starts"
    } else {
        "start"
    }
}

fn preview(bytes: &[u8]) -> String {
    crate::mqtt::decode::reader::preview(bytes, 8)
}

/// Where AT command text appears in what should be raw MQTT, if it does.
fn at_framing(data: &[u8]) -> Option<usize> {
    const MARKERS: [&[u8]; 4] = [b"+IPD,", b"+QIURC:", b"AT+CIPSEND", b"AT+QISEND"];
    MARKERS
        .iter()
        .filter_map(|m| data.windows(m.len()).position(|w| w == *m))
        .min()
}

/// Memoised answers to "from here on, is the input a run of valid, complete packets?", so
/// resynchronising after garbage costs one dissection per offset at most.
struct CleanRuns<'a> {
    data: &'a [u8],
    clean: Vec<Option<bool>>,
    frames: Vec<Option<bool>>,
}

impl<'a> CleanRuns<'a> {
    fn new(data: &'a [u8]) -> CleanRuns<'a> {
        CleanRuns {
            data,
            clean: vec![None; data.len() + 1],
            frames: vec![None; data.len() + 1],
        }
    }

    /// From `start`, only valid complete packets up to the end (the end itself is clean).
    fn is_clean(&mut self, start: usize) -> bool {
        let data = self.data;
        self.chain(start, true, |p| match dissect_at(data, p) {
            Ok(d) if d.is_valid() => Some(p + d.length),
            _ => None,
        })
    }

    /// From `start`, whole frames (contents unchecked) that end exactly at the end.
    fn frames_to_end(&mut self, start: usize) -> bool {
        let data = self.data;
        self.chain(start, false, |p| match header(&data[p..]) {
            Ok(Some((h, r))) if p + h + r <= data.len() => Some(p + h + r),
            _ => None,
        })
    }

    fn chain(&mut self, start: usize, clean: bool, step: impl Fn(usize) -> Option<usize>) -> bool {
        let end = self.data.len();
        let memo = if clean {
            &mut self.clean
        } else {
            &mut self.frames
        };
        let mut visited = Vec::new();
        let mut p = start;
        let answer = loop {
            if p == end {
                break true;
            }
            if let Some(known) = memo[p] {
                break known;
            }
            visited.push(p);
            match step(p) {
                Some(next) if next > p => p = next,
                _ => break false,
            }
        };
        for v in visited {
            memo[v] = Some(answer);
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::packet::PacketType;

    /// Packets as (offset, type, length) and diagnostics as (offset, severity).
    type Summary = (Vec<(usize, PacketType, usize)>, Vec<(usize, Severity)>);

    fn summary(d: &Dissection) -> Summary {
        (
            d.packets
                .iter()
                .map(|p| (p.offset, p.packet_type, p.length))
                .collect(),
            d.diagnostics()
                .iter()
                .map(|x| (x.offset, x.severity))
                .collect(),
        )
    }

    #[test]
    fn serial_capture_given_as_plain_hex_still_finds_the_connack() {
        // Seed 000's [Rx] line: "\r\n+IPD,4:" 20 02 00 00 "\r\n".
        let data = [
            0x0D, 0x0A, 0x2B, 0x49, 0x50, 0x44, 0x2C, 0x34, 0x3A, 0x20, 0x02, 0x00, 0x00, 0x0D,
            0x0A,
        ];
        let d = dissect(&data);
        assert_eq!(
            summary(&d),
            (
                vec![(9, PacketType::Connack, 4)],
                vec![
                    (0, Severity::Error),
                    (2, Severity::Warning),
                    (13, Severity::Error)
                ]
            )
        );
        assert!(d.stream_diagnostics[0].message.contains("--serial"));
    }

    #[test]
    fn garbage_between_packets_is_skipped_and_named() {
        let d = dissect(&[0xC0, 0x00, 0xFF, 0xFF, 0xD0, 0x00]);
        assert_eq!(
            summary(&d),
            (
                vec![(0, PacketType::Pingreq, 2), (4, PacketType::Pingresp, 2)],
                vec![(2, Severity::Error)]
            )
        );
        assert_eq!(
            d.stream_diagnostics[0].message,
            "2 bytes (FF FF) at offset 2, between the PINGREQ at offset 0 and the next packet at \
             offset 4, start no packet; if they belong to the PINGREQ, its remaining length is 2, \
             encoded 02"
        );
    }

    #[test]
    fn a_wrong_first_byte_after_a_packet_is_a_packet_when_it_frames_to_the_end() {
        // The second CONNACK has flags 0001: reported on it, not as leftovers of the first.
        let d = dissect(&[0x20, 0x02, 0x00, 0x00, 0x21, 0x02, 0x00, 0x00]);
        assert_eq!(
            summary(&d),
            (
                vec![(0, PacketType::Connack, 4), (4, PacketType::Connack, 4)],
                vec![(4, Severity::Error)]
            )
        );
        assert!(d.packets[1].diagnostics[0]
            .message
            .starts_with("CONNACK's first byte must be 20"));
    }

    #[test]
    fn an_incomplete_last_packet_is_a_packet() {
        let d = dissect(&[0xC0, 0x00, 0x30, 0x0A, 0x00]);
        assert_eq!(
            summary(&d).0,
            vec![(0, PacketType::Pingreq, 2), (2, PacketType::Publish, 3)]
        );
        assert!(!d.packets[1].is_complete());
        assert!(!d.is_valid());
    }

    #[test]
    fn offsets_can_be_mapped_into_a_capture() {
        let mut d = dissect(&[0xC0, 0x00, 0xD0, 0x01]);
        d.map_offsets(|o| o + 100);
        assert_eq!(d.packets[1].offset, 102);
        assert_eq!(d.packets[1].fields[0].offset, 102);
        assert_eq!(d.diagnostics()[0].offset, 103);
    }

    #[test]
    fn empty_input_has_nothing_and_is_valid() {
        let d = dissect(&[]);
        assert!(d.packets.is_empty() && d.is_valid());
    }
}
