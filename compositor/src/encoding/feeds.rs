//! The feeds of a media session encoded in this process (the `--nested` host, tests): [`EncoderFeed`], a
//! frame source and encoder on an [`EncoderThread`] delivering into the video sender's buffer pool, and
//! [`OpusFeed`], an audio source encoded to Opus on the audio clock into the audio sender's pool.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lumen_encode::audio::{encode_on_clock, AudioSource, OpusEncoder};
use lumen_encode::{AccessUnit, EncoderConfig, EncoderRequest, FrameKind, FrameSource};
use lumen_stream::media::feed::RequestSender;
use lumen_stream::media::feed::{PoolSource, UnitSource};
use lumen_stream::media::shared::Shared;
use lumen_stream::media::{AudioFeed, AudioParams, AudioPool, FeedPool, Job, VideoFeed};
use lumen_stream::EndReason;

use super::thread::{request_channel, EncoderThread, Gone, UnitSink};
use super::EncoderFactory;

/// Makes a frame source of `width`×`height`, once per stream.
pub type SourceMaker = Box<dyn FnOnce(u32, u32) -> Box<dyn FrameSource> + Send>;

/// A video feed encoding in this process.
pub struct EncoderFeed {
    cfg: EncoderConfig,
    make_encoder: EncoderFactory,
    make_source: SourceMaker,
    /// Paces a source that does not wait for frames (the test pattern) at the frame rate.
    paced: bool,
    req_tx: SyncSender<EncoderRequest>,
    req_rx: Receiver<EncoderRequest>,
}

impl EncoderFeed {
    pub fn new(cfg: EncoderConfig, make_encoder: EncoderFactory, make_source: SourceMaker, paced: bool) -> Self {
        let (req_tx, req_rx) = request_channel();
        Self { cfg, make_encoder, make_source, paced, req_tx, req_rx }
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

    fn start(self: Box<Self>, shared: Arc<Shared>) -> anyhow::Result<Box<dyn UnitSource>> {
        let EncoderFeed { cfg, make_encoder, make_source, paced, req_rx, .. } = *self;
        let (pool, units) = PoolSource::pool();
        let encoder = make_encoder(&cfg)?;
        let source = make_source(cfg.width, cfg.height);
        let pace = paced.then(|| Duration::from_secs_f64(1.0 / f64::from(cfg.fps.max(1))));
        let answered = shared.idr.generation();
        let sink = PoolSink { shared, pool, answered, spare: None };
        let thread = EncoderThread::spawn(source, encoder, sink, req_rx, pace, cfg.bitrate_kbps)?;
        // The source joins the thread when the sender drops it; it ends with the session (the pool closes).
        Ok(Box::new(units.with_thread(thread.into_thread())))
    }
}

/// A media session's buffer pool as the encoder's sink.
struct PoolSink {
    shared: Arc<Shared>,
    pool: FeedPool,
    /// The IDR request generation the last IDR answered.
    answered: u64,
    spare: Option<AccessUnit>,
}

impl UnitSink for PoolSink {
    fn buffer(&mut self) -> Result<Option<AccessUnit>, Gone> {
        if self.shared.stopping() {
            return Err(Gone);
        }
        if let Some(au) = self.spare.take() {
            return Ok(Some(au));
        }
        match self.pool.free_rx.try_recv() {
            Ok(au) => Ok(Some(au)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(Gone),
        }
    }

    fn deliver(&mut self, au: AccessUnit, ready_at: Instant) -> Result<bool, Gone> {
        if au.kind == Some(FrameKind::Idr) {
            self.answered = self.shared.idr.generation();
        }
        self.pool.full_tx.send(Job { au, ready_at, idr_answered: self.answered }).map_err(|_| Gone)?;
        Ok(true)
    }

    fn recycle(&mut self, au: AccessUnit) {
        self.spare = Some(au);
    }

    fn failed(&mut self, message: &str) {
        self.shared.end(EndReason::Error(message.to_owned()));
    }
}

/// Makes the audio source of a stream.
pub type AudioMaker = Box<dyn FnOnce() -> Box<dyn AudioSource> + Send>;

/// An audio feed encoding in this process.
pub struct OpusFeed {
    params: AudioParams,
    make_source: AudioMaker,
}

impl OpusFeed {
    pub fn new(params: AudioParams, make_source: AudioMaker) -> Self {
        Self { params, make_source }
    }
}

impl AudioFeed for OpusFeed {
    fn start(self: Box<Self>, shared: Arc<Shared>, pool: AudioPool) -> anyhow::Result<Option<JoinHandle<()>>> {
        let OpusFeed { params, make_source } = *self;
        let layout = lumen_core::audio::OpusLayout::for_config(params.channels, params.high_quality);
        let mut enc = OpusEncoder::with_layout(params.packet_ms, &layout)?;
        let thread = std::thread::Builder::new().name("lumen-audio-enc".into()).spawn(move || {
            let mut source = make_source();
            let stop = || shared.stopping();
            let mut emit = |pkt: &[u8], heard_ns: u64| deliver_packet(&pool, pkt, heard_ns);
            if let Err(e) = encode_on_clock(&mut enc, source.as_mut(), params.packet_ms, &stop, &mut emit) {
                tracing::error!(error = %e, "audio encoder failed");
                shared.end(EndReason::Error(format!("audio encoder: {e}")));
            }
        })?;
        Ok(Some(thread))
    }
}

/// Copies one packet into a free buffer of the pool (dropping it when the sender is behind); `false` once
/// the sender is gone.
pub fn deliver_packet(pool: &AudioPool, pkt: &[u8], heard_ns: u64) -> bool {
    match pool.free_rx.try_recv() {
        Ok(mut buf) => {
            buf.data.clear();
            buf.data.extend_from_slice(pkt);
            buf.heard_ns = heard_ns;
            pool.full_tx.try_send(buf).is_ok()
        }
        Err(TryRecvError::Empty) => true,
        Err(TryRecvError::Disconnected) => false,
    }
}
