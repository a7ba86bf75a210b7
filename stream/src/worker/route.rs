//! Which worker a session's stream is fed from, swappable while the client streams (the hand-over of the
//! login issue: greeter → the user's session, without the client reconnecting). The stream's feeds hold a
//! [`Route`], not a worker: encoder requests and input go to the route's worker of the moment, and the video
//! source ([`RoutedSource`]) re-attaches to the new worker's ring when the route's generation changes and
//! asks it for an IDR. The host's video sender keeps its own frame numbers and packet sequence, so the client
//! sees one continuous stream.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lumen_core::input::InputEvent;

use super::link::Outgoing;
use super::plane::Worker;
use super::video_link::RingSource;
use crate::host::lock;
use crate::media::feed::{AccessUnit, AudioFeed, AudioPool, FeedEnded, Job, RequestSender, UnitSource, VideoFeed};
use crate::media::shared::Shared;
use crate::media::InputSink;

/// The worker a stream is fed from now.
pub struct Route {
    session: u64,
    worker: Mutex<Arc<Worker>>,
    generation: AtomicU64,
    /// The `Start` the stream began with (a new worker gets the same).
    pub start: Outgoing,
}

impl Route {
    /// A route to `worker`.
    pub(super) fn new(session: u64, worker: Arc<Worker>, start: Outgoing) -> Arc<Self> {
        Arc::new(Self { session, worker: Mutex::new(worker), generation: AtomicU64::new(0), start })
    }

    /// The worker of the moment.
    pub(super) fn worker(&self) -> Arc<Worker> {
        lock(&self.worker).clone()
    }

    /// Feeds the stream from `to` from now on; returns the worker it was fed from.
    pub(super) fn switch(&self, to: Arc<Worker>) -> Arc<Worker> {
        let old = std::mem::replace(&mut *lock(&self.worker), to);
        self.generation.fetch_add(1, Ordering::SeqCst);
        old
    }

    fn send(&self, msg: Outgoing) {
        self.worker().link.send(msg);
    }
}

/// The stream's video feed.
pub struct RoutedFeed {
    pub route: Arc<Route>,
}

impl VideoFeed for RoutedFeed {
    fn requests(&self) -> RequestSender {
        let route = self.route.clone();
        Arc::new(move |r| route.send(Outgoing::Request(r)))
    }

    fn start(self: Box<Self>, shared: Arc<Shared>) -> anyhow::Result<Box<dyn UnitSource>> {
        let w = self.route.worker();
        if w.link.status(|s| s.closed) {
            anyhow::bail!("the session's worker is gone");
        }
        let generation = self.route.generation.load(Ordering::SeqCst);
        let inner = RingSource::attach(shared.clone(), &w.video, self.route.session);
        // Units encoded before the client pinged were skipped: the stream starts with an IDR.
        shared.request_idr_internal();
        Ok(Box::new(RoutedSource { route: self.route, shared, generation, inner, switched_at: None }))
    }
}

/// The video sender's source: the current worker's ring, re-attached at a hand-over.
pub struct RoutedSource {
    route: Arc<Route>,
    shared: Arc<Shared>,
    generation: u64,
    inner: RingSource,
    /// When the source re-attached, until the new worker's first unit (logged: the hand-over's end).
    switched_at: Option<std::time::Instant>,
}

impl RoutedSource {
    /// Re-attaches to the route's worker if the route changed; returns whether it did.
    fn follow(&mut self) -> bool {
        let now = self.route.generation.load(Ordering::SeqCst);
        if now == self.generation {
            return false;
        }
        let w = self.route.worker();
        let mut fresh = RingSource::attach(self.shared.clone(), &w.video, self.route.session);
        // The buffers the old source holds move over (units in flight come back to the new one).
        fresh.adopt(&mut self.inner);
        self.inner = fresh;
        self.generation = now;
        self.shared.request_idr_internal();
        tracing::info!(session = self.route.session, pid = w.process.pid, "video now from the new worker");
        self.switched_at = Some(std::time::Instant::now());
        true
    }
}

impl UnitSource for RoutedSource {
    fn next(&mut self, timeout: Duration) -> Result<Option<Job>, FeedEnded> {
        self.follow();
        match self.inner.next(timeout) {
            // The old worker's link closed under a hand-over: go on with the new worker.
            Err(FeedEnded) if self.follow() => Ok(None),
            Ok(Some(job)) => {
                if let Some(t) = self.switched_at.take() {
                    tracing::info!(
                        session = self.route.session,
                        after_ms = t.elapsed().as_secs_f64() * 1000.0,
                        "first frame from the new worker"
                    );
                }
                Ok(Some(job))
            }
            other => other,
        }
    }

    fn recycle(&mut self, au: AccessUnit) {
        self.inner.recycle(au);
    }
}

/// The stream's audio: the current worker's audio link gets the sender's pool (a hand-over passes the pool
/// from the old link's reader to the new one's).
pub struct RoutedAudioFeed {
    pub route: Arc<Route>,
}

impl AudioFeed for RoutedAudioFeed {
    fn start(
        self: Box<Self>,
        _shared: Arc<Shared>,
        pool: AudioPool,
    ) -> anyhow::Result<Option<std::thread::JoinHandle<()>>> {
        if !self.route.worker().audio.attach(pool) {
            anyhow::bail!("the session's worker is gone");
        }
        Ok(None)
    }
}

/// The stream's input: to the current worker's seat.
pub struct RoutedInput {
    pub route: Arc<Route>,
    pub tee: Option<Arc<dyn InputSink>>,
}

impl InputSink for RoutedInput {
    fn input(&self, event: InputEvent) {
        if let Some(t) = &self.tee {
            t.input(event.clone());
        }
        self.route.send(Outgoing::Input(event));
    }
}
