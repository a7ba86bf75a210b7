//! The sealed video datagrams of the lumen transport: the lumen framing (`video::lumen`) with an 8-byte
//! capture timestamp after its header, the shard encrypted with ChaCha20-Poly1305 and a 16-byte tag at the
//! end. Header and timestamp are authenticated as associated data; the nonce is the frame index and shard
//! index (`docs/wire.md` §12), unique under a key because each set-up has its own key
//! ([`super::key`]) and frame indices only grow within it. Everything works in place on the caller's
//! buffers: nothing is allocated per datagram or per frame in steady state.

use crate::crypto::{CryptoError, Direction, TransportCipher, TransportNonce};
use crate::video::lumen::{LumenFrame, LumenHeader, LumenPacketizer, LumenParams, LumenReassembler, LUMEN_HEADER_LEN};
use crate::video::{FrameMeta, PacketBatch, VideoError};

/// Bytes in front of the ciphertext: the lumen header and the capture timestamp (the AEAD's associated data).
pub const TRANSPORT_HEADER_LEN: usize = LUMEN_HEADER_LEN + 8;
/// The Poly1305 tag at the end of every datagram.
pub const TRANSPORT_TAG_LEN: usize = 16;
/// Bytes a sealed datagram has beyond the bare framing (timestamp + tag).
pub const TRANSPORT_EXTRA: usize = 8 + TRANSPORT_TAG_LEN;
/// Channel byte of video nonces.
const CHANNEL_VIDEO: u8 = b'V';

/// Why a datagram or frame was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransportError {
    /// The framing refused it.
    #[error(transparent)]
    Video(#[from] VideoError),
    /// It did not authenticate (tampered, replayed under another nonce, or another key).
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// Not a datagram of this stream's size.
    #[error("lumen transport datagram of {got} bytes, expected {expected}")]
    BadLength {
        /// The stream's datagram size.
        expected: usize,
        /// What arrived.
        got: usize,
    },
}

/// The nonce of shard `shard` of frame `frame`: counter = frame << 16 | shard.
fn nonce(frame: u32, shard: u16) -> TransportNonce {
    TransportNonce {
        counter: (u64::from(frame) << 16) | u64::from(shard),
        direction: Direction::HostToClient,
        channel: CHANNEL_VIDEO,
    }
}

/// The framing parameters of sealed datagrams of at most `max_datagram` bytes.
pub fn sealed_params(max_datagram: usize, fec_percentage: u16, min_parity: u16) -> Result<LumenParams, VideoError> {
    LumenParams::for_datagram(max_datagram.saturating_sub(TRANSPORT_EXTRA), fec_percentage, min_parity)
}

/// The host side: access unit → sealed datagrams.
pub struct SealedVideoSender {
    packetizer: LumenPacketizer,
    cipher: TransportCipher,
}

impl core::fmt::Debug for SealedVideoSender {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SealedVideoSender").field("params", &self.packetizer.params()).finish_non_exhaustive()
    }
}

impl SealedVideoSender {
    /// A sender of datagrams of at most `max_datagram` bytes under the 32-byte `key`.
    pub fn new(
        key: &[u8; 32],
        max_datagram: usize,
        fec_percentage: u16,
        min_parity: u16,
    ) -> Result<Self, TransportError> {
        let params = sealed_params(max_datagram, fec_percentage, min_parity)?;
        let packetizer = LumenPacketizer::new(params)?.with_room(8, TRANSPORT_TAG_LEN);
        Ok(Self { packetizer, cipher: TransportCipher::new(key) })
    }

    /// Bytes of every datagram.
    pub fn datagram_len(&self) -> usize {
        self.packetizer.params().datagram_len() + TRANSPORT_EXTRA
    }

    /// The FEC percentage in use.
    pub fn fec_percentage(&self) -> u16 {
        self.packetizer.params().fec_percentage
    }

    /// Changes the FEC percentage from the next frame on.
    pub fn set_fec_percentage(&mut self, pct: u16) {
        self.packetizer.set_fec_percentage(pct);
    }

    /// Packetizes, protects and seals one access unit into `out`; `capture_us` is the frame's capture time
    /// (µs since the Unix epoch, `CLOCK_REALTIME`; 0 when unknown). Returns (data, parity) shard counts.
    pub fn packetize(
        &mut self,
        meta: &FrameMeta,
        capture_us: u64,
        au: &[u8],
        out: &mut PacketBatch,
    ) -> Result<(usize, usize), TransportError> {
        let (data, parity) = self.packetizer.packetize(meta, au, out)?;
        let sl = self.packetizer.params().shard_len;
        for i in 0..data + parity {
            let slot = out.slot_mut(i);
            slot[LUMEN_HEADER_LEN..TRANSPORT_HEADER_LEN].copy_from_slice(&capture_us.to_le_bytes());
            let (aad, rest) = slot.split_at_mut(TRANSPORT_HEADER_LEN);
            let (body, tag) = rest.split_at_mut(sl);
            let t = self.cipher.seal_in_place(nonce(meta.frame_index, i as u16), aad, body)?;
            tag.copy_from_slice(&t);
        }
        Ok((data, parity))
    }
}

/// A frame the receiver rebuilt and authenticated.
#[derive(Debug)]
pub struct ReceivedFrame<'a> {
    /// The frame (valid until the next push).
    pub frame: LumenFrame<'a>,
    /// Its capture time, µs since the Unix epoch (`CLOCK_REALTIME` of the host; 0 when unknown).
    pub capture_us: u64,
}

/// Counters of a receiver.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TransportStats {
    /// Datagrams pushed.
    pub datagrams: u64,
    /// Datagrams that did not authenticate.
    pub auth_failures: u64,
    /// Datagrams of a wrong size or with a malformed header.
    pub malformed: u64,
    /// Frames delivered.
    pub frames: u64,
}

/// The client side: sealed datagrams → authenticated, rebuilt frames.
pub struct SealedVideoReceiver {
    reassembler: LumenReassembler,
    cipher: TransportCipher,
    stats: TransportStats,
}

impl core::fmt::Debug for SealedVideoReceiver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SealedVideoReceiver").field("stats", &self.stats).finish_non_exhaustive()
    }
}

impl SealedVideoReceiver {
    /// A receiver for a sender made with the same `key` and `max_datagram`.
    pub fn new(key: &[u8; 32], max_datagram: usize) -> Result<Self, TransportError> {
        let params = sealed_params(max_datagram, 0, 0)?;
        Ok(Self {
            reassembler: LumenReassembler::new(params)?,
            cipher: TransportCipher::new(key),
            stats: TransportStats::default(),
        })
    }

    /// Bytes of every datagram.
    pub fn datagram_len(&self) -> usize {
        self.reassembler.params().datagram_len() + TRANSPORT_EXTRA
    }

    /// Counters so far.
    pub fn stats(&self) -> TransportStats {
        self.stats
    }

    /// Frames abandoned unfinished (a newer frame arrived first).
    pub fn abandoned(&self) -> u64 {
        self.reassembler.abandoned()
    }

    /// Authenticates, decrypts (in place) and reassembles one datagram; returns the frame it completed.
    pub fn push(&mut self, d: &mut [u8]) -> Result<Option<ReceivedFrame<'_>>, TransportError> {
        self.stats.datagrams += 1;
        let expected = self.datagram_len();
        if d.len() != expected {
            self.stats.malformed += 1;
            return Err(TransportError::BadLength { expected, got: d.len() });
        }
        let h = LumenHeader::parse(&d[..LUMEN_HEADER_LEN]).inspect_err(|_| self.stats.malformed += 1)?;
        let (aad, rest) = d.split_at_mut(TRANSPORT_HEADER_LEN);
        let (body, tag) = rest.split_at_mut(expected - TRANSPORT_HEADER_LEN - TRANSPORT_TAG_LEN);
        let mut t = [0u8; TRANSPORT_TAG_LEN];
        t.copy_from_slice(tag);
        if let Err(e) = self.cipher.open_in_place(nonce(h.frame_index, h.shard_index), aad, body, &t) {
            self.stats.auth_failures += 1;
            return Err(e.into());
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&aad[LUMEN_HEADER_LEN..]);
        let capture_us = u64::from_le_bytes(ts);
        match self.reassembler.push_parts(&aad[..LUMEN_HEADER_LEN], body)? {
            Some(frame) => {
                self.stats.frames += 1;
                Ok(Some(ReceivedFrame { frame, capture_us }))
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
#[path = "video_tests.rs"]
mod tests;
