//! The worker role of `lumen-session` (`lumen-session worker`, started by the host, never by users): one
//! session's compositor, outputs, renderer, encoder and apps in a process of its own. It talks to the host
//! only over its links (`lumen_core::link`): the link on descriptor 3, the audio link on 4, the video ring
//! on 5 and its notices on 6. It announces itself (`Ready`), streams at each `Start` ([`stream`]: access
//! units into the ring, Opus on the audio link), injects the client's input into its seat, applies encoder requests, and ends at
//! `End` or when the host goes away (link closed). A crash here ends only this session.

mod audio;
pub mod encoder;
mod link_fd;
pub mod link_out;
mod stream;

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use lumen_core::link::{self, ToHost, ToWorker, AUDIO_LINK_FD, HEADER_LEN, LINK_FD, VIDEO_LINK_FD, VIDEO_RING_FD};
use lumen_render::RendererChoice;
use lumen_stream::worker::shm_ring::SharedRing;

use link_out::LinkWriter;
use lumen_encode::EncoderRequest;
use stream::{Stream, StreamContext};

use crate::handle::CompositorHandle;
use crate::host::apps::AppProcess;
use crate::host::choice::{EncoderChoice, VideoSource};
use crate::run::Config;

/// How the host starts a worker (its command line, `lumen-session worker …`).
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// The host's id of this session (for the log).
    #[arg(long, default_value_t = 0)]
    pub session: u64,
    #[arg(long, default_value = "auto", value_parser = |s: &str| s.parse::<EncoderChoice>())]
    pub encoder: EncoderChoice,
    #[arg(long, default_value = "auto", value_parser = |s: &str| s.parse::<RendererChoice>())]
    pub renderer: RendererChoice,
    #[arg(long, default_value = "desktop", value_parser = |s: &str| s.parse::<VideoSource>())]
    pub video_source: VideoSource,
    /// Start CMD in the session at start (repeatable): what "Desktop" shows.
    #[arg(long = "desktop-app", value_name = "CMD")]
    pub desktop_apps: Vec<String>,
    #[arg(long)]
    pub xwayland: bool,
    #[arg(long)]
    pub demo: bool,
    /// Test hook: frame dumps in DIR/session-N (docs/session.md).
    #[arg(long, value_name = "DIR")]
    pub frame_dump: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub app_log_dir: Option<PathBuf>,
    /// Output scale: `auto` (2 from 2160 lines up, else 1) or an integer 1–4.
    #[arg(long, default_value = "auto", value_parser = parse_scale)]
    pub output_scale: OutputScale,
    /// What paces the encoder (see [`EncoderClock`]).
    #[arg(long, value_enum, default_value_t = EncoderClock::Output)]
    pub encoder_clock: EncoderClock,
    /// Which virtual pad a client controller becomes.
    #[arg(long, value_enum, default_value_t = crate::gamepad::PadChoice::Auto)]
    pub gamepad: crate::gamepad::PadChoice,
    /// Hide DIR from the session's apps (an empty read-only mount in the worker's own mount namespace;
    /// system mode's greeter hides the users' homes). The worker does not start if it cannot.
    #[arg(long = "hide", value_name = "DIR")]
    pub hide: Vec<PathBuf>,
}

/// `--encoder-clock`: what paces a session's encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EncoderClock {
    /// The output's frame clock: the encoder encodes each frame as it is rendered (the default).
    Output,
    /// A ticker of the encoder's own at the stream's rate that takes the newest frame at each tick — the
    /// design before the split, kept only so the session benchmark can show what the one clock saves.
    Ticker,
}

/// `--output-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputScale {
    #[default]
    Auto,
    Fixed(i32),
}

impl OutputScale {
    /// The scale of an output `height` lines high: text stays readable on 4K streams.
    pub fn for_height(self, height: u32) -> i32 {
        match self {
            OutputScale::Fixed(n) => n,
            OutputScale::Auto if height >= 2160 => 2,
            OutputScale::Auto => 1,
        }
    }

    fn arg(self) -> String {
        match self {
            OutputScale::Auto => "auto".into(),
            OutputScale::Fixed(n) => n.to_string(),
        }
    }
}

/// Parses `--output-scale` (`auto` or 1–4).
pub fn parse_scale(s: &str) -> Result<OutputScale, String> {
    match s {
        "auto" => Ok(OutputScale::Auto),
        n => match n.parse::<i32>() {
            Ok(k) if (1..=4).contains(&k) => Ok(OutputScale::Fixed(k)),
            _ => Err(format!("output scale {s:?}: expected auto or 1-4")),
        },
    }
}

impl WorkerArgs {
    /// The arguments that start a worker like this one (after `worker`).
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut a: Vec<std::ffi::OsString> = vec![
            "--session".into(),
            self.session.to_string().into(),
            "--encoder".into(),
            self.encoder.name().into(),
            "--renderer".into(),
            renderer_name(self.renderer).into(),
            "--video-source".into(),
            self.video_source.name().into(),
        ];
        for app in &self.desktop_apps {
            a.push("--desktop-app".into());
            a.push(app.into());
        }
        if self.xwayland {
            a.push("--xwayland".into());
        }
        if self.demo {
            a.push("--demo".into());
        }
        if let Some(d) = &self.frame_dump {
            a.push("--frame-dump".into());
            a.push(d.into());
        }
        if let Some(d) = &self.app_log_dir {
            a.push("--app-log-dir".into());
            a.push(d.into());
        }
        a.push("--output-scale".into());
        a.push(self.output_scale.arg().into());
        if self.encoder_clock == EncoderClock::Ticker {
            a.push("--encoder-clock".into());
            a.push("ticker".into());
        }
        a.push("--gamepad".into());
        a.push(self.gamepad.name().into());
        for d in &self.hide {
            a.push("--hide".into());
            a.push(d.into());
        }
        a
    }
}

fn renderer_name(r: RendererChoice) -> &'static str {
    match r {
        RendererChoice::Gles => "gles",
        RendererChoice::Pixman => "pixman",
        _ => "auto",
    }
}

/// Runs the worker until the host ends it (or goes away).
pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    // First of all (a mount namespace needs a single-threaded process): where the session can have pads,
    // its apps get a /dev/input of their own, so they see only this session's pads.
    if crate::gamepad::possible() {
        if let Err(e) = crate::gamepad::confine::isolate() {
            tracing::warn!(session = args.session, error = %e,
                "gamepads: the session could not get a /dev/input of its own; its pads are visible to every app \
                 of its user");
        }
    }
    if !args.hide.is_empty() {
        crate::gamepad::confine::hide(&args.hide).context("hiding directories from the session (--hide)")?;
        tracing::info!(session = args.session, dirs = ?args.hide, "directories hidden from the session's apps");
    }
    // The session's audio server first, before any thread: its socket goes into the environment every app
    // of the session inherits.
    let audio = Arc::new(start_audio(args.session)?);
    for (k, v) in audio.env() {
        std::env::set_var(k, v);
    }
    let link = link_fd::take_link(LINK_FD).context("the worker's link")?;
    let audio_link = link_fd::take_link(AUDIO_LINK_FD).context("the worker's audio link")?;
    let ring_fd = link_fd::take_fd(VIDEO_RING_FD, false).context("the worker's video ring")?;
    let ring = SharedRing::open(&ring_fd).context("mapping the video ring")?;
    let video_sock = link_fd::take_fd(VIDEO_LINK_FD, true).context("the worker's video link")?;
    let video = Arc::new(encoder::VideoOut::new(ring, video_sock));
    let out = Arc::new(LinkWriter::new(link.try_clone()?));
    let resolved = match crate::host::choice::resolve(args.encoder, args.renderer) {
        Ok(r) => r,
        Err(e) => {
            let _ = out.send(&ToHost::Failed { message: &e.to_string() });
            return Err(e.into());
        }
    };
    let config = Config {
        apps: Vec::new(),
        renderer: resolved.renderer,
        outputs: Vec::new(),
        socket: None,
        control: None,
        xwayland: args.xwayland,
        keyboard_layout: "us".into(),
        cursor_visible: true,
        handle_signals: false,
        app_log_dir: args.app_log_dir.clone(),
    };
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<(CompositorHandle, String)>(1);
    let compositor = std::thread::Builder::new().name("lumen-compositor".into()).spawn(move || {
        let r = crate::run::run(config, |h, socket| {
            let _ = ready_tx.send((h, socket.to_string()));
        });
        if let Err(e) = &r {
            tracing::error!(error = %e, "the session's compositor failed");
        }
    })?;
    let Ok((handle, socket)) = ready_rx.recv() else {
        let _ = out.send(&ToHost::Failed { message: "the session's compositor did not start" });
        let _ = compositor.join();
        anyhow::bail!("the compositor did not start");
    };
    for app in &args.desktop_apps {
        handle.launch_app(app.clone()).context("launching a desktop app")?;
    }
    if args.demo {
        let rt = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).unwrap_or_default();
        let sock = socket.clone();
        std::thread::Builder::new().name("lumen-demo".into()).spawn(move || {
            if let Err(e) = crate::host::demo::run(&rt, &sock) {
                tracing::warn!(error = %e, "demo client stopped");
            }
        })?;
    }
    tracing::info!(session = args.session, wayland = socket, "worker ready");
    out.send(&ToHost::Ready { version: link::LINK_VERSION, pid: std::process::id() })?;
    // Test hook: each session's frame dumps in a directory of its own.
    let frame_dump = args.frame_dump.as_ref().map(|d| d.join(format!("session-{}", args.session)));
    if let Some(d) = &frame_dump {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let ctx = StreamContext {
        handle: handle.clone(),
        session: args.session,
        out: out.clone(),
        video,
        audio,
        audio_link,
        resolved,
        video_source: args.video_source,
        wayland_display: socket,
        xwayland: args.xwayland,
        output_scale: args.output_scale,
        encoder_clock: args.encoder_clock,
        gamepad: args.gamepad,
        frame_dump,
        app_log_dir: args.app_log_dir.clone(),
    };
    let end_app = serve(link, &ctx);
    let _ = handle.stop();
    let _ = compositor.join();
    if let Some(app) = end_app {
        app.terminate();
    }
    tracing::info!(session = args.session, "worker done");
    Ok(())
}

/// Starts the session's audio server at `$XDG_RUNTIME_DIR/lumen-<pid>/pulse/native` (private to the session).
fn start_audio(session: u64) -> anyhow::Result<crate::audio::SessionAudio> {
    let rt = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let path = rt.join(format!("lumen-{}-{session}", std::process::id())).join("pulse").join("native");
    crate::audio::SessionAudio::start(&path)
        .with_context(|| format!("the session's audio server at {}", path.display()))
}

/// Reads the host's messages until `End` or the link closes; returns the app to terminate, if any.
fn serve(mut link: UnixStream, ctx: &StreamContext) -> Option<AppProcess> {
    let mut app: Option<AppProcess> = None;
    let mut stream: Option<Stream> = None;
    let mut body = Vec::with_capacity(4096);
    let end_app = loop {
        let mut head = [0u8; HEADER_LEN];
        if link.read_exact(&mut head).is_err() {
            tracing::info!("the host closed the link: the session ends");
            break true;
        }
        let h = match link::parse_header(&head) {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "bad frame from the host");
                break true;
            }
        };
        body.resize(h.body_len, 0);
        if link.read_exact(&mut body).is_err() {
            break true;
        }
        let msg = match link::decode_to_worker(h.kind, &body) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "undecodable message from the host ignored");
                continue;
            }
        };
        match msg {
            ToWorker::Start(s) => {
                if let Some(old) = stream.take() {
                    old.stop(&ctx.handle);
                }
                match Stream::start(ctx, &s, &mut app) {
                    Ok((st, (width, height))) => {
                        stream = Some(st);
                        let _ = ctx.out.send(&ToHost::Streaming { width, height });
                    }
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "stream did not start");
                        let _ = ctx.out.send(&ToHost::Failed { message: &format!("{e:#}") });
                    }
                }
            }
            ToWorker::Input(bytes) => match lumen_core::input::decode(bytes) {
                Ok(ev) => {
                    if let Some(st) = stream.as_mut() {
                        st.input(ev);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "undecodable input from the host"),
            },
            ToWorker::RequestIdr => command(&stream, EncoderRequest::Idr),
            ToWorker::InvalidateRefs { first, last } => {
                command(&stream, EncoderRequest::InvalidateRefs { first, last })
            }
            ToWorker::SetBitrate { kbps } => command(&stream, EncoderRequest::Bitrate(kbps)),
            ToWorker::StopStream => {
                if let Some(old) = stream.take() {
                    old.stop(&ctx.handle);
                }
            }
            ToWorker::End { end_app } => break end_app,
        }
    };
    if let Some(old) = stream.take() {
        old.stop(&ctx.handle);
    }
    if end_app {
        app
    } else {
        // The app outlives the worker only when the host asked for it; it is left to run.
        None
    }
}

fn command(stream: &Option<Stream>, c: EncoderRequest) {
    if let Some(st) = stream {
        st.command(c);
    }
}
