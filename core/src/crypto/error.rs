//! The error type of the crypto module.

/// Everything that can go wrong while parsing key material or sealing/opening a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// `rikey` was not 32 hexadecimal characters (the value itself is never echoed: it is key material).
    #[error("rikey must be 32 hex characters (16 bytes), got {len} characters")]
    BadKeyHex {
        /// Length of the rejected value.
        len: usize,
    },
    /// `rikeyid` was not a decimal signed 32-bit integer.
    #[error("rikeyid must be a decimal signed 32-bit integer, got {0:?}")]
    BadKeyId(String),
    /// The output buffer cannot hold the result.
    #[error("buffer too small: need {need} bytes, have {have}")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// The input is shorter than the fixed header or tag it must carry, or has an impossible length.
    #[error("malformed ciphertext: {0}")]
    Malformed(&'static str),
    /// The authentication tag did not verify (wrong key, wrong IV, or tampered bytes).
    #[error("authentication failed")]
    AuthenticationFailed,
    /// CBC ciphertext length not a multiple of 16, or PKCS#7 padding invalid after decryption.
    #[error("bad CBC length or PKCS#7 padding")]
    BadPadding,
}
