//! [`EncoderThread`]: frames from a source (an output's mailbox — the output's frame clock decides when one
//! is ready, no second ticker — or the paced test pattern) → encoder → a [`UnitSink`] (the worker's link, or
//! a media session's buffer pool). Requests (IDR, reference invalidation, bitrate) arrive as
//! [`EncoderRequest`]s on a bounded channel and are applied before the next frame. Buffers are reused:
//! nothing is allocated per frame once they have grown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lumen_encode::clock::Ticker;
use lumen_encode::source::SourceError;
use lumen_encode::{apply_request, AccessUnit, Encoder, EncoderRequest, FrameSource};

/// The consumer is gone: the encoder stops.
#[derive(Debug)]
pub struct Gone;

/// Where encoded units go.
pub trait UnitSink: Send + 'static {
    /// A buffer to encode the next frame into; `Ok(None)` when none is free (the frame is skipped).
    fn buffer(&mut self) -> Result<Option<AccessUnit>, Gone>;
    /// Hands over an encoded unit (`au.kind` is set); `ready_at` is when its frame was ready. `Ok(false)`:
    /// the unit was dropped (the consumer is behind), so the next frame must be an IDR.
    fn deliver(&mut self, au: AccessUnit, ready_at: Instant) -> Result<bool, Gone>;
    /// Takes back a buffer that holds no unit (the encoder skipped the frame or failed).
    fn recycle(&mut self, au: AccessUnit);
    /// The encoder failed for good.
    fn failed(&mut self, message: &str);
}

/// The sending end of an encoder's request queue, and its receiving end for [`EncoderThread::spawn`].
pub fn request_channel() -> (SyncSender<EncoderRequest>, Receiver<EncoderRequest>) {
    sync_channel(64)
}

/// A running encoder thread.
pub struct EncoderThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EncoderThread {
    /// Starts encoding `source` with `encoder` into `sink`. `pace` paces sources that do not wait for frames
    /// (the test pattern) at that frame period.
    pub fn spawn(
        source: Box<dyn FrameSource>,
        encoder: Box<dyn Encoder>,
        mut sink: impl UnitSink,
        requests: Receiver<EncoderRequest>,
        pace: Option<Duration>,
        bitrate_kbps: u32,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let thread = std::thread::Builder::new().name("lumen-video-enc".into()).spawn(move || {
            if let Err(e) = encode_loop(source, encoder, &mut sink, &requests, &st, pace, bitrate_kbps) {
                tracing::error!(error = %e, "video encoder stopped");
                sink.failed(&format!("encoder: {e}"));
            }
        })?;
        Ok(Self { stop, thread: Some(thread) })
    }

    /// Stops the thread (the caller first closes the source's mailbox so a waiting source returns).
    pub fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.stop.store(true, Ordering::Relaxed);
            let _ = t.join();
        }
    }

    /// The thread, for a caller that joins it itself (it ends when the sink reports [`Gone`]); the thread
    /// is no longer stopped when this handle drops.
    pub fn into_thread(mut self) -> Option<JoinHandle<()>> {
        self.thread.take()
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
    sink: &mut dyn UnitSink,
    requests: &Receiver<EncoderRequest>,
    stop: &AtomicBool,
    pace: Option<Duration>,
    mut bitrate: u32,
) -> anyhow::Result<()> {
    let mut ticker = pace.map(|p| Ticker::new(p, true));
    let mut skipped = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if let Some(t) = ticker.as_mut() {
            t.wait();
        }
        let frame = match source.next_frame() {
            Ok(f) => f,
            Err(SourceError::Ended) => return Ok(()),
            Err(SourceError::NotReady) => continue,
            Err(e) => return Err(e.into()),
        };
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let Ok(buffer) = sink.buffer() else { return Ok(()) };
        let Some(mut au) = buffer else {
            skipped += 1;
            if skipped.is_power_of_two() {
                tracing::debug!(skipped, "video: sender busy, frame skipped");
            }
            continue;
        };
        while let Ok(r) = requests.try_recv() {
            apply_request(encoder.as_mut(), r, &mut bitrate);
        }
        let ready_at = frame.ready_at;
        if let Err(e) = encoder.encode(&frame, &mut au) {
            tracing::warn!(error = %e, "video: encode failed");
            au.kind = None;
        }
        if au.kind.is_none() {
            sink.recycle(au);
            continue;
        }
        match sink.deliver(au, ready_at) {
            Ok(true) => {}
            Ok(false) => encoder.request_idr(),
            Err(Gone) => return Ok(()),
        }
    }
    Ok(())
}
