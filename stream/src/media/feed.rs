//! Where a session's encoded media comes from: the [`VideoFeed`] and [`AudioFeed`] seams between the
//! senders and whoever encodes — the session's worker process over its link (`crate::worker`), or an
//! encoder of the embedding process (the nested compositor, tests). Requests to the encoder (IDR,
//! reference invalidation, bitrate) travel as the closed [`EncoderRequest`] enum. Access units and Opus
//! packets move in fixed pools of buffers ([`FeedPool`], [`AudioPool`]): nothing is allocated per frame.

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

/// The feed ended (its worker or encoder is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedEnded;

/// Where the video sender takes encoded units from, once its feed started.
pub trait UnitSource: Send {
    /// The next unit, waiting up to `timeout` (`Ok(None)` when none came).
    fn next(&mut self, timeout: Duration) -> Result<Option<Job>, FeedEnded>;
    /// Gives a unit's buffer back once it is sent.
    fn recycle(&mut self, au: AccessUnit);
}

/// A source of access units for one media session.
pub trait VideoFeed: Send {
    /// Where the control stream sends encoder requests.
    fn requests(&self) -> RequestSender;
    /// Starts the feed (called by the sender once the client pinged); the sender pulls units from the
    /// returned source and drops it when it stops.
    fn start(self: Box<Self>, shared: Arc<Shared>) -> anyhow::Result<Box<dyn UnitSource>>;
}

/// The buffer pool between an encoder thread of this process and the sender: empty buffers come back on
/// `free_rx`, filled ones go to `full_tx` (as many buffers as the channel holds, so `full_tx` never blocks).
pub struct FeedPool {
    pub free_rx: Receiver<AccessUnit>,
    pub full_tx: SyncSender<Job>,
}

/// The sender's end of a [`FeedPool`], as a [`UnitSource`]; dropping it ends the producer (its channels
/// close) and joins its thread.
pub struct PoolSource {
    full_rx: Receiver<Job>,
    free_tx: Option<SyncSender<AccessUnit>>,
    thread: Option<JoinHandle<()>>,
}

/// Access-unit buffers in flight between an in-process encoder and the sender.
const POOL: usize = 3;

impl PoolSource {
    /// A pool of [`POOL`] buffers: the producer's end and the sender's.
    pub fn pool() -> (FeedPool, PoolSource) {
        let (full_tx, full_rx) = sync_channel::<Job>(POOL);
        let (free_tx, free_rx) = sync_channel::<AccessUnit>(POOL);
        for _ in 0..POOL {
            let mut au = AccessUnit::default();
            au.data.reserve(512 * 1024);
            let _ = free_tx.send(au);
        }
        (FeedPool { free_rx, full_tx }, PoolSource { full_rx, free_tx: Some(free_tx), thread: None })
    }

    /// The producer's thread, joined when the source drops.
    pub fn with_thread(mut self, thread: Option<JoinHandle<()>>) -> Self {
        self.thread = thread;
        self
    }
}

impl UnitSource for PoolSource {
    fn next(&mut self, timeout: Duration) -> Result<Option<Job>, FeedEnded> {
        match self.full_rx.recv_timeout(timeout) {
            Ok(j) => Ok(Some(j)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(FeedEnded),
        }
    }

    fn recycle(&mut self, au: AccessUnit) {
        if let Some(tx) = &self.free_tx {
            let _ = tx.send(au);
        }
    }
}

impl Drop for PoolSource {
    fn drop(&mut self) {
        self.free_tx.take();
        // Unblock a producer waiting to hand over a unit.
        while self.full_rx.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
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
    /// High quality (`x-nv-audio.surround.AudioQuality`): one Opus stream per channel.
    pub high_quality: bool,
}

/// The pool between an audio feed and the audio sender: empty packet buffers (capacity
/// `lumen_core::audio::MAX_OPUS_LEN`) come back on `free_rx`; filled ones, one Opus packet each, go to
/// `full_tx`, paced by the feed's audio clock (the sender sends each as it arrives).
pub struct AudioPool {
    pub free_rx: Receiver<AudioPacket>,
    pub full_tx: SyncSender<AudioPacket>,
}

/// One Opus packet in a reusable buffer.
#[derive(Debug, Default)]
pub struct AudioPacket {
    pub data: Vec<u8>,
    /// When its oldest sample reached the session's audio (CLOCK_MONOTONIC ns; 0: not known).
    pub heard_ns: u64,
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
