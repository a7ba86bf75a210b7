//! Writing to the host: [`LinkWriter`] sends the worker's messages over the link. Access units go as their
//! frame header then their bytes (no copy into a message buffer); the writer lock is held only for the
//! writes of one message, and only the encoder thread writes on the frame path.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::time::Instant;

use lumen_core::link::{self, AuMeta, ToHost};

/// The worker's writing end of the link.
pub struct LinkWriter {
    sock: Mutex<UnixStream>,
}

/// CLOCK_MONOTONIC now, ns (both processes read the same clock).
pub fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// The CLOCK_MONOTONIC ns of an `Instant` in the past.
pub fn monotonic_ns_of(at: Instant) -> u64 {
    monotonic_ns().saturating_sub(at.elapsed().as_nanos() as u64)
}

impl LinkWriter {
    pub fn new(sock: UnixStream) -> Self {
        Self { sock: Mutex::new(sock) }
    }

    /// Sends a control message (not an access unit: [`LinkWriter::send_au`]).
    pub fn send(&self, msg: &ToHost<'_>) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(64);
        link::encode_to_host(msg, &mut buf);
        self.sock.lock().unwrap_or_else(|e| e.into_inner()).write_all(&buf)
    }

    /// Sends one access unit, stamping `meta.sent_ns` now.
    pub fn send_au(&self, mut meta: AuMeta, data: &[u8]) -> std::io::Result<()> {
        let mut sock = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        meta.sent_ns = monotonic_ns();
        sock.write_all(&link::au_frame_header(&meta, data.len()))?;
        sock.write_all(data)
    }
}
