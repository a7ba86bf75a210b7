//! lumen-encode: the Encoder trait, the software H.264 encoder and the NVIDIA path.
//!
//! Also the frame and audio sources behind traits (test pattern, tone) and the Opus audio encoder.

pub mod audio;
pub mod clock;
pub mod colour;
pub mod encoder;
pub mod frame;
pub mod gpu;
pub mod openh264_enc;
mod openh264_live;
pub mod quality;
pub mod source;

pub use colour::{ColourSpace, Range};
pub use encoder::{apply_request, AccessUnit, Codec, EncodeError, Encoder, EncoderConfig, EncoderRequest, FrameKind};
pub use frame::{CpuPixels, Frame, FramePixels, PixelFormat};
pub use openh264_enc::{OpenH264Encoder, Speed};
pub use source::{FrameSource, TestPattern};

/// The default encoder for a configuration on a machine without a GPU encoder.
pub fn software_encoder(cfg: EncoderConfig) -> Result<Box<dyn Encoder>, EncodeError> {
    Ok(Box::new(OpenH264Encoder::new(cfg, Speed::Fast)?))
}
