//! Audio wire format: RTP Opus packets with Moonlight's 4 + 2 audio FEC blocks and optional AES-128-CBC
//! (the audio IV rule), host-side packetizer and client-side receiver.
//!
//! * Data datagram: 12-byte RTP header (`0x80`, payload type 97, sequence BE, timestamp BE in ms, SSRC 0)
//!   + the Opus packet (encrypted: its AES-128-CBC/PKCS#7 ciphertext, IV from `rikeyid` + sequence).
//! * After every 4th data packet (sequence ≡ 3 mod 4) two FEC datagrams: RTP header (payload type 127,
//!   sequences base+4 and base+5, timestamp 0) + 12-byte audio FEC header (shard index, payload type 97,
//!   base sequence BE, base timestamp BE, SSRC BE) + the parity over the 4 payloads.
//!
//! Layouts in `docs/wire.md`.

pub mod gf;
mod layout;
mod packetizer;
mod receiver;

pub use layout::{OpusLayout, LAYOUTS};
pub use packetizer::AudioPacketizer;
pub use receiver::{AudioEvent, AudioReceiver, AudioStats};

use crate::crypto::CryptoError;

/// RTP header bytes of an audio datagram.
pub const RTP_LEN: usize = 12;
/// Audio FEC header bytes (after the RTP header of an FEC datagram).
pub const FEC_HEADER_LEN: usize = 12;
/// RTP payload type of Opus data packets.
pub const PT_AUDIO: u8 = 97;
/// RTP payload type of audio FEC packets.
pub const PT_FEC: u8 = 127;
/// Largest Opus packet accepted (Sunshine's `MAX_AUDIO_PACKET_SIZE`).
pub const MAX_OPUS_LEN: usize = 1400;
/// Largest shard: the Opus packet after PKCS#7 padding.
pub const MAX_SHARD_LEN: usize = MAX_OPUS_LEN + 16;
/// Largest audio datagram.
pub const MAX_DATAGRAM_LEN: usize = RTP_LEN + FEC_HEADER_LEN + MAX_SHARD_LEN;

/// Why an audio packet was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AudioError {
    /// Fewer bytes than the layout needs.
    #[error("truncated audio datagram: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// An Opus packet or datagram above the size limit.
    #[error("audio payload of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// Not an RTP v2 header.
    #[error("bad RTP header byte {0:#04x}")]
    BadRtpHeader(u8),
    /// Neither the audio nor the FEC payload type.
    #[error("unknown audio payload type {0}")]
    BadPayloadType(u8),
    /// FEC header fields out of range.
    #[error("bad audio FEC header: {0}")]
    BadFecHeader(&'static str),
    /// Encryption or decryption failed.
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
}
