//! AES-128-GCM with a 12-byte IV and a detached 16-byte tag, in place on caller buffers.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm as Inner, KeyInit, Nonce, Tag};

use super::CryptoError;

/// Length of every GCM IV Moonlight uses with the modern (v2) constructions.
pub const GCM_IV_LEN: usize = 12;
/// Length of the GCM authentication tag.
pub const GCM_TAG_LEN: usize = 16;

/// An AES-128-GCM key schedule. Cheap to clone; create it once per session.
#[derive(Clone)]
pub struct Aes128Gcm {
    inner: Inner,
}

impl core::fmt::Debug for Aes128Gcm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Aes128Gcm(..)")
    }
}

impl Aes128Gcm {
    /// Expands `key`.
    pub fn new(key: &[u8; 16]) -> Self {
        Self { inner: Inner::new(key.into()) }
    }

    /// Encrypts `buf` in place (no associated data) and returns the tag.
    pub fn seal_in_place(&self, iv: &[u8; GCM_IV_LEN], buf: &mut [u8]) -> Result<[u8; GCM_TAG_LEN], CryptoError> {
        self.seal_in_place_aad(iv, &[], buf)
    }

    /// Encrypts `buf` in place, authenticating `aad` too, and returns the tag.
    pub fn seal_in_place_aad(
        &self,
        iv: &[u8; GCM_IV_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; GCM_TAG_LEN], CryptoError> {
        let tag = self
            .inner
            .encrypt_in_place_detached(Nonce::from_slice(iv), aad, buf)
            .map_err(|_| CryptoError::Malformed("message too long for AES-GCM"))?;
        Ok(tag.into())
    }

    /// Verifies `tag` and decrypts `buf` in place (no associated data). On failure `buf` is unspecified.
    pub fn open_in_place(
        &self,
        iv: &[u8; GCM_IV_LEN],
        buf: &mut [u8],
        tag: &[u8; GCM_TAG_LEN],
    ) -> Result<(), CryptoError> {
        self.open_in_place_aad(iv, &[], buf, tag)
    }

    /// Verifies `tag` over `aad` and `buf`, and decrypts `buf` in place.
    pub fn open_in_place_aad(
        &self,
        iv: &[u8; GCM_IV_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; GCM_TAG_LEN],
    ) -> Result<(), CryptoError> {
        self.inner.decrypt_in_place_detached(Nonce::from_slice(iv), aad, buf, Tag::from_slice(tag)).map_err(|_| {
            tracing::debug!(len = buf.len(), "AES-GCM tag mismatch");
            CryptoError::AuthenticationFailed
        })
    }
}
