//! One stream of the worker: per host `Start`, a virtual output at the client's mode whose frames feed
//! an [`EncoderThread`] into the link, the session's audio on its [`AudioThread`], the launched app (started once, kept across streams for a resume), and the
//! client's input injected on that output. `StopStream` ends the stream and keeps the app.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lumen_core::input::InputEvent;
use lumen_core::link::StreamStart;
use lumen_encode::{EncoderRequest, FrameSource};
use lumen_render::OutputId;
use lumen_stream::media::{InputSink, VideoPlan};

use super::audio::AudioThread;
use super::encoder::{LinkSink, VideoOut};
use super::link_out::LinkWriter;
use crate::encoding::encoder_config;
use crate::encoding::thread::{request_channel, EncoderThread};
use crate::handle::CompositorHandle;
use crate::host::apps::AppProcess;
use crate::host::choice::{Resolved, VideoSource};
use crate::host::frames::DesktopSource;
use crate::host::input::SeatInput;
use crate::output::OutputMode;

/// What a worker's streams share.
pub struct StreamContext {
    /// The session's number (names its pads).
    pub session: u64,
    pub handle: CompositorHandle,
    pub out: Arc<LinkWriter>,
    /// The video ring and link (each stream's encoder writes them in turn).
    pub video: Arc<VideoOut>,
    /// The session's audio server (each stream encodes its mix).
    pub audio: Arc<crate::audio::SessionAudio>,
    /// The audio link (each stream's audio thread writes to a clone).
    pub audio_link: std::os::unix::net::UnixStream,
    pub resolved: Resolved,
    pub video_source: VideoSource,
    pub wayland_display: String,
    /// The session runs Xwayland: apps wait for its `DISPLAY`.
    pub xwayland: bool,
    pub output_scale: super::OutputScale,
    pub encoder_clock: super::EncoderClock,
    /// Which virtual pad a client controller becomes.
    pub gamepad: crate::gamepad::PadChoice,
    pub frame_dump: Option<PathBuf>,
    pub app_log_dir: Option<PathBuf>,
}

/// A running stream.
pub struct Stream {
    output: Option<OutputId>,
    mailbox: Option<lumen_render::MailboxCloser>,
    encoder: EncoderThread,
    requests: std::sync::mpsc::SyncSender<EncoderRequest>,
    audio: AudioThread,
    seat: SeatInput,
    /// The client's controllers as virtual pads (off where the kernel has no uinput).
    pads: crate::gamepad::Pads,
}

impl Stream {
    /// Starts a stream for `s`; returns it with the encoded size.
    pub fn start(
        ctx: &StreamContext,
        s: &StreamStart<'_>,
        app: &mut Option<AppProcess>,
    ) -> anyhow::Result<(Self, (u32, u32))> {
        // 4:2:0 needs even sizes: an odd mode (1365x767) streams at the next even size, which the client
        // scales into its window like any other mode.
        let (width, height) = (s.width + (s.width & 1), s.height + (s.height & 1));
        if (width, height) != (s.width, s.height) {
            tracing::info!(
                asked = format!("{}x{}", s.width, s.height),
                streamed = format!("{width}x{height}"),
                "odd mode: streaming the next even size"
            );
        }
        let plan = VideoPlan {
            width: s.width,
            height: s.height,
            fps: s.fps,
            bitrate_kbps: s.bitrate_kbps,
            csc_mode: s.csc_mode,
            slices: s.slices,
        };
        let cfg = encoder_config(&plan, width, height);
        let encoder = (ctx.resolved.encoder)(&cfg)?;
        let (output, mailbox, source, pace): (_, _, Box<dyn FrameSource>, _) = match ctx.video_source {
            VideoSource::TestPattern => {
                let src = Box::new(lumen_encode::TestPattern::new(cfg.width, cfg.height));
                (None, None, src, Some(Duration::from_secs_f64(1.0 / f64::from(cfg.fps))))
            }
            VideoSource::Desktop => {
                let (sink, mailbox) = lumen_render::mailbox();
                let closer = mailbox.closer();
                let mode =
                    OutputMode { width: cfg.width, height: cfg.height, refresh_mhz: cfg.fps.saturating_mul(1000) };
                let sink: Box<dyn lumen_render::FrameSink> = if ctx.resolved.frames.gpu_frames() {
                    Box::new(crate::host::gpu_frames::GpuSink::new(sink)?)
                } else {
                    Box::new(sink.for_cpu_encoder())
                };
                let id = ctx.handle.create_output(mode, Some(sink))?;
                tracing::info!(output = %id, %mode, frames = ctx.resolved.frames.name(), "session output created");
                let scale = ctx.output_scale.for_height(cfg.height);
                if scale > 1 {
                    ctx.handle.set_output_scale(id, scale)?;
                }
                let src = DesktopSource::new(mailbox, cfg.width, cfg.height, ctx.frame_dump.clone());
                match ctx.encoder_clock {
                    super::EncoderClock::Output => {
                        (Some(id), Some(closer), Box::new(src) as Box<dyn FrameSource>, None)
                    }
                    super::EncoderClock::Ticker => {
                        let tick = Duration::from_secs_f64(1.0 / f64::from(cfg.fps));
                        (Some(id), Some(closer), Box::new(src.polled()) as Box<dyn FrameSource>, Some(tick))
                    }
                }
            }
        };
        // The app starts once the output exists, so its first window maps there.
        if let Err(e) = ensure_app(ctx, s, app) {
            if let Some(id) = output {
                let _ = ctx.handle.remove_output(id);
            }
            return Err(e);
        }
        let (requests, req_rx) = request_channel();
        let sink = LinkSink::new(ctx.video.clone(), ctx.out.clone());
        let encoder = EncoderThread::spawn(source, encoder, sink, req_rx, pace, cfg.bitrate_kbps)?;
        let layout = lumen_core::audio::OpusLayout::for_config(s.audio_channels, s.audio_high_quality);
        let mix = Box::new(ctx.audio.source(usize::from(layout.channels)));
        let audio = AudioThread::spawn(s, &layout, ctx.audio_link.try_clone()?, mix)?;
        let seat = SeatInput::new(ctx.handle.clone(), output, None);
        let out = ctx.out.clone();
        let pads = crate::gamepad::Pads::new(
            ctx.session,
            match s.pad_kind {
                Some(lumen_core::gamepad::PadKind::Xbox) => crate::gamepad::PadChoice::Xbox,
                Some(lumen_core::gamepad::PadKind::DualSense) => crate::gamepad::PadChoice::Dualsense,
                None => ctx.gamepad,
            },
            Arc::new(move |f| {
                let _ = out.send(&lumen_core::link::ToHost::Pad(f));
            }),
        );
        Ok((Stream { output, mailbox, encoder, requests, audio, seat, pads }, (cfg.width, cfg.height)))
    }

    /// Queues an encoder request (dropped with a log line if the queue is full).
    pub fn command(&self, c: EncoderRequest) {
        if self.requests.try_send(c).is_err() {
            tracing::warn!(?c, "encoder request queue full: request dropped");
        }
    }

    /// A client's input: controllers to the pads, the rest into the seat.
    pub fn input(&mut self, ev: InputEvent) {
        match ev {
            InputEvent::Gamepad(_)
            | InputEvent::ControllerArrival { .. }
            | InputEvent::ControllerTouch { .. }
            | InputEvent::ControllerMotion { .. }
            | InputEvent::ControllerBattery { .. } => self.pads.input(&ev),
            other => self.seat.input(other),
        }
    }

    /// Ends the stream: whatever the client held is released, the encoder stops, the output goes.
    pub fn stop(mut self, handle: &CompositorHandle) {
        self.pads.clear();
        if handle.release_input().is_err() {
            tracing::debug!("input not released: the compositor is gone");
        }
        if let Some(mb) = &self.mailbox {
            mb.close();
        }
        self.encoder.stop();
        self.audio.stop();
        if let Some(id) = self.output.take() {
            match handle.remove_output(id) {
                Ok(()) => tracing::info!(output = %id, "session output removed"),
                Err(e) => tracing::warn!(output = %id, error = %e, "session output not removed"),
            }
        }
    }
}

/// Starts the launched app unless it already runs (a resume); "Desktop" starts nothing.
fn ensure_app(ctx: &StreamContext, s: &StreamStart<'_>, app: &mut Option<AppProcess>) -> anyhow::Result<()> {
    let Some(cmd) = s.app_cmd else { return Ok(()) };
    if let Some(a) = app.as_ref().filter(|a| a.app_id == s.app_id && a.running()) {
        tracing::info!(cmd, pid = a.pid, "app already running: resuming it");
        return Ok(());
    }
    if let Some(old) = app.take() {
        old.terminate();
    }
    let out = ctx.out.clone();
    let on_exit = Box::new(move || {
        let _ = out.send(&lumen_core::link::ToHost::AppExited { code: 0 });
    });
    if let Some(problem) = command_problem(cmd, std::env::var_os("PATH").as_deref()) {
        anyhow::bail!("the app {cmd:?} cannot start: {problem}");
    }
    let x_display = if ctx.xwayland { wait_for_x_display(&ctx.handle) } else { None };
    let started =
        AppProcess::spawn(s.app_id, cmd, &ctx.wayland_display, x_display, ctx.app_log_dir.as_deref(), on_exit)
            .map_err(|e| anyhow::anyhow!("the app {cmd:?} did not start: {e}"))?;
    *app = Some(started);
    Ok(())
}

/// How long an app waits for the session's Xwayland.
const X_WAIT: Duration = Duration::from_secs(15);

/// Xwayland's display once it is ready (`None`, logged, when it failed or did not come up in time).
fn wait_for_x_display(handle: &CompositorHandle) -> Option<u32> {
    let deadline = std::time::Instant::now() + X_WAIT;
    loop {
        match handle.x_display() {
            Ok(Some(n)) => return Some(n),
            Err(e) => {
                tracing::warn!(error = %e, "the app starts without DISPLAY: X11 apps will not open");
                return None;
            }
            Ok(None) if std::time::Instant::now() >= deadline => {
                tracing::warn!("Xwayland not ready in {X_WAIT:?}: the app starts without DISPLAY");
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Words `sh -c` runs itself, so they need no file on PATH.
const SHELL_WORDS: &[&str] = &[
    "exec", "cd", "export", "set", "test", "[", "echo", "printf", "read", "while", "until", "for", "if", "case", "{",
    "(", "!", ".", "eval", "true", "false", ":", "sleep",
];

/// Why `sh -c cmd` could not even start its program (its first word is neither a shell word, nor an
/// executable path, nor found on `path`), so the client gets a clean error instead of a stream that ends at
/// once. Commands with shell syntax before the program (`VAR=x cmd`) are left to the shell.
pub fn command_problem(cmd: &str, path: Option<&std::ffi::OsStr>) -> Option<String> {
    let word = cmd.split_whitespace().next()?;
    if SHELL_WORDS.contains(&word) || word.contains('=') || word.starts_with(['$', '`', '\'', '"']) {
        return None;
    }
    let executable = |p: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if word.contains('/') {
        return (!executable(std::path::Path::new(word))).then(|| format!("{word} is not an executable file"));
    }
    let found = path.is_some_and(|p| std::env::split_paths(p).any(|d| executable(&d.join(word))));
    (!found).then(|| format!("no such command: {word} (not on PATH)"))
}

#[cfg(test)]
mod tests {
    use super::command_problem;

    #[test]
    fn finds_commands_that_cannot_start() {
        let path = std::ffi::OsString::from("/usr/bin:/bin");
        assert_eq!(command_problem("sh -c 'exit 0'", Some(&path)), None);
        assert_eq!(command_problem("exec sleep 1", Some(&path)), None);
        assert_eq!(command_problem("FOO=1 anything", Some(&path)), None);
        assert_eq!(command_problem("/bin/sh", Some(&path)), None);
        assert!(command_problem("no-such-command-xyz --flag", Some(&path)).unwrap().contains("no such command"));
        assert!(command_problem("/nonexistent/app", Some(&path)).unwrap().contains("not an executable"));
    }
}
