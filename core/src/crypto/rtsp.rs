//! Framing of encrypted RTSP (`rtspenc://`) messages.
//!
//! Each message on the TCP connection is a 24-byte header followed by the ciphertext:
//! `[type_and_length: u32 BE = 0x8000_0000 | plaintext length][sequence: u32 BE][GCM tag: 16]`.
//! The GCM IV is [`RemoteInputKey::rtsp_iv`] of the sequence number and the sender's direction; the key
//! is `rikey`. The client numbers its requests from 1.

use core::ops::Range;

use super::{Aes128Gcm, CryptoError, Direction, RemoteInputKey, GCM_TAG_LEN};

/// Size of the header in front of each encrypted RTSP message.
pub const HEADER_LEN: usize = 24;
/// The bit of `type_and_length` that marks an encrypted message.
pub const ENCRYPTED_BIT: u32 = 0x8000_0000;

/// The decoded header of an encrypted RTSP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Length of the ciphertext (= plaintext) after the header.
    pub len: usize,
    /// The sender's sequence number.
    pub seq: u32,
}

impl Header {
    /// Total bytes of the framed message (header + ciphertext).
    pub const fn total_len(&self) -> usize {
        HEADER_LEN + self.len
    }
}

/// Parses the header at the start of `buf` (which may hold only the header so far). Tells the reader
/// how many bytes the whole message has.
pub fn parse_header(buf: &[u8]) -> Result<Header, CryptoError> {
    if buf.len() < HEADER_LEN {
        return Err(CryptoError::Malformed("encrypted RTSP header shorter than 24 bytes"));
    }
    let tl = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if tl & ENCRYPTED_BIT == 0 {
        tracing::warn!("rejecting unencrypted message on an encrypted RTSP connection");
        return Err(CryptoError::Malformed("encrypted RTSP message without the encrypted bit"));
    }
    let seq = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
    Ok(Header { len: (tl & !ENCRYPTED_BIT) as usize, seq })
}

/// Seals the plaintext at `buf[HEADER_LEN..HEADER_LEN + msg_len]` in place, writes the header, and returns
/// the framed length (`HEADER_LEN + msg_len`).
pub fn seal_in_place(
    cipher: &Aes128Gcm,
    seq: u32,
    direction: Direction,
    buf: &mut [u8],
    msg_len: usize,
) -> Result<usize, CryptoError> {
    let need = HEADER_LEN + msg_len;
    if buf.len() < need {
        return Err(CryptoError::BufferTooSmall { need, have: buf.len() });
    }
    if msg_len as u64 >= ENCRYPTED_BIT as u64 {
        return Err(CryptoError::Malformed("RTSP message too long"));
    }
    let iv = RemoteInputKey::rtsp_iv(seq, direction);
    let (head, body) = buf.split_at_mut(HEADER_LEN);
    let tag = cipher.seal_in_place(&iv, &mut body[..msg_len])?;
    head[0..4].copy_from_slice(&(ENCRYPTED_BIT | msg_len as u32).to_be_bytes());
    head[4..8].copy_from_slice(&seq.to_be_bytes());
    head[8..8 + GCM_TAG_LEN].copy_from_slice(&tag);
    Ok(need)
}

/// Opens a framed message in place. `buf` must hold exactly one whole message; `direction` is the
/// sender's. Returns the header and the range of `buf` that now holds the plaintext.
pub fn open_in_place(
    cipher: &Aes128Gcm,
    direction: Direction,
    buf: &mut [u8],
) -> Result<(Header, Range<usize>), CryptoError> {
    let header = parse_header(buf)?;
    if buf.len() != header.total_len() {
        tracing::warn!(have = buf.len(), want = header.total_len(), "encrypted RTSP length mismatch");
        return Err(CryptoError::Malformed("encrypted RTSP length does not match the buffer"));
    }
    let mut tag = [0u8; GCM_TAG_LEN];
    tag.copy_from_slice(&buf[8..HEADER_LEN]);
    let iv = RemoteInputKey::rtsp_iv(header.seq, direction);
    cipher.open_in_place(&iv, &mut buf[HEADER_LEN..], &tag)?;
    Ok((header, HEADER_LEN..buf.len()))
}
