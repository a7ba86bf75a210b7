//! The host's end of a worker's audio link: a reader thread that reads the worker's Opus packets straight
//! into free buffers of the attached audio sender's pool (no allocation: the buffers are the pool's), and
//! drops them while no stream is attached or the sender is behind. The worker's audio clock paces them.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use lumen_core::audio::MAX_OPUS_LEN;
use lumen_core::link::{self, HEADER_LEN};

use crate::host::lock;
use crate::media::feed::{AudioFeed, AudioPool};
use crate::media::shared::Shared;

/// One worker's audio link.
pub struct AudioLink {
    attach: Mutex<Option<SyncSender<AudioPool>>>,
    /// The reader gives the sender's pool back when the worker's audio ends (a hand-over passes it on).
    reader: Mutex<Option<JoinHandle<Option<AudioPool>>>>,
}

impl AudioLink {
    /// Starts the reader thread on `sock`.
    pub fn start(sock: UnixStream, session: u64) -> std::io::Result<Arc<Self>> {
        let (att_tx, att_rx) = sync_channel::<AudioPool>(4);
        let reader = std::thread::Builder::new().name("lumen-audio-read".into()).spawn(move || {
            let mut pool = None;
            if let Err(e) = read_packets(sock, &att_rx, &mut pool) {
                tracing::warn!(session, error = %e, "worker audio link broken");
            }
            pool
        })?;
        Ok(Arc::new(Self { attach: Mutex::new(Some(att_tx)), reader: Mutex::new(Some(reader)) }))
    }

    /// Hands the audio sender's pool to this link's reader.
    pub fn attach(&self, pool: AudioPool) -> bool {
        let tx = lock(&self.attach).clone();
        tx.is_some_and(|tx| tx.try_send(pool).is_ok())
    }

    /// Joins the reader (after the worker exited: it has seen EOF).
    pub fn join(&self) {
        drop(self.join_pool());
    }

    /// Joins the reader and returns the sender's pool it held, if any.
    pub fn join_pool(&self) -> Option<AudioPool> {
        lock(&self.attach).take();
        let reader = lock(&self.reader).take();
        reader.and_then(|t| t.join().ok().flatten())
    }
}

fn read_packets(
    mut sock: UnixStream,
    att_rx: &Receiver<AudioPool>,
    pool: &mut Option<AudioPool>,
) -> anyhow::Result<()> {
    let mut scratch = vec![0u8; MAX_OPUS_LEN];
    loop {
        let mut head = [0u8; HEADER_LEN];
        if let Err(e) = sock.read_exact(&mut head) {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                return Ok(());
            }
            return Err(e.into());
        }
        let h = link::parse_header(&head)?;
        if h.kind != link::OPUS_KIND || h.body_len > MAX_OPUS_LEN + 8 || h.body_len < 8 {
            anyhow::bail!("unexpected message {:#04x} of {} bytes on the audio link", h.kind, h.body_len);
        }
        let mut stamp = [0u8; 8];
        sock.read_exact(&mut stamp)?;
        let data_len = h.body_len - 8;
        while let Ok(p) = att_rx.try_recv() {
            *pool = Some(p);
        }
        let buf = match pool.as_ref().map(|p| p.free_rx.try_recv()) {
            Some(Ok(b)) => Some(b),
            Some(Err(TryRecvError::Disconnected)) => {
                *pool = None;
                None
            }
            Some(Err(TryRecvError::Empty)) | None => None,
        };
        let Some(mut buf) = buf else {
            sock.read_exact(&mut scratch[..data_len])?;
            continue;
        };
        buf.heard_ns = u64::from_le_bytes(stamp);
        buf.data.resize(data_len, 0);
        sock.read_exact(&mut buf.data)?;
        if pool.as_ref().is_some_and(|p| p.full_tx.try_send(buf).is_err()) {
            *pool = None;
        }
    }
}

/// The [`AudioFeed`] of a session whose audio comes from its worker.
pub struct LinkAudioFeed {
    pub link: Arc<AudioLink>,
}

impl AudioFeed for LinkAudioFeed {
    fn start(self: Box<Self>, _shared: Arc<Shared>, pool: AudioPool) -> anyhow::Result<Option<JoinHandle<()>>> {
        if !self.link.attach(pool) {
            anyhow::bail!("the session's worker is gone");
        }
        Ok(None)
    }
}
