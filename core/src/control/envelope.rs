//! The encrypted control envelope (type 0x0001) that carries every gen-7 control message.
//!
//! Layout of one ENet packet:
//! `[0x0001: u16 LE][length: u16 LE][seq: u32 LE][GCM tag: 16][ciphertext]`, where `length` counts
//! everything after itself (`4 + 16 + plaintext`), and the plaintext is a whole control message
//! `[type: u16 LE][payload length: u16 LE][payload]`. The AES-128-GCM key is `rikey`; the 12-byte IV is
//! [`RemoteInputKey::control_iv`]`(seq, sender)`: `seq` little-endian in bytes 0..4, `'C'`/`'H'` (sender)
//! at byte 10 and `'C'` at byte 11. Each side numbers its own messages from 0.

use super::message::{split_header, ControlMessage};
use super::types::{ENCRYPTED, V2_HEADER_LEN};
use super::ControlError;
use crate::crypto::{Aes128Gcm, Direction, RemoteInputKey, GCM_TAG_LEN};

/// Bytes of `[0x0001][length][seq]`.
pub const HEADER_LEN: usize = 8;
/// Bytes in front of the ciphertext: header plus tag.
pub const OVERHEAD: usize = HEADER_LEN + GCM_TAG_LEN;
/// Largest plaintext the 16-bit length field allows.
pub const MAX_PLAINTEXT: usize = u16::MAX as usize - 4 - GCM_TAG_LEN;

/// The clear-text part of an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeHeader {
    /// The length field (bytes after it).
    pub length: u16,
    /// The sender's sequence number.
    pub seq: u32,
}

/// Parses and checks the envelope header of a whole ENet packet `buf`.
pub fn parse_header(buf: &[u8]) -> Result<EnvelopeHeader, ControlError> {
    if buf.len() < HEADER_LEN {
        return Err(ControlError::Truncated { need: HEADER_LEN, have: buf.len() });
    }
    let ty = u16::from_le_bytes([buf[0], buf[1]]);
    if ty != ENCRYPTED {
        return Err(ControlError::NotEncrypted(ty));
    }
    let length = u16::from_le_bytes([buf[2], buf[3]]);
    let seq = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let min = 4 + GCM_TAG_LEN + V2_HEADER_LEN;
    if usize::from(length) < min {
        return Err(ControlError::Truncated { need: 4 + min, have: 4 + usize::from(length) });
    }
    if buf.len() != 4 + usize::from(length) {
        return Err(ControlError::LengthMismatch { declared: usize::from(length), actual: buf.len() - 4 });
    }
    Ok(EnvelopeHeader { length, seq })
}

/// Seals the plaintext control message at `buf[OVERHEAD..OVERHEAD + plaintext_len]` in place, fills in
/// the header and tag, and returns the packet length.
pub fn seal_in_place(
    cipher: &Aes128Gcm,
    seq: u32,
    from: Direction,
    buf: &mut [u8],
    plaintext_len: usize,
) -> Result<usize, ControlError> {
    if plaintext_len > MAX_PLAINTEXT {
        return Err(ControlError::TooLong(plaintext_len));
    }
    let total = OVERHEAD + plaintext_len;
    if buf.len() < total {
        return Err(ControlError::BufferTooSmall { need: total, have: buf.len() });
    }
    let iv = RemoteInputKey::control_iv(seq, from);
    let (head, body) = buf.split_at_mut(OVERHEAD);
    let tag = cipher.seal_in_place(&iv, &mut body[..plaintext_len])?;
    head[0..2].copy_from_slice(&ENCRYPTED.to_le_bytes());
    head[2..4].copy_from_slice(&((4 + GCM_TAG_LEN + plaintext_len) as u16).to_le_bytes());
    head[4..8].copy_from_slice(&seq.to_le_bytes());
    head[8..OVERHEAD].copy_from_slice(&tag);
    Ok(total)
}

/// Encodes `msg` and seals it into `out`; returns the packet length.
pub fn seal_message(
    cipher: &Aes128Gcm,
    seq: u32,
    from: Direction,
    msg: &ControlMessage,
    out: &mut [u8],
) -> Result<usize, ControlError> {
    let need = OVERHEAD + msg.encoded_len();
    if out.len() < need {
        return Err(ControlError::BufferTooSmall { need, have: out.len() });
    }
    let n = msg.encode_into(&mut out[OVERHEAD..])?;
    seal_in_place(cipher, seq, from, out, n)
}

/// Verifies and decrypts a whole envelope packet in place. Returns the sequence number, the inner type
/// and the inner payload (a slice of `buf`).
pub fn open_in_place<'b>(
    cipher: &Aes128Gcm,
    from: Direction,
    buf: &'b mut [u8],
) -> Result<(u32, u16, &'b [u8]), ControlError> {
    let r = open_inner(cipher, from, buf);
    if let Err(e) = &r {
        tracing::debug!(error = %e, ?from, "rejecting encrypted control packet");
    }
    r
}

fn open_inner<'b>(
    cipher: &Aes128Gcm,
    from: Direction,
    buf: &'b mut [u8],
) -> Result<(u32, u16, &'b [u8]), ControlError> {
    let h = parse_header(buf)?;
    let mut tag = [0u8; GCM_TAG_LEN];
    tag.copy_from_slice(&buf[HEADER_LEN..OVERHEAD]);
    let iv = RemoteInputKey::control_iv(h.seq, from);
    cipher.open_in_place(&iv, &mut buf[OVERHEAD..], &tag)?;
    let (ty, payload) = split_header(&buf[OVERHEAD..])?;
    if ty == ENCRYPTED {
        return Err(ControlError::NotEncrypted(ty));
    }
    Ok((h.seq, ty, payload))
}

/// Opens an envelope and decodes the message inside.
pub fn open_message(
    cipher: &Aes128Gcm,
    from: Direction,
    buf: &mut [u8],
) -> Result<(u32, ControlMessage), ControlError> {
    let (seq, ty, payload) = open_in_place(cipher, from, buf)?;
    Ok((seq, ControlMessage::decode_payload(from, ty, payload)?))
}

/// One side of an encrypted control stream: the session's cipher, which side we are, and our next
/// sequence number (each side numbers its own messages from 0).
#[derive(Debug, Clone)]
pub struct ControlCodec {
    cipher: Aes128Gcm,
    local: Direction,
    next_seq: u32,
}

impl ControlCodec {
    /// The host's side of the session keyed by `key`.
    pub fn host(key: &RemoteInputKey) -> Self {
        Self { cipher: Aes128Gcm::new(&key.key), local: Direction::HostToClient, next_seq: 0 }
    }

    /// The client's side of the session keyed by `key`.
    pub fn client(key: &RemoteInputKey) -> Self {
        Self { cipher: Aes128Gcm::new(&key.key), local: Direction::ClientToHost, next_seq: 0 }
    }

    /// The sequence number the next sealed message gets.
    pub fn next_seq(&self) -> u32 {
        self.next_seq
    }

    /// Seals `msg` with our next sequence number into `out`; returns the packet length.
    pub fn seal(&mut self, msg: &ControlMessage, out: &mut [u8]) -> Result<usize, ControlError> {
        let n = seal_message(&self.cipher, self.next_seq, self.local, msg, out)?;
        self.next_seq = self.next_seq.wrapping_add(1);
        Ok(n)
    }

    /// Opens a packet from the peer and decodes it; returns the peer's sequence number and the message.
    pub fn open(&self, buf: &mut [u8]) -> Result<(u32, ControlMessage), ControlError> {
        let peer = match self.local {
            Direction::HostToClient => Direction::ClientToHost,
            Direction::ClientToHost => Direction::HostToClient,
        };
        open_message(&self.cipher, peer, buf)
    }
}
