//! The `lumen-session` command line (part of the product: other tools call it).
//!
//! `lumen-session [--state-dir DIR] [--port BASE] [--pin-file FILE | --pin PIN] [--no-mdns] [--app CMD]...
//! [--config FILE]` runs the host (the start PIN may also come from `LUMEN_PIN`); `pin PIN [--client ID]`,
//! `pairing`, `clients`, `unpair ID`, `rename ID NAME`, `apps`, `app-add`, `app-edit`, `app-remove`,
//! `sessions`, `end-session N`, `logs` and `status [--json]` talk to a running host through its admin socket
//! (the admin web page sends the same requests); `admin-password` sets the page's password.

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
    /// Address the admin web page listens on (default: the config's `[admin] bind`, else 127.0.0.1 —
    /// loopback only; 0.0.0.0 for the LAN).
    #[arg(long, value_name = "ADDR")]
    pub admin_bind: Option<IpAddr>,
    /// Port of the admin web page (default: the config's `[admin] port`, else BASE+1).
    #[arg(long, value_name = "PORT")]
    pub admin_port: Option<u16>,
    /// Do not serve the admin web page.
    #[arg(long, conflicts_with_all = ["admin_bind", "admin_port"])]
    pub no_admin_web: bool,
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
        /// The name the paired device gets (instead of the name the client sent).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Bind the paired device to this user (system mode: it reaches that user's running session
        /// without the greeter, and may sign in as no one else).
        #[arg(long, value_name = "USER")]
        user: Option<String>,
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
    /// Set the admin web page's password (asked on a terminal, else the first line of stdin). Works
    /// whether or not the host runs; a running host uses the new one at the next login.
    AdminPassword,
    /// List the apps (id, name, command; config apps are editable).
    Apps {
        #[arg(long)]
        json: bool,
    },
    /// Add an app (saved to the config file).
    AppAdd(AppArgs),
    /// Replace an app's settings (by id, from `lumen-session apps`).
    AppEdit {
        id: u32,
        #[command(flatten)]
        app: AppArgs,
    },
    /// Remove an app (by id).
    AppRemove { id: u32 },
    /// List the live sessions with their stream's figures.
    Sessions {
        #[arg(long)]
        json: bool,
    },
    /// End a session (by the number `lumen-session sessions` shows); its app is stopped.
    EndSession { session: u64 },
    /// Move a streaming session to a fresh worker without the client reconnecting (its app restarts).
    HandOver { session: u64 },
    /// Print the host's recent log lines (the last 500 kept).
    Logs {
        /// Only lines after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
    },
}

/// An app's settings on the command line.
#[derive(Debug, clap::Args)]
pub struct AppArgs {
    #[arg(long)]
    pub name: String,
    /// The shell command that starts it.
    #[arg(long)]
    pub command: String,
    /// Box art (an absolute path to a PNG).
    #[arg(long, value_name = "PATH")]
    pub image: Option<String>,
    /// The directory it starts in (absolute).
    #[arg(long, value_name = "DIR")]
    pub working_dir: Option<String>,
    /// An environment variable for it (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The virtual pad each controller becomes while it runs: auto, xbox or dualsense.
    #[arg(long, value_name = "KIND")]
    pub gamepad: Option<String>,
}

impl AppArgs {
    fn spec(&self) -> anyhow::Result<crate::catalog::AppSpec> {
        let mut env = std::collections::BTreeMap::new();
        for kv in &self.env {
            let (k, v) = kv.split_once('=').with_context(|| format!("--env {kv:?}: expected KEY=VALUE"))?;
            env.insert(k.to_owned(), v.to_owned());
        }
        Ok(crate::catalog::AppSpec {
            name: self.name.clone(),
            command: self.command.clone(),
            image: self.image.clone(),
            working_dir: self.working_dir.clone(),
            env,
            gamepad: self.gamepad.clone(),
        })
    }
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
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = tracing_subscriber::registry().with(filter).with(fmt).with(crate::log_ring::layer()).try_init();
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
        admin_web: if cli.no_admin_web {
            Some(None)
        } else if cli.admin_bind.is_some() || cli.admin_port.is_some() {
            let bind = cli.admin_bind.unwrap_or(crate::web::DEFAULT_BIND);
            Some(Some(std::net::SocketAddr::new(bind, cli.admin_port.unwrap_or(cli.port.saturating_add(1)))))
        } else {
            None
        },
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
        Command::Pin { pin, client, name, user } => {
            let req =
                AdminRequest::Pin { pin: pin.clone(), client: client.clone(), name: name.clone(), user: user.clone() };
            let v = admin_call(state_dir, req)?;
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
                    let user = c["user"].as_str().map(|u| format!("  user {u}")).unwrap_or_default();
                    println!("{}  {}{user}", c["id"].as_str().unwrap_or(""), c["name"].as_str().unwrap_or(""));
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
        Command::AdminPassword => {
            let password = read_new_password()?;
            crate::web::auth::set_password(state_dir, &password)?;
            println!("admin password saved in {}", crate::web::auth::password_path(state_dir).display());
            Ok(())
        }
        Command::Apps { json } => {
            let v = admin_call(state_dir, AdminRequest::Apps)?;
            if *json {
                println!("{}", v["apps"]);
                return Ok(());
            }
            for a in v["apps"].as_array().into_iter().flatten() {
                println!(
                    "{:>3}  {:<24} {}{}",
                    a["id"],
                    a["name"].as_str().unwrap_or(""),
                    a["command"].as_str().unwrap_or("(the desktop)"),
                    if a["editable"] == serde_json::Value::Bool(true) { "" } else { "  [not editable]" }
                );
            }
            Ok(())
        }
        Command::AppAdd(app) => {
            let v = admin_call(state_dir, AdminRequest::AppAdd { app: app.spec()? })?;
            println!("added app {} ({})", v["app"]["id"], v["app"]["name"].as_str().unwrap_or(""));
            Ok(())
        }
        Command::AppEdit { id, app } => {
            admin_call(state_dir, AdminRequest::AppEdit { id: *id, app: app.spec()? })?;
            Ok(())
        }
        Command::AppRemove { id } => {
            admin_call(state_dir, AdminRequest::AppRemove { id: *id })?;
            Ok(())
        }
        Command::Sessions { json } => {
            let v = admin_call(state_dir, AdminRequest::Sessions)?;
            if *json {
                println!("{}", v["sessions"]);
                return Ok(());
            }
            let sessions = v["sessions"].as_array().cloned().unwrap_or_default();
            if sessions.is_empty() {
                println!("no session");
            }
            for s in &sessions {
                println!(
                    "{}  {}  {}  {}  {}  {}  frames {}  {} kbps  host latency {} ms  loss {} %",
                    s["session"],
                    s["client_name"].as_str().unwrap_or("?"),
                    s["app"].as_str().unwrap_or("?"),
                    s["mode"].as_str().unwrap_or("?"),
                    s["codec"].as_str().unwrap_or("-"),
                    s["state"].as_str().unwrap_or("?"),
                    s["frames_sent"],
                    s["bitrate_kbps"],
                    s["host_latency_ms"],
                    s["loss_pct"]
                );
            }
            Ok(())
        }
        Command::EndSession { session } => {
            admin_call(state_dir, AdminRequest::EndSession { session: *session })?;
            Ok(())
        }
        Command::HandOver { session } => {
            let v = admin_call(state_dir, AdminRequest::HandOver { session: *session })?;
            println!("session {session} now streams from worker {}", v["pid"]);
            Ok(())
        }
        Command::Logs { after } => {
            let v = admin_call(state_dir, AdminRequest::Logs { after: *after })?;
            for l in v["lines"].as_array().into_iter().flatten() {
                println!("{}", l["text"].as_str().unwrap_or(""));
            }
            Ok(())
        }
    }
}

/// The new admin password: asked twice on a terminal, else the first line of stdin.
fn read_new_password() -> anyhow::Result<String> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let a = rpassword::prompt_password("new admin password: ")?;
        let b = rpassword::prompt_password("again: ")?;
        if a != b {
            anyhow::bail!("the two passwords differ");
        }
        return Ok(a);
    }
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}
