//! The error type of control message coding.

use crate::crypto::{CryptoError, Direction};
use crate::input::InputError;

/// Why a control message was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// Fewer bytes than the header or payload needs.
    #[error("control message truncated: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// A length field disagrees with the bytes present.
    #[error("control length field says {declared} bytes, {actual} present")]
    LengthMismatch {
        /// Declared length.
        declared: usize,
        /// Bytes present.
        actual: usize,
    },
    /// A type this decoder does not know for messages from `from`.
    #[error("unknown control message type {ty:#06x} from {from:?}")]
    UnknownType {
        /// Message type.
        ty: u16,
        /// Sender.
        from: Direction,
    },
    /// A plaintext message arrived where the encrypted envelope (type 0x0001) is required, or an
    /// envelope was nested inside an envelope.
    #[error("expected an encrypted control envelope, got type {0:#06x}")]
    NotEncrypted(u16),
    /// The input packet inside an input-data message is malformed.
    #[error("bad input packet in control message: {0}")]
    Input(#[from] InputError),
    /// Sealing or opening the envelope failed.
    #[error("control envelope crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// The output buffer is too small.
    #[error("output buffer too small: need {need} bytes, have {have}")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// The payload is too long for the 16-bit length field.
    #[error("control payload of {0} bytes is too long")]
    TooLong(usize),
}
