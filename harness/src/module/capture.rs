//! Socket payloads read back out of a recorded module-to-host serial stream, for
//! `athil decode --serial`: [`extract_socket_payloads`] runs the same [`AtParser`] the driver
//! uses, with receive rules that accept both ESP (`+IPD`) and Quectel (`+QIURC: "recv"`) framing,
//! so a capture decodes without saying which module made it.

use std::sync::Arc;

use super::at::{AtEvent, AtParser};
use super::dialect::{EspAt, LineKind, Quectel, ReceiveRules, SocketHeader};

/// The bytes one socket-data notice carried, and where they start in the capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketChunk {
    /// Offset of the first payload byte in the capture (after the `+IPD,<n>:` header).
    pub serial_offset: usize,
    pub bytes: Vec<u8>,
}

/// Every socket payload in `capture`, in order. `capture` is what the module sent; the host's
/// bytes must not be mixed in (a CIPSEND payload would read as text). Payload bytes are counted, never scanned, so
/// CR, LF, 0x00 or `+IPD` inside them are data. A payload cut off by the end of the capture is
/// returned with the bytes that are there, so a decoder can say it is truncated.
pub fn extract_socket_payloads(capture: &[u8]) -> Vec<SocketChunk> {
    let mut parser = AtParser::new(Arc::new(AnyVendor));
    let feed = parser.feed(capture);
    let mut chunks: Vec<SocketChunk> = feed
        .events
        .into_iter()
        .filter_map(|located| match located.event {
            AtEvent::SocketData { bytes, .. } => Some(SocketChunk {
                serial_offset: located.serial_offset,
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
        if !bytes.is_empty() {
            chunks.push(SocketChunk {
                serial_offset: start,
                bytes: bytes.to_vec(),
            });
        }
    }
    chunks
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

    fn chunk(serial_offset: usize, bytes: &[u8]) -> SocketChunk {
        SocketChunk {
            serial_offset,
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
            vec![chunk(9, &[0x20, 0x02, 0x00, 0x00])]
        );
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
            vec![chunk(offset, &[0x20, 0x02, 0x00, 0x00])]
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
        assert_eq!(got[1].bytes, b"\r\nOK\r\n");
        assert_eq!(&capture[got[1].serial_offset..][..6], b"\r\nOK\r\n");
    }

    #[rstest]
    #[case::header_only(b"\r\n+IPD,4:".as_slice(), vec![])]
    #[case::half_payload(b"\r\n+IPD,4:\x20\x02".as_slice(), vec![chunk(9, &[0x20, 0x02])])]
    #[case::no_socket_data(b"AT\r\n\r\nOK\r\n".as_slice(), vec![])]
    #[case::empty(b"".as_slice(), vec![])]
    fn truncated_and_empty_captures(#[case] capture: &[u8], #[case] want: Vec<SocketChunk>) {
        assert_eq!(extract_socket_payloads(capture), want);
    }
}
