//! The pluggable encryption step of video datagrams.
//!
//! The packetizer calls a [`VideoSealer`] on every finished datagram slot (prefix + plaintext packet);
//! the reassembler calls a [`VideoOpener`] before parsing. [`GcmVideo`] is the Moonlight encrypted-video
//! framing (AES-128-GCM, 32-byte prefix `[IV 12][frame number u32 LE][tag 16]`, IV from a per-session
//! 64-bit counter with `'V'` in its last byte), built on [`crate::crypto::video`].

use core::ops::Range;

use crate::crypto::{video as cv, Aes128Gcm};

use super::VideoError;

/// Encrypts finished datagrams in place.
pub trait VideoSealer: Send {
    /// Bytes reserved in front of every plaintext packet.
    fn prefix_len(&self) -> usize;
    /// Seals `slot[prefix_len..]` and writes the prefix into `slot[..prefix_len]`.
    fn seal(&mut self, frame_index: u32, slot: &mut [u8]) -> Result<(), VideoError>;
}

/// Decrypts received datagrams in place.
pub trait VideoOpener: Send {
    /// Bytes of the prefix in front of the ciphertext.
    fn prefix_len(&self) -> usize;
    /// Verifies and decrypts `buf` in place; returns where the plaintext packet lies.
    fn open(&mut self, buf: &mut [u8]) -> Result<Range<usize>, VideoError>;
}

/// Moonlight encrypted video (AES-128-GCM with the `rikey`).
pub struct GcmVideo {
    cipher: Aes128Gcm,
    counter: u64,
}

impl core::fmt::Debug for GcmVideo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GcmVideo").field("counter", &self.counter).finish_non_exhaustive()
    }
}

impl GcmVideo {
    /// A sealer/opener keyed with the session's `rikey`; the IV counter starts at 0.
    pub fn new(key: &[u8; 16]) -> Self {
        Self { cipher: Aes128Gcm::new(key), counter: 0 }
    }
}

impl VideoSealer for GcmVideo {
    fn prefix_len(&self) -> usize {
        cv::PREFIX_LEN
    }

    fn seal(&mut self, frame_index: u32, slot: &mut [u8]) -> Result<(), VideoError> {
        cv::seal_in_place(&self.cipher, self.counter, frame_index, slot)?;
        self.counter += 1;
        Ok(())
    }
}

impl VideoOpener for GcmVideo {
    fn prefix_len(&self) -> usize {
        cv::PREFIX_LEN
    }

    fn open(&mut self, buf: &mut [u8]) -> Result<Range<usize>, VideoError> {
        Ok(cv::open_in_place(&self.cipher, buf)?.1)
    }
}
