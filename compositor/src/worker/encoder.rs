//! The worker's video sink: [`LinkSink`] delivers each access unit of the session's
//! [`EncoderThread`](crate::encoding::thread::EncoderThread) to the host over the link (frame header, then
//! the bytes: no copy), stamped with when its frame was ready. One buffer, reused frame after frame.

use std::sync::Arc;
use std::time::Instant;

use lumen_core::link::{AuMeta, ToHost};
use lumen_encode::{AccessUnit, FrameKind};

use super::link_out::{monotonic_ns_of, LinkWriter};
use crate::encoding::thread::{Gone, UnitSink};

/// The link as the encoder's sink.
pub struct LinkSink {
    out: Arc<LinkWriter>,
    buffer: Option<AccessUnit>,
    frame_no: u64,
}

impl LinkSink {
    pub fn new(out: Arc<LinkWriter>) -> Self {
        let mut au = AccessUnit::default();
        au.data.reserve(512 * 1024);
        Self { out, buffer: Some(au), frame_no: 0 }
    }
}

impl UnitSink for LinkSink {
    fn buffer(&mut self) -> Result<Option<AccessUnit>, Gone> {
        Ok(Some(self.buffer.take().unwrap_or_default()))
    }

    fn deliver(&mut self, au: AccessUnit, ready_at: Instant) -> Result<(), Gone> {
        self.frame_no += 1;
        let meta = AuMeta {
            idr: au.kind == Some(FrameKind::Idr),
            frame_no: self.frame_no,
            ready_ns: monotonic_ns_of(ready_at),
            sent_ns: 0,
            encode_us: au.encode_time.as_micros().min(u32::MAX as u128) as u32,
        };
        let sent = self.out.send_au(meta, &au.data);
        self.buffer = Some(au);
        sent.map_err(|e| {
            tracing::info!(error = %e, "the host closed the link: encoder stops");
            Gone
        })
    }

    fn recycle(&mut self, au: AccessUnit) {
        self.buffer = Some(au);
    }

    fn failed(&mut self, message: &str) {
        let _ = self.out.send(&ToHost::Failed { message });
    }
}
