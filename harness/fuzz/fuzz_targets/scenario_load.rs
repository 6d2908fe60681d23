//! Fuzz target `scenario_load`: arbitrary bytes as a scenario file, into the loader and the
//! blocks other layers read from it. The body is `athil::fuzz::scenario_load`, kept in the
//! library so stable builds type-check it and a proptest runs it.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| athil::fuzz::scenario_load(data));
