//! The fixed header's Remaining Length: a variable-length integer of 1 to 4 bytes, seven bits
//! per byte, least significant group first, bit 7 meaning "another byte follows"
//! (MQTT 3.1.1 §2.2.3). Main types: [`RemainingLength`] and [`RemainingLengthError`].
//!
//! The seeds work this out by hand (98 → `62`, 300 → `AC 02`, 1000 → `E8 07`) and get it wrong
//! at least once (seed 002 writes 161 as `91 01`, which is 145), so the decoder also says how
//! each length was worked out.

/// The largest Remaining Length four bytes can carry (`FF FF FF 7F`).
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// A decoded Remaining Length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemainingLength {
    /// The number of bytes after the fixed header.
    pub value: usize,
    /// How many bytes the encoding used (1..=4).
    pub encoded_len: usize,
}

impl RemainingLength {
    /// Whether the encoding used the fewest bytes possible. 3.1.1 does not forbid padding such
    /// as `80 00` for 0, but brokers and the cloud may reject it, so the dissector warns.
    pub fn is_minimal(&self) -> bool {
        self.encoded_len == encoded_len(self.value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemainingLengthError {
    #[error("encode remaining length {value}: MQTT allows at most 268435455 (FF FF FF 7F)")]
    TooLarge { value: usize },
    #[error(
        "decode remaining length: its 4th byte (at offset {offset}) still has the continuation \
         bit set, and MQTT allows at most 4 length bytes"
    )]
    FifthByte {
        /// Offset of the 4th length byte, relative to the slice given to the decoder.
        offset: usize,
    },
}

/// How many bytes `value` takes when encoded minimally.
pub fn encoded_len(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// An encoded Remaining Length, 1 to 4 bytes, held inline: every packet a broker writes
/// encodes one, and a Vec for each was an allocation per packet. Derefs to the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedLength {
    bytes: [u8; 4],
    len: u8,
}

impl std::ops::Deref for EncodedLength {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Encodes `value` in the fewest bytes: 112 → `70`, 154 → `9A 01`.
pub fn encode_remaining_length(value: usize) -> Result<EncodedLength, RemainingLengthError> {
    if value > MAX_REMAINING_LENGTH {
        return Err(RemainingLengthError::TooLarge { value });
    }
    let mut out = EncodedLength {
        bytes: [0; 4],
        len: 0,
    };
    let mut x = value;
    loop {
        let mut byte = (x % 128) as u8;
        x /= 128;
        if x > 0 {
            byte |= 0x80;
        }
        out.bytes[usize::from(out.len)] = byte;
        out.len += 1;
        if x == 0 {
            return Ok(out);
        }
    }
}

/// Decodes a Remaining Length from the start of `buf` (the bytes right after the fixed
/// header's first byte). `Ok(None)` means the encoding is not complete yet: more bytes needed.
pub fn decode_remaining_length(
    buf: &[u8],
) -> Result<Option<RemainingLength>, RemainingLengthError> {
    let mut value = 0usize;
    for (i, &byte) in buf.iter().enumerate().take(4) {
        value += ((byte & 0x7F) as usize) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some(RemainingLength {
                value,
                encoded_len: i + 1,
            }));
        }
        if i == 3 {
            return Err(RemainingLengthError::FifthByte { offset: 3 });
        }
    }
    Ok(None)
}

/// How the value was worked out, for people checking a hand encoding:
/// `9A 01 → 26 + 1×128 = 154`.
pub fn explain(bytes: &[u8]) -> String {
    let hex = crate::mqtt::hex::to_hex(bytes);
    if bytes.len() == 1 {
        return format!("{hex} → {}", bytes[0] & 0x7F);
    }
    let mut terms = Vec::with_capacity(bytes.len());
    let mut total = 0usize;
    for (i, b) in bytes.iter().enumerate() {
        let digit = (b & 0x7F) as usize;
        let weight = 1usize << (7 * i);
        total += digit * weight;
        terms.push(match i {
            0 => digit.to_string(),
            _ => format!("{digit}×{weight}"),
        });
    }
    format!("{hex} → {} = {total}", terms.join(" + "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    // Worked examples from seed 000 (98, 300 and the limits table) and seed 002 (161, 200,
    // 1000, and the PUBLISH lengths 152, 154, 179).
    #[rstest]
    #[case(0, &[0x00])]
    #[case(98, &[0x62])]
    #[case(112, &[0x70])]
    #[case(127, &[0x7F])]
    #[case(128, &[0x80, 0x01])]
    #[case(152, &[0x98, 0x01])]
    #[case(154, &[0x9A, 0x01])]
    #[case(161, &[0xA1, 0x01])]
    #[case(179, &[0xB3, 0x01])]
    #[case(200, &[0xC8, 0x01])]
    #[case(300, &[0xAC, 0x02])]
    #[case(1000, &[0xE8, 0x07])]
    #[case(16_383, &[0xFF, 0x7F])]
    #[case(16_384, &[0x80, 0x80, 0x01])]
    #[case(2_097_151, &[0xFF, 0xFF, 0x7F])]
    #[case(2_097_152, &[0x80, 0x80, 0x80, 0x01])]
    #[case(268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F])]
    fn encodes_and_decodes_the_seed_examples(#[case] value: usize, #[case] bytes: &[u8]) {
        assert_eq!(&*encode_remaining_length(value).unwrap(), bytes);
        let got = decode_remaining_length(bytes).unwrap().unwrap();
        assert_eq!(got.value, value);
        assert_eq!(got.encoded_len, bytes.len());
        assert!(got.is_minimal());
        assert_eq!(encoded_len(value), bytes.len());
    }

    #[test]
    fn seed_002_hand_encoding_of_161_is_145() {
        // Seed 002 works 161 % 128 = 33 out as binary 0001 0001 and writes `91 01`.
        let got = decode_remaining_length(&[0x91, 0x01]).unwrap().unwrap();
        assert_eq!(got.value, 145);
        assert_eq!(explain(&[0x91, 0x01]), "91 01 → 17 + 1×128 = 145");
        assert_eq!(*encode_remaining_length(161).unwrap(), [0xA1, 0x01]);
    }

    #[test]
    fn above_the_maximum_is_an_error() {
        assert_eq!(
            encode_remaining_length(268_435_456),
            Err(RemainingLengthError::TooLarge { value: 268_435_456 })
        );
    }

    #[test]
    fn a_fifth_length_byte_is_an_error() {
        assert_eq!(
            decode_remaining_length(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
            Err(RemainingLengthError::FifthByte { offset: 3 })
        );
        // Even before the 5th byte has arrived: the 4th already says one follows.
        assert_eq!(
            decode_remaining_length(&[0x80, 0x80, 0x80, 0x80]),
            Err(RemainingLengthError::FifthByte { offset: 3 })
        );
    }

    #[rstest]
    #[case(&[])]
    #[case(&[0x9A])]
    #[case(&[0xFF, 0xFF, 0xFF])]
    fn incomplete_encodings_need_more_bytes(#[case] bytes: &[u8]) {
        assert_eq!(decode_remaining_length(bytes), Ok(None));
    }

    #[rstest]
    #[case(&[0x80, 0x00], 0)]
    #[case(&[0x82, 0x00], 2)]
    #[case(&[0xFF, 0x80, 0x00], 127)]
    #[case(&[0x80, 0x80, 0x80, 0x01], 2_097_152)]
    fn padded_encodings_decode_but_are_not_minimal(#[case] bytes: &[u8], #[case] value: usize) {
        let got = decode_remaining_length(bytes).unwrap().unwrap();
        assert_eq!(got.value, value);
        assert_eq!(got.is_minimal(), value == 2_097_152);
    }

    #[test]
    fn explains_single_and_multi_byte_lengths() {
        assert_eq!(explain(&[0x70]), "70 → 112");
        assert_eq!(explain(&[0x9A, 0x01]), "9A 01 → 26 + 1×128 = 154");
        assert_eq!(
            explain(&[0x80, 0x80, 0x01]),
            "80 80 01 → 0 + 0×128 + 1×16384 = 16384"
        );
    }
}
