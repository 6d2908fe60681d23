//! The module side: AT framing, dialects, the driver that speaks to a module, and the serial
//! transport under it.
