//! The host's end of one worker's link: a writer thread (input, encoder requests, start/stop — encoded
//! into one reused buffer) and a reader thread that reports the worker's messages as [`WorkerEvent`]s.
//! Access units do not pass here: they take the video ring (`super::video_link`), read by the sender.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lumen_core::input::InputEvent;
use lumen_core::link::{self, StreamStart, ToHost, ToWorker, HEADER_LEN};

use super::video_link::{RingSource, VideoLink};
use crate::media::feed::{AudioParams, EncoderRequest, RequestSender, UnitSource, VideoFeed};
use crate::media::shared::Shared;

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
        pad_kind: Option<lumen_core::gamepad::PadKind>,
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
    /// A game's feedback for one of the client's controllers (rumble, light bar, motion, triggers).
    Pad(lumen_core::gamepad::PadFeedback),
    Failed(String),
    /// The link closed: the worker exited or died.
    Closed,
}

/// The worker's state as the reader saw it, for whoever waits on it.
#[derive(Debug, Default)]
pub struct LinkStatus {
    pub ready: bool,
    /// The worker's own pid (its `Ready`; in system mode a user's worker is a child of its PAM session helper).
    pub pid: Option<u32>,
    /// Counts `Streaming`/`Failed` answers, so a waiter sees only answers after its own `Start`.
    pub answers: u64,
    pub last_answer: Option<Result<(u32, u32), String>>,
    pub app_exited: Option<i32>,
    pub closed: bool,
}

/// One worker's link.
pub struct WorkerLink {
    out: SyncSender<Outgoing>,
    status: Arc<(Mutex<LinkStatus>, Condvar)>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Called (on the reader thread) for app exits, failures and the link closing.
pub type OnWorkerEvent = Box<dyn Fn(&WorkerEvent) + Send>;

impl WorkerLink {
    /// Starts the reader and writer threads on `sock`.
    pub fn start(sock: UnixStream, session: u64, on_event: OnWorkerEvent) -> std::io::Result<Arc<Self>> {
        let (out_tx, out_rx) = sync_channel::<Outgoing>(256);
        let status = Arc::new((Mutex::new(LinkStatus::default()), Condvar::new()));
        let wsock = sock.try_clone()?;
        let writer =
            std::thread::Builder::new().name("lumen-link-write".into()).spawn(move || writer(wsock, out_rx))?;
        let st = status.clone();
        let reader = std::thread::Builder::new()
            .name("lumen-link-read".into())
            .spawn(move || reader(sock, session, &st, on_event))?;
        Ok(Arc::new(Self { out: out_tx, status, threads: Mutex::new(vec![writer, reader]) }))
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

    /// Joins the threads (after the worker exited: the reader has seen EOF; the writer is told to end).
    pub fn join(&self) {
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
            Outgoing::Start {
                width,
                height,
                fps,
                bitrate_kbps,
                csc_mode,
                slices,
                app_id,
                audio,
                app_cmd,
                pad_kind,
            } => {
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
                    audio_high_quality: audio.high_quality,
                    app_cmd: app_cmd.as_deref(),
                    pad_kind: *pad_kind,
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

fn reader(mut sock: UnixStream, session: u64, status: &(Mutex<LinkStatus>, Condvar), on_event: OnWorkerEvent) {
    let mut scratch: Vec<u8> = Vec::with_capacity(4096);
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
                ToHost::Pad(f) => WorkerEvent::Pad(f),
                ToHost::Failed { message } => WorkerEvent::Failed(message.to_owned()),
                ToHost::Opus { .. } => anyhow::bail!("an Opus packet on the link (they take the audio link)"),
            };
            report(status, &ev);
            on_event(&ev);
        }
    })();
    if let Err(e) = result {
        tracing::error!(session, error = %e, "worker link broken");
    }
    report(status, &WorkerEvent::Closed);
    on_event(&WorkerEvent::Closed);
}

fn report(status: &(Mutex<LinkStatus>, Condvar), ev: &WorkerEvent) {
    let mut g = status.0.lock().unwrap_or_else(|e| e.into_inner());
    match ev {
        WorkerEvent::Ready { pid } => {
            g.ready = true;
            g.pid = Some(*pid);
        }
        WorkerEvent::Streaming { width, height } => {
            g.answers += 1;
            g.last_answer = Some(Ok((*width, *height)));
        }
        WorkerEvent::Failed(m) => {
            g.answers += 1;
            g.last_answer = Some(Err(m.clone()));
        }
        WorkerEvent::AppExited { code } => g.app_exited = Some(*code),
        WorkerEvent::Pad(_) => {}
        WorkerEvent::Closed => g.closed = true,
    }
    drop(g);
    status.1.notify_all();
}

/// The [`VideoFeed`] of a session whose video comes from its worker.
pub struct LinkFeed {
    pub link: Arc<WorkerLink>,
    pub video: Arc<VideoLink>,
    pub session: u64,
}

impl VideoFeed for LinkFeed {
    fn requests(&self) -> RequestSender {
        let link = self.link.clone();
        Arc::new(move |r| {
            link.send(Outgoing::Request(r));
        })
    }

    fn start(self: Box<Self>, shared: Arc<Shared>) -> anyhow::Result<Box<dyn UnitSource>> {
        if self.link.status(|s| s.closed) {
            anyhow::bail!("the session's worker is gone");
        }
        let source = RingSource::attach(shared.clone(), &self.video, self.session);
        // Units encoded before the client pinged were skipped: the stream starts with an IDR.
        shared.request_idr_internal();
        Ok(Box::new(source))
    }
}
