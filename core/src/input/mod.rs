//! Client input packets: decoding into the typed [`InputEvent`] the compositor injects, and the
//! reverse encoding (for lumen's own client and tests).
//!
//! With the gen-7 encrypted control stream, each input packet travels as the payload of an
//! input-data control message (type 0x0206) inside the encrypted control envelope, so the packet
//! itself is plaintext here. Layout: `[size: u32 BE][magic: u32 LE][body]`; body fields are big- or
//! little-endian per packet type exactly as the client writes them (see `docs/control-input.md`).

mod decode;
mod encode;
mod error;
mod event;
pub mod wire;

pub use self::decode::{decode, split_header};
pub use self::encode::{encode_into, encoded_len};
pub use self::error::InputError;
pub use self::event::*;
