//! MQTT 3.1.1 vocabulary shared by every layer: the packet model ([`Packet`]), and (beside it)
//! the strict codec, the stream framer and the annotating dissector.

pub mod packet;

pub use packet::*;
