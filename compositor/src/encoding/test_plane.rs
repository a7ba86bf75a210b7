//! A [`FeedPlane`] that streams the test pattern (or any frame and audio source) with this process's
//! encoders and no compositor: the media plane of the media-session tests.

use std::sync::Arc;

use lumen_encode::audio::{AudioSource, SilenceSource};
use lumen_encode::{FrameSource, TestPattern};
use lumen_stream::media::{FeedMaker, FeedPlane, Feeds, InputSink, MediaOptions};
use lumen_stream::CodecSupport;

use super::feeds::{EncoderFeed, OpusFeed};
use super::{encoder_config, software_encoder, EncoderFactory};

/// What the plane streams.
#[derive(Clone)]
pub struct TestPlaneParts {
    pub encoder: EncoderFactory,
    pub source: Arc<dyn Fn(u32, u32) -> Box<dyn FrameSource> + Send + Sync>,
    pub audio: Arc<dyn Fn() -> Box<dyn AudioSource> + Send + Sync>,
    /// Where the client's input goes.
    pub input: Arc<dyn InputSink>,
}

impl TestPlaneParts {
    /// Software H.264 of the test pattern, silence, input to `input`.
    pub fn test_pattern(input: Arc<dyn InputSink>) -> Self {
        Self {
            encoder: software_encoder(),
            source: Arc::new(|w, h| Box::new(TestPattern::new(w, h)) as Box<dyn FrameSource>),
            audio: Arc::new(|| Box::new(SilenceSource) as Box<dyn AudioSource>),
            input,
        }
    }
}

/// The plane.
pub fn test_plane(opts: MediaOptions, parts: TestPlaneParts) -> FeedPlane {
    let maker: FeedMaker = Arc::new(move |_start, plan, audio| {
        let cfg = encoder_config(plan, plan.width, plan.height);
        let source = parts.source.clone();
        let audio_source = parts.audio.clone();
        Ok(Feeds {
            video: Box::new(EncoderFeed::new(cfg, parts.encoder.clone(), Box::new(move |w, h| source(w, h)), true)),
            audio: Box::new(OpusFeed::new(*audio, Box::new(move || audio_source()))),
            input: parts.input.clone(),
        })
    });
    FeedPlane::new(opts, maker, CodecSupport::H264_ONLY)
}
