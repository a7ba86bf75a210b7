//! The worker's encoder thread: the session output's frames (the output's frame clock decides when one is
//! ready: no second ticker) → encoder → the link. Requests from the host (IDR, reference invalidation,
//! bitrate) arrive as `EncoderRequest`s (the media plane's own enum) on a bounded channel and are applied before the next frame.
//! The access-unit buffer is reused: nothing is allocated per frame once it has grown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use lumen_core::link::AuMeta;
use lumen_encode::source::SourceError;
use lumen_encode::{AccessUnit, Encoder, FrameKind, FrameSource};
use lumen_stream::media::feed::EncoderRequest;
use lumen_stream::media::timing::Ticker;

use super::link_out::{monotonic_ns_of, LinkWriter};

/// A running encoder thread.
pub struct EncoderThread {
    commands: SyncSender<EncoderRequest>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EncoderThread {
    /// Starts encoding `source` with `encoder` into `out`. `pace` paces sources that do not wait for frames
    /// (the test pattern) at that frame period.
    pub fn spawn(
        source: Box<dyn FrameSource>,
        encoder: Box<dyn Encoder>,
        out: Arc<LinkWriter>,
        pace: Option<Duration>,
        bitrate_kbps: u32,
    ) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(64);
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let thread = std::thread::Builder::new().name("lumen-worker-enc".into()).spawn(move || {
            if let Err(e) = encode_loop(source, encoder, &out, &rx, &st, pace, bitrate_kbps) {
                tracing::error!(error = %e, "worker encoder stopped");
                let _ = out.send(&lumen_core::link::ToHost::Failed { message: &format!("encoder: {e}") });
            }
        })?;
        Ok(Self { commands: tx, stop, thread: Some(thread) })
    }

    /// Queues a request (dropped with a log line if the queue is full).
    pub fn command(&self, c: EncoderRequest) {
        if self.commands.try_send(c).is_err() {
            tracing::warn!(?c, "encoder request queue full: request dropped");
        }
    }

    /// Stops the thread (the caller first closes the source's mailbox so a waiting source returns).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for EncoderThread {
    fn drop(&mut self) {
        self.stop();
    }
}

fn encode_loop(
    mut source: Box<dyn FrameSource>,
    mut encoder: Box<dyn Encoder>,
    out: &LinkWriter,
    commands: &Receiver<EncoderRequest>,
    stop: &AtomicBool,
    pace: Option<Duration>,
    mut bitrate: u32,
) -> anyhow::Result<()> {
    let mut au = AccessUnit::default();
    au.data.reserve(512 * 1024);
    let mut ticker = pace.map(|p| Ticker::new(p, true));
    let mut frame_no = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if let Some(t) = ticker.as_mut() {
            t.wait();
        }
        let frame = match source.next_frame() {
            Ok(f) => f,
            Err(SourceError::Ended) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        while let Ok(r) = commands.try_recv() {
            r.apply(encoder.as_mut(), &mut bitrate);
        }
        let ready_ns = monotonic_ns_of(frame.ready_at);
        if let Err(e) = encoder.encode(&frame, &mut au) {
            tracing::warn!(error = %e, "encode failed");
            continue;
        }
        let Some(kind) = au.kind else { continue };
        frame_no += 1;
        let meta = AuMeta {
            idr: kind == FrameKind::Idr,
            frame_no,
            ready_ns,
            sent_ns: 0,
            encode_us: au.encode_time.as_micros().min(u32::MAX as u128) as u32,
        };
        if let Err(e) = out.send_au(meta, &au.data) {
            tracing::info!(error = %e, "the host closed the link: encoder stops");
            return Ok(());
        }
    }
    Ok(())
}
