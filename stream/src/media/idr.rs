//! IDR requests of one session, end to end: who asked (the client or the host itself), which frame
//! index was the last one sent when a client's request arrived, and the index of the first IDR access
//! unit sent after it. The gap between the two is the "IDR within 2 frames" acceptance figure, shown in
//! the media plane's `status()` JSON under `"idr"`.
//!
//! Every request bumps a generation counter. The encoder thread forces an IDR while the generation it
//! last answered with an IDR is behind; each access unit carries that answered generation, and the
//! sender drops P-frames whose generation is behind (they were encoded before the request, the client
//! waits for an IDR and discards them anyway). So at most the frame already being sent when a request
//! arrives goes out before the IDR: the IDR is at most 2 frame indices after the last frame sent.
//!
//! All counters are atomics (control, encoder and sender threads never wait on each other); the short
//! list of recent answers is a mutex touched once per answered request and by `status()`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Mutex;

/// How many answered requests `recent` keeps.
pub const RECENT: usize = 16;
const NONE: u64 = u64::MAX;

/// One client IDR request and the IDR that answered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct IdrAnswer {
    /// The last frame index sent when the request arrived (0: none yet).
    pub requested_at_frame: u64,
    /// The index of the first IDR frame sent after it.
    pub idr_frame: u64,
    /// `idr_frame - requested_at_frame`.
    pub frames_to_idr: u64,
}

/// IDR request bookkeeping shared by the control, encoder and sender threads of a session.
#[derive(Debug)]
pub struct IdrTracker {
    generation: AtomicU64,
    /// Last frame sent when the oldest unanswered client request arrived, or `NONE`.
    pending_since: AtomicU64,
    client_requests: AtomicU64,
    answered: AtomicU64,
    max_frames: AtomicU64,
    recent: Mutex<VecDeque<IdrAnswer>>,
}

impl Default for IdrTracker {
    fn default() -> Self {
        Self {
            generation: AtomicU64::new(0),
            pending_since: AtomicU64::new(NONE),
            client_requests: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            max_frames: AtomicU64::new(0),
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
        }
    }
}

impl IdrTracker {
    /// The current request generation (read by the encoder and the sender).
    pub fn generation(&self) -> u64 {
        self.generation.load(SeqCst)
    }

    /// The host itself needs an IDR (a frame was not sent, a malformed RFI): not counted as a client request.
    pub fn request_internal(&self) {
        self.generation.fetch_add(1, SeqCst);
    }

    /// A client's IDR request arrived while `frames_sent` was the last frame index sent.
    ///
    /// The generation moves first, so that any access unit the sender checks after this point and that
    /// was encoded before it is dropped; `frames_sent` is read after, so only the frame the sender was
    /// already sending can come between the request and the IDR.
    pub fn client_request(&self, frames_sent: &AtomicU64) {
        self.generation.fetch_add(1, SeqCst);
        let at = frames_sent.load(SeqCst);
        self.client_requests.fetch_add(1, SeqCst);
        let _ = self.pending_since.compare_exchange(NONE, at, SeqCst, SeqCst);
    }

    /// The sender sent an IDR frame with index `frame`: answers the pending client request, if any.
    pub fn idr_sent(&self, frame: u64) {
        let since = self.pending_since.swap(NONE, SeqCst);
        if since == NONE {
            return;
        }
        let frames = frame.saturating_sub(since);
        self.answered.fetch_add(1, SeqCst);
        self.max_frames.fetch_max(frames, SeqCst);
        if frames > 2 {
            tracing::warn!(requested_at = since, idr_frame = frame, frames, "IDR answered later than 2 frames");
        } else {
            tracing::info!(requested_at = since, idr_frame = frame, frames, "IDR request answered");
        }
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(IdrAnswer { requested_at_frame: since, idr_frame: frame, frames_to_idr: frames });
    }

    /// Whether an access unit answered up to generation `answered` is stale: a P-frame encoded before
    /// the latest request, which the sender drops (the IDR follows).
    pub fn is_stale(&self, answered: u64) -> bool {
        answered < self.generation()
    }

    /// The `"idr"` object of the status JSON.
    pub fn status(&self) -> serde_json::Value {
        let pending = self.pending_since.load(SeqCst);
        let answered = self.answered.load(SeqCst);
        let recent: Vec<IdrAnswer> = self.recent.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect();
        serde_json::json!({
            "client_requests": self.client_requests.load(SeqCst),
            "answered": answered,
            "pending_since_frame": (pending != NONE).then_some(pending),
            "max_frames_to_idr": (answered > 0).then(|| self.max_frames.load(SeqCst)),
            "recent": recent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_the_oldest_pending_request_and_keeps_the_maximum() {
        let t = IdrTracker::default();
        let sent = AtomicU64::new(10);
        assert!(!t.is_stale(0));
        t.client_request(&sent);
        assert!(t.is_stale(0), "a P-frame encoded before the request is stale");
        sent.store(11, SeqCst);
        t.client_request(&sent); // coalesced with the first
        t.idr_sent(12);
        t.idr_sent(13); // nothing pending: not an answer
        sent.store(20, SeqCst);
        t.client_request(&sent);
        t.idr_sent(21);
        let s = t.status();
        assert_eq!(s["client_requests"], 3);
        assert_eq!(s["answered"], 2);
        assert_eq!(s["max_frames_to_idr"], 2);
        assert_eq!(s["pending_since_frame"], serde_json::Value::Null);
        assert_eq!(s["recent"][0]["requested_at_frame"], 10);
        assert_eq!(s["recent"][0]["idr_frame"], 12);
        assert_eq!(s["recent"][1]["frames_to_idr"], 1);
        assert!(!t.is_stale(t.generation()));
    }

    #[test]
    fn internal_requests_are_not_client_requests() {
        let t = IdrTracker::default();
        t.request_internal();
        assert!(t.is_stale(0));
        t.idr_sent(5);
        let s = t.status();
        assert_eq!((s["client_requests"].as_u64(), s["answered"].as_u64()), (Some(0), Some(0)));
        assert_eq!(s["max_frames_to_idr"], serde_json::Value::Null);
    }
}
