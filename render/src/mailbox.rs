//! A newest-wins, single-slot hand-off from the compositor thread to one consumer thread — the one mailbox
//! type of lumen (a session's output → its encoder thread).
//!
//! `MailboxSink::submit` replaces whatever frame is waiting (the replaced frame is dropped, so its target
//! goes straight back to its pool). The lock is held only for an `Option` swap on either side, never while
//! a frame is encoded or rendered. The mailbox closes when the sink goes, when its output is removed, or
//! when a [`MailboxCloser`] closes it (a stopping session wakes its encoder thread that way).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::frame::{Frame, FrameSink};
use crate::OutputId;

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

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn close(&self) {
        let old = {
            let mut st = self.lock();
            st.closed = true;
            st.frame.take()
        };
        self.ready.notify_all();
        drop(old);
    }
}

/// Compositor side of a mailbox.
pub struct MailboxSink {
    shared: Arc<Shared>,
    /// For an encoder that takes CPU frames: GPU targets come with a readback, frames without CPU pixels
    /// are dropped.
    cpu_only: bool,
    warned: bool,
}

/// Closes a mailbox from any thread.
#[derive(Clone)]
pub struct MailboxCloser {
    shared: Arc<Shared>,
}

impl MailboxCloser {
    /// No more frames: a waiting receiver returns at once, the waiting frame goes back to its pool.
    pub fn close(&self) {
        self.shared.close();
    }
}

/// What [`MailboxReceiver::wait_until`] got.
// Boxing the frame would allocate once per frame; the enum only lives on the stack of one call.
#[allow(clippy::large_enum_variant)]
pub enum Waited {
    Frame(Frame),
    TimedOut,
    Closed,
}

/// Consumer side of a mailbox.
pub struct MailboxReceiver {
    shared: Arc<Shared>,
}

/// A connected sink/receiver pair.
pub fn mailbox() -> (MailboxSink, MailboxReceiver) {
    let shared =
        Arc::new(Shared { slot: Mutex::new(State { frame: None, replaced: 0, closed: false }), ready: Condvar::new() });
    (MailboxSink { shared: shared.clone(), cpu_only: false, warned: false }, MailboxReceiver { shared })
}

impl MailboxSink {
    /// A sink for an encoder that takes CPU frames (see the field).
    pub fn for_cpu_encoder(mut self) -> Self {
        self.cpu_only = true;
        self
    }
}

impl FrameSink for MailboxSink {
    fn wants_cpu_pixels(&self) -> bool {
        self.cpu_only
    }

    fn output_removed(&mut self, _output: OutputId) {
        self.shared.close();
    }

    fn submit(&mut self, frame: Frame) {
        if self.cpu_only && frame.target().cpu_pixels().is_none() && frame.readback().is_none() {
            if !self.warned {
                tracing::error!(output = %frame.output, "frame without CPU pixels dropped (GPU target on the CPU route)");
                self.warned = true;
            }
            return;
        }
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

    /// Waits until `deadline` for a frame (or the mailbox closing).
    pub fn wait_until(&self, deadline: Instant) -> Waited {
        let mut st = self.shared.lock();
        loop {
            if let Some(f) = st.frame.take() {
                return Waited::Frame(f);
            }
            if st.closed {
                return Waited::Closed;
            }
            let now = Instant::now();
            if now >= deadline {
                return Waited::TimedOut;
            }
            st = self.shared.ready.wait_timeout(st, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Whether the mailbox was closed.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// A handle that closes this mailbox from another thread.
    pub fn closer(&self) -> MailboxCloser {
        MailboxCloser { shared: self.shared.clone() }
    }

    /// How many frames were replaced unseen (the consumer was slower than the compositor).
    pub fn replaced(&self) -> u64 {
        self.shared.slot.lock().map(|s| s.replaced).unwrap_or(0)
    }
}
