//! State shared by the threads of one media session: stop flag, encoder requests from the control
//! stream (IDR requests, reference invalidation, bitrate), the client's video address, and the end callback.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::idr::IdrTracker;
use crate::media_plane::EndReason;

/// Called once when a session ends by itself.
pub type OnEnd = Box<dyn FnOnce(EndReason) + Send>;

/// One session's shared state.
pub struct Shared {
    pub stop: AtomicBool,
    /// IDR requests (client and internal) and how fast they were answered.
    pub idr: IdrTracker,
    /// Pending reference invalidation: first and last frame index (0, 0 = none).
    pub rfi: Mutex<Option<(u64, u64)>>,
    pub bitrate_kbps: AtomicU32,
    /// Frames sent (last frame index on the wire).
    pub frames_sent: AtomicU64,
    /// Last time the control stream heard from the client (ms since `started`).
    pub last_heard_ms: AtomicU64,
    pub started: Instant,
    on_end: Mutex<Option<OnEnd>>,
}

impl Shared {
    pub fn new(bitrate_kbps: u32, on_end: OnEnd) -> Self {
        Self {
            stop: AtomicBool::new(false),
            idr: IdrTracker::default(),
            rfi: Mutex::new(None),
            bitrate_kbps: AtomicU32::new(bitrate_kbps),
            frames_sent: AtomicU64::new(0),
            last_heard_ms: AtomicU64::new(0),
            started: Instant::now(),
            on_end: Mutex::new(Some(on_end)),
        }
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
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
