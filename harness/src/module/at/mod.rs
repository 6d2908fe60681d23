//! AT receive side, sans-IO: the event vocabulary ([`AtEvent`]) and the state machine that
//! produces it from raw serial bytes ([`AtParser`]).

mod event;
mod parser;

pub use event::{AtEvent, Busy, FinalResult, Urc};
pub use parser::{AtParser, Feed, Located};
