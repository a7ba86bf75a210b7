//! lumen-core: the sans-IO protocol core of lumen.
//!
//! No sockets, no threads, no clocks: time and randomness are passed in (quinn-proto style).
//! Every wire format of the Moonlight protocol (video/audio packets, control messages, input packets),
//! both FEC fields, the crypto, the pacer and the stable C ABI live here.

#![deny(missing_docs)]

pub mod abi;
pub mod audio;
pub mod control;
pub mod crypto;
pub mod fec;
pub mod gamepad;
pub mod input;
pub mod link;
pub mod pacing;
pub mod transport;
pub mod video;
