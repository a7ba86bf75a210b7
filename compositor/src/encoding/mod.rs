//! Encoding inside the process that owns the frames: [`thread::EncoderThread`], the one encode loop (a
//! frame source → encoder → a [`thread::UnitSink`]) that the worker runs into its link and the in-process
//! feeds run into a media session's buffer pool; [`feeds`], the `VideoFeed`/`AudioFeed` of the nested host
//! and of tests; [`test_plane`], a `MediaPlane` streaming the test pattern with this process's encoders.

pub mod feeds;
pub mod test_plane;
pub mod thread;

use std::sync::Arc;

use lumen_encode::{ColourSpace, EncodeError, Encoder, EncoderConfig, Range};
use lumen_stream::media::VideoPlan;

/// Makes the encoder of a stream.
pub type EncoderFactory = Arc<dyn Fn(&EncoderConfig) -> Result<Box<dyn Encoder>, EncodeError> + Send + Sync>;

/// The software H.264 encoder.
pub fn software_encoder() -> EncoderFactory {
    Arc::new(|cfg: &EncoderConfig| lumen_encode::software_encoder(cfg.clone()))
}

/// The encoder configuration of a video plan at `width`×`height` (the size actually encoded).
pub fn encoder_config(plan: &VideoPlan, width: u32, height: u32) -> EncoderConfig {
    EncoderConfig {
        width,
        height,
        fps: plan.fps.max(1),
        bitrate_kbps: plan.bitrate_kbps.max(500),
        codec: lumen_encode::Codec::H264,
        colour_space: ColourSpace::from_moonlight(plan.csc_mode >> 1),
        range: Range::from_moonlight(plan.csc_mode & 1),
        slices: plan.slices.max(1),
    }
}
