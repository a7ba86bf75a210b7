//! Framing of encrypted video packets (negotiated with `x-ss-general.encryptionEnabled` bit 0x2).
//!
//! An encrypted video datagram is a 32-byte prefix followed by the ciphertext of the whole plaintext
//! packet (RTP header, video packet header and payload):
//! `[IV: 12][frame number: u32 LE][GCM tag: 16][ciphertext]`. The IV travels in the packet; the host
//! makes it unique with [`RemoteInputKey::video_iv`] of a per-session counter. The frame number lets the
//! client drop packets of old frames before decrypting them.

use core::ops::Range;

use super::{Aes128Gcm, CryptoError, RemoteInputKey, GCM_IV_LEN, GCM_TAG_LEN};

/// Size of the prefix in front of each encrypted video packet.
pub const PREFIX_LEN: usize = GCM_IV_LEN + 4 + GCM_TAG_LEN;

/// The decoded prefix of an encrypted video packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// The GCM IV.
    pub iv: [u8; GCM_IV_LEN],
    /// The frame index of the packet (not authenticated: only a hint).
    pub frame_number: u32,
    /// The GCM tag.
    pub tag: [u8; GCM_TAG_LEN],
}

/// Parses the prefix at the start of `buf`.
pub fn parse_prefix(buf: &[u8]) -> Result<Prefix, CryptoError> {
    if buf.len() < PREFIX_LEN {
        return Err(CryptoError::Malformed("encrypted video packet shorter than its 32-byte prefix"));
    }
    let mut iv = [0u8; GCM_IV_LEN];
    iv.copy_from_slice(&buf[..GCM_IV_LEN]);
    let frame_number = u32::from_le_bytes([buf[12], buf[13], buf[14], buf[15]]);
    let mut tag = [0u8; GCM_TAG_LEN];
    tag.copy_from_slice(&buf[16..PREFIX_LEN]);
    Ok(Prefix { iv, frame_number, tag })
}

/// Seals `buf[PREFIX_LEN..]` (the whole plaintext packet) in place with IV
/// [`RemoteInputKey::video_iv`]`(counter)` and writes the prefix into `buf[..PREFIX_LEN]`.
pub fn seal_in_place(cipher: &Aes128Gcm, counter: u64, frame_number: u32, buf: &mut [u8]) -> Result<(), CryptoError> {
    if buf.len() < PREFIX_LEN {
        return Err(CryptoError::BufferTooSmall { need: PREFIX_LEN, have: buf.len() });
    }
    let iv = RemoteInputKey::video_iv(counter);
    let (prefix, body) = buf.split_at_mut(PREFIX_LEN);
    let tag = cipher.seal_in_place(&iv, body)?;
    prefix[..GCM_IV_LEN].copy_from_slice(&iv);
    prefix[12..16].copy_from_slice(&frame_number.to_le_bytes());
    prefix[16..].copy_from_slice(&tag);
    Ok(())
}

/// Verifies and decrypts an encrypted video datagram in place; returns the prefix and the range of `buf`
/// that holds the plaintext packet.
pub fn open_in_place(cipher: &Aes128Gcm, buf: &mut [u8]) -> Result<(Prefix, Range<usize>), CryptoError> {
    let prefix = parse_prefix(buf)?;
    cipher.open_in_place(&prefix.iv, &mut buf[PREFIX_LEN..], &prefix.tag)?;
    Ok((prefix, PREFIX_LEN..buf.len()))
}
