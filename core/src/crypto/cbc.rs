//! AES-128-CBC with PKCS#7 padding, and the Moonlight audio IV rule built on it.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit};
use aes::Aes128;

use super::{CryptoError, RemoteInputKey};

/// The length of `len` plaintext bytes after PKCS#7 padding to 16-byte blocks (always at least one
/// padding byte, so 16 → 32).
pub const fn pkcs7_padded_len(len: usize) -> usize {
    (len / 16 + 1) * 16
}

/// AES-128-CBC keyed with `rikey`, for Moonlight audio: each packet's IV is zero except its first four
/// bytes, which are big-endian (`rikeyid` + RTP sequence number).
#[derive(Clone)]
pub struct AudioCipher {
    aes: Aes128,
    key_id: u32,
}

impl core::fmt::Debug for AudioCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AudioCipher").field("key_id", &(self.key_id as i32)).finish_non_exhaustive()
    }
}

impl AudioCipher {
    /// Expands the key of `rik`.
    pub fn new(rik: &RemoteInputKey) -> Self {
        Self { aes: Aes128::new(&rik.key.into()), key_id: rik.key_id_u32() }
    }

    /// The IV of the packet with RTP sequence number `seq`.
    pub fn iv(&self, seq: u16) -> [u8; 16] {
        RemoteInputKey::new([0; 16], self.key_id as i32).audio_iv(seq)
    }

    /// Encrypts the first `msg_len` bytes of `buf` in place for RTP sequence number `seq` and returns the
    /// ciphertext length ([`pkcs7_padded_len`]`(msg_len)`); `buf` must be at least that long.
    pub fn encrypt(&self, seq: u16, buf: &mut [u8], msg_len: usize) -> Result<usize, CryptoError> {
        cbc_encrypt(&self.aes, &self.iv(seq), buf, msg_len)
    }

    /// Decrypts `buf` in place for RTP sequence number `seq`, checks and strips the padding, and returns
    /// the plaintext length (the plaintext is `buf[..len]`).
    pub fn decrypt(&self, seq: u16, buf: &mut [u8]) -> Result<usize, CryptoError> {
        cbc_decrypt(&self.aes, &self.iv(seq), buf)
    }
}

/// AES-128-CBC-PKCS#7 encryption of `buf[..msg_len]` in place with an explicit key schedule and IV.
pub(crate) fn cbc_encrypt(aes: &Aes128, iv: &[u8; 16], buf: &mut [u8], msg_len: usize) -> Result<usize, CryptoError> {
    let need = pkcs7_padded_len(msg_len);
    if buf.len() < need {
        return Err(CryptoError::BufferTooSmall { need, have: buf.len() });
    }
    let have = buf.len();
    let enc = cbc::Encryptor::<Aes128>::inner_iv_init(aes.clone(), iv.into());
    let out = enc
        .encrypt_padded_mut::<Pkcs7>(&mut buf[..need], msg_len)
        .map_err(|_| CryptoError::BufferTooSmall { need, have })?;
    Ok(out.len())
}

/// AES-128-CBC-PKCS#7 decryption of `buf` in place; returns the plaintext length.
pub(crate) fn cbc_decrypt(aes: &Aes128, iv: &[u8; 16], buf: &mut [u8]) -> Result<usize, CryptoError> {
    if buf.is_empty() || !buf.len().is_multiple_of(16) {
        tracing::debug!(len = buf.len(), "CBC ciphertext is not a non-empty multiple of 16 bytes");
        return Err(CryptoError::BadPadding);
    }
    let dec = cbc::Decryptor::<Aes128>::inner_iv_init(aes.clone(), iv.into());
    let out = dec.decrypt_padded_mut::<Pkcs7>(buf).map_err(|_| {
        tracing::debug!("CBC PKCS#7 padding invalid");
        CryptoError::BadPadding
    })?;
    Ok(out.len())
}

/// A raw AES-128-CBC-PKCS#7 cipher with caller-chosen IVs (for known-answer tests and old protocol paths).
#[derive(Clone)]
pub struct CbcCipher {
    aes: Aes128,
}

impl CbcCipher {
    /// Expands `key`.
    pub fn new(key: &[u8; 16]) -> Self {
        Self { aes: Aes128::new(key.into()) }
    }

    /// See [`AudioCipher::encrypt`]; the IV is explicit.
    pub fn encrypt(&self, iv: &[u8; 16], buf: &mut [u8], msg_len: usize) -> Result<usize, CryptoError> {
        cbc_encrypt(&self.aes, iv, buf, msg_len)
    }

    /// See [`AudioCipher::decrypt`]; the IV is explicit.
    pub fn decrypt(&self, iv: &[u8; 16], buf: &mut [u8]) -> Result<usize, CryptoError> {
        cbc_decrypt(&self.aes, iv, buf)
    }

    /// Encrypts whole blocks without padding (`buf.len()` must be a multiple of 16); for KATs.
    pub fn encrypt_blocks_nopad(&self, iv: &[u8; 16], buf: &mut [u8]) -> Result<(), CryptoError> {
        if !buf.len().is_multiple_of(16) {
            return Err(CryptoError::BadPadding);
        }
        let mut enc = cbc::Encryptor::<Aes128>::inner_iv_init(self.aes.clone(), iv.into());
        for block in buf.chunks_exact_mut(16) {
            enc.encrypt_block_mut(block.into());
        }
        Ok(())
    }

    /// Decrypts whole blocks without padding; for KATs.
    pub fn decrypt_blocks_nopad(&self, iv: &[u8; 16], buf: &mut [u8]) -> Result<(), CryptoError> {
        if !buf.len().is_multiple_of(16) {
            return Err(CryptoError::BadPadding);
        }
        let mut dec = cbc::Decryptor::<Aes128>::inner_iv_init(self.aes.clone(), iv.into());
        for block in buf.chunks_exact_mut(16) {
            dec.decrypt_block_mut(block.into());
        }
        Ok(())
    }
}
