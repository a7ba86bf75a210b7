//! [`WorkerPlane`]: the host's [`MediaPlane`] when sessions run in worker processes. One worker per
//! session (keyed by the host's session id): spawned at the session's first PLAY, asked to stream at each
//! PLAY (`Start`, answered by `Streaming` or `Failed` before RTSP replies), told `StopStream` when the
//! client leaves (the app keeps running for a resume) and `End` when the session ends. A worker that
//! crashes ends only its own session: its media session ends with an error, every other worker goes on.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::audio_link::AudioLink;
use super::link::{Outgoing, WorkerEvent, WorkerLink};
use super::login::{LoginMode, Role, Who};
use super::process::{WorkerCommand, WorkerProcess};
use super::route::{Route, RoutedAudioFeed, RoutedFeed, RoutedInput};
use super::video_link::VideoLink;
use crate::host::lock;
use crate::media::control::HostMessage;
use crate::media::{audio_params, video_plan, Feeds, InputSink, MediaOptions, MoonlightMedia, MoonlightSession};
use crate::media_plane::{ClientRef, CodecSupport, EndReason, MediaPlane, MediaSession, MediaStart};

type EndFn = Box<dyn FnOnce(EndReason) + Send>;
type EndSlot = Arc<Mutex<Option<EndFn>>>;

/// How the plane starts workers and what it reports.
pub struct WorkerPlaneOptions {
    pub command: WorkerCommand,
    pub codecs: CodecSupport,
    /// Shown in `status` (encoder, renderer, …).
    pub describe: serde_json::Value,
    /// How long a worker may take to start, and to answer a `Start`.
    pub start_timeout: Duration,
    /// Test hooks of the media plane (injected loss, an input log tee).
    pub media: MediaOptions,
    /// Whether `media.input_sink` is a tee for tests (`LUMEN_INPUT_LOG`) rather than the default log sink.
    pub tee_input: bool,
    /// System mode: greeters, logins through the broker, workers as users.
    pub login: Option<LoginMode>,
}

pub(super) struct Worker {
    pub(super) process: WorkerProcess,
    pub(super) link: Arc<WorkerLink>,
    pub(super) audio: Arc<AudioLink>,
    pub(super) video: Arc<VideoLink>,
    /// The end callback of the media session the worker streams now.
    current: Arc<Mutex<Option<EndSlot>>>,
    /// Where the worker's messages for the client (rumble) go: the control stream of that session.
    to_client: Arc<Mutex<Option<SyncSender<HostMessage>>>>,
    /// Who it runs as (system mode).
    pub(super) role: Role,
    /// A greeter's greetd socket, served while the worker lives.
    pub(super) _greetd: Option<crate::login::greeter::GreetdServer>,
}

/// Sessions in worker processes.
pub struct WorkerPlane {
    pub(super) opts: WorkerPlaneOptions,
    media: MoonlightMedia,
    pub(super) workers: Mutex<HashMap<u64, Arc<Worker>>>,
    /// The route of each session's stream (which worker feeds it), for hand-overs.
    pub(super) routes: Mutex<HashMap<u64, Arc<Route>>>,
    /// This plane (greeters call back into it).
    pub(super) me: Weak<WorkerPlane>,
    /// Each session's client and its address (system mode: who logs in from where).
    pub(super) clients: Mutex<HashMap<u64, (ClientRef, std::net::IpAddr)>>,
    /// Sessions whose stream is moving to another worker right now (a greeter's exit is expected then).
    pub(super) switching: Mutex<HashSet<u64>>,
    /// Users' sessions waiting behind a greeter for their password (no reattach without one).
    pub(super) parked: Mutex<HashMap<u64, Arc<Worker>>>,
}

fn take(slot: &EndSlot) -> Option<EndFn> {
    lock(slot).take()
}

impl WorkerPlane {
    pub fn new(opts: WorkerPlaneOptions) -> Arc<Self> {
        let media = MoonlightMedia::new(opts.media.clone());
        Arc::new_cyclic(|me| Self {
            opts,
            media,
            workers: Mutex::new(HashMap::new()),
            routes: Mutex::new(HashMap::new()),
            me: me.clone(),
            clients: Mutex::new(HashMap::new()),
            switching: Mutex::new(HashSet::new()),
            parked: Mutex::new(HashMap::new()),
        })
    }

    /// The session's worker, started (and ready) if it was not running.
    fn worker_for(&self, session: u64) -> anyhow::Result<Arc<Worker>> {
        let existing = lock(&self.workers).get(&session).cloned();
        if let Some(w) = existing {
            if !w.link.status(|s| s.closed) {
                if !self.park_for_password(session, &w) {
                    return Ok(w);
                }
                let g = self.spawn_worker(session, Who::Greeter)?;
                lock(&self.workers).insert(session, g.clone());
                return Ok(g);
            }
            tracing::info!(session, "the session's worker is gone: starting a fresh one");
            lock(&self.workers).remove(&session);
            w.link.join();
            w.audio.join();
        }
        if let Some(w) = self.reattach(session) {
            return Ok(w);
        }
        let w = self.spawn_worker(session, self.first_worker())?;
        lock(&self.workers).insert(session, w.clone());
        Ok(w)
    }

    /// Starts a worker for `session` as `who` and waits until it is ready.
    pub(super) fn spawn_worker(&self, session: u64, who: Who) -> anyhow::Result<Arc<Worker>> {
        let (role, greetd, launched) = self.launch(session, who)?;
        let (process, ends) = launched;
        let current: Arc<Mutex<Option<EndSlot>>> = Arc::new(Mutex::new(None));
        let cur = current.clone();
        let to_client: Arc<Mutex<Option<SyncSender<HostMessage>>>> = Arc::new(Mutex::new(None));
        let client = to_client.clone();
        let plane = self.me.clone();
        let worker_pid = process.pid;
        let on_event = Box::new(move |ev: &WorkerEvent| {
            if let WorkerEvent::Pad(f) = *ev {
                if let Some(tx) = lock(&client).as_ref() {
                    if tx.try_send(HostMessage::Pad(f)).is_err() {
                        tracing::debug!(session, ?f, "controller feedback dropped: the control stream's queue is full");
                    }
                }
                return;
            }
            let reason = match ev {
                WorkerEvent::AppExited { code } => {
                    tracing::info!(session, code, "the session's app exited");
                    if let Some(plane) = plane.upgrade() {
                        if plane.app_exited_in_login(Some(worker_pid)) {
                            return;
                        }
                    }
                    EndReason::AppExited
                }
                WorkerEvent::Closed => EndReason::Error("the session's worker process ended".into()),
                _ => return,
            };
            let slot = lock(&cur).take();
            if let Some(f) = slot.as_ref().and_then(take) {
                f(reason);
            }
        });
        let link = WorkerLink::start(ends.link, session, on_event)?;
        let audio = AudioLink::start(ends.audio, session)?;
        let video = Arc::new(ends.video);
        let ready = link.wait_status(self.opts.start_timeout, |s| (s.ready || s.closed).then_some(s.ready));
        if ready != Some(true) {
            let how = process.wait_or_kill(Duration::from_millis(200));
            link.join();
            audio.join();
            anyhow::bail!(
                "the session's worker did not start ({})",
                how.map(|h| h.to_string()).unwrap_or("no answer".into())
            );
        }
        Ok(Arc::new(Worker { process, link, audio, video, current, to_client, role, _greetd: greetd }))
    }

    /// Sends `start` to `w` and waits for its answer: the encoded size.
    fn start_streaming(&self, w: &Worker, start: Outgoing) -> anyhow::Result<(u32, u32)> {
        let before = w.link.status(|s| s.answers);
        w.link.send(start);
        let answer = w.link.wait_status(self.opts.start_timeout, |s| {
            if s.answers > before {
                s.last_answer.clone()
            } else if s.closed {
                Some(Err("the session's worker ended".into()))
            } else {
                None
            }
        });
        match answer {
            Some(Ok(size)) => Ok(size),
            Some(Err(msg)) => anyhow::bail!("{msg}"),
            None => anyhow::bail!("the session's worker did not answer in {:?}", self.opts.start_timeout),
        }
    }

    /// Moves the stream of `session` to a fresh worker without the client noticing more than a new IDR: the
    /// new worker starts and streams at the same mode, the stream's feeds switch to it (the host's frame
    /// numbers and packet sequence continue), then the old worker and its app end. Returns the new pid.
    pub fn hand_over(&self, session: u64) -> anyhow::Result<u32> {
        self.hand_over_to(session, self.first_worker())
    }

    /// [`Self::hand_over`] to a worker running as `who` (a greeter, a user who logged in).
    pub(super) fn hand_over_to(&self, session: u64, who: Who) -> anyhow::Result<u32> {
        let route = lock(&self.routes).get(&session).cloned();
        let Some(route) = route else { anyhow::bail!("session {session} is not streaming") };
        let t0 = std::time::Instant::now();
        let new = self.spawn_worker(session, who)?;
        self.switch_to(session, &route, new, t0)
    }

    /// Streams `session` from `new` (ready, not streaming yet) and ends the worker it streamed from.
    pub(super) fn switch_to(
        &self,
        session: u64,
        route: &Arc<Route>,
        new: Arc<Worker>,
        t0: std::time::Instant,
    ) -> anyhow::Result<u32> {
        if let Err(e) =
            self.start_streaming(&new, super::login::start_for(&new.role, &route.start, self.opts.login.as_ref()))
        {
            new.link.send(Outgoing::End { end_app: true });
            let _ = new.process.wait_or_kill(Duration::from_secs(2));
            return Err(e);
        }
        let old = route.worker();
        // The stream's end callback and the client's messenger move to the new worker first, so the old one
        // ending does not end the stream.
        let slot = lock(&old.current).take();
        *lock(&new.current) = slot;
        let messenger = lock(&old.to_client).take();
        *lock(&new.to_client) = messenger;
        route.switch(new.clone());
        // Wake the video sender now, blocked on the old worker's notices: it re-attaches to the new ring at once
        // instead of when the old worker has ended.
        if let Err(e) = rustix::net::shutdown(&*old.video.sock, rustix::net::Shutdown::Read) {
            tracing::debug!(session, error = %e, "hand-over: could not wake the video sender");
        }
        lock(&self.workers).insert(session, new.clone());
        let pid = new.process.pid;
        tracing::info!(
            session,
            old_pid = old.process.pid,
            pid,
            ms = t0.elapsed().as_millis() as u64,
            "hand-over: the stream now comes from a new worker"
        );
        old.link.send(Outgoing::End { end_app: true });
        let spawned = std::thread::Builder::new().name("lumen-worker-end".into()).spawn(move || {
            let how = old.process.wait_or_kill(Duration::from_secs(5));
            old.link.join();
            // The audio sender's pool goes on with the new worker's audio.
            if let Some(pool) = old.audio.join_pool() {
                if !new.audio.attach(pool) {
                    tracing::warn!(session, "hand-over: the new worker's audio link is gone");
                }
            }
            tracing::info!(session, how = ?how, "hand-over: the old worker ended");
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the worker reaper thread");
        }
        Ok(pid)
    }

    /// Pids of the running workers by session (status, tests).
    pub fn worker_pids(&self) -> Vec<(u64, u32)> {
        lock(&self.workers).iter().map(|(s, w)| (*s, w.process.pid)).collect()
    }
}

impl MediaPlane for WorkerPlane {
    fn start(&self, start: MediaStart) -> anyhow::Result<Box<dyn MediaSession>> {
        let cfg = video_plan(&start)?;
        let audio = audio_params(&start);
        lock(&self.clients).insert(start.session, (start.client.clone(), start.client_ip));
        let w = self.worker_for(start.session)?;
        let start_msg = Outgoing::Start {
            width: start.config.width,
            height: start.config.height,
            fps: cfg.fps,
            bitrate_kbps: cfg.bitrate_kbps,
            csc_mode: start.config.encoder_csc_mode,
            slices: cfg.slices,
            app_id: start.launch.app_id,
            audio,
            app_cmd: start.launch.app_cmd.clone(),
            pad_kind: start.launch.app_pad,
        };
        let (ew, eh) =
            self.start_streaming(&w, super::login::start_for(&w.role, &start_msg, self.opts.login.as_ref()))?;
        let route = Route::new(start.session, w.clone(), start_msg);
        tracing::info!(session = start.session, pid = w.process.pid, width = ew, height = eh, "worker streaming");
        let slot: EndSlot = Arc::new(Mutex::new(Some(start.on_end)));
        *lock(&w.current) = Some(slot.clone());
        let media_end = {
            let slot = slot.clone();
            Box::new(move |reason: EndReason| {
                if let Some(f) = take(&slot) {
                    f(reason);
                }
            })
        };
        let tee: Option<Arc<dyn InputSink>> = self.opts.tee_input.then(|| self.opts.media.input_sink.clone());
        let feeds = Feeds {
            video: Box::new(RoutedFeed { route: route.clone() }),
            audio: Box::new(RoutedAudioFeed { route: route.clone() }),
            input: Arc::new(RoutedInput { route: route.clone(), tee }),
        };
        let session = start.session;
        let inner = self.media.start_with_feeds(MediaStart { on_end: media_end, ..start }, feeds)?;
        *lock(&w.to_client) = Some(inner.messenger());
        lock(&self.routes).insert(session, route.clone());
        Ok(Box::new(WorkerSession { inner: Some(inner), route, slot, plane: self.me.clone(), session }))
    }

    fn codec_support(&self) -> CodecSupport {
        self.opts.codecs
    }

    fn hand_over(&self, session: u64) -> anyhow::Result<u32> {
        WorkerPlane::hand_over(self, session)
    }

    fn end_session(&self, session: u64, reason: &EndReason) {
        lock(&self.routes).remove(&session);
        lock(&self.clients).remove(&session);
        if let Some(parked) = lock(&self.parked).remove(&session) {
            parked.link.send(Outgoing::End { end_app: true });
        }
        let Some(w) = lock(&self.workers).remove(&session) else { return };
        let end_app = !matches!(reason, EndReason::ClientGone | EndReason::Replaced);
        w.link.send(Outgoing::End { end_app });
        let reason = reason.clone();
        // Waiting for the exit happens on a thread of its own: never on the caller's (a tokio worker).
        let spawned = std::thread::Builder::new().name("lumen-worker-end".into()).spawn(move || {
            let how = w.process.wait_or_kill(Duration::from_secs(5));
            w.link.join();
            w.audio.join();
            tracing::info!(session, ?reason, how = ?how, "session worker ended");
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the worker reaper thread");
        }
    }

    fn status(&self) -> Option<serde_json::Value> {
        let workers: Vec<_> = self
            .worker_pids()
            .into_iter()
            .map(|(session, pid)| {
                let w = lock(&self.workers).get(&session).cloned();
                let role = w.as_ref().map(|w| w.role.clone());
                let worker_pid = w.as_ref().and_then(|w| w.link.status(|s| s.pid)).unwrap_or(pid);
                serde_json::json!({ "session": session, "pid": pid, "worker_pid": worker_pid,
                    "role": role.as_ref().map(Role::name), "user": role.as_ref().and_then(Role::user) })
            })
            .collect();
        let mut v = serde_json::json!({
            "plane": "workers",
            "workers": workers,
            "media": self.media.status(),
        });
        if let (Some(obj), Some(desc)) = (v.as_object_mut(), self.opts.describe.as_object()) {
            for (k, val) in desc {
                obj.insert(k.clone(), val.clone());
            }
        }
        Some(v)
    }
}

/// One media session streamed from a worker.
struct WorkerSession {
    inner: Option<MoonlightSession>,
    route: Arc<Route>,
    slot: EndSlot,
    plane: Weak<WorkerPlane>,
    session: u64,
}

impl MediaSession for WorkerSession {
    fn stats(&self) -> Option<serde_json::Value> {
        self.inner.as_ref().and_then(|s| s.stats())
    }

    fn stop(&mut self, reason: EndReason) {
        take(&self.slot);
        if let Some(mut inner) = self.inner.take() {
            inner.stop(reason);
            // The client left (or a resume replaces the stream): the worker stops streaming, keeps the app,
            // and lets go of every key and button the client held.
            self.route.worker().link.send(Outgoing::StopStream);
            // Nobody streams the session now (a bound client may reattach its worker).
            if let Some(plane) = self.plane.upgrade() {
                let mut routes = lock(&plane.routes);
                if routes.get(&self.session).is_some_and(|r| Arc::ptr_eq(r, &self.route)) {
                    routes.remove(&self.session);
                }
            }
        }
    }
}

impl Drop for WorkerSession {
    fn drop(&mut self) {
        self.stop(EndReason::Replaced);
    }
}
