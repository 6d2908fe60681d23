//! Fuzz target `decode`: arbitrary bytes into every MQTT entry point a hostile or broken module
//! can reach (the strict decoder, the dissector and its renderers, the framer), plus the same
//! bytes read as hex text. Nothing may panic, and each promise about lengths must hold.

#![no_main]

use athil::mqtt::{decode, dissect, dissect_packet, frame_len, parse_hex, render, Framer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((_, used)) = decode(data) {
        assert!(used <= data.len());
    }
    let _ = dissect_packet(data);
    let d = dissect(data);
    assert!(d.packets.iter().map(|p| p.length).sum::<usize>() <= data.len());
    let _ = render::to_text(&d, data, &|o| o);
    let _ = render::to_json(&d, &|o| o);
    if let Ok(Some(n)) = frame_len(data) {
        assert!(n <= data.len());
    }
    let mut framer = Framer::new();
    framer.push(data);
    while let Ok(Some(_)) = framer.next_packet() {}
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_hex(text);
    }
});
