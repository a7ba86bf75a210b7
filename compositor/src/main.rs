//! `lumen-compositor`: the headless (or nested) compositor binary. The Moonlight host joins it later as
//! `lumen-session`, with the same flags.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use lumen_compositor::{Config, OutputMode, RendererChoice};

#[derive(Parser, Debug)]
#[command(name = "lumen-compositor", about = "lumen's headless Wayland compositor with virtual outputs")]
struct Args {
    /// App to start inside the session (repeatable). The session ends when the last one exits.
    #[arg(long = "app", value_name = "CMD")]
    apps: Vec<String>,
    /// Renderer: auto (GBM node → surfaceless EGL → Pixman), gles or pixman.
    #[arg(long, default_value = "auto", value_parser = parse_renderer)]
    renderer: RendererChoice,
    /// Virtual output WxH@Hz created at start (repeatable; none given: one 1280x720@60).
    #[arg(long = "output", value_name = "WxH@Hz")]
    outputs: Vec<String>,
    /// Start without any output (they are added at run time).
    #[arg(long, conflicts_with = "outputs")]
    no_output: bool,
    /// Wayland socket name (default: first free wayland-N).
    #[arg(long)]
    socket: Option<String>,
    /// Control socket path (test/admin commands, one per line).
    #[arg(long)]
    control: Option<PathBuf>,
    /// Start Xwayland (needs >= 23.1) and export DISPLAY to apps.
    #[arg(long)]
    xwayland: bool,
    /// xkb layout of the virtual keyboard.
    #[arg(long, default_value = "us")]
    keyboard_layout: String,
    /// Do not composite the cursor into frames.
    #[arg(long)]
    hide_cursor: bool,
    /// Also show the session in a window on the current Wayland or X11 desktop (one more output, following
    /// the window's size; the host's keyboard and pointer drive the seat).
    #[arg(long)]
    nested: bool,
    /// Initial size and refresh of the --nested window.
    #[arg(long, value_name = "WxH@Hz", default_value = "1280x720@60", requires = "nested")]
    nested_size: String,
}

fn parse_renderer(s: &str) -> Result<RendererChoice, String> {
    s.parse()
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let outputs: Vec<OutputMode> = if args.no_output {
        Vec::new()
    } else if args.outputs.is_empty() {
        // With --nested the window is the output; headless ones are only made when asked for.
        if args.nested {
            Vec::new()
        } else {
            Config::default().outputs
        }
    } else {
        args.outputs.iter().map(|s| s.parse()).collect::<Result<_, _>>().context("--output")?
    };
    let config = Config {
        apps: args.apps,
        renderer: args.renderer,
        outputs,
        socket: args.socket,
        control: args.control,
        xwayland: args.xwayland,
        keyboard_layout: args.keyboard_layout,
        cursor_visible: !args.hide_cursor,
        handle_signals: true,
        app_log_dir: None,
    };
    let nested = if args.nested {
        let mode: OutputMode = args.nested_size.parse().context("--nested-size")?;
        Some(lumen_compositor::NestedConfig { mode, ..Default::default() })
    } else {
        None
    };
    lumen_compositor::run_with(config, nested, |_, socket| {
        // Scripts wait for this line on stdout.
        println!("WAYLAND_DISPLAY={socket}");
    })
    .context("compositor")
}
