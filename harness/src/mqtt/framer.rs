//! Splitting a TCP (or serial) byte stream into whole MQTT packets, without judging their
//! contents. Main items: [`frame_len`] (pure: how long is the packet at the front?) and
//! [`Framer`] (accumulates bytes, yields packets). "Need more bytes" is `Ok(None)`, never an
//! error, as in rumqtt's `mqttbytes::check`.

use crate::mqtt::remaining_length::{decode_remaining_length, RemainingLengthError};

/// The stream cannot be framed any further: no later byte can make sense of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error(
        "frame MQTT stream: byte 0x{byte:02X} at offset {offset} starts no packet \
         (packet type {} is reserved)",
        byte >> 4
    )]
    ReservedType { offset: usize, byte: u8 },
    #[error(
        "frame MQTT stream: the remaining length starting at offset {offset} runs past 4 bytes"
    )]
    MalformedRemainingLength { offset: usize },
    #[error(
        "frame MQTT stream: the packet at offset {offset} would be {len} bytes, over the \
         {limit}-byte limit"
    )]
    TooLong {
        offset: usize,
        len: usize,
        limit: usize,
    },
}

impl FrameError {
    /// Where in the stream (or the slice given to [`frame_len`]) the problem is.
    pub fn offset(&self) -> usize {
        match self {
            FrameError::ReservedType { offset, .. }
            | FrameError::MalformedRemainingLength { offset }
            | FrameError::TooLong { offset, .. } => *offset,
        }
    }

    fn shifted(self, by: usize) -> FrameError {
        match self {
            FrameError::ReservedType { offset, byte } => FrameError::ReservedType {
                offset: offset + by,
                byte,
            },
            FrameError::MalformedRemainingLength { offset } => {
                FrameError::MalformedRemainingLength {
                    offset: offset + by,
                }
            }
            FrameError::TooLong { offset, len, limit } => FrameError::TooLong {
                offset: offset + by,
                len,
                limit,
            },
        }
    }
}

/// The total length (fixed header included) of the packet at the front of `buf`:
/// `Ok(None)` while the packet is incomplete, `Ok(Some(len))` once `buf` holds all of it.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    Ok(match header(buf)? {
        Some((header_len, remaining)) if buf.len() >= header_len + remaining => {
            Some(header_len + remaining)
        }
        _ => None,
    })
}

/// The fixed header's length and the remaining length it declares, once both are readable.
pub(crate) fn header(buf: &[u8]) -> Result<Option<(usize, usize)>, FrameError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    if matches!(first >> 4, 0 | 15) {
        return Err(FrameError::ReservedType {
            offset: 0,
            byte: first,
        });
    }
    match decode_remaining_length(&buf[1..]) {
        Ok(Some(rl)) => Ok(Some((1 + rl.encoded_len, rl.value))),
        Ok(None) => Ok(None),
        Err(RemainingLengthError::FifthByte { .. } | RemainingLengthError::TooLarge { .. }) => {
            Err(FrameError::MalformedRemainingLength { offset: 1 })
        }
    }
}

/// Accumulates stream bytes and hands out whole packets' bytes, in order.
///
/// Offsets in errors count from the first byte ever pushed, so they match a capture of the
/// whole connection. After an error the stream is unusable; the framer keeps reporting it.
#[derive(Debug, Clone)]
pub struct Framer {
    /// Bytes received; those before `pos` were handed out already.
    buf: Vec<u8>,
    /// Where the next packet starts in `buf`. Handed-out bytes are dropped at the next push
    /// or once all are handed out, so a read holding many packets is not moved once per
    /// packet (splitting the rest off each time made a 32 KB read of small packets quadratic).
    pos: usize,
    /// Stream offset of `buf[pos]`.
    start: usize,
    limit: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new()
    }
}

impl Framer {
    /// A framer accepting any packet MQTT can express (up to 268435460 bytes).
    pub fn new() -> Framer {
        Framer::with_limit(crate::mqtt::remaining_length::MAX_REMAINING_LENGTH + 5)
    }

    /// A framer refusing packets longer than `limit` bytes in total (a broker's defence
    /// against a module announcing a huge packet and never sending it).
    pub fn with_limit(limit: usize) -> Framer {
        Framer {
            buf: Vec::new(),
            pos: 0,
            start: 0,
            limit,
        }
    }

    /// Adds bytes as they arrive.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole packet's bytes, `Ok(None)` if more bytes are needed first.
    pub fn next_packet(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        self.next_packet_at().map(|p| p.map(|(_, bytes)| bytes))
    }

    /// Like [`Framer::next_packet`], with the stream offset where the packet started.
    pub fn next_packet_at(&mut self) -> Result<Option<(usize, Vec<u8>)>, FrameError> {
        self.next_packet_ref()
            .map(|p| p.map(|(at, bytes)| (at, bytes.to_vec())))
    }

    /// Like [`Framer::next_packet_at`], lending the packet's bytes instead of copying them: a
    /// broker decoding a flood of small packets paid an allocation for each copy.
    pub fn next_packet_ref(&mut self) -> Result<Option<(usize, &[u8])>, FrameError> {
        if self.pos == self.buf.len() && self.pos > 0 {
            // Everything was handed out (the last packet's bytes are no longer lent).
            self.buf.clear();
            self.pos = 0;
        }
        let pending = &self.buf[self.pos..];
        let declared = header(pending).map_err(|e| e.shifted(self.start))?;
        let Some((header_len, remaining)) = declared else {
            return Ok(None);
        };
        let total = header_len + remaining;
        if total > self.limit {
            return Err(FrameError::TooLong {
                offset: self.start,
                len: total,
                limit: self.limit,
            });
        }
        if pending.len() < total {
            return Ok(None);
        }
        let at = self.start;
        let from = self.pos;
        self.pos += total;
        self.start += total;
        Ok(Some((at, &self.buf[from..from + total])))
    }

    /// Bytes received but not yet handed out as a packet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Stream offset of the first buffered byte (= bytes handed out so far).
    pub fn stream_offset(&self) -> usize {
        self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::connack(&[0x20, 0x02, 0x00, 0x00], Some(4))]
    #[case::pingreq(&[0xC0, 0x00], Some(2))]
    #[case::trailing_bytes_ignored(&[0xE0, 0x00, 0xC0], Some(2))]
    #[case::empty(&[], None)]
    #[case::only_first_byte(&[0x20], None)]
    #[case::body_missing(&[0x20, 0x02, 0x00], None)]
    #[case::length_continues(&[0x30, 0x9A], None)]
    #[case::two_byte_length_body_missing(&[0x30, 0x9A, 0x01, 0x00], None)]
    fn frames_or_needs_more(#[case] buf: &[u8], #[case] want: Option<usize>) {
        assert_eq!(frame_len(buf), Ok(want));
    }

    #[test]
    fn seed_002_downlink_has_a_two_byte_length() {
        let mut buf = vec![0x30, 0x9A, 0x01];
        buf.resize(3 + 154, 0x41);
        assert_eq!(frame_len(&buf), Ok(Some(157)));
        assert_eq!(frame_len(&buf[..156]), Ok(None));
    }

    #[rstest]
    #[case(0x00)]
    #[case(0x0D)]
    #[case(0xF0)]
    fn reserved_types_are_errors(#[case] first: u8) {
        assert_eq!(
            frame_len(&[first, 0x00]),
            Err(FrameError::ReservedType {
                offset: 0,
                byte: first
            })
        );
    }

    #[test]
    fn five_length_bytes_are_an_error() {
        assert_eq!(
            frame_len(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            Err(FrameError::MalformedRemainingLength { offset: 1 })
        );
    }

    #[test]
    fn framer_reassembles_packets_split_across_reads() {
        // CONNACK then SUBACK (seed 002), delivered in awkward pieces.
        let stream = [0x20, 0x02, 0x00, 0x00, 0x90, 0x03, 0x00, 0x0A, 0x01];
        let mut framer = Framer::new();
        let mut got = Vec::new();
        for chunk in [&stream[..1], &stream[1..5], &stream[5..6], &stream[6..]] {
            framer.push(chunk);
            while let Some(p) = framer.next_packet_at().unwrap() {
                got.push(p);
            }
        }
        assert_eq!(
            got,
            vec![
                (0, vec![0x20, 0x02, 0x00, 0x00]),
                (4, vec![0x90, 0x03, 0x00, 0x0A, 0x01])
            ]
        );
        assert!(framer.buffered().is_empty());
        assert_eq!(framer.stream_offset(), 9);
    }

    proptest::proptest! {
        /// However the stream is cut into reads, and whenever packets are taken, the framer
        /// hands out the same packets at the same offsets and keeps only what is pending.
        #[test]
        fn any_cut_of_the_stream_frames_the_same(
            bodies in proptest::collection::vec(0usize..300, 1..40),
            cuts in proptest::collection::vec(1usize..700, 1..60),
        ) {
            let mut stream = Vec::new();
            let mut want = Vec::new();
            for (i, len) in bodies.iter().enumerate() {
                let at = stream.len();
                let mut packet = vec![0x30];
                packet.extend_from_slice(&crate::mqtt::remaining_length::encode_remaining_length(*len).unwrap());
                packet.extend(std::iter::repeat(i as u8).take(*len));
                stream.extend_from_slice(&packet);
                want.push((at, packet));
            }
            let mut framer = Framer::new();
            let mut got = Vec::new();
            let mut fed = 0;
            for cut in cuts.iter().cycle() {
                if fed == stream.len() {
                    break;
                }
                let end = (fed + cut).min(stream.len());
                framer.push(&stream[fed..end]);
                fed = end;
                while let Some(p) = framer.next_packet_at().unwrap() {
                    got.push(p);
                }
                let taken: usize = got.iter().map(|(_, p)| p.len()).sum();
                proptest::prop_assert_eq!(framer.buffered(), &stream[taken..fed]);
                proptest::prop_assert_eq!(framer.stream_offset(), taken);
            }
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn framer_errors_carry_stream_offsets() {
        let mut framer = Framer::new();
        framer.push(&[0xD0, 0x00, 0x0D, 0x0A]);
        assert_eq!(framer.next_packet().unwrap(), Some(vec![0xD0, 0x00]));
        let err = framer.next_packet().unwrap_err();
        assert_eq!(
            err,
            FrameError::ReservedType {
                offset: 2,
                byte: 0x0D
            }
        );
        assert_eq!(err.offset(), 2);
    }

    #[test]
    fn framer_limit_refuses_huge_announcements_early() {
        let mut framer = Framer::with_limit(1024);
        framer.push(&[0x30, 0xFF, 0x7F]);
        assert_eq!(
            framer.next_packet(),
            Err(FrameError::TooLong {
                offset: 0,
                len: 16_386,
                limit: 1024
            })
        );
    }
}
