//! Renderers for a [`Dissection`](crate::mqtt::Dissection): an annotated text breakdown for
//! people ([`text`]) and one JSON object for tools ([`json`]). Both take the offset mapping
//! to display, so `athil decode --serial` can show positions in the serial capture.

pub mod json;
pub mod text;

pub use json::to_json;
pub use text::to_text;
