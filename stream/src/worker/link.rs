//! The host's end of one worker's link: a writer thread (input, encoder requests, start/stop — encoded
//! into one reused buffer) and a reader thread that puts access units straight into the attached video
//! sender's buffer pool (no copy beyond the socket read, no allocation once the buffers have grown) and
//! reports everything else as [`WorkerEvent`]s. Neither thread takes a lock on the frame path.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::media::feed::{AudioParams, EncoderRequest, FeedPool, FrameKind, Job, RequestSender, VideoFeed};
use crate::media::shared::Shared;
use crate::media::InputSink;
use crate::media_plane::EndReason;
use lumen_core::input::InputEvent;
use lumen_core::link::{self, AuMeta, StreamStart, ToHost, ToWorker, AU_FRAME_HEADER_LEN, HEADER_LEN};

/// What the host sends a worker (owned; encoded by the writer thread).
#[derive(Debug, Clone)]
pub enum Outgoing {
    Start {
        width: u32,
        height: u32,
        fps: u32,
        bitrate_kbps: u32,
        csc_mode: u32,
        slices: u32,
        app_id: u32,
        audio: AudioParams,
        app_cmd: Option<String>,
    },
    Input(InputEvent),
    Request(EncoderRequest),
    StopStream,
    End {
        end_app: bool,
    },
    /// Not for the worker: ends the writer thread (`WorkerLink::join`).
    CloseWriter,
}

/// What the reader thread reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerEvent {
    Ready {
        pid: u32,
    },
    Streaming {
        width: u32,
        height: u32,
    },
    AppExited {
        code: i32,
    },
    Failed(String),
    /// The link closed: the worker exited or died.
    Closed,
}

/// The worker's state as the reader saw it, for whoever waits on it.
#[derive(Debug, Default)]
pub struct LinkStatus {
    pub ready: bool,
    /// Counts `Streaming`/`Failed` answers, so a waiter sees only answers after its own `Start`.
    pub answers: u64,
    pub last_answer: Option<Result<(u32, u32), String>>,
    pub app_exited: Option<i32>,
    pub closed: bool,
}

struct Attachment {
    shared: Arc<Shared>,
    pool: FeedPool,
    /// The IDR request generation the last IDR answered.
    answered: u64,
}

/// One worker's link.
pub struct WorkerLink {
    out: SyncSender<Outgoing>,
    attach: Mutex<Option<SyncSender<Attachment>>>,
    status: Arc<(Mutex<LinkStatus>, Condvar)>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Called (on the reader thread) for app exits, failures and the link closing.
pub type OnWorkerEvent = Box<dyn Fn(&WorkerEvent) + Send>;

impl WorkerLink {
    /// Starts the reader and writer threads on `sock`.
    pub fn start(sock: UnixStream, session: u64, on_event: OnWorkerEvent) -> std::io::Result<Arc<Self>> {
        let (out_tx, out_rx) = sync_channel::<Outgoing>(256);
        let (att_tx, att_rx) = sync_channel::<Attachment>(4);
        let status = Arc::new((Mutex::new(LinkStatus::default()), Condvar::new()));
        let wsock = sock.try_clone()?;
        let writer =
            std::thread::Builder::new().name("lumen-link-write".into()).spawn(move || writer(wsock, out_rx))?;
        let st = status.clone();
        let reader = std::thread::Builder::new()
            .name("lumen-link-read".into())
            .spawn(move || reader(sock, session, att_rx, &st, on_event))?;
        Ok(Arc::new(Self {
            out: out_tx,
            attach: Mutex::new(Some(att_tx)),
            status,
            threads: Mutex::new(vec![writer, reader]),
        }))
    }

    /// Queues a message; `false` (with a log line) when the queue is full or the worker is gone.
    pub fn send(&self, msg: Outgoing) -> bool {
        match self.out.try_send(msg) {
            Ok(()) => true,
            Err(TrySendError::Full(m)) => {
                tracing::warn!(msg = ?std::mem::discriminant(&m), "worker link queue full: message dropped");
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Waits until `pred` holds on the status, or `timeout` passes; returns the status then.
    pub fn wait_status<T>(&self, timeout: Duration, mut pred: impl FnMut(&LinkStatus) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.status;
        let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(t) = pred(&g) {
                return Some(t);
            }
            let now = Instant::now();
            if now >= deadline || g.closed {
                return pred(&g);
            }
            g = cv.wait_timeout(g, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Reads the status.
    pub fn status<T>(&self, f: impl FnOnce(&LinkStatus) -> T) -> T {
        f(&self.status.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn attach(&self, a: Attachment) -> bool {
        let tx = self.attach.lock().unwrap_or_else(|e| e.into_inner()).clone();
        tx.is_some_and(|tx| tx.try_send(a).is_ok())
    }

    /// Joins the threads (after the worker exited: the reader has seen EOF; the writer is told to end).
    pub fn join(&self) {
        self.attach.lock().unwrap_or_else(|e| e.into_inner()).take();
        // Blocks only while the writer drains its queue (writes to a dead worker fail at once); an Err means
        // the writer has already ended.
        let _ = self.out.send(Outgoing::CloseWriter);
        let threads: Vec<_> = self.threads.lock().unwrap_or_else(|e| e.into_inner()).drain(..).collect();
        for t in threads {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

fn writer(mut sock: UnixStream, rx: Receiver<Outgoing>) {
    let mut buf = Vec::with_capacity(4096);
    let mut input = [0u8; 256];
    while let Ok(msg) = rx.recv() {
        buf.clear();
        match &msg {
            Outgoing::Start { width, height, fps, bitrate_kbps, csc_mode, slices, app_id, audio, app_cmd } => {
                let s = StreamStart {
                    width: *width,
                    height: *height,
                    fps: *fps,
                    bitrate_kbps: *bitrate_kbps,
                    csc_mode: *csc_mode,
                    slices: *slices,
                    app_id: *app_id,
                    audio_packet_ms: audio.packet_ms,
                    audio_channels: audio.channels,
                    audio_bitrate_bps: audio.bitrate_bps,
                    app_cmd: app_cmd.as_deref(),
                };
                link::encode_to_worker(&ToWorker::Start(s), &mut buf);
            }
            Outgoing::Input(ev) => match lumen_core::input::encode_into(ev, &mut input) {
                Ok(n) => link::encode_to_worker(&ToWorker::Input(&input[..n]), &mut buf),
                Err(e) => {
                    tracing::debug!(error = %e, "input event not forwarded to the worker");
                    continue;
                }
            },
            Outgoing::Request(EncoderRequest::Idr) => link::encode_to_worker(&ToWorker::RequestIdr, &mut buf),
            Outgoing::Request(EncoderRequest::InvalidateRefs { first, last }) => {
                link::encode_to_worker(&ToWorker::InvalidateRefs { first: *first, last: *last }, &mut buf)
            }
            Outgoing::Request(EncoderRequest::Bitrate(kbps)) => {
                link::encode_to_worker(&ToWorker::SetBitrate { kbps: *kbps }, &mut buf)
            }
            Outgoing::StopStream => link::encode_to_worker(&ToWorker::StopStream, &mut buf),
            Outgoing::End { end_app } => link::encode_to_worker(&ToWorker::End { end_app: *end_app }, &mut buf),
            Outgoing::CloseWriter => return,
        }
        if let Err(e) = sock.write_all(&buf) {
            tracing::debug!(error = %e, "worker link write failed (worker gone)");
            return;
        }
    }
}

/// CLOCK_MONOTONIC now, ns (the clock of the worker's stamps).
pub fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn reader(
    mut sock: UnixStream,
    session: u64,
    att_rx: Receiver<Attachment>,
    status: &(Mutex<LinkStatus>, Condvar),
    on_event: OnWorkerEvent,
) {
    let mut scratch: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut attached: Option<Attachment> = None;
    let mut hops = HopStats::new(session);
    let result = (|| -> anyhow::Result<()> {
        loop {
            let mut head = [0u8; HEADER_LEN];
            if let Err(e) = sock.read_exact(&mut head) {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    return Ok(());
                }
                return Err(e.into());
            }
            let h = link::parse_header(&head)?;
            if h.kind == link::ACCESS_UNIT_KIND && h.body_len >= AU_FRAME_HEADER_LEN - HEADER_LEN {
                let mut meta_bytes = [0u8; AU_FRAME_HEADER_LEN - HEADER_LEN];
                sock.read_exact(&mut meta_bytes)?;
                let meta = match link::decode_to_host(h.kind, &meta_bytes)? {
                    ToHost::AccessUnit { meta, .. } => meta,
                    _ => anyhow::bail!("access unit header did not decode as one"),
                };
                let data_len = h.body_len - meta_bytes.len();
                while let Ok(a) = att_rx.try_recv() {
                    attached = Some(a);
                }
                deliver(&mut sock, &mut attached, &mut scratch, meta, data_len)?;
                hops.record(monotonic_ns().saturating_sub(meta.sent_ns));
                continue;
            }
            scratch.resize(h.body_len, 0);
            sock.read_exact(&mut scratch)?;
            let ev = match link::decode_to_host(h.kind, &scratch)? {
                ToHost::Ready { version, pid } => {
                    if version != link::LINK_VERSION {
                        anyhow::bail!("worker speaks link version {version}, this host {}", link::LINK_VERSION);
                    }
                    WorkerEvent::Ready { pid }
                }
                ToHost::Streaming { width, height } => WorkerEvent::Streaming { width, height },
                ToHost::AppExited { code } => WorkerEvent::AppExited { code },
                ToHost::Failed { message } => WorkerEvent::Failed(message.to_owned()),
                ToHost::AccessUnit { .. } => anyhow::bail!("truncated access unit"),
                ToHost::Opus { .. } => anyhow::bail!("an Opus packet on the video link (they go on the audio link)"),
            };
            report(status, &ev);
            on_event(&ev);
        }
    })();
    if let Err(e) = result {
        tracing::error!(session, error = %e, "worker link broken");
    }
    hops.log();
    if let Some(a) = attached.take() {
        a.shared.end(EndReason::Error("the session's worker process ended".into()));
    }
    report(status, &WorkerEvent::Closed);
    on_event(&WorkerEvent::Closed);
}

fn report(status: &(Mutex<LinkStatus>, Condvar), ev: &WorkerEvent) {
    let mut g = status.0.lock().unwrap_or_else(|e| e.into_inner());
    match ev {
        WorkerEvent::Ready { .. } => g.ready = true,
        WorkerEvent::Streaming { width, height } => {
            g.answers += 1;
            g.last_answer = Some(Ok((*width, *height)));
        }
        WorkerEvent::Failed(m) => {
            g.answers += 1;
            g.last_answer = Some(Err(m.clone()));
        }
        WorkerEvent::AppExited { code } => g.app_exited = Some(*code),
        WorkerEvent::Closed => g.closed = true,
    }
    drop(g);
    status.1.notify_all();
}

/// The hop of each access unit (the worker's write → its bytes read here), in a ring allocated once, logged as
/// median / p99 every 600 units and when the link closes.
struct HopStats {
    session: u64,
    ring: Vec<u32>,
    n: usize,
}

impl HopStats {
    const RING: usize = 1024;

    fn new(session: u64) -> Self {
        Self { session, ring: vec![0; Self::RING], n: 0 }
    }

    fn record(&mut self, ns: u64) {
        self.ring[self.n % Self::RING] = (ns / 1000).min(u64::from(u32::MAX)) as u32;
        self.n += 1;
        if self.n.is_multiple_of(600) {
            self.log();
        }
    }

    fn log(&self) {
        let k = self.n.min(Self::RING);
        if k == 0 {
            return;
        }
        let mut v = self.ring[..k].to_vec();
        let (p50, p99) = crate::media::timing::median_p99(&mut v);
        tracing::info!(session = self.session, units = self.n, hop_us_p50 = p50, hop_us_p99 = p99, "worker link hop");
    }
}

/// Reads one access unit's data into a free buffer of the attached sender (or drops it).
fn deliver(
    sock: &mut UnixStream,
    attached: &mut Option<Attachment>,
    scratch: &mut Vec<u8>,
    meta: AuMeta,
    data_len: usize,
) -> anyhow::Result<()> {
    let buf = match attached.as_ref().map(|a| a.pool.free_rx.try_recv()) {
        Some(Ok(au)) => Some(au),
        Some(Err(TryRecvError::Disconnected)) => {
            *attached = None;
            None
        }
        Some(Err(TryRecvError::Empty)) | None => None,
    };
    let Some(mut au) = buf else {
        // No stream attached, or the sender is behind: the unit is read and dropped.
        scratch.resize(data_len, 0);
        sock.read_exact(scratch)?;
        return Ok(());
    };
    au.data.resize(data_len, 0);
    let read = sock.read_exact(&mut au.data);
    let Some(a) = attached.as_mut() else { return Ok(()) };
    read?;
    au.kind = Some(if meta.idr { FrameKind::Idr } else { FrameKind::P });
    au.encode_time = Duration::from_micros(u64::from(meta.encode_us));
    if meta.idr {
        a.answered = a.shared.idr.generation();
    }
    let age = Duration::from_nanos(monotonic_ns().saturating_sub(meta.ready_ns));
    let now = Instant::now();
    let ready_at = now.checked_sub(age).unwrap_or(now);
    if a.pool.full_tx.try_send(Job { au, ready_at, idr_answered: a.answered }).is_err() {
        *attached = None;
    }
    Ok(())
}

/// The [`VideoFeed`] of a session whose video comes from its worker.
pub struct LinkFeed {
    pub link: Arc<WorkerLink>,
}

impl VideoFeed for LinkFeed {
    fn requests(&self) -> RequestSender {
        let link = self.link.clone();
        Arc::new(move |r| {
            link.send(Outgoing::Request(r));
        })
    }

    fn start(self: Box<Self>, shared: Arc<Shared>, pool: FeedPool) -> anyhow::Result<Option<JoinHandle<()>>> {
        let answered = shared.idr.generation();
        if !self.link.attach(Attachment { shared: shared.clone(), pool, answered }) {
            anyhow::bail!("the session's worker is gone");
        }
        // Units encoded before the client pinged were dropped: the stream starts with an IDR.
        shared.request_idr_internal();
        Ok(None)
    }
}

/// The [`InputSink`] of a session whose seat lives in its worker (with an optional tee for tests).
pub struct LinkInput {
    pub link: Arc<WorkerLink>,
    pub tee: Option<Arc<dyn InputSink>>,
}

impl InputSink for LinkInput {
    fn input(&self, event: InputEvent) {
        if let Some(t) = &self.tee {
            t.input(event.clone());
        }
        self.link.send(Outgoing::Input(event));
    }
}
