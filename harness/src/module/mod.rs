//! The module side: the AT receive state machine ([`at::AtParser`]), vendor dialects
//! ([`dialect::Dialect`]), the serial transport and the driver that speaks to a module, plus
//! [`capture`] for reading socket payloads back out of a recorded serial stream.

pub mod at;
pub mod capture;
pub mod dialect;
