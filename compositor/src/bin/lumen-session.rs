//! `lumen-session`: lumen's product binary — one process is the headless Wayland compositor and the
//! Moonlight host. Host flags are those of `lumen_stream::cli::Cli` (state dir, ports, pairing, apps);
//! this binary adds the session's own (`--encoder`, `--renderer`, `--video-source`, `--desktop-app`, …).
//! Admin subcommands (`pin`, `clients`, `unpair`, `rename`, `status`) run through `lumen_stream::cli`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use lumen_compositor::host::{self, EncoderChoice, PlaneOptions, SessionPlane, VideoSource};
use lumen_compositor::{CompositorHandle, Config, RendererChoice};

/// lumen's streaming host: a headless Wayland compositor streaming to Moonlight clients.
#[derive(Debug, Parser)]
#[command(name = "lumen-session", version, about)]
struct Args {
    #[command(flatten)]
    host: lumen_stream::cli::Cli,
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
    /// Start Xwayland (needs >= 23.1) and export DISPLAY to apps.
    #[arg(long)]
    xwayland: bool,
    /// Also run the built-in demo client (a window with something moving) inside the session.
    #[arg(long)]
    demo: bool,
    /// Test hook: serve frame dumps of the streamed output in DIR (docs/session.md).
    #[arg(long, value_name = "DIR")]
    frame_dump: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(cmd) = &args.host.command {
        // Admin commands talk to a running host; no compositor, no media.
        let state_dir = args.host.state_dir.clone().unwrap_or_else(lumen_stream::cli::default_state_dir);
        return lumen_stream::cli::run_admin(&state_dir, cmd);
    }
    lumen_stream::cli::init_logging();
    let resolved = host::choice::resolve(args.encoder, args.renderer)?;
    let config = Config {
        apps: Vec::new(),
        renderer: resolved.renderer,
        outputs: Vec::new(),
        socket: args.socket.clone(),
        control: args.control.clone(),
        xwayland: args.xwayland,
        keyboard_layout: "us".into(),
        cursor_visible: true,
    };

    // The compositor runs on its own thread; the host (tokio) on this one.
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<(CompositorHandle, String)>(1);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
    let compositor = std::thread::Builder::new().name("lumen-compositor".into()).spawn(move || {
        let r = lumen_compositor::run(config, |h, socket| {
            let _ = ready_tx.send((h, socket.to_string()));
        });
        let _ = done_tx.send(r.map_err(|e| format!("the compositor failed: {e}")));
    })?;
    let Ok((handle, socket)) = ready_rx.recv() else {
        let _ = compositor.join();
        anyhow::bail!("the compositor did not start (see the log above)");
    };
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
            wayland_display: socket,
            frame_dump: args.frame_dump.clone(),
        },
        lumen_stream::media::MediaOptions::from_env()?,
    ));
    let opts = lumen_stream::cli::host_options(&args.host, plane.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = rt.block_on(async move {
        let host = lumen_stream::host::run(opts);
        tokio::pin!(host);
        tokio::select! {
            r = &mut host => r,
            // SIGTERM/SIGINT may reach the compositor's signal handler first. Its loop is gone now, so a
            // SIGTERM raised again reaches the host, which ends the session and removes its admin socket.
            done = done_rx => match done {
                Ok(Ok(())) => {
                    tracing::info!("the compositor stopped: shutting the host down");
                    if let Err(e) = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM) {
                        tracing::warn!(error = %e, "could not signal the host to stop");
                        return Ok(());
                    }
                    host.await
                }
                Ok(Err(msg)) => Err(anyhow::anyhow!(msg)),
                Err(_) => Err(anyhow::anyhow!("the compositor thread died")),
            },
        }
    });
    drop(rt);
    plane.terminate_app();
    let _ = handle.stop();
    let _ = compositor.join();
    result
}
