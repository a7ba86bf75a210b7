//! The error type of input-packet decoding and encoding.

/// Why an input packet was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Fewer bytes than the header or the packet type's fixed body needs.
    #[error("input packet truncated: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// The big-endian size field disagrees with the bytes present.
    #[error("input packet size field says {declared} bytes follow it, but {actual} do")]
    LengthMismatch {
        /// Value of the size field.
        declared: usize,
        /// Bytes after the size field.
        actual: usize,
    },
    /// A packet type (magic) this host does not decode.
    #[error("unknown input packet magic {0:#010x}")]
    UnknownMagic(u32),
    /// A field holds a value outside its defined set or range.
    #[error("input field {field} has invalid value {value:#x}")]
    BadField {
        /// Field name.
        field: &'static str,
        /// The offending value.
        value: u32,
    },
    /// A float field is NaN or infinite.
    #[error("input field {0} is not a finite number")]
    NonFinite(&'static str),
    /// The text packet is not valid UTF-8.
    #[error("text input is not valid UTF-8")]
    BadUtf8,
    /// The text packet is empty or longer than 32 bytes.
    #[error("text input length {0} outside 1..=32 bytes")]
    BadTextLength(usize),
    /// The output buffer is too small for the encoded packet.
    #[error("output buffer too small: need {need} bytes, have {have}")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
}
