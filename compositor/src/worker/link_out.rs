//! Writing to the host: [`LinkWriter`] sends the worker's messages over the link (ready, streaming, the
//! app's exit, failures — never on the frame path: access units take the video ring), and the worker's
//! CLOCK_MONOTONIC stamps.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::time::Instant;

use lumen_core::link::{self, ToHost};
pub use lumen_stream::media::timing::monotonic_ns;

/// The worker's writing end of the link.
pub struct LinkWriter {
    sock: Mutex<UnixStream>,
}

/// The CLOCK_MONOTONIC ns of an `Instant` in the past.
pub fn monotonic_ns_of(at: Instant) -> u64 {
    monotonic_ns().saturating_sub(at.elapsed().as_nanos() as u64)
}

impl LinkWriter {
    pub fn new(sock: UnixStream) -> Self {
        Self { sock: Mutex::new(sock) }
    }

    /// Sends a message.
    pub fn send(&self, msg: &ToHost<'_>) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(64);
        link::encode_to_host(msg, &mut buf);
        self.sock.lock().unwrap_or_else(|e| e.into_inner()).write_all(&buf)
    }
}
