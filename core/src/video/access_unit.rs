//! The encoded frame as it travels between the stages that make and send it: [`AccessUnit`] (a reusable
//! buffer the encoder fills and the packetizer reads), its [`FrameKind`], and [`EncoderRequest`], what the
//! sending side asks of the encoder (IDR, reference invalidation, bitrate). Defined here, below both the
//! encoders and the media plane, so neither depends on the other.

use std::time::Duration;

/// Kind of an encoded frame as the Moonlight frame header reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Instantaneous decoder refresh: decodable on its own, parameter sets in-band.
    Idr,
    /// Predicted from earlier frames.
    P,
}

/// One encoded frame. The buffer is reused frame after frame (cleared, never shrunk).
#[derive(Debug, Default, Clone)]
pub struct AccessUnit {
    /// Annex-B byte stream of the whole access unit.
    pub data: Vec<u8>,
    /// `None` while the buffer holds no frame (the encoder skipped one, or nothing was encoded yet).
    pub kind: Option<FrameKind>,
    /// The source frame index.
    pub frame_index: u64,
    /// Wall time the encoder spent on this frame (conversion included).
    pub encode_time: Duration,
}

impl AccessUnit {
    /// Whether the unit is an IDR.
    pub fn is_idr(&self) -> bool {
        self.kind == Some(FrameKind::Idr)
    }
}

/// A request to a session's encoder, from the control stream or the video sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderRequest {
    /// The next frame must be an IDR.
    Idr,
    /// The client lost frames `first..=last`: invalidate them as references (or send an IDR).
    InvalidateRefs {
        /// First lost frame index.
        first: u64,
        /// Last lost frame index.
        last: u64,
    },
    /// A new target bitrate, kbit/s.
    Bitrate(u32),
}
