//! `lumen-session`: lumen's product binary, in two roles. As the **host** (the default) it owns every
//! public socket and the protocol state (`lumen_stream`), and runs each client's session in a **worker**
//! process of its own — `lumen-session worker …`, started by the host with the link on descriptor 3
//! (`lumen_compositor::worker`): compositor, renderer, encoder and apps. With `--nested` the host keeps one
//! compositor in-process instead, shown in a window on the current desktop. Host flags are those of
//! `lumen_stream::cli::Cli` (state dir, ports, pairing, apps); this binary adds the session's own
//! (`--encoder`, `--renderer`, `--video-source`, `--desktop-app`, …). Admin subcommands (`pin`, `pairing`,
//! `clients`, `unpair`, `rename`, `status`) run through `lumen_stream::cli`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use lumen_compositor::audio::desktop::DesktopAudio;
use lumen_compositor::host::{self, EncoderChoice, PlaneOptions, SessionPlane, VideoSource};
use lumen_compositor::{CompositorHandle, Config, NestedConfig, OutputMode, RendererChoice};

/// What `--help` says after the flags: logging and where things are.
const AFTER_HELP: &str = "\
Logging: the host logs to stderr; RUST_LOG sets what (tracing's EnvFilter syntax, default \"info\"), e.g.
  RUST_LOG=debug lumen-session                          everything at debug
  RUST_LOG=info,lumen_stream::rtsp=debug lumen-session  one module at debug
  RUST_LOG=warn lumen-session                           only warnings and errors
Once every server listens, the host prints a ready block on stdout: the addresses to add in Moonlight and
the pairing steps. Each launched app's stdout/stderr go to STATE_DIR/logs/<app>-<pid>.log (STATE_DIR:
--state-dir, default $XDG_STATE_HOME/lumen or ~/.local/state/lumen).";

/// lumen's streaming host: a headless Wayland compositor streaming to Moonlight clients.
#[derive(Debug, Parser)]
#[command(name = "lumen-session", version, about, after_help = AFTER_HELP)]
struct Args {
    #[command(flatten)]
    host: lumen_stream::cli::Cli,
    #[command(flatten)]
    system: lumen_stream::login::system::SystemArgs,
    /// Video encoder: auto (NVENC where it works, else software), nvenc or software.
    #[arg(long, default_value = "auto", value_parser = |s: &str| s.parse::<EncoderChoice>())]
    encoder: EncoderChoice,
    /// Compositor renderer: auto, gles or pixman.
    #[arg(long, default_value = "auto", value_parser = |s: &str| s.parse::<RendererChoice>())]
    renderer: RendererChoice,
    /// What a session streams: desktop (a virtual output at the client's mode) or test-pattern.
    #[arg(long, default_value = "desktop", value_parser = |s: &str| s.parse::<VideoSource>())]
    video_source: VideoSource,
    /// Start CMD in the session at start (repeatable): what "Desktop" shows.
    #[arg(long = "desktop-app", value_name = "CMD")]
    desktop_apps: Vec<String>,
    /// Wayland socket name (default: first free wayland-N).
    #[arg(long)]
    socket: Option<String>,
    /// The compositor's control socket (test/admin commands, see docs/compositor.md).
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// Require Xwayland (>= 23.1) for X11 apps: without this flag each session starts it when a usable one is
    /// found (the set-up's in $LUMEN_CACHE/xwayland/bin first, then PATH); with it, the host fails at start
    /// when there is none.
    #[arg(long, conflicts_with = "no_xwayland")]
    xwayland: bool,
    /// Output scale of each session: auto (2 from 2160 lines up, so text stays readable at 4K; else 1) or 1-4.
    #[arg(long, default_value = "auto", value_parser = lumen_compositor::worker::parse_scale)]
    output_scale: lumen_compositor::worker::OutputScale,
    /// What paces each session's encoder: `output` (the output's frame clock; the default) or `ticker` (an
    /// encoder clock of its own, the design before; only for the session benchmark's comparison).
    #[arg(long, value_enum, default_value_t = lumen_compositor::worker::EncoderClock::Output)]
    encoder_clock: lumen_compositor::worker::EncoderClock,
    /// Which virtual pad each client controller becomes: `auto` (a DualSense for a PlayStation controller or
    /// one with touchpad, motion sensors or an RGB LED; else an Xbox One pad), `xbox` or `dualsense`.
    #[arg(long, value_enum, default_value_t = lumen_compositor::gamepad::PadChoice::Auto)]
    gamepad: lumen_compositor::gamepad::PadChoice,
    /// Run sessions without Xwayland (Wayland apps only).
    #[arg(long)]
    no_xwayland: bool,
    /// Also run the built-in demo client (a window with something moving) inside the session.
    #[arg(long)]
    demo: bool,
    /// Test hook: serve frame dumps of the streamed output in DIR (docs/session.md).
    #[arg(long, value_name = "DIR")]
    frame_dump: Option<PathBuf>,
    /// Also show the session in a window on the current Wayland or X11 desktop (winit); streamed
    /// sessions still get their own virtual output at the client's mode.
    #[arg(long)]
    nested: bool,
    /// The --nested window's initial size and refresh (WxH or WxH@Hz).
    #[arg(long, default_value = "1280x720@60", value_name = "MODE")]
    nested_size: String,
    /// With --nested: stream the sound of the user's own PulseAudio/PipeWire-pulse server — a null sink
    /// `lumen_<pid>` is loaded there, the session's apps play into it (`PULSE_SINK`), its monitor is streamed.
    #[arg(long, requires = "nested")]
    desktop_audio: bool,
}

/// The ready block waits until nothing was logged for this long…
const READY_QUIET: std::time::Duration = std::time::Duration::from_millis(300);
/// …but no longer than this after the servers listen.
const READY_MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// How the compositor half ended, told to the host half.
type Done = tokio::sync::oneshot::Receiver<Result<(), String>>;

/// `lumen-session worker …`: started by the host only.
#[derive(Debug, Parser)]
#[command(name = "lumen-session worker", about = "one session's compositor, encoder and apps (started by the host)")]
struct WorkerCli {
    #[command(flatten)]
    args: lumen_compositor::worker::WorkerArgs,
}

fn main() -> anyhow::Result<()> {
    if std::env::args_os().nth(1).is_some_and(|a| a == "pam-session") {
        // System mode's per-session root helper, started by the broker only.
        host::logging::init();
        let args: Vec<std::ffi::OsString> = std::env::args_os().skip(2).collect();
        std::process::exit(lumen_stream::login::session_helper::run(&args));
    }
    if std::env::args_os().nth(1).is_some_and(|a| a == "worker") {
        host::logging::init();
        let cli = WorkerCli::parse_from(std::env::args_os().skip(1));
        return lumen_compositor::worker::run(cli.args);
    }
    let mut args = Args::parse();
    if let Some(cmd) = &args.host.command {
        // Admin commands talk to a running host; no compositor, no media.
        let state_dir = args.host.state_dir.clone().unwrap_or_else(lumen_stream::cli::default_state_dir);
        return lumen_stream::cli::run_admin(&state_dir, cmd);
    }
    // The start PIN (`--pin`, `--pin-file`, `LUMEN_PIN`), before any thread starts: apps must not inherit it.
    lumen_stream::cli::resolve_start_pin(&mut args.host)?;
    // System mode forks the root broker while this process has one thread, then drops to the host's user.
    let system = match args.system.system {
        true => {
            anyhow::ensure!(!args.nested, "--system runs headless sessions only (no --nested)");
            let state_dir = args.host.state_dir.get_or_insert_with(|| PathBuf::from("/var/lib/lumen")).clone();
            Some(lumen_stream::login::system::enter(&args.system, &state_dir, host::logging::init)?)
        }
        false => None,
    };
    if args.desktop_audio {
        // Before any thread starts, as above: the apps the session starts play into its sink.
        std::env::set_var("PULSE_SINK", lumen_compositor::audio::desktop::sink_name());
    }
    host::logging::init();
    let desktop_audio = match args.desktop_audio {
        true => Some(Arc::new(DesktopAudio::start().context("--desktop-audio")?)),
        false => None,
    };
    let app_log_dir = app_log_dir(&args);
    let resolved = host::choice::resolve(args.encoder, args.renderer)?;
    if !args.nested {
        if args.socket.is_some() || args.control.is_some() {
            tracing::warn!("--socket and --control apply to --nested only: each session's worker has its own");
        }
        return serve_workers(&args, resolved, app_log_dir, system);
    }
    let mode: OutputMode = args.nested_size.parse().context("--nested-size")?;
    let nested = NestedConfig { mode, ..Default::default() };
    let config = Config {
        apps: Vec::new(),
        renderer: resolved.renderer,
        outputs: Vec::new(),
        socket: args.socket.clone(),
        control: args.control.clone(),
        xwayland: args.xwayland,
        keyboard_layout: "us".into(),
        cursor_visible: true,
        // The host (tokio) owns SIGTERM/SIGINT; it stops the compositor through its handle.
        handle_signals: false,
        app_log_dir: Some(app_log_dir),
    };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
    {
        {
            // winit wants its event loop on the main thread: the compositor runs here, the host on a thread
            // started once the compositor is ready.
            let mut host_thread = None;
            let r = lumen_compositor::run_with(config, Some(nested), |h, socket| {
                let socket = socket.to_string();
                let spawned = std::thread::Builder::new()
                    .name("lumen-host".into())
                    .spawn(move || serve(&args, resolved, h, socket, done_rx, desktop_audio));
                match spawned {
                    Ok(t) => host_thread = Some(t),
                    Err(e) => tracing::error!(error = %e, "could not start the host thread"),
                }
            });
            let _ = done_tx.send(r.as_ref().map(|_| ()).map_err(|e| format!("the compositor failed: {e}")));
            let host = match host_thread {
                Some(t) => t.join().map_err(|_| anyhow::anyhow!("the host thread panicked"))?,
                None => Err(anyhow::anyhow!("the host did not start (see the log above)")),
            };
            r.context("the compositor")?;
            host
        }
    }
}

/// The headless host: every session in a worker process of its own.
fn serve_workers(
    args: &Args,
    resolved: host::choice::Resolved,
    app_log_dir: PathBuf,
    system: Option<lumen_stream::login::system::SystemMode>,
) -> anyhow::Result<()> {
    use lumen_compositor::worker::WorkerArgs;
    use lumen_stream::worker::{WorkerCommand, WorkerPlane, WorkerPlaneOptions};
    let (xwayland, env) = xwayland_for_workers(args)?;
    let worker = WorkerArgs {
        session: 0,
        encoder: args.encoder,
        // The host probed the GPU once for `auto`: workers take its verdict.
        renderer: resolved.renderer,
        video_source: args.video_source,
        desktop_apps: args.desktop_apps.clone(),
        xwayland,
        demo: args.demo,
        frame_dump: args.frame_dump.clone(),
        // In system mode sessions run as other users: their apps log to the session's stderr.
        app_log_dir: system.is_none().then(|| app_log_dir.clone()),
        output_scale: args.output_scale,
        encoder_clock: args.encoder_clock,
        gamepad: args.gamepad,
        hide: Vec::new(),
    };
    let mut wargs: Vec<std::ffi::OsString> = vec!["worker".into()];
    wargs.extend(worker.to_args().into_iter().skip(2));
    let system_mode = system.is_some();
    let login = system.map(|system| lumen_stream::worker::login::LoginMode {
        system,
        worker_args: wargs.iter().skip(1).map(|a| a.to_string_lossy().into_owned()).collect(),
    });
    let mut command = WorkerCommand::this_binary(wargs).context("finding this binary to start workers")?;
    command.env = env;
    let plane = WorkerPlane::new(WorkerPlaneOptions {
        command,
        codecs: resolved.codecs,
        describe: serde_json::json!({
            "encoder": resolved.encoder_name,
            "renderer": resolved.renderer_name(),
            "renderer_reason": resolved.renderer_reason,
            "frame_path": resolved.frames.name(),
            "video_source": args.video_source.name(),
        }),
        start_timeout: std::time::Duration::from_secs(20),
        media: lumen_stream::media::MediaOptions::from_env()?,
        tee_input: std::env::var_os(lumen_stream::media::ENV_INPUT_LOG).is_some(),
        login,
    });
    let opts = lumen_stream::cli::host_options(&args.host, plane);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let notes = match system_mode {
        true => vec![
            "System mode: each client logs in at a greeter and streams its user's own session (docs/login.md)."
                .to_string(),
            "Apps' output: the log above (sessions run as their users).".to_string(),
        ],
        false => vec![
            "Each client streams its own session (a worker process with its own compositor and apps).".to_string(),
            format!("Apps' output: {}/<app>-<pid>.log", app_log_dir.display()),
        ],
    };
    rt.block_on(lumen_stream::host::run_until_ready(opts, std::future::pending::<()>(), ready_printer(notes)))
}

/// Whether sessions start Xwayland, and the environment that lets workers find it: the set-up installs a new
/// enough one into `$LUMEN_CACHE/xwayland/bin` (Debian 12's is too old), which goes first on the workers' PATH.
fn xwayland_for_workers(args: &Args) -> anyhow::Result<(bool, Vec<(std::ffi::OsString, std::ffi::OsString)>)> {
    if args.no_xwayland {
        tracing::info!("X11 apps: off (--no-xwayland)");
        return Ok((false, Vec::new()));
    }
    let cache = std::env::var_os("LUMEN_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/lumen")));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dir = cache.map(|c| c.join("xwayland/bin")).filter(|d| d.join("Xwayland").exists());
    let path = match &dir {
        Some(d) => std::env::join_paths(std::iter::once(d.clone()).chain(std::env::split_paths(&path)))?,
        None => path,
    };
    match lumen_compositor::xwayland::check_version_on(Some(&path)) {
        Ok(version) => {
            tracing::info!(%version, "X11 apps: each session starts Xwayland");
            Ok((true, vec![("PATH".into(), path)]))
        }
        Err(e) if args.xwayland => Err(anyhow::anyhow!("--xwayland: {e}")),
        Err(e) => {
            tracing::warn!(error = %e, "X11 apps will not open: no usable Xwayland (run scripts/setup.sh)");
            Ok((false, Vec::new()))
        }
    }
}

/// What the host calls once every server listens: a thread prints the ready block (with this binary's `notes`)
/// once the startup lines (apps, Xwayland, the demo client) have settled, so it comes last on screen.
fn ready_printer(notes: Vec<String>) -> impl FnOnce(&lumen_stream::ready::Ready) {
    move |ready| {
        let ready = ready.clone();
        let printer = std::thread::Builder::new().name("lumen-ready".into()).spawn(move || {
            host::logging::settle(READY_QUIET, READY_MAX_WAIT);
            ready.print(&notes);
        });
        if let Err(e) = printer {
            tracing::warn!(error = %e, "could not print the ready block");
        }
    }
}

/// Where launched apps' output goes: `STATE_DIR/logs`.
fn app_log_dir(args: &Args) -> PathBuf {
    args.host.state_dir.clone().unwrap_or_else(lumen_stream::cli::default_state_dir).join("logs")
}

/// The session's own lines of the ready block: how to start more apps in it, where their output goes.
fn ready_notes(args: &Args, socket: &str) -> Vec<String> {
    let rt = std::env::var_os("XDG_RUNTIME_DIR").map(|d| format!(" XDG_RUNTIME_DIR={}", d.to_string_lossy()));
    vec![
        format!("More apps in the session: WAYLAND_DISPLAY={socket}{} CMD &", rt.unwrap_or_default()),
        format!("Apps' output: {}/<app>-<pid>.log", app_log_dir(args).display()),
    ]
}

/// The host half: apps and demo in the session, the Moonlight host until a signal or the compositor's end,
/// then the compositor is stopped through its handle.
fn serve(
    args: &Args,
    resolved: host::choice::Resolved,
    handle: CompositorHandle,
    socket: String,
    done_rx: Done,
    desktop_audio: Option<Arc<DesktopAudio>>,
) -> anyhow::Result<()> {
    let result = serve_host(args, resolved, &handle, socket, done_rx, desktop_audio);
    let _ = handle.stop();
    result
}

fn serve_host(
    args: &Args,
    resolved: host::choice::Resolved,
    handle: &CompositorHandle,
    socket: String,
    done_rx: Done,
    desktop_audio: Option<Arc<DesktopAudio>>,
) -> anyhow::Result<()> {
    println!("WAYLAND_DISPLAY={socket}");
    for app in &args.desktop_apps {
        handle.launch_app(app.clone()).context("launching a desktop app")?;
    }
    if args.demo {
        let rt = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).unwrap_or_default();
        let sock = socket.clone();
        std::thread::Builder::new().name("lumen-demo".into()).spawn(move || match host::demo::run(&rt, &sock) {
            Ok(()) => tracing::info!("demo client closed"),
            Err(e) => tracing::warn!(error = %e, "demo client stopped"),
        })?;
    }
    let plane = Arc::new(SessionPlane::new(
        handle.clone(),
        PlaneOptions {
            resolved,
            video_source: args.video_source,
            wayland_display: socket.clone(),
            frame_dump: args.frame_dump.clone(),
            app_log_dir: Some(app_log_dir(args)),
            desktop_audio,
        },
        lumen_stream::media::MediaOptions::from_env()?,
    ));
    let opts = lumen_stream::cli::host_options(&args.host, plane.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let failed = Arc::new(std::sync::Mutex::new(None::<String>));
    let failed2 = failed.clone();
    let notes = ready_notes(args, &socket);
    let stop = async move {
        match done_rx.await {
            Ok(Ok(())) => tracing::info!("the compositor stopped: shutting the host down"),
            Ok(Err(msg)) => *failed2.lock().unwrap_or_else(|e| e.into_inner()) = Some(msg),
            Err(_) => *failed2.lock().unwrap_or_else(|e| e.into_inner()) = Some("the compositor thread died".into()),
        }
    };
    let result = rt.block_on(lumen_stream::host::run_until_ready(opts, stop, ready_printer(notes)));
    drop(rt);
    plane.terminate_app();
    result?;
    let msg = failed.lock().unwrap_or_else(|e| e.into_inner()).take();
    match msg {
        Some(msg) => Err(anyhow::anyhow!(msg)),
        None => Ok(()),
    }
}
