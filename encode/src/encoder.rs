//! The `Encoder` trait every video encoder implements (software H.264 here, NVENC in `gpu`), its
//! configuration, and the access units it produces into reusable buffers.

use crate::colour::{ColourSpace, Range};
use crate::frame::Frame;
pub use lumen_core::video::{AccessUnit, EncoderRequest, FrameKind};

/// Video codec of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    H264,
    Hevc,
    Av1,
}

/// What the client negotiated, as the encoder needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderConfig {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Target bitrate in kbit/s (the client's requested bitrate).
    pub bitrate_kbps: u32,
    pub codec: Codec,
    pub colour_space: ColourSpace,
    pub range: Range,
    /// Slices per frame (the client's count; 1 for low latency).
    pub slices: u32,
}

/// Encoder failures.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("unsupported configuration: {0}")]
    Unsupported(String),
    #[error("bad input frame: {0}")]
    BadFrame(String),
    #[error("encoder library error: {0}")]
    Library(String),
}

/// A video encoder session for one stream.
pub trait Encoder: Send {
    /// The configuration in force.
    fn config(&self) -> &EncoderConfig;
    /// Encodes `frame` into `out` (its buffer is reused). `out.kind` is `None` when the encoder skipped
    /// the frame (nothing to send).
    fn encode(&mut self, frame: &Frame<'_>, out: &mut AccessUnit) -> Result<(), EncodeError>;
    /// The next frame will be an IDR frame with parameter sets in-band.
    fn request_idr(&mut self);
    /// Invalidates reference frames `first..=last` (frame indices). Returns `false` when the codec
    /// cannot do it; the caller then asks for an IDR frame instead.
    fn invalidate_refs(&mut self, first: u64, last: u64) -> bool;
    /// Changes the target bitrate (kbit/s).
    fn set_bitrate(&mut self, kbps: u32) -> Result<(), EncodeError>;
}

/// Applies a request of the sending side to `encoder` (the in-process feed and the worker's encoder
/// thread both do); `bitrate` is the encoder's current rate, updated when a change takes.
pub fn apply_request(encoder: &mut dyn Encoder, request: EncoderRequest, bitrate: &mut u32) {
    match request {
        EncoderRequest::Idr => encoder.request_idr(),
        EncoderRequest::InvalidateRefs { first, last } => {
            if !encoder.invalidate_refs(first, last) {
                encoder.request_idr();
            }
        }
        EncoderRequest::Bitrate(want) if want != *bitrate => match encoder.set_bitrate(want) {
            Ok(()) => {
                tracing::info!(from = *bitrate, to = want, "video: encoder bitrate changed");
                *bitrate = want;
            }
            Err(e) => tracing::warn!(error = %e, "video: bitrate change failed"),
        },
        EncoderRequest::Bitrate(_) => {}
    }
}
