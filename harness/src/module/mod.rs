//! The module side: the AT receive state machine ([`at::AtParser`]), vendor dialects
//! ([`dialect::Dialect`]), the serial transport ([`SerialTransport`]) and the driver that speaks
//! to a module over it ([`ModuleDriver`]), plus [`capture`] for reading socket payloads back out
//! of a recorded serial stream.

pub mod at;
pub mod capture;
pub mod dialect;
pub mod driver;
pub mod error;
pub mod rt_log;
pub mod transport;

pub use driver::{DriverOptions, ModuleDriver, Response, SeenUrc, SyncReport};
pub use error::{ControlLine, DriverError, TransportError};
pub use transport::{DataBits, FlowControl, Parity, SerialSettings, SerialTransport, StopBits};
