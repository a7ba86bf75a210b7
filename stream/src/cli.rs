//! The `lumen-session` command line (part of the product: other tools call it).
//!
//! `lumen-session [--state-dir DIR] [--port BASE] [--pin-file FILE | --pin PIN] [--no-mdns] [--app CMD]...
//! [--config FILE]` runs the host (the start PIN may also come from `LUMEN_PIN`); `pin PIN [--client ID]`,
//! `pairing`, `clients`, `unpair ID`, `rename ID NAME` and `status [--json]` talk to a running host through
//! its admin socket.

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
    /// Arm pairing with this PIN at start (for automation). Every local user can read a command line in
    /// /proc: prefer --pin-file or the LUMEN_PIN environment variable. The PIN goes to the first pairing
    /// request only and expires after `pin_ttl_secs` (default 120 s) like any armed PIN.
    #[arg(long, value_name = "PIN", conflicts_with = "pin_file")]
    pub pin: Option<String>,
    /// Read the start PIN from FILE (first line; keep the file private). Same expiry as --pin.
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
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
    /// How many clients may stream at once, each in its own session (default: `max_sessions` of the
    /// config's `[sessions]`, else one per CPU core, at least 2); the next gets 503.
    #[arg(long, value_name = "N")]
    pub max_sessions: Option<usize>,
    /// A session no client streams (its client left without quitting) ends after SECS (default: the
    /// config's `[sessions] idle_timeout_secs`, else 3600), freeing its slot and its app.
    #[arg(long, value_name = "SECS")]
    pub session_idle_timeout: Option<u64>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Admin commands (they talk to the running host).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enter the PIN a client shows while it waits to pair. With several clients waiting, pick one with
    /// --client (an id, address, uniqueid or device name from `lumen-session pairing`). With none waiting,
    /// the PIN is armed for the next pairing request and expires (default 120 s).
    Pin {
        pin: String,
        /// Which waiting pairing request gets the PIN.
        #[arg(long, value_name = "ID")]
        client: Option<String>,
    },
    /// List the pairing requests waiting for a PIN, attempts in progress and locked-out addresses.
    Pairing {
        #[arg(long)]
        json: bool,
    },
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

/// The environment variable a start PIN may come from.
pub const PIN_ENV: &str = "LUMEN_PIN";

/// Resolves the start PIN from `--pin`, `--pin-file` or `LUMEN_PIN` (in that order) into `cli.pin`, and
/// removes `LUMEN_PIN` from the environment so that apps started later do not inherit it. Call it early,
/// before other threads start.
pub fn resolve_start_pin(cli: &mut Cli) -> anyhow::Result<()> {
    let from_env = std::env::var(PIN_ENV).ok();
    if from_env.is_some() {
        // At start, before the process starts other threads (documented above).
        std::env::remove_var(PIN_ENV);
    }
    if cli.pin.is_some() {
        return Ok(());
    }
    if let Some(path) = &cli.pin_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("--pin-file {}", path.display()))?;
        let pin = text.lines().next().unwrap_or("").trim().to_owned();
        crate::pairing::validate_pin(&pin).map_err(|e| anyhow::anyhow!("--pin-file {}: {e}", path.display()))?;
        cli.pin = Some(pin);
        return Ok(());
    }
    if let Some(pin) = from_env.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()) {
        crate::pairing::validate_pin(&pin).map_err(|e| anyhow::anyhow!("{PIN_ENV}: {e}"))?;
        cli.pin = Some(pin);
    }
    Ok(())
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
        max_sessions: cli.max_sessions,
        session_idle_timeout: cli.session_idle_timeout.map(std::time::Duration::from_secs),
    }
}

/// Parses the command line and runs it, with `media` as the host's media plane.
pub fn main_with(media: Arc<dyn MediaPlane>) -> anyhow::Result<()> {
    let mut cli = Cli::parse();
    resolve_start_pin(&mut cli)?;
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
        Command::Pin { pin, client } => {
            let v = admin_call(state_dir, AdminRequest::Pin { pin: pin.clone(), client: client.clone() })?;
            let to = &v["given_to"];
            if to.is_object() {
                println!(
                    "PIN given to pairing request {} (device {}, address {}, uniqueid {}): the client finishes \
                     pairing now",
                    to["id"],
                    to["device"],
                    to["address"].as_str().unwrap_or("?"),
                    to["uniqueid"].as_str().unwrap_or("?")
                );
            } else {
                println!(
                    "no client is waiting to pair: the PIN is armed for the next pairing request and expires in \
                     {} s.\nUsually the client asks first: add this host in Moonlight, it shows a PIN, then enter \
                     that PIN here with `lumen-session pin <PIN>`.",
                    v["armed_for_secs"]
                );
            }
            Ok(())
        }
        Command::Pairing { json } => {
            let v = admin_call(state_dir, AdminRequest::Pairing)?;
            if *json {
                println!("{v}");
                return Ok(());
            }
            let waiting = v["waiting"].as_array().cloned().unwrap_or_default();
            if waiting.is_empty() {
                println!("no client is waiting to pair");
            }
            for w in &waiting {
                println!(
                    "waiting  {}  device {}  address {}  uniqueid {}  for {} s",
                    w["id"],
                    w["device"],
                    w["address"].as_str().unwrap_or("?"),
                    w["uniqueid"].as_str().unwrap_or("?"),
                    w["waiting_secs"]
                );
            }
            for a in v["in_progress"].as_array().into_iter().flatten() {
                println!(
                    "pairing  {}  device {}  address {}",
                    a["id"],
                    a["device"],
                    a["address"].as_str().unwrap_or("?")
                );
            }
            for l in v["locked_sources"].as_array().into_iter().flatten() {
                println!(
                    "locked   {}  for {:.0} s",
                    l["address"].as_str().unwrap_or("?"),
                    l["locked_for_secs"].as_f64().unwrap_or(0.0)
                );
            }
            if v["armed"] == serde_json::Value::Bool(true) {
                println!(
                    "a PIN is armed for the next request (expires in {:.0} s)",
                    v["armed_expires_in_secs"].as_f64().unwrap_or(0.0)
                );
            }
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
