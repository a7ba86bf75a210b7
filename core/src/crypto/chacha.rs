//! ChaCha20-Poly1305 for the lumen transport (not used with stock Moonlight clients), on `ring` (its
//! assembly AVX2 ChaCha20 and Poly1305 run about three times as fast as the portable RustCrypto crate here:
//! `cargo bench -p lumen-core --bench transport`, `docs/wire.md` §12).
//!
//! Nonce layout (ours, 12 bytes): bytes 0..8 the packet counter little-endian, bytes 8..10 zero, byte 10
//! the direction (`'H'` host → client, `'C'` client → host), byte 11 a channel byte chosen by the
//! transport (for example `'V'` video, `'A'` audio, `'C'` control). A counter must never repeat for the
//! same key, direction and channel.

use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};

use super::{CryptoError, Direction};

/// The parts of a lumen transport nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransportNonce {
    /// Per-(direction, channel) packet counter; unique for the key's lifetime.
    pub counter: u64,
    /// Who sent the packet.
    pub direction: Direction,
    /// Channel byte (transport-defined).
    pub channel: u8,
}

impl TransportNonce {
    /// The 12 nonce bytes.
    pub const fn to_bytes(self) -> [u8; 12] {
        let c = self.counter.to_le_bytes();
        let mut n = [0u8; 12];
        let mut i = 0;
        while i < 8 {
            n[i] = c[i];
            i += 1;
        }
        n[10] = self.direction.iv_byte();
        n[11] = self.channel;
        n
    }
}

/// A ChaCha20-Poly1305 key (32 bytes) for the lumen transport.
pub struct TransportCipher {
    inner: LessSafeKey,
}

impl core::fmt::Debug for TransportCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TransportCipher(..)")
    }
}

impl TransportCipher {
    /// Expands `key`.
    pub fn new(key: &[u8; 32]) -> Self {
        // ring refuses only a key of the wrong length; 32 bytes is ChaCha20-Poly1305's.
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, key).expect("a 32-byte ChaCha20-Poly1305 key");
        Self { inner: LessSafeKey::new(unbound) }
    }

    /// Encrypts `buf` in place with raw nonce bytes, authenticating `aad`; returns the 16-byte tag.
    pub fn seal_in_place_raw(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Result<[u8; 16], CryptoError> {
        let tag = self
            .inner
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), buf)
            .map_err(|_| CryptoError::Malformed("message too long for ChaCha20-Poly1305"))?;
        let mut out = [0u8; 16];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Verifies and decrypts `buf` in place with raw nonce bytes.
    pub fn open_in_place_raw(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), CryptoError> {
        let len = buf.len();
        self.inner
            .open_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), Tag::from(*tag), buf, 0..)
            .map(|_| ())
            .map_err(|_| {
                tracing::debug!(len, "ChaCha20-Poly1305 tag mismatch");
                CryptoError::AuthenticationFailed
            })
    }

    /// Encrypts `buf` in place under `nonce`, authenticating `aad`; returns the tag.
    pub fn seal_in_place(&self, nonce: TransportNonce, aad: &[u8], buf: &mut [u8]) -> Result<[u8; 16], CryptoError> {
        self.seal_in_place_raw(&nonce.to_bytes(), aad, buf)
    }

    /// Verifies and decrypts `buf` in place under `nonce`.
    pub fn open_in_place(
        &self,
        nonce: TransportNonce,
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), CryptoError> {
        self.open_in_place_raw(&nonce.to_bytes(), aad, buf, tag)
    }
}
