//! Video wire formats: the Moonlight video packetizer (host side) and reassembler (client side), and the
//! lumen-transport variant with GF(2¹⁶) FEC.
//!
//! * [`header`]: RTP + `NV_VIDEO_PACKET` + short frame header layouts.
//! * [`shape`]: shard counts, multi-FEC block split, parity and FEC percentage per block.
//! * [`VideoPacketizer`] → [`PacketBatch`] → [`VideoReassembler`].
//! * [`GcmVideo`]: the pluggable AES-128-GCM encryption step.
//! * [`lumen`]: the lumen-transport framing.
//! * [`AccessUnit`], [`FrameKind`], [`EncoderRequest`]: the encoded frame between encoder and sender.
//!
//! Byte layouts: `docs/wire.md`.

mod access_unit;
mod batch;
mod crypt;
mod fec;
pub mod header;
pub mod lumen;
mod packetizer;
mod reassembler;
pub mod shape;

pub use access_unit::{AccessUnit, EncoderRequest, FrameKind};
pub use batch::PacketBatch;
pub use crypt::{GcmVideo, VideoOpener, VideoSealer};
pub use header::{FrameHeader, FrameType, PacketHeader};
pub use packetizer::{FrameMeta, VideoPacketizer};
pub use reassembler::{FrameView, PushOutcome, Reassembled, ReassemblyStats, VideoReassembler};
pub use shape::{frame_shape, FrameShape, VideoParams};

use crate::crypto::CryptoError;
use crate::fec::FecError;

/// Why a video datagram or frame was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VideoError {
    /// Fewer bytes than the layout needs.
    #[error("truncated: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// A datagram of the wrong size for the negotiated packet size.
    #[error("datagram of {got} bytes, expected {expected}")]
    BadLength {
        /// Expected size.
        expected: usize,
        /// Actual size.
        got: usize,
    },
    /// The first RTP byte (or lumen magic) is not ours.
    #[error("unexpected RTP header byte {0:#04x}")]
    BadRtpHeader(u8),
    /// `fecInfo` or multi-FEC fields out of range.
    #[error("bad FEC fields: {0}")]
    BadFecInfo(&'static str),
    /// Unknown frame type byte.
    #[error("unknown frame type {0}")]
    BadFrameType(u8),
    /// The short frame header does not start with 0x01.
    #[error("unexpected frame header type {0:#04x}")]
    BadFrameHeader(u8),
    /// Unusable stream parameters.
    #[error("bad video parameters: {0}")]
    BadParams(&'static str),
    /// A frame too large for the protocol's shard fields.
    #[error("frame of {bytes} bytes is too large to packetize")]
    FrameTooLarge {
        /// Access unit size.
        bytes: usize,
    },
    /// Datagrams of one frame or block disagree.
    #[error("inconsistent datagram: {0}")]
    Inconsistent(&'static str),
    /// A reassembled frame failed its checks.
    #[error("corrupt frame: {0}")]
    Corrupt(&'static str),
    /// Every frame slot holds a finished frame not yet polled.
    #[error("reassembler backlog: poll finished frames before pushing more")]
    Backlog,
    /// Encryption or decryption failed.
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// The FEC codec refused or could not recover.
    #[error(transparent)]
    Fec(#[from] FecError),
}
