//! MQTT 3.1.1 vocabulary shared by every layer: the packet model ([`Packet`]), the strict
//! codec ([`encode`], [`decode`]), the stream framer ([`Framer`], [`frame_len`]), the
//! annotating dissector ([`dissect`]) with its renderers, and hex as the seeds write it
//! ([`parse_hex`], [`to_hex`]).

pub mod decode;
pub mod dissect;
pub mod encode;
pub mod framer;
pub mod hex;
pub mod packet;
pub mod remaining_length;
pub mod render;
pub mod topic;

pub use decode::{
    decode, decode_publish_ref, dissect_packet, DecodeError, Diagnostic, Field, PacketDissection,
    Severity,
};
pub use dissect::{dissect, Dissection};
pub use encode::{encode, encode_into, encode_publish_into, EncodeError};
pub use framer::{frame_len, FrameError, Framer};
pub use hex::{parse_hex, to_hex, HexError, HexErrorKind};
pub use packet::*;
pub use remaining_length::{
    decode_remaining_length, encode_remaining_length, EncodedLength, RemainingLength,
    RemainingLengthError, MAX_REMAINING_LENGTH,
};
pub use topic::{check_topic_filter, check_topic_name, TopicError};
