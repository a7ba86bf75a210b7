//! The `lumen-session` command line (part of the product: other tools call it).
//!
//! `lumen-session [--state-dir DIR] [--port BASE] [--pin PIN] [--no-mdns] [--app CMD]... [--config FILE]`
//! runs the host; `pin PIN`, `clients`, `unpair ID`, `rename ID NAME` and `status [--json]` talk to a
//! running host through its admin socket.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::admin::{self, AdminRequest};
use crate::host::{self, HostOptions};
use crate::media_plane::MediaPlane;

/// lumen's streaming host for Moonlight clients.
#[derive(Debug, Parser)]
#[command(name = "lumen-session", version, about = "lumen: a streaming host for stock Moonlight clients")]
pub struct Cli {
    /// State directory (host certificate and key, paired clients, admin socket).
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Base port (nvhttp HTTP); HTTPS = BASE-5, RTSP = BASE+21, video/control/audio = BASE+9/+10/+11.
    #[arg(long = "port", value_name = "BASE", default_value_t = crate::ports::DEFAULT_BASE)]
    pub port: u16,
    /// Arm pairing with this PIN at start (for automation).
    #[arg(long, value_name = "PIN")]
    pub pin: Option<String>,
    /// Do not announce the host over mDNS.
    #[arg(long)]
    pub no_mdns: bool,
    /// Add an app running CMD (repeatable).
    #[arg(long = "app", value_name = "CMD")]
    pub apps: Vec<String>,
    /// TOML config file (apps, pairing policy).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value_t = host::DEFAULT_BIND)]
    pub bind: IpAddr,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Admin commands (they talk to the running host).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Arm pairing: the next pairing attempt must use this PIN (the one the client shows).
    Pin { pin: String },
    /// List paired clients.
    Clients {
        #[arg(long)]
        json: bool,
    },
    /// Remove a paired client (by id or unique id prefix).
    Unpair { id: String },
    /// Rename a paired client.
    Rename { id: String, name: String },
    /// Show the host's live state (session, RTSP stage, stream config, pairing).
    Status {
        #[arg(long)]
        json: bool,
    },
}

/// The default state dir: `$XDG_STATE_HOME/lumen`, else `~/.local/state/lumen`.
pub fn default_state_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("lumen");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".local/state/lumen")
}

fn admin_call(state_dir: &std::path::Path, req: AdminRequest) -> anyhow::Result<serde_json::Value> {
    let v = admin::request(state_dir, &req)?;
    if v["ok"] != serde_json::Value::Bool(true) {
        anyhow::bail!("{}", v["error"].as_str().unwrap_or("the host refused the request"));
    }
    Ok(v)
}

/// Sets up logging to stderr (`RUST_LOG`, default `info`; no colours unless stderr is a terminal).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// The host options a parsed command line asks for, with `media` as the media plane.
pub fn host_options(cli: &Cli, media: Arc<dyn MediaPlane>) -> HostOptions {
    HostOptions {
        state_dir: cli.state_dir.clone().unwrap_or_else(default_state_dir),
        port_base: cli.port,
        pin: cli.pin.clone(),
        mdns: !cli.no_mdns,
        app_cmds: cli.apps.clone(),
        config: cli.config.clone(),
        bind: cli.bind,
        media,
    }
}

/// Parses the command line and runs it, with `media` as the host's media plane.
pub fn main_with(media: Arc<dyn MediaPlane>) -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    match &cli.command {
        None => {
            let opts = host_options(&cli, media);
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            rt.block_on(host::run(opts))
        }
        Some(cmd) => run_admin(&cli.state_dir.clone().unwrap_or_else(default_state_dir), cmd),
    }
}

/// Runs an admin subcommand against the host running with `state_dir` (prints its result to stdout).
pub fn run_admin(state_dir: &std::path::Path, cmd: &Command) -> anyhow::Result<()> {
    match cmd {
        Command::Pin { pin } => {
            admin_call(state_dir, AdminRequest::Pin { pin: pin.clone() })?;
            println!("pairing armed: enter the PIN in the client now (or let it continue)");
            Ok(())
        }
        Command::Clients { json } => {
            let v = admin_call(state_dir, AdminRequest::Clients)?;
            if *json {
                println!("{}", v["clients"]);
            } else {
                for c in v["clients"].as_array().into_iter().flatten() {
                    println!("{}  {}", c["id"].as_str().unwrap_or(""), c["name"].as_str().unwrap_or(""));
                }
            }
            Ok(())
        }
        Command::Unpair { id } => {
            let v = admin_call(state_dir, AdminRequest::Unpair { id: id.clone() })?;
            println!(
                "unpaired {} ({})",
                v["removed"]["id"].as_str().unwrap_or(""),
                v["removed"]["name"].as_str().unwrap_or("")
            );
            Ok(())
        }
        Command::Rename { id, name } => {
            admin_call(state_dir, AdminRequest::Rename { id: id.clone(), name: name.clone() })?;
            Ok(())
        }
        Command::Status { json } => {
            let v = admin_call(state_dir, AdminRequest::Status)?;
            if *json {
                println!("{v}");
            } else {
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            Ok(())
        }
    }
}
