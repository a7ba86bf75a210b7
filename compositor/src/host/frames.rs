//! From the compositor's frame clock to the encoder thread: the newest-wins mailbox of `lumen_render`
//! holding at most one rendered [`lumen_render::Frame`]. Its `MailboxSink` (a `FrameSink`, called on the
//! compositor thread) only swaps the newest frame in and never waits; [`DesktopSource`] (a `FrameSource`,
//! called on the encoder thread) waits until a new frame arrives, or — when nothing changed for
//! [`REPEAT_AFTER`] — hands the
//! current frame out again, so an idle session costs one tiny encoded repeat frame a second and the client
//! never reaches its no-frame timeout. Frames keep their pool target (no copy); a held frame simply keeps
//! its target out of the pool until the next one replaces it. On the GPU route the frame carries its target's
//! CUDA registration (attached by `gpu_frames::GpuSink`) and leaves as `FramePixels::Gpu`; either way the
//! frame's render fence (an EGL sync) is waited on here, on the encoder thread — no `glFinish`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lumen_encode::gpu::targets::RegisteredTarget;
use lumen_encode::source::SourceError;
use lumen_encode::{CpuPixels, FramePixels, FrameSource, PixelFormat};
use lumen_render::{Frame, MailboxReceiver, Waited};

/// How long the source waits for a change before repeating the current frame.
pub const REPEAT_AFTER: Duration = Duration::from_secs(1);

/// CLOCK_MONOTONIC "now" (the clock of `Frame::pts`).
fn monotonic_now() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The `Instant` of a CLOCK_MONOTONIC timestamp (the frame's render time).
fn instant_of(pts: Duration) -> Instant {
    let age = monotonic_now().saturating_sub(pts);
    let now = Instant::now();
    now.checked_sub(age).unwrap_or(now)
}

/// The encoder side of a session's output.
pub struct DesktopSource {
    mailbox: MailboxReceiver,
    width: u32,
    height: u32,
    current: Option<Frame>,
    index: u64,
    fresh: u64,
    repeats: u64,
    dump_dir: Option<PathBuf>,
    /// Polled on the encoder's own ticker (the design before the output's clock drove the encoder; kept for
    /// the benchmark's comparison): each call takes the newest frame if there is one, else `NotReady`.
    polled: bool,
}

impl DesktopSource {
    /// A source of `width`×`height` frames; `dump_dir` is the test hook described in docs/session.md.
    pub fn new(mailbox: MailboxReceiver, width: u32, height: u32, dump_dir: Option<PathBuf>) -> Self {
        Self { mailbox, width, height, current: None, index: 0, fresh: 0, repeats: 0, dump_dir, polled: false }
    }

    /// The same source, polled by an encoder on a ticker of its own (`--encoder-clock ticker`).
    pub fn polled(mut self) -> Self {
        self.polled = true;
        self
    }

    /// Waits for a newer frame (or the repeat deadline); returns whether a new frame arrived.
    fn wait(&mut self) -> Result<bool, SourceError> {
        // The first frame is waited for as long as it takes (until the mailbox closes); later ones only until
        // the repeat deadline.
        let far = Instant::now() + Duration::from_secs(3600);
        let deadline = if self.current.is_some() { Instant::now() + REPEAT_AFTER } else { far };
        loop {
            match self.mailbox.wait_until(deadline) {
                Waited::Frame(f) => {
                    self.current = Some(f);
                    return Ok(true);
                }
                Waited::Closed if self.current.is_none() => return Err(SourceError::Ended),
                Waited::Closed | Waited::TimedOut if self.current.is_some() => return Ok(false),
                Waited::Closed | Waited::TimedOut => {}
            }
        }
    }

    /// Test hook: when `<dump_dir>/request` exists, write the current frame as tightly packed RGBA to
    /// `<dump_dir>/frame.rgba` (with `frame.txt` = "W H seq") and remove the request.
    fn serve_dump(&self) {
        let (Some(dir), Some(frame)) = (&self.dump_dir, &self.current) else { return };
        let req = dir.join("request");
        if !req.exists() {
            return;
        }
        let Some((px, format)) = frame_pixels(frame) else { return };
        let (r, g, b) = format.rgb_offsets();
        let (w, h) = (frame.width as usize, frame.height as usize);
        let mut rgba = Vec::with_capacity(w * h * 4);
        for row in 0..h {
            for p in px.data[row * px.stride..row * px.stride + w * 4].chunks_exact(4) {
                rgba.extend_from_slice(&[p[r], p[g], p[b], 255]);
            }
        }
        let tmp = dir.join("frame.rgba.tmp");
        let r = std::fs::write(&tmp, &rgba)
            .and_then(|_| std::fs::write(dir.join("frame.txt"), format!("{w} {h} {}\n", frame.seq)))
            .and_then(|_| std::fs::rename(&tmp, dir.join("frame.rgba")))
            .and_then(|_| std::fs::remove_file(&req));
        match r {
            Ok(()) => tracing::info!(seq = frame.seq, dir = %dir.display(), "frame dumped (test hook)"),
            Err(e) => tracing::warn!(error = %e, dir = %dir.display(), "frame dump failed"),
        }
    }
}

/// A frame's CPU pixels and their layout: a Pixman target (XRGB8888: B, G, R, X in memory) or the readback
/// of a GLES target (ABGR8888: R, G, B, A in memory; alpha is not used).
fn frame_pixels(frame: &Frame) -> Option<(lumen_render::CpuPixels<'_>, PixelFormat)> {
    match frame.target().cpu_pixels() {
        Some(px) => Some((px, PixelFormat::Bgrx)),
        None => frame.readback().map(|px| (px, PixelFormat::Rgbx)),
    }
}

impl FrameSource for DesktopSource {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn next_frame(&mut self) -> Result<lumen_encode::Frame<'_>, SourceError> {
        let fresh = if self.polled {
            match self.mailbox.try_take() {
                Some(f) => {
                    self.current = Some(f);
                    true
                }
                None if self.mailbox.is_closed() => return Err(SourceError::Ended),
                None => return Err(SourceError::NotReady),
            }
        } else {
            self.wait()?
        };
        if fresh {
            self.fresh += 1;
        } else {
            self.repeats += 1;
            if self.repeats.is_power_of_two() {
                tracing::debug!(repeats = self.repeats, fresh = self.fresh, "nothing changed: repeating the frame");
            }
        }
        self.serve_dump();
        self.index += 1;
        let frame = self.current.as_ref().ok_or(SourceError::Ended)?;
        if let Some(sync) = &frame.sync {
            if let Err(e) = sync.wait() {
                tracing::warn!(error = ?e, "waiting on the frame's render fence");
            }
        }
        // The GPU route: the target's CUDA registration travels with the frame (host/gpu_frames.rs).
        let pixels = match frame.attachment::<RegisteredTarget>() {
            Some(reg) => FramePixels::Gpu(reg.gpu_target()),
            None => {
                let (px, format) =
                    frame_pixels(frame).ok_or_else(|| SourceError::Failed("frame without CPU pixels".into()))?;
                FramePixels::Cpu(CpuPixels {
                    data: px.data,
                    width: px.width,
                    height: px.height,
                    stride: px.stride,
                    format,
                })
            }
        };
        let size = match &pixels {
            FramePixels::Cpu(px) => (px.width, px.height),
            FramePixels::Gpu(t) => (t.width, t.height),
            _ => (0, 0),
        };
        if size != (self.width, self.height) {
            return Err(SourceError::Failed(format!(
                "{}x{} frame for a {}x{} stream",
                size.0, size.1, self.width, self.height
            )));
        }
        let ready_at = if fresh { instant_of(frame.pts) } else { Instant::now() };
        Ok(lumen_encode::Frame { pixels, index: self.index, ready_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::OutputMode;
    use crate::{Config, RendererChoice};

    /// A real compositor output feeding the source: the first (fully damaged) frame arrives fresh, an idle
    /// output yields a repeat of it, and removing the output releases a waiting source at once.
    #[test]
    fn output_frames_reach_the_source_and_repeat_when_idle() {
        let (tx, rx) = std::sync::mpsc::channel();
        let config = Config { outputs: Vec::new(), renderer: RendererChoice::Pixman, ..Config::default() };
        let thread = std::thread::spawn(move || {
            crate::run(config, |h, _| {
                let _ = tx.send(h);
            })
        });
        let handle = rx.recv_timeout(Duration::from_secs(20)).expect("compositor did not start");
        let (sink, mailbox) = lumen_render::mailbox();
        let closer = mailbox.closer();
        let mode = OutputMode { width: 320, height: 240, refresh_mhz: 60_000 };
        let id = handle.create_output(mode, Some(Box::new(sink.for_cpu_encoder()))).unwrap();
        let probe = closer.clone();
        let mut src = DesktopSource::new(mailbox, 320, 240, None);
        {
            let f = src.next_frame().expect("first frame");
            let FramePixels::Cpu(px) = f.pixels else { panic!("not CPU pixels") };
            assert_eq!((px.width, px.height, px.format), (320, 240, PixelFormat::Bgrx));
            assert!(px.stride >= 320 * 4 && px.data.len() >= px.stride * 239 + 320 * 4);
            assert_eq!(f.index, 1);
        }
        assert_eq!((src.fresh, src.repeats), (1, 0));
        let t = Instant::now();
        let idx = src.next_frame().expect("repeat").index;
        assert_eq!(idx, 2);
        assert_eq!((src.fresh, src.repeats), (1, 1), "nothing changed: the frame must be a repeat");
        assert!(t.elapsed() >= REPEAT_AFTER - Duration::from_millis(50));
        handle.remove_output(id).unwrap();
        // Closed: the source no longer waits for the repeat deadline.
        let t = Instant::now();
        while !src.mailbox.is_closed() {
            assert!(t.elapsed() < Duration::from_secs(5), "output removal did not close the mailbox");
            std::thread::sleep(Duration::from_millis(10));
        }
        let t = Instant::now();
        src.next_frame().expect("last frame again");
        assert!(t.elapsed() < Duration::from_millis(500));
        probe.close(); // closing again is harmless
        handle.stop().unwrap();
        thread.join().unwrap().unwrap();
    }
}
