//! The Moonlight media plane: one [`session::MoonlightSession`] per stream, with its own sockets,
//! threads and keys — video (paced FEC sender), audio (CBC + 4/2 FEC) and the encrypted ENet control
//! stream (requests to the encoder, input to an [`InputSink`]) — on the [`feed::Feeds`] of its session.
//!
//! Byte layouts and the test pattern are described in `docs/media-plane.md`.

pub mod audio;
pub mod control;
pub mod control_mux;
pub mod feed;
pub mod idr;
pub mod input_sink;
pub mod packer;
pub mod ping_mux;
pub mod session;
pub mod shared;
pub mod timing;
pub mod udp_sys;
pub mod video;

use std::path::PathBuf;
use std::sync::Arc;

pub use control::HostMessage;
pub use feed::{AudioFeed, AudioParams, AudioPool, FeedPool, Feeds, Job, VideoFeed};
pub use input_sink::{InputSink, JsonLinesSink, LogSink};
pub use session::{audio_params, video_plan, FeedMaker, FeedPlane, MoonlightMedia, MoonlightSession, VideoPlan};

/// Knobs of the media plane.
#[derive(Clone)]
pub struct MediaOptions {
    /// Random loss injected on the video sender (tests only), 0.0–1.0.
    pub inject_video_loss: f64,
    /// A tee of the client's input events (tests: [`ENV_INPUT_LOG`]); the session's own sink gets them too.
    pub input_sink: Arc<dyn InputSink>,
}

/// Environment variable: video loss to inject, in percent (tests).
pub const ENV_VIDEO_LOSS: &str = "LUMEN_TEST_VIDEO_LOSS_PCT";
/// Environment variable: file to append decoded input events to, one JSON line each (tests).
pub const ENV_INPUT_LOG: &str = "LUMEN_INPUT_LOG";

impl Default for MediaOptions {
    fn default() -> Self {
        Self { inject_video_loss: 0.0, input_sink: Arc::new(LogSink) }
    }
}

impl MediaOptions {
    /// Defaults plus the test hooks from the environment ([`ENV_VIDEO_LOSS`], [`ENV_INPUT_LOG`]).
    pub fn from_env() -> anyhow::Result<Self> {
        let mut o = Self::default();
        if let Ok(v) = std::env::var(ENV_VIDEO_LOSS) {
            let pct: f64 = v.trim().parse().map_err(|_| anyhow::anyhow!("{ENV_VIDEO_LOSS}={v} is not a number"))?;
            o.inject_video_loss = (pct / 100.0).clamp(0.0, 1.0);
        }
        if let Ok(p) = std::env::var(ENV_INPUT_LOG) {
            let path = PathBuf::from(p);
            o.input_sink = Arc::new(JsonLinesSink::create(&path)?);
            tracing::info!(path = %path.display(), "input events are written to a file");
        }
        Ok(o)
    }
}
