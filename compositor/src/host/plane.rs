//! [`SessionPlane`]: the joined `MediaPlane`. Per PLAY it launches (or resumes) the app, creates a virtual
//! output at the ANNOUNCEd W×H@fps whose frames feed the session's encoder, wires the client's input into
//! the seat, and starts the real media plane on them; stopping the session removes the output.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use lumen_encode::audio::SilenceSource;
use lumen_encode::{FrameSource, TestPattern};
use lumen_render::OutputId;
use lumen_stream::launch::LaunchRecord;
use lumen_stream::media::{audio_params, video_plan, Feeds, InputSink, MediaOptions, MoonlightMedia};
use lumen_stream::{CodecSupport, EndReason, MediaPlane, MediaSession, MediaStart};

use super::apps::AppProcess;
use super::choice::{Resolved, VideoSource};
use super::frames::DesktopSource;
use super::input::SeatInput;
use crate::encoding::encoder_config;
use crate::encoding::feeds::{EncoderFeed, OpusFeed, SourceMaker};
use crate::handle::CompositorHandle;
use crate::output::OutputMode;

type EndFn = Box<dyn FnOnce(EndReason) + Send>;
/// The control plane's end callback of the current session, taken by whoever ends it first.
type EndSlot = Arc<Mutex<Option<EndFn>>>;

/// How the plane was configured.
#[derive(Debug, Clone)]
pub struct PlaneOptions {
    pub resolved: Resolved,
    pub video_source: VideoSource,
    /// The compositor's Wayland socket name (apps run on it).
    pub wayland_display: String,
    /// Test hook: see [`DesktopSource::new`].
    pub frame_dump: Option<PathBuf>,
    /// Where launched apps' output goes (`<app>-<pid>.log`); `None`: the host's streams.
    pub app_log_dir: Option<PathBuf>,
    /// `--desktop-audio`: the session's sound is the monitor of its sink in the user's server (else silence:
    /// the nested session's apps play to the user's desktop).
    pub desktop_audio: Option<Arc<crate::audio::desktop::DesktopAudio>>,
}

#[derive(Default)]
struct PlaneState {
    app: Option<AppProcess>,
    end: Option<EndSlot>,
    /// The media plane of the last session (for `status`).
    media: Option<Arc<MoonlightMedia>>,
    output: Option<OutputId>,
}

/// What the session's audio clock encodes: the desktop sink's monitor with `--desktop-audio`, else silence.
fn audio_maker(opts: &PlaneOptions, start: &MediaStart) -> crate::encoding::feeds::AudioMaker {
    match opts.desktop_audio.clone() {
        Some(desktop) => {
            let channels = audio_params(start).channels as usize;
            Box::new(move || Box::new(desktop.source(channels)))
        }
        None => Box::new(|| Box::new(SilenceSource)),
    }
}

/// The `MediaPlane` of `lumen-session`.
pub struct SessionPlane {
    handle: CompositorHandle,
    opts: PlaneOptions,
    base: MediaOptions,
    state: Arc<Mutex<PlaneState>>,
}

fn lock(m: &Mutex<PlaneState>) -> MutexGuard<'_, PlaneState> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn take_end(slot: &EndSlot) -> Option<EndFn> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

impl SessionPlane {
    /// `base` carries the media plane's test hooks (`MediaOptions::from_env`); its encoder and source are
    /// replaced by the resolved encoder and the session's output.
    pub fn new(handle: CompositorHandle, opts: PlaneOptions, base: MediaOptions) -> Self {
        Self { handle, opts, base, state: Arc::new(Mutex::new(PlaneState::default())) }
    }

    /// Starts the launched app unless it already runs (a resume); "Desktop" starts nothing.
    fn ensure_app(&self, launch: &LaunchRecord) -> anyhow::Result<()> {
        let Some(cmd) = launch.app_cmd.as_deref() else { return Ok(()) };
        let old = {
            let mut st = lock(&self.state);
            match &st.app {
                Some(a) if a.app_id == launch.app_id && a.running() => {
                    tracing::info!(app = %launch.app_name, pid = a.pid, "app already running: resuming it");
                    return Ok(());
                }
                _ => st.app.take(),
            }
        };
        if let Some(old) = old {
            tracing::info!(cmd = %old.cmd, "another app was launched: terminating the previous one");
            old.terminate();
        }
        let state = Arc::downgrade(&self.state);
        let on_exit = Box::new(move || {
            let Some(state) = state.upgrade() else { return };
            let end = lock(&state).end.clone();
            if let Some(f) = end.as_ref().and_then(take_end) {
                tracing::info!("the app exited: ending the stream");
                f(EndReason::AppExited);
            }
        });
        let app = AppProcess::spawn(
            launch.app_id,
            cmd,
            &self.opts.wayland_display,
            self.handle.x_display().ok().flatten(),
            self.opts.app_log_dir.as_deref(),
            on_exit,
        )?;
        lock(&self.state).app = Some(app);
        Ok(())
    }

    /// Terminates the launched app, if any.
    pub fn terminate_app(&self) {
        let app = lock(&self.state).app.take();
        if let Some(a) = app {
            a.terminate();
        }
    }
}

impl MediaPlane for SessionPlane {
    fn start(&self, mut start: MediaStart) -> anyhow::Result<Box<dyn MediaSession>> {
        // `--nested`: the stream shows the window's own output (the same session the local user sees, one
        // seat), at the window's size; the client scales it into its view.
        let nested = match self.opts.video_source {
            VideoSource::Desktop => self.handle.nested_output()?,
            VideoSource::TestPattern => None,
        };
        if let Some((_, m)) = nested {
            start.config.width = m.width;
            start.config.height = m.height;
        }
        let (w, h, fps) = (start.config.width, start.config.height, start.config.fps.max(1));
        let tee: Option<Arc<dyn InputSink>> =
            std::env::var_os(lumen_stream::media::ENV_INPUT_LOG).map(|_| self.base.input_sink.clone());
        let input: Arc<dyn InputSink>;
        let make_source: SourceMaker;
        let (output, mailbox) = match self.opts.video_source {
            VideoSource::TestPattern => {
                input = Arc::new(SeatInput::new(self.handle.clone(), None, Some(self.base.input_sink.clone())));
                make_source = Box::new(|sw, sh| Box::new(TestPattern::new(sw, sh)) as Box<dyn FrameSource>);
                (None, None)
            }
            VideoSource::Desktop => {
                let (sink, mailbox) = lumen_render::mailbox();
                let closer = mailbox.closer();
                let sink = Box::new(sink.for_cpu_encoder());
                let id = match nested {
                    Some((id, mode)) => {
                        self.handle.set_sink(id, Some(sink))?;
                        tracing::info!(output = %id, %mode, client = %start.client_ip, app = %start.launch.app_name,
                            "streaming the nested window's output");
                        id
                    }
                    None => {
                        let mode = OutputMode { width: w, height: h, refresh_mhz: fps.saturating_mul(1000) };
                        let id = self.handle.create_output(mode, Some(sink))?;
                        tracing::info!(output = %id, %mode, client = %start.client_ip, app = %start.launch.app_name,
                            "session output created");
                        id
                    }
                };
                let dump = self.opts.frame_dump.clone();
                make_source =
                    Box::new(move |sw, sh| Box::new(DesktopSource::new(mailbox, sw, sh, dump)) as Box<dyn FrameSource>);
                input = Arc::new(SeatInput::new(self.handle.clone(), Some(id), tee));
                (Some(id), Some(closer))
            }
        };
        // The app starts once the session's output exists, so its first window maps there (not on a
        // `--nested` window that was the newest output before).
        if let Err(e) = self.ensure_app(&start.launch) {
            if let Some(id) = output {
                let _ = if nested.is_some() { self.handle.set_sink(id, None) } else { self.handle.remove_output(id) };
            }
            return Err(e);
        }
        let slot: EndSlot = Arc::new(Mutex::new(Some(start.on_end)));
        lock(&self.state).end = Some(slot.clone());
        let media_end = {
            let slot = slot.clone();
            Box::new(move |reason: EndReason| {
                if let Some(f) = take_end(&slot) {
                    f(reason);
                }
            })
        };
        let inner_start = MediaStart {
            client: start.client,
            session: start.session,
            tokens: start.tokens,
            launch: start.launch,
            config: start.config,
            client_ip: start.client_ip,
            ports: start.ports,
            on_end: media_end,
        };
        let mut session = HostSession {
            inner: None,
            output,
            mirrored: nested.is_some(),
            mailbox,
            slot,
            handle: self.handle.clone(),
            plane: self.state.clone(),
            done: false,
        };
        let plan = video_plan(&inner_start)?;
        let cfg = encoder_config(&plan, plan.width, plan.height);
        let paced = matches!(self.opts.video_source, VideoSource::TestPattern);
        let feeds = Feeds {
            video: Box::new(EncoderFeed::new(cfg, self.opts.resolved.encoder.clone(), make_source, paced)),
            audio: Box::new(OpusFeed::new(audio_params(&inner_start), audio_maker(&self.opts, &inner_start))),
            input,
        };
        let media = Arc::new(MoonlightMedia::new(self.base.clone()));
        session.inner = Some(Box::new(media.start_with_feeds(inner_start, feeds)?));
        {
            let mut st = lock(&self.state);
            st.media = Some(media);
            st.output = output;
        }
        Ok(Box::new(session))
    }

    fn codec_support(&self) -> CodecSupport {
        self.opts.resolved.codecs
    }

    fn status(&self) -> Option<serde_json::Value> {
        let st = lock(&self.state);
        let media = st.media.as_ref().map(|m| m.status());
        Some(serde_json::json!({
            "plane": "session",
            "encoder": self.opts.resolved.encoder_name,
            "renderer": self.opts.resolved.renderer_name(),
            "video_source": format!("{:?}", self.opts.video_source),
            "output": st.output.map(|o| o.0),
            "app": st.app.as_ref().map(|a| serde_json::json!({
                "id": a.app_id, "cmd": a.cmd, "pid": a.pid, "running": a.running() })),
            "media": media,
        }))
    }
}

/// One streaming session of the joined host.
struct HostSession {
    inner: Option<Box<dyn MediaSession>>,
    output: Option<OutputId>,
    /// The output is the `--nested` window's: at the end its sink goes, the output stays.
    mirrored: bool,
    mailbox: Option<lumen_render::MailboxCloser>,
    slot: EndSlot,
    handle: CompositorHandle,
    plane: Arc<Mutex<PlaneState>>,
    done: bool,
}

impl HostSession {
    fn teardown(&mut self, reason: EndReason) {
        if self.done {
            return;
        }
        self.done = true;
        take_end(&self.slot);
        {
            let mut st = lock(&self.plane);
            if st.end.as_ref().is_some_and(|s| Arc::ptr_eq(s, &self.slot)) {
                st.end = None;
            }
        }
        // Nothing the client held may leak into the next client's input.
        if self.handle.release_input().is_err() {
            tracing::debug!("input not released: the compositor is gone");
        }
        // Wake the encoder thread first so the media threads stop without waiting for a frame.
        if let Some(mb) = &self.mailbox {
            mb.close();
        }
        if let Some(mut inner) = self.inner.take() {
            inner.stop(reason.clone());
        }
        if let Some(id) = self.output.take() {
            let mut st = lock(&self.plane);
            if st.output == Some(id) {
                st.output = None;
            }
            drop(st);
            if self.mirrored {
                match self.handle.set_sink(id, None) {
                    Ok(()) => tracing::info!(output = %id, ?reason, "the nested window's output is no longer streamed"),
                    Err(e) => tracing::warn!(output = %id, error = %e, "stream sink not removed"),
                }
                return self.end_app(reason);
            }
            match self.handle.remove_output(id) {
                Ok(()) => tracing::info!(output = %id, ?reason, "session output removed"),
                Err(e) => tracing::warn!(output = %id, error = %e, "session output not removed"),
            }
        }
        self.end_app(reason);
    }

    /// Sunshine semantics: /cancel and shutdown end the app; a vanished client or a replaced session leave it
    /// running so a later client resumes it.
    fn end_app(&mut self, reason: EndReason) {
        if matches!(reason, EndReason::Cancelled | EndReason::HostShutdown) {
            let app = lock(&self.plane).app.take();
            if let Some(a) = app {
                tracing::info!(cmd = %a.cmd, ?reason, "terminating the launched app");
                a.terminate();
            }
        }
    }
}

impl MediaSession for HostSession {
    fn stop(&mut self, reason: EndReason) {
        self.teardown(reason);
    }

    fn stats(&self) -> Option<serde_json::Value> {
        self.inner.as_ref().and_then(|s| s.stats())
    }
}

impl Drop for HostSession {
    fn drop(&mut self) {
        self.teardown(EndReason::Replaced);
    }
}
