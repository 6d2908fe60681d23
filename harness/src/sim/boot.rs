//! The boot banner as the host really sees it: the ESP8266 ROM and second-stage loader print at
//! 74880 baud, so a host listening at the AT rate reads garbage. [`banner`] renders that garbage
//! by running the 74880-baud waveform through a model UART receiver at the host's rate, so it
//! is the same bytes a real host would get (and plain text if the host listens at 74880).

/// The rate the ESP8266 ROM bootloader prints at (26 MHz crystal, ROM divider for 40 MHz).
pub const ROM_BAUD: u32 = 74_880;

/// Why the chip restarted, as the ROM reports it in `rst cause:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetCause {
    /// Power applied or the RST pin released (`rst cause:1`).
    PowerOn,
    /// `AT+RST`/`AT+RESTORE`: a software restart (`rst cause:2`).
    Software,
    /// A watchdog reset (`rst cause:4`), what a crash looks like.
    Watchdog,
}

/// The ROM and bootloader text of a NonOS AT image on a 2 MB DIO flash (boot mode (3,6)).
pub fn rom_text(cause: ResetCause) -> String {
    let cause = match cause {
        ResetCause::PowerOn => 1,
        ResetCause::Software => 2,
        ResetCause::Watchdog => 4,
    };
    format!(
        "\r\n ets Jan  8 2013,rst cause:{cause}, boot mode:(3,6)\r\n\r\n\
         load 0x40100000, len 2592, room 16 \r\n\
         tail 0\r\n\
         chksum 0xf3\r\n\
         load 0x3ffe8000, len 764, room 8 \r\n\
         tail 4\r\n\
         chksum 0x92\r\n\
         load 0x3ffe82fc, len 676, room 4 \r\n\
         tail 0\r\n\
         chksum 0x22\r\n\
         csum 0x22\r\n\r\n\
         2nd boot version : 1.7(5d6f877)\r\n  \
         SPI Speed      : 40MHz\r\n  \
         SPI Mode       : DIO\r\n  \
         SPI Flash Size & Map: 16Mbit(1024KB+1024KB)\r\n\
         jump to run user1 @ 1000\r\n\r\n"
    )
}

/// The banner's bytes as received by a UART at `host_baud` (8N1, no parity).
pub fn banner(cause: ResetCause, host_baud: u32) -> Vec<u8> {
    resample(rom_text(cause).as_bytes(), ROM_BAUD, host_baud)
}

/// Sends `text` 8N1 at `tx_baud` back to back and receives it with a start-bit-triggered UART
/// at `rx_baud` that samples mid-bit. Time is counted in units of 1/(2·tx·rx) s so every edge
/// and sample point is an integer.
pub fn resample(text: &[u8], tx_baud: u32, rx_baud: u32) -> Vec<u8> {
    let tx_bit = 2 * u64::from(rx_baud.max(1));
    let rx_bit = 2 * u64::from(tx_baud.max(1));
    let total_bits = text.len() as u64 * 10;
    let end = total_bits * tx_bit;
    // Line level at time t: idle high outside the frames.
    let level = |t: u64| -> bool {
        let bit = t / tx_bit;
        if bit >= total_bits {
            return true;
        }
        let (byte, pos) = ((bit / 10) as usize, bit % 10);
        match pos {
            0 => false,
            9 => true,
            data => text[byte] >> (data - 1) & 1 == 1,
        }
    };
    let mut out = Vec::new();
    let mut t = 0u64;
    while t < end {
        // Find the next falling edge (or a line already low where the receiver looks again).
        let start = if !level(t) {
            t
        } else {
            let mut edge = (t / tx_bit + 1) * tx_bit;
            while edge < end && level(edge) {
                edge += tx_bit;
            }
            if edge >= end {
                break;
            }
            edge
        };
        let sample = |n: u64| start + n * rx_bit + rx_bit / 2;
        if level(sample(0)) {
            // A glitch shorter than half a bit: not a start bit.
            t = sample(0);
            continue;
        }
        let mut byte = 0u8;
        for n in 0..8 {
            if level(sample(n + 1)) {
                byte |= 1 << n;
            }
        }
        // Framing errors still deliver the byte, as raw-mode ttys and USB bridges do.
        out.push(byte);
        t = sample(9);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_rate_reads_the_text_back() {
        let text = rom_text(ResetCause::Software);
        assert_eq!(banner(ResetCause::Software, ROM_BAUD), text.as_bytes());
        assert_eq!(resample(b"AT\r\n", 115_200, 115_200), b"AT\r\n");
    }

    #[test]
    fn at_115200_it_is_garbage_of_the_right_size() {
        let text = rom_text(ResetCause::Software);
        let seen = banner(ResetCause::Software, 115_200);
        assert_ne!(seen, text.as_bytes());
        assert!(
            !seen.windows(3).any(|w| w == b"ets"),
            "ROM text leaked through"
        );
        // A faster receiver sees at least as many frames as were sent, never wildly more.
        assert!(
            seen.len() >= text.len() && seen.len() < text.len() * 2,
            "{}",
            seen.len()
        );
        // Deterministic: the same bytes every boot.
        assert_eq!(seen, banner(ResetCause::Software, 115_200));
    }

    #[test]
    fn a_single_frame_at_a_faster_rate_is_sampled_bit_by_bit() {
        // 'A' = 0x41 sent at 1 bit per 2 receiver bits: the receiver sees start, start, d0, d0…
        // Sample points 0.5, 1.5, …, 9.5 receiver bits = 0.25 … 4.75 sender bits.
        // Sender bits: 0 start(0), 1 d0=1, 2 d1=0, 3 d2=0, 4 d3=0, 5 d4=0, 6 d5=0, 7 d6=1 …
        // Receiver data samples at sender bits 0.75,1.25,1.75,2.25,2.75,3.25,3.75,4.25
        // → levels 0,1,1,0,0,0,0,0 → LSB first = 0b0000_0110 = 0x06.
        let seen = resample(b"A", 1, 2);
        assert_eq!(seen[0], 0x06);
    }
}
