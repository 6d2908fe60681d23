//! The bodies of the cargo-fuzz targets in `harness/fuzz/` that take input a module or a user
//! controls: [`at_receive`] (bytes a module prints, into the AT receive state machine) and
//! [`scenario_load`] (a scenario file, into the loader and the blocks other layers read).
//!
//! They live in the library, not in the fuzz crate, so the stable build type-checks them and
//! the proptests below run them on random input in every `cargo test`; the fuzz targets (which
//! need a nightly toolchain) only call them. Each panics only where an invariant is broken.

use std::collections::BTreeSet;
use std::path::Path;

use crate::broker::CloudProfile;
use crate::module::at::AtParser;
use crate::module::dialect::DialectKind;
use crate::run::block_problems;
use crate::scenario::load_str;

/// Feeds `data` to the AT receive parser of every dialect, whole and cut in two at a place the
/// first byte picks. Offsets must stay within what was fed; socket payloads come out of the
/// text, so the text is never longer than the input.
pub fn at_receive(data: &[u8]) {
    let cut = match data.first() {
        Some(b) if !data.is_empty() => usize::from(*b) % data.len(),
        _ => 0,
    };
    for kind in [DialectKind::EspAt, DialectKind::Quectel] {
        for chunks in [vec![data], vec![&data[..cut], &data[cut..]]] {
            let mut parser = AtParser::new(kind.dialect().rules());
            // An echo expected, as the driver does before each command it sends.
            parser.expect_echo("AT+CIPSEND=4");
            let mut fed = 0;
            let mut text = 0;
            for chunk in chunks {
                let feed = parser.feed(chunk);
                fed += chunk.len();
                text += feed.text.len();
                for e in &feed.events {
                    assert!(e.serial_offset <= fed, "{e:?} past {fed} bytes fed");
                    assert!(e.text_end <= text, "{e:?} past {text} text bytes");
                }
            }
            assert!(text <= fed);
            assert_eq!(parser.serial_offset(), fed);
            assert!(parser.text_offset() <= fed);
        }
    }
}

/// Loads `data` as a scenario file (when it is UTF-8, as the loader requires) and, when it is
/// a valid scenario, reads its blocks with their owners' types. Every problem must have a
/// 1-based place inside the text.
pub fn scenario_load(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let devices: BTreeSet<String> = ["aliyun/device2".to_owned()].into();
    let file = Path::new("fuzz.yaml");
    let lines = text.split('\n').count();
    let problems = match load_str(text, file, &devices) {
        Ok(s) => block_problems(&s, &CloudProfile::default()),
        Err(problems) => problems,
    };
    for p in problems {
        if let Some(at) = p.location {
            assert!(at.line >= 1 && at.column >= 1, "{p}");
            assert!(at.line <= lines + 1, "{p}: past the text's {lines} lines");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn random_bytes_never_panic_the_at_parser(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            at_receive(&data);
        }

        #[test]
        fn at_like_bytes_never_panic_the_at_parser(data in "(\\+IPD,[0-9]{1,3}(,[0-9])?:|\\+QIURC: \"recv\",[0-9],[0-9]{1,2}\\r\\n|OK\\r\\n|> |ERROR\\r\\n|CLOSED\\r\\n|[ -~]{0,8}|\\r\\n){0,24}") {
            at_receive(data.as_bytes());
        }

        #[test]
        fn random_text_never_panics_the_scenario_loader(data in "[ -~\\n]{0,400}") {
            scenario_load(data.as_bytes());
        }

        #[test]
        fn scenario_like_text_never_panics_the_scenario_loader(data in "(name: x\\n|device: aliyun/device2\\n|steps:\\n|  - |send: AT\\n|expect: \\[OK, \\{line: OK\\}\\]\\n|timeout: [0-9]{1,14}[hms]\\n|&a |\\*a|cloud: \\{keepalive: \\{min: [0-9]{1,4}, max: [0-9]{1,4}\\}\\}\\n|receive: [0-9a-fG ]{0,12}\\n|\\{\\{vars\\.x\\}\\}|    |\\n){0,30}") {
            scenario_load(data.as_bytes());
        }
    }

    #[test]
    fn the_seed_and_limit_cases_load_without_panicking() {
        scenario_load(b"name: x\ndevice: aliyun/device2\nsteps:\n  - send: AT\n    expect: OK\n");
        scenario_load(b"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n");
        scenario_load(&b"[".repeat(5000));
        at_receive(b"+IPD,4:\x20\x02\x00\x00\r\nOK\r\n> ");
        at_receive(b"+IPD,99999999999999999999:");
    }
}
