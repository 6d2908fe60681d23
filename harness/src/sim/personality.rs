//! Which AT firmware the virtual module runs, behind one trait: [`Personality`] is what the
//! runtime needs of a sans-IO interpreter (the same [`Input`]s in, the same [`Effect`]s out),
//! so the pty, pacing, TCP and timer machinery in `runtime.rs` serve every personality
//! unchanged. [`choose`] picks the ESP8266 firmware or a Quectel model from a [`SimConfig`].

use super::config::{Faults, SimConfig};
use super::firmware::{Effect, Firmware, Input};
use super::quectel::Quectel;

/// A virtual module's AT interpreter as the runtime drives it.
pub trait Personality {
    /// Called once when the runtime starts, before any input: a personality that has
    /// something running from power-on (a cellular module's network search) asks for its
    /// timers here. Nothing is printed: the host has not opened the port yet.
    fn start(&mut self) -> Vec<Effect>;
    /// Feeds one input and returns what the module does about it, in order.
    fn input(&mut self, input: Input) -> Vec<Effect>;
    /// Swaps the fault knobs for what follows.
    fn set_faults(&mut self, faults: Faults);
}

impl Personality for Firmware {
    fn start(&mut self) -> Vec<Effect> {
        Vec::new()
    }

    fn input(&mut self, input: Input) -> Vec<Effect> {
        Firmware::input(self, input)
    }

    fn set_faults(&mut self, faults: Faults) {
        Firmware::set_faults(self, faults);
    }
}

/// The personality `config` asks for: a Quectel model when `quectel:` is set, else the
/// ESP8266 firmware of `firmware:`.
pub fn choose(config: SimConfig) -> Box<dyn Personality> {
    match config.quectel.clone() {
        Some(quectel) => Box::new(Quectel::new(quectel, config)),
        None => Box::new(Firmware::new(config)),
    }
}

/// What the module is, for logs and `athil sim`'s banner (`virtual ESP8266`,
/// `virtual Quectel EC20`), without building it.
pub fn describe(config: &SimConfig) -> String {
    match &config.quectel {
        Some(quectel) => format!("virtual {}", quectel.model.name()),
        None => "virtual ESP8266".to_string(),
    }
}

/// Appends serial output to a personality's effects, joining it to the serial output just
/// before it: bytes printed together leave the pty together, as one UART burst.
pub(super) fn put_serial(out: &mut Vec<Effect>, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    if let Some(Effect::Serial(last)) = out.last_mut() {
        last.extend_from_slice(bytes);
    } else {
        out.push(Effect::Serial(bytes.to_vec()));
    }
}
