//! A newest-wins, single-slot hand-off from the compositor thread to one consumer thread.
//!
//! `MailboxSink::submit` replaces whatever frame is waiting (the replaced frame is dropped, so its target
//! goes straight back to its pool). The lock is held only for an `Option` swap on either side, never while
//! a frame is encoded or rendered.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::frame::{Frame, FrameSink};

struct Shared {
    slot: Mutex<State>,
    ready: Condvar,
}

struct State {
    frame: Option<Frame>,
    /// Frames that were replaced before the consumer took them.
    replaced: u64,
    closed: bool,
}

/// Compositor side of a mailbox.
pub struct MailboxSink {
    shared: Arc<Shared>,
}

/// Consumer side of a mailbox.
pub struct MailboxReceiver {
    shared: Arc<Shared>,
}

/// A connected sink/receiver pair.
pub fn mailbox() -> (MailboxSink, MailboxReceiver) {
    let shared =
        Arc::new(Shared { slot: Mutex::new(State { frame: None, replaced: 0, closed: false }), ready: Condvar::new() });
    (MailboxSink { shared: shared.clone() }, MailboxReceiver { shared })
}

impl FrameSink for MailboxSink {
    fn submit(&mut self, frame: Frame) {
        let old = {
            let mut st = match self.shared.slot.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let old = st.frame.replace(frame);
            if old.is_some() {
                st.replaced += 1;
            }
            old
        };
        self.shared.ready.notify_one();
        // Dropped outside the lock: returns its target to the pool.
        drop(old);
    }
}

impl Drop for MailboxSink {
    fn drop(&mut self) {
        if let Ok(mut st) = self.shared.slot.lock() {
            st.closed = true;
        }
        self.shared.ready.notify_all();
    }
}

impl MailboxReceiver {
    /// Take the waiting frame, if any.
    pub fn try_take(&self) -> Option<Frame> {
        self.shared.slot.lock().ok()?.frame.take()
    }

    /// Wait up to `timeout` for a frame. `None` on timeout or when the sink is gone.
    pub fn take_timeout(&self, timeout: Duration) -> Option<Frame> {
        let guard = self.shared.slot.lock().ok()?;
        let (mut st, _) =
            self.shared.ready.wait_timeout_while(guard, timeout, |st| st.frame.is_none() && !st.closed).ok()?;
        st.frame.take()
    }

    /// How many frames were replaced unseen (the consumer was slower than the compositor).
    pub fn replaced(&self) -> u64 {
        self.shared.slot.lock().map(|s| s.replaced).unwrap_or(0)
    }
}
