//! Socket payloads read back out of a recorded serial stream, for `athil decode --serial`:
//! [`extract_socket_payloads`] reads the module's side with the same [`AtParser`] the driver
//! uses, with receive rules that accept both ESP (`+IPD`) and Quectel (`+QIURC: "recv"`)
//! framing, so a capture decodes without saying which module made it;
//! [`extract_sent_payloads`] reads the host's side, where a send command of any dialect
//! announces the bytes that follow.

use std::sync::Arc;

use super::at::{AtEvent, AtParser};
use super::dialect::{DialectKind, EspAt, LineKind, Quectel, ReceiveRules, SocketHeader};

/// A header longer than this is not looked for when naming a chunk's notice: the longest real
/// one, ESP-AT's `+IPD,<id>,<len>,"<IPv6>",<port>:`, is under 70 bytes.
const MAX_HEADER: usize = 128;

/// The bytes one socket-data notice carried, and where they start in the capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketChunk {
    /// Offset of the first payload byte in the capture (after the `+IPD,<n>:` header).
    pub serial_offset: usize,
    /// The notice as the module printed it, without its line end (`+IPD,4:`,
    /// `+QIURC: "recv",0,4`), for messages; empty if it cannot be found.
    pub header: String,
    /// How many payload bytes the notice announced.
    pub announced: usize,
    /// The payload bytes the capture holds: `announced` of them unless it was cut off.
    pub bytes: Vec<u8>,
}

impl SocketChunk {
    /// The capture ends before all the announced bytes arrived.
    pub fn is_truncated(&self) -> bool {
        self.bytes.len() < self.announced
    }
}

/// Every socket payload in `capture`, in order. `capture` is what the module sent; the host's
/// bytes must not be mixed in (a CIPSEND payload would read as text). Payload bytes are counted, never scanned, so
/// CR, LF, 0x00 or `+IPD` inside them are data. A payload cut off by the end of the capture
/// (even right after its header) is returned with the bytes that are there and the length its
/// header announced, so a decoder can say it is truncated ([`SocketChunk::is_truncated`]).
pub fn extract_socket_payloads(capture: &[u8]) -> Vec<SocketChunk> {
    let mut parser = AtParser::new(Arc::new(AnyVendor));
    let feed = parser.feed(capture);
    let mut chunks: Vec<SocketChunk> = feed
        .events
        .into_iter()
        .filter_map(|located| match located.event {
            AtEvent::SocketData { bytes, .. } => Some(SocketChunk {
                serial_offset: located.serial_offset,
                header: header_before(capture, located.serial_offset),
                announced: bytes.len(),
                bytes,
            }),
            AtEvent::Echo(_)
            | AtEvent::Line(_)
            | AtEvent::Final(_)
            | AtEvent::Busy(_)
            | AtEvent::Prompt
            | AtEvent::Urc(_) => None,
        })
        .collect();
    if let Some((_, start, bytes)) = parser.unfinished_payload() {
        let bytes = bytes.to_vec();
        let announced = announced_length(&mut parser, bytes.len());
        chunks.push(SocketChunk {
            serial_offset: start,
            header: header_before(capture, start),
            announced,
            bytes,
        });
    }
    chunks
}

/// Every socket payload in the host's side of a capture, given as the writes the host made,
/// in order (a command line each, or data after a prompt, as RT-Thread's `sendline` dumps
/// show them). A write that is a length-counted send command of any dialect
/// (`AT+QISEND=0,37`, `AT+CIPSEND=4`) makes the next n bytes the host wrote its payload,
/// whichever writes carry them. Offsets count the host's bytes; a payload the capture cuts
/// short comes back truncated, as in [`extract_socket_payloads`].
pub fn extract_sent_payloads(writes: &[&[u8]]) -> Vec<SocketChunk> {
    let mut chunks = Vec::new();
    let mut open: Option<SocketChunk> = None;
    let mut offset = 0;
    for write in writes {
        match open.as_mut() {
            Some(chunk) => {
                let take = (chunk.announced - chunk.bytes.len()).min(write.len());
                chunk.bytes.extend_from_slice(&write[..take]);
                if chunk.bytes.len() == chunk.announced {
                    chunks.extend(open.take());
                }
            }
            None => {
                let command = String::from_utf8_lossy(write);
                let announced = DialectKind::ALL
                    .into_iter()
                    .find_map(|kind| kind.dialect().announced_send(&command));
                if let Some((_, len)) = announced {
                    open = Some(SocketChunk {
                        serial_offset: offset + write.len(),
                        header: command.trim_end().to_string(),
                        announced: len,
                        bytes: Vec::with_capacity(len),
                    });
                }
            }
        }
        offset += write.len();
    }
    chunks.extend(open);
    chunks
}

/// The length the unfinished payload's header announced, by the parser's own count: filler
/// bytes complete the payload, which then comes out whole. `have` bytes already arrived.
fn announced_length(parser: &mut AtParser, have: usize) -> usize {
    // No header the parser accepts announces more than 65 535 bytes, so this always completes it.
    let filler = vec![0u8; u16::MAX as usize + 1];
    parser
        .feed(&filler)
        .events
        .into_iter()
        .find_map(|located| match located.event {
            AtEvent::SocketData { bytes, .. } => Some(bytes.len()),
            AtEvent::Echo(_)
            | AtEvent::Line(_)
            | AtEvent::Final(_)
            | AtEvent::Busy(_)
            | AtEvent::Prompt
            | AtEvent::Urc(_) => None,
        })
        // Unreachable with the parser's cap; "one more than arrived" is still a truncation.
        .unwrap_or(have + 1)
}

/// The socket-data header that ends at `payload_start`, as text without its line end: the last
/// `+IPD,` or `+QIURC:` in the bytes just before the payload (the header is the tail of its
/// line, and neither prefix can occur inside a header's numbers).
fn header_before(capture: &[u8], payload_start: usize) -> String {
    let end = payload_start.min(capture.len());
    let from = end.saturating_sub(MAX_HEADER);
    let window = &capture[from..end];
    let start = [b"+IPD,".as_slice(), b"+QIURC:".as_slice()]
        .iter()
        .filter_map(|prefix| window.windows(prefix.len()).rposition(|w| w == *prefix))
        .max();
    match start {
        Some(start) => String::from_utf8_lossy(&window[start..])
            .trim_end_matches(['\r', '\n'])
            .to_string(),
        None => String::new(),
    }
}

/// Receive rules that read both vendors' framing. Only for decoding captures: the two header
/// forms cannot be confused (`+IPD,` vs `+QIURC: "recv",`), so accepting both is safe here.
#[derive(Debug)]
struct AnyVendor;

impl ReceiveRules for AnyVendor {
    fn classify_line(&self, line: &str) -> LineKind {
        match EspAt.classify_line(line) {
            LineKind::Info => Quectel.classify_line(line),
            known => known,
        }
    }

    fn socket_header(&self, line: &[u8]) -> Option<SocketHeader> {
        EspAt
            .socket_header(line)
            .or_else(|| Quectel.socket_header(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn chunk(serial_offset: usize, header: &str, announced: usize, bytes: &[u8]) -> SocketChunk {
        SocketChunk {
            serial_offset,
            header: header.to_string(),
            announced,
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn seed_000_connack_after_ipd() {
        // Seed 000, Air601 answering the Alibaba Cloud CONNECT.
        let capture = [
            0x0D, 0x0A, 0x2B, 0x49, 0x50, 0x44, 0x2C, 0x34, 0x3A, 0x20, 0x02, 0x00, 0x00, 0x0D,
            0x0A,
        ];
        assert_eq!(
            extract_socket_payloads(&capture),
            vec![chunk(9, "+IPD,4:", 4, &[0x20, 0x02, 0x00, 0x00])]
        );
        assert!(!extract_socket_payloads(&capture)[0].is_truncated());
    }

    #[test]
    fn seed_004_quectel_recv_after_send_ok() {
        // Seed 004 (RT-Thread log, EC200U to OneNET), the module's bytes joined in order:
        // `\r\n>` ` \r\n` `SEND OK\r\n` `\r\n` `+QIURC: "recv",0,4\r\n` 20 02 00 00 `\r\n`.
        let mut capture = b"\r\n> \r\nSEND OK\r\n\r\n+QIURC: \"recv\",0,4\r\n".to_vec();
        let offset = capture.len();
        capture.extend_from_slice(&[0x20, 0x02, 0x00, 0x00, 0x0D, 0x0A]);
        assert_eq!(
            extract_socket_payloads(&capture),
            vec![chunk(
                offset,
                "+QIURC: \"recv\",0,4",
                4,
                &[0x20, 0x02, 0x00, 0x00]
            )]
        );
    }

    #[test]
    fn a_whole_session_with_echo_prompt_and_two_links() {
        let capture = b"AT+CIPSEND=0,4\r\n\r\nOK\r\n> \r\nRecv 4 bytes\r\n\r\nSEND OK\r\n\
\r\n+IPD,0,4:\x20\x02\x00\x00\r\n+IPD,1,6:\r\nOK\r\n0,CLOSED\r\n";
        let got = extract_socket_payloads(capture);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].bytes, [0x20, 0x02, 0x00, 0x00]);
        assert_eq!(&capture[got[0].serial_offset..][..4], &got[0].bytes[..]);
        assert_eq!(got[0].header, "+IPD,0,4:");
        assert_eq!(got[1].bytes, b"\r\nOK\r\n");
        assert_eq!(got[1].header, "+IPD,1,6:");
        assert_eq!(&capture[got[1].serial_offset..][..6], b"\r\nOK\r\n");
    }

    #[test]
    fn seed_004_host_side_connect_after_qisend() {
        // Seed 004's sendline dumps: the command (RT-Thread logs it without its CR LF), then
        // the 37 CONNECT bytes, which the log splits over two lines.
        let connect: Vec<u8> = (0..37).collect();
        let writes: [&[u8]; 3] = [b"AT+QISEND=0,37", &connect[..32], &connect[32..]];
        assert_eq!(
            extract_sent_payloads(&writes),
            vec![chunk(14, "AT+QISEND=0,37", 37, &connect)]
        );
    }

    #[rstest]
    #[case::esp_then_text(
        vec![b"AT+CIPSEND=0,4\r\n".as_slice(), b"\x20\x02\x00\x00", b"AT\r\n"],
        vec![chunk(16, "AT+CIPSEND=0,4", 4, &[0x20, 0x02, 0x00, 0x00])]
    )]
    #[case::cut_short(
        vec![b"AT+QISEND=1,10".as_slice(), b"\xC0\x00"],
        vec![chunk(14, "AT+QISEND=1,10", 10, &[0xC0, 0x00])]
    )]
    #[case::no_send(vec![b"AT+QIACT=1".as_slice(), b"ATI"], vec![])]
    // A variable-length send (ended by Ctrl+Z) announces no count.
    #[case::ctrl_z_send(vec![b"AT+QISEND=0".as_slice(), b"hi\x1A"], vec![])]
    fn host_side_payloads(#[case] writes: Vec<&[u8]>, #[case] want: Vec<SocketChunk>) {
        assert_eq!(extract_sent_payloads(&writes), want);
    }

    #[rstest]
    #[case::header_only(b"\r\n+IPD,4:".as_slice(), vec![chunk(9, "+IPD,4:", 4, &[])])]
    #[case::half_payload(
        b"\r\n+IPD,4:\x20\x02".as_slice(),
        vec![chunk(9, "+IPD,4:", 4, &[0x20, 0x02])]
    )]
    // The review's capture: `+IPD,10:` then only a CONNACK's 4 bytes.
    #[case::ipd_10_of_4(
        b"+IPD,10:\x20\x02\x00\x00".as_slice(),
        vec![chunk(8, "+IPD,10:", 10, &[0x20, 0x02, 0x00, 0x00])]
    )]
    #[case::quectel_10_of_4(
        b"\r\n+QIURC: \"recv\",0,10\r\n\x20\x02\x00\x00".as_slice(),
        vec![chunk(23, "+QIURC: \"recv\",0,10", 10, &[0x20, 0x02, 0x00, 0x00])]
    )]
    #[case::esp_remote_ip(
        b"+IPD,0,3,\"192.168.1.5\",1883:\xD0".as_slice(),
        vec![chunk(28, "+IPD,0,3,\"192.168.1.5\",1883:", 3, &[0xD0])]
    )]
    #[case::no_socket_data(b"AT\r\n\r\nOK\r\n".as_slice(), vec![])]
    #[case::empty(b"".as_slice(), vec![])]
    fn truncated_and_empty_captures(#[case] capture: &[u8], #[case] want: Vec<SocketChunk>) {
        let got = extract_socket_payloads(capture);
        assert_eq!(got, want);
        assert!(got.iter().all(SocketChunk::is_truncated));
    }
}
