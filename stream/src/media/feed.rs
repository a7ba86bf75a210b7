//! Where a session's encoded video comes from: the [`VideoFeed`] seam between the video sender and the
//! encoder. Requests to the encoder (IDR, reference invalidation, bitrate) travel as the closed
//! [`EncoderRequest`] enum — to the encoder thread of this process ([`EncoderFeed`], tests and the
//! test-pattern host) or over the link to the session's worker process (`crate::worker::LinkFeed`).
//! Access units move in a fixed pool of buffers ([`FeedPool`]): nothing is allocated per frame.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lumen_encode::{AccessUnit, EncoderConfig, FrameKind};

use super::shared::Shared;
use super::timing::Ticker;
use super::{EncoderFactory, SourceFactory};
use crate::media_plane::EndReason;

/// A request to the session's encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderRequest {
    /// The next frame must be an IDR.
    Idr,
    /// The client lost frames `first..=last`: invalidate them as references (or send an IDR).
    InvalidateRefs { first: u64, last: u64 },
    /// A new target bitrate, kbit/s.
    Bitrate(u32),
}

impl EncoderRequest {
    /// Applies the request to `encoder` (the in-process feed and the worker's encoder thread both do);
    /// `bitrate` is the encoder's current rate, updated when a change takes.
    pub fn apply(self, encoder: &mut dyn lumen_encode::Encoder, bitrate: &mut u32) {
        match self {
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
}

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

/// A feed that encodes in this process: frame source → encoder on a thread of its own, paced by a ticker
/// at the stream's frame rate (the in-process path of `MoonlightMedia`, used by tests and the test pattern).
pub struct EncoderFeed {
    cfg: EncoderConfig,
    make_encoder: EncoderFactory,
    make_source: SourceFactory,
    req_tx: SyncSender<EncoderRequest>,
    req_rx: Receiver<EncoderRequest>,
}

impl EncoderFeed {
    pub fn new(cfg: EncoderConfig, make_encoder: EncoderFactory, make_source: SourceFactory) -> Self {
        let (req_tx, req_rx) = sync_channel(32);
        Self { cfg, make_encoder, make_source, req_tx, req_rx }
    }
}

impl VideoFeed for EncoderFeed {
    fn requests(&self) -> RequestSender {
        let tx = self.req_tx.clone();
        Arc::new(move |r| {
            if tx.try_send(r).is_err() {
                tracing::debug!(?r, "encoder request queue full: request dropped");
            }
        })
    }

    fn start(self: Box<Self>, shared: Arc<Shared>, pool: FeedPool) -> anyhow::Result<Option<JoinHandle<()>>> {
        let t = std::thread::Builder::new().name("lumen-video-enc".into()).spawn(move || {
            let EncoderFeed { cfg, make_encoder, make_source, req_rx, .. } = *self;
            if let Err(e) = encode_loop(&shared, cfg, make_encoder, make_source, req_rx, pool) {
                tracing::error!(error = %e, "video encoder failed");
                shared.end(EndReason::Error(format!("encoder: {e}")));
            }
        })?;
        Ok(Some(t))
    }
}

fn encode_loop(
    shared: &Shared,
    cfg: EncoderConfig,
    make_encoder: EncoderFactory,
    make_source: SourceFactory,
    requests: Receiver<EncoderRequest>,
    pool: FeedPool,
) -> anyhow::Result<()> {
    let mut encoder = make_encoder(&cfg)?;
    let mut source = make_source(cfg.width, cfg.height);
    let mut ticker = Ticker::new(Duration::from_secs_f64(1.0 / cfg.fps.max(1) as f64), true);
    let mut skipped = 0u64;
    let mut bitrate = cfg.bitrate_kbps;
    let mut spare: Option<AccessUnit> = None;
    // The request generation last answered by an IDR; an IDR is forced on every tick while it lags.
    let mut idr_answered = shared.idr.generation();
    while !shared.stopping() {
        // Fell behind by more than a frame: the clock restarts rather than bursting.
        ticker.wait();
        let next_buf = match spare.take() {
            Some(au) => Ok(au),
            None => pool.free_rx.try_recv(),
        };
        let mut au = match next_buf {
            Ok(au) => au,
            Err(TryRecvError::Empty) => {
                skipped += 1;
                if skipped.is_power_of_two() {
                    tracing::debug!(skipped, "video: sender busy, frame tick skipped");
                }
                continue;
            }
            Err(TryRecvError::Disconnected) => break,
        };
        while let Ok(r) = requests.try_recv() {
            r.apply(encoder.as_mut(), &mut bitrate);
        }
        let idr_generation = shared.idr.generation();
        if idr_generation != idr_answered {
            encoder.request_idr();
        }
        let frame = source.next_frame()?;
        let ready_at = frame.ready_at;
        if let Err(e) = encoder.encode(&frame, &mut au) {
            tracing::warn!(error = %e, "video: encode failed");
            au.kind = None;
        }
        if au.kind.is_none() {
            spare = Some(au);
            continue;
        }
        if au.kind == Some(FrameKind::Idr) {
            idr_answered = idr_generation;
        }
        if pool.full_tx.send(Job { au, ready_at, idr_answered }).is_err() {
            break;
        }
    }
    Ok(())
}
