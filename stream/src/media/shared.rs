//! State shared by the threads of one media session: stop flag, the IDR bookkeeping, the current bitrate,
//! where encoder requests go (a closed [`EncoderRequest`] set, sent — never polled), and the end callback.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::feed::{EncoderRequest, RequestSender};
use super::idr::IdrTracker;
use crate::media_plane::EndReason;

/// Called once when a session ends by itself.
pub type OnEnd = Box<dyn FnOnce(EndReason) + Send>;

/// One session's shared state.
pub struct Shared {
    pub stop: AtomicBool,
    /// IDR requests (client and internal) and how fast they were answered.
    pub idr: IdrTracker,
    /// The bitrate last asked of the encoder (for status reports and the loss control).
    pub bitrate_kbps: AtomicU32,
    requests: RequestSender,
    /// Frames sent (last frame index on the wire).
    pub frames_sent: AtomicU64,
    /// Last time the control stream heard from the client (ms since `started`).
    pub last_heard_ms: AtomicU64,
    /// The last frame's host latency (frame ready → first packet sent), µs: for the admin page.
    pub host_latency_us: AtomicU64,
    /// The video loss of the last 2 s window the client reported, in 1/10000.
    pub loss_bp: AtomicU64,
    /// Video payload bytes sent.
    pub video_bytes: AtomicU64,
    pub started: Instant,
    on_end: Mutex<Option<OnEnd>>,
}

impl Shared {
    pub fn new(bitrate_kbps: u32, on_end: OnEnd, requests: RequestSender) -> Self {
        Self {
            stop: AtomicBool::new(false),
            idr: IdrTracker::default(),
            bitrate_kbps: AtomicU32::new(bitrate_kbps),
            requests,
            frames_sent: AtomicU64::new(0),
            last_heard_ms: AtomicU64::new(0),
            host_latency_us: AtomicU64::new(0),
            loss_bp: AtomicU64::new(0),
            video_bytes: AtomicU64::new(0),
            started: Instant::now(),
            on_end: Mutex::new(Some(on_end)),
        }
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The client asked for an IDR (it lost a frame it cannot recover).
    pub fn request_idr_from_client(&self) {
        self.idr.client_request(&self.frames_sent);
        (self.requests)(EncoderRequest::Idr);
    }

    /// The host itself needs an IDR (a frame could not be sent, a new destination).
    pub fn request_idr_internal(&self) {
        self.idr.request_internal();
        (self.requests)(EncoderRequest::Idr);
    }

    /// The client lost frames `first..=last`.
    pub fn invalidate_refs(&self, first: u64, last: u64) {
        (self.requests)(EncoderRequest::InvalidateRefs { first, last });
    }

    /// Asks the encoder for a new bitrate.
    pub fn set_bitrate(&self, kbps: u32) {
        self.bitrate_kbps.store(kbps, Ordering::Relaxed);
        (self.requests)(EncoderRequest::Bitrate(kbps));
    }

    pub fn heard_now(&self) {
        self.last_heard_ms.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Ends the session from inside (client gone, error): stops every thread and calls `on_end` once.
    pub fn end(&self, reason: EndReason) {
        self.stop.store(true, Ordering::Relaxed);
        let cb = self.on_end.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(cb) = cb {
            tracing::info!(?reason, "media session ended");
            cb(reason);
        }
    }

    /// Stops from outside (`MediaSession::stop`): the control plane already knows, so `on_end` is dropped.
    pub fn stop_quietly(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.on_end.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

impl Shared {
    /// Live figures of the stream (admin page, `lumen-session sessions`).
    pub fn stats(&self) -> serde_json::Value {
        let us = self.host_latency_us.load(Ordering::Relaxed);
        serde_json::json!({
            "frames_sent": self.frames_sent.load(Ordering::Relaxed),
            "bitrate_kbps": self.bitrate_kbps.load(Ordering::Relaxed),
            "video_bytes": self.video_bytes.load(Ordering::Relaxed),
            "host_latency_ms": (us > 0).then(|| us as f64 / 1000.0),
            "loss_pct": self.loss_bp.load(Ordering::Relaxed) as f64 / 100.0,
            "uptime_secs": self.started.elapsed().as_secs(),
        })
    }
}
