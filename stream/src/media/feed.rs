//! Where a session's encoded media comes from: the [`VideoFeed`] and [`AudioFeed`] seams between the
//! senders and whoever encodes — the session's worker process over its link (`crate::worker`), or an
//! encoder of the embedding process (the nested compositor, tests). Requests to the encoder (IDR,
//! reference invalidation, bitrate) travel as the closed [`EncoderRequest`] enum. Access units and Opus
//! packets move in fixed pools of buffers ([`FeedPool`], [`AudioPool`]): nothing is allocated per frame.

use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

pub use lumen_core::video::{AccessUnit, EncoderRequest, FrameKind};

use super::shared::Shared;

/// Delivers encoder requests; never blocks (a full queue drops the request with a log line).
pub type RequestSender = Arc<dyn Fn(EncoderRequest) + Send + Sync>;

/// One encoded frame on its way to the sender.
pub struct Job {
    pub au: AccessUnit,
    /// When the frame was ready for the encoder (render done): the start of the host latency.
    pub ready_at: Instant,
    /// The IDR request generation answered by the last IDR before this unit (see `IdrTracker`).
    pub idr_answered: u64,
}

/// The pool between a feed and the sender: empty buffers come back on `free_rx`, filled ones go to
/// `full_tx` (as many buffers as the channel holds, so `full_tx` never blocks).
pub struct FeedPool {
    pub free_rx: Receiver<AccessUnit>,
    pub full_tx: SyncSender<Job>,
}

/// A source of access units for one media session.
pub trait VideoFeed: Send {
    /// Where the control stream sends encoder requests.
    fn requests(&self) -> RequestSender;
    /// Starts delivering units into `pool` (called by the sender once the client pinged). Returns a thread
    /// the sender joins when it stops, if the feed started one.
    fn start(self: Box<Self>, shared: Arc<Shared>, pool: FeedPool) -> anyhow::Result<Option<JoinHandle<()>>>;
}

/// The audio the client negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioParams {
    /// Opus packet duration, ms (5, 10 or 20).
    pub packet_ms: u32,
    /// Channels (2, 6 or 8).
    pub channels: u32,
    /// Opus bitrate, bit/s.
    pub bitrate_bps: u32,
}

/// The pool between an audio feed and the audio sender: empty packet buffers (capacity
/// `lumen_core::audio::MAX_OPUS_LEN`) come back on `free_rx`; filled ones, one Opus packet each, go to
/// `full_tx`, paced by the feed's audio clock (the sender sends each as it arrives).
pub struct AudioPool {
    pub free_rx: Receiver<Vec<u8>>,
    pub full_tx: SyncSender<Vec<u8>>,
}

/// A source of Opus packets for one media session.
pub trait AudioFeed: Send {
    /// Starts delivering packets into `pool` (called by the audio sender once the client pinged). Returns a
    /// thread the sender joins when it stops, if the feed started one.
    fn start(self: Box<Self>, shared: Arc<Shared>, pool: AudioPool) -> anyhow::Result<Option<JoinHandle<()>>>;
}

/// The feeds of one media session: its video, its audio, and where the client's input goes.
pub struct Feeds {
    pub video: Box<dyn VideoFeed>,
    pub audio: Box<dyn AudioFeed>,
    pub input: Arc<dyn super::InputSink>,
}
