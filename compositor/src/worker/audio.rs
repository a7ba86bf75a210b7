//! The worker's audio: per stream, a thread that encodes the session's mix (its audio server's sink,
//! `crate::audio`) to Opus on the audio clock (packets of the negotiated duration, never drifting) and
//! writes each packet to the host on the audio link, which nothing else writes to — audio never waits behind
//! a large access unit.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use lumen_core::audio::OpusLayout;
use lumen_core::link::{self, StreamStart, ToHost};
use lumen_encode::audio::{encode_on_clock, AudioSource, OpusEncoder};

/// A running audio thread.
pub struct AudioThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AudioThread {
    /// Starts the session's audio for the stream `s` on `sock` (a clone of the audio link).
    pub fn spawn(
        s: &StreamStart<'_>,
        layout: &OpusLayout,
        mut sock: UnixStream,
        mut source: Box<dyn AudioSource>,
    ) -> anyhow::Result<Self> {
        let packet_ms = s.audio_packet_ms;
        let mut enc = OpusEncoder::with_layout(packet_ms, layout)?;
        tracing::info!(
            channels = layout.channels,
            streams = layout.streams,
            high_quality = layout.high_quality,
            kbps = layout.bitrate_bps / 1000,
            packet_ms,
            "session audio streaming"
        );
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let thread = std::thread::Builder::new().name("lumen-audio-enc".into()).spawn(move || {
            let mut frame = Vec::with_capacity(lumen_core::audio::MAX_OPUS_LEN + link::HEADER_LEN + 8);
            let mut emit = |pkt: &[u8], heard_ns: u64| {
                frame.clear();
                link::encode_to_host(&ToHost::Opus { heard_ns, data: pkt }, &mut frame);
                sock.write_all(&frame).is_ok()
            };
            let stop = || st.load(Ordering::Relaxed);
            match encode_on_clock(&mut enc, source.as_mut(), packet_ms, &stop, &mut emit) {
                Ok(n) => tracing::debug!(packets = n, "audio encoder stopped"),
                Err(e) => tracing::error!(error = %e, "audio encoder failed"),
            }
        })?;
        Ok(Self { stop, thread: Some(thread) })
    }

    /// Stops the thread.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for AudioThread {
    fn drop(&mut self) {
        self.stop();
    }
}
