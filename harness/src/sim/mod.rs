//! The virtual module: an ESP8266 AT firmware emulator that meets the harness only over a
//! pseudo-terminal, exactly as hardware would.
