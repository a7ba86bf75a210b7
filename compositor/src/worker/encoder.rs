//! The worker's video sink: [`LinkSink`] copies each access unit of the session's
//! [`EncoderThread`](crate::encoding::thread::EncoderThread) into the video ring and sends its notice on the
//! video link (`lumen_stream::worker::video_link`), stamped with when its frame was ready. It never waits:
//! a full ring or link drops the unit and the encoder makes the next frame an IDR. One buffer, reused.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use lumen_core::link::{AuMeta, RingUnit, ToHost};
use lumen_encode::{AccessUnit, FrameKind};
use lumen_stream::worker::shm_ring::SharedRing;
use lumen_stream::worker::video_link::{monotonic_ns, send_notice, Notice};

use super::link_out::{monotonic_ns_of, LinkWriter};
use crate::encoding::thread::{Gone, UnitSink};

/// The worker's video ring and link, kept across streams (the ring's positions only grow).
pub struct VideoOut {
    pub ring: SharedRing,
    pub sock: OwnedFd,
    write_pos: AtomicU64,
    frame_no: AtomicU64,
}

impl VideoOut {
    pub fn new(ring: SharedRing, sock: OwnedFd) -> Self {
        Self { ring, sock, write_pos: AtomicU64::new(0), frame_no: AtomicU64::new(0) }
    }
}

/// The video ring as the encoder's sink (one stream at a time writes it).
pub struct LinkSink {
    out: Arc<VideoOut>,
    link: Arc<LinkWriter>,
    buffer: Option<AccessUnit>,
    dropped: u64,
}

impl LinkSink {
    /// `link` carries the encoder's failure, if it fails.
    pub fn new(out: Arc<VideoOut>, link: Arc<LinkWriter>) -> Self {
        let mut au = AccessUnit::default();
        au.data.reserve(512 * 1024);
        Self { out, link, buffer: Some(au), dropped: 0 }
    }

    fn drop_unit(&mut self, why: &str) -> Result<bool, Gone> {
        self.dropped += 1;
        if self.dropped.is_power_of_two() {
            tracing::debug!(dropped = self.dropped, why, "video unit dropped; the next is an IDR");
        }
        Ok(false)
    }
}

impl UnitSink for LinkSink {
    fn buffer(&mut self) -> Result<Option<AccessUnit>, Gone> {
        Ok(Some(self.buffer.take().unwrap_or_default()))
    }

    fn deliver(&mut self, au: AccessUnit, ready_at: Instant) -> Result<bool, Gone> {
        let sent_ns = monotonic_ns();
        let o = &self.out;
        let len = au.data.len();
        let write_pos = o.write_pos.load(Ordering::Relaxed);
        let placed = o.ring.plan().place(write_pos, o.ring.read_pos(), len).filter(|s| o.ring.write(*s, &au.data));
        let meta = AuMeta {
            idr: au.kind == Some(FrameKind::Idr),
            frame_no: o.frame_no.fetch_add(1, Ordering::Relaxed) + 1,
            ready_ns: monotonic_ns_of(ready_at),
            sent_ns,
            encode_us: au.encode_time.as_micros().min(u32::MAX as u128) as u32,
        };
        self.buffer = Some(au);
        let Some(start) = placed else { return self.drop_unit("the video ring is full") };
        o.write_pos.store(start + len as u64, Ordering::Relaxed);
        match send_notice(&o.sock, &RingUnit { meta, start, len: len as u32 }) {
            Notice::Sent => Ok(true),
            Notice::Dropped => self.drop_unit("the video link is full"),
            Notice::Gone => {
                tracing::info!("the host closed the video link: encoder stops");
                Err(Gone)
            }
        }
    }

    fn recycle(&mut self, au: AccessUnit) {
        self.buffer = Some(au);
    }

    fn failed(&mut self, message: &str) {
        let _ = self.link.send(&ToHost::Failed { message });
    }
}
