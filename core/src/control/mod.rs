//! Control-stream messages of the Moonlight protocol (gen 7, Sunshine-compatible host).
//!
//! * [`ControlMessage`]: every message the host sends or receives, typed, with
//!   [`ControlMessage::decode`] / [`ControlMessage::encode_into`] over the plaintext form
//!   `[type: u16 LE][payload length: u16 LE][payload]`.
//! * [`envelope`]: the encrypted type-0x0001 wrapper (sequence number, AES-128-GCM, tag) both ways.
//!
//! Message types depend on the sender (0x5502 is frame FEC status from a client but RGB LED from a
//! host), so decoding takes the sender's [`Direction`](crate::crypto::Direction). Layouts are in
//! `docs/control-input.md`.

pub mod envelope;
mod error;
mod message;
pub mod types;

pub use self::error::ControlError;
pub use self::message::{split_header, ControlMessage, FrameFecStatus, HdrMetadata, LossStats, Termination};
pub use self::types::termination;
