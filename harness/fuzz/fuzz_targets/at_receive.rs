//! Fuzz target `at_receive`: arbitrary bytes, as a broken or hostile module prints them, into the
//! AT receive state machine of every dialect, whole and cut in two. The body is
//! `athil::fuzz::at_receive`, kept in the library so stable builds type-check it and a proptest
//! runs it.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| athil::fuzz::at_receive(data));
