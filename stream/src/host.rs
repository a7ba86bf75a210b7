//! The host: shared state of the control plane and the task set that serves it (nvhttp HTTP and HTTPS,
//! RTSP, the admin socket, mDNS), started by [`run`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use tokio::sync::mpsc;

use crate::apps::AppConfig;
use crate::catalog::AppCatalog;
use crate::identity::HostIdentity;
use crate::media_plane::{EndReason, MediaPlane, MediaPorts};
use crate::pairing::validate_pin;
use crate::pairing_gate::{PairingGate, PairingPolicy, PinError, PinGiven, PinGrant};
use crate::ports::Ports;
use crate::session::{LiveSession, SessionTable};
use crate::store::{self, ClientStore};
use crate::web::WebState;

/// How a host is started.
pub struct HostOptions {
    pub state_dir: PathBuf,
    pub port_base: u16,
    /// A PIN armed at start (for automation; `--pin`, `--pin-file` or `LUMEN_PIN`); it expires like any
    /// armed PIN.
    pub pin: Option<String>,
    pub mdns: bool,
    /// `--app CMD` entries.
    pub app_cmds: Vec<String>,
    pub config: Option<PathBuf>,
    /// Address to listen on (all IPv4 interfaces by default).
    pub bind: IpAddr,
    pub media: Arc<dyn MediaPlane>,
    /// How many clients may stream at once (`None`: [`default_max_sessions`]).
    pub max_sessions: Option<usize>,
    /// How long a session nobody streams is kept (`None`: the config's, else [`DEFAULT_IDLE_TIMEOUT`]).
    pub session_idle_timeout: Option<Duration>,
    /// The admin page: `None` for the config's `[admin]` (default on, loopback, BASE+1); `Some(None)` off.
    pub admin_web: Option<Option<SocketAddr>>,
}

/// A session nobody streams ends after this (Sunshine keeps its one session until quit; with many sessions an
/// abandoned one would hold a slot and its app forever).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// The default session limit: one per CPU core (a software-encoded 1080p60 stream keeps about one core
/// busy), at least 2.
pub fn default_max_sessions() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2)
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The control plane's shared state.
pub struct HostState {
    pub identity: HostIdentity,
    pub ports: Ports,
    /// The config's sections (pairing, sessions, admin); the app list itself is [`Self::catalog`].
    pub apps: AppConfig,
    /// The app list, editable at run time.
    pub catalog: AppCatalog,
    /// When each paired client (by id) last made an HTTPS request (unix seconds; this run only).
    pub last_seen: Mutex<HashMap<String, u64>>,
    /// The admin page's logins.
    pub web: WebState,
    pub clients: Mutex<ClientStore>,
    pub pairing: Mutex<PairingGate>,
    pub sessions: Mutex<SessionTable>,
    pub max_sessions: usize,
    pub idle_timeout: Duration,
    pub media: Arc<dyn MediaPlane>,
    pub hostname: String,
    pub mac: String,
    pub state_dir: PathBuf,
    generation: AtomicU64,
    end_tx: mpsc::UnboundedSender<(u64, EndReason)>,
    /// (client id, user): bind the client (its first login in system mode).
    bind_tx: mpsc::UnboundedSender<(String, String)>,
    bind_rx: Mutex<Option<mpsc::UnboundedReceiver<(String, String)>>>,
}

impl HostState {
    /// A fresh session generation number.
    pub fn next_generation(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The paired client `id` for a media session: its bound user, and how to bind it.
    pub fn client_ref(&self, id: &str) -> crate::media_plane::ClientRef {
        let bound_user = lock(&self.clients).bound_user(id);
        let tx = self.bind_tx.clone();
        let client = id.to_string();
        let bind: crate::media_plane::BindFn = Arc::new(move |user: &str| {
            let _ = tx.send((client.clone(), user.to_string()));
        });
        crate::media_plane::ClientRef { id: id.to_string(), bound_user, bind: Some(bind) }
    }

    /// The callback the media plane calls when a session ends by itself.
    pub fn end_callback(&self, generation: u64) -> Box<dyn FnOnce(EndReason) + Send> {
        let tx = self.end_tx.clone();
        Box::new(move |reason| {
            let _ = tx.send((generation, reason));
        })
    }

    /// The media ports of session slot `slot`: the standard ports (BASE+9, +10, +11), shared by every
    /// session and told apart by ping payload and connect data (`media::ping_mux`, `media::control_mux`).
    /// With `[sessions] per_session_ports`, every slot after 0 gets three of its own from BASE+30 instead
    /// (the SETUP reply's `server_port` tells the client).
    pub fn media_ports_for_slot(&self, slot: u16) -> MediaPorts {
        if slot == 0 || !self.apps.sessions.per_session_ports {
            return MediaPorts { video: self.ports.video, control: self.ports.control, audio: self.ports.audio };
        }
        let first = self.ports.http.saturating_add(30).saturating_add(3 * (slot - 1));
        MediaPorts { video: first, control: first.saturating_add(1), audio: first.saturating_add(2) }
    }

    /// Gives the owner's PIN to the waiting pairing request `client` picks (or the only one), or arms it
    /// for the next request when none waits.
    /// `name`, when given, becomes the paired device's name.
    pub fn give_pin(
        &self,
        pin: &str,
        client: Option<&str>,
        name: Option<&str>,
        user: Option<&str>,
    ) -> Result<PinGiven, PinError> {
        let name = name.map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
        if let Some(n) = &name {
            crate::store::validate_client_name(n).map_err(PinError::Invalid)?;
        }
        if user.is_some_and(|u| !crate::login::broker_proto::valid_user_name(u)) {
            return Err(PinError::Invalid("--user is not a login name"));
        }
        let grant = PinGrant { pin: pin.to_owned(), name, user: user.map(str::to_owned) };
        let given = lock(&self.pairing).give_pin(grant, client, Instant::now())?;
        match &given {
            PinGiven::To { id, device, ip, .. } => {
                tracing::info!(id, device, peer = %ip, "the owner gave the PIN to this pairing request")
            }
            PinGiven::Armed(ttl) => tracing::info!(
                expires_in_secs = ttl.as_secs(),
                "pairing armed: no client waits, the next pairing request uses the owner's PIN"
            ),
        }
        Ok(given)
    }

    /// The pairing report (armed PIN, waiting requests, attempts in progress, locked addresses).
    pub fn pairing_json(&self) -> serde_json::Value {
        let mut g = lock(&self.pairing);
        let now = Instant::now();
        g.prune(now);
        g.report(now)
    }

    /// The admin status report.
    pub fn status_json(&self) -> serde_json::Value {
        let sessions: Vec<_> = lock(&self.sessions).iter().map(LiveSession::snapshot).collect();
        let session = sessions.first().cloned();
        let pairing = self.pairing_json();
        json!({
            "hostname": self.hostname,
            "uniqueid": self.identity.unique_id,
            "ports": self.ports,
            "state": if sessions.is_empty() { "free" } else { "busy" },
            "max_sessions": self.max_sessions,
            "idle_timeout_secs": self.idle_timeout.as_secs(),
            "sessions": sessions,
            "codec_support": self.media.codec_support(),
            "server_codec_mode_support": self.media.codec_support().server_codec_mode_support(),
            "paired_clients": lock(&self.clients).list().len(),
            "pairing": pairing,
            "apps": self.catalog.list(),
            "session": session,
            "media_plane": self.media.status(),
        })
    }

    /// The paired clients as the admin page shows them.
    pub fn clients_json(&self) -> Vec<serde_json::Value> {
        let streaming: Vec<String> =
            lock(&self.sessions).iter().filter(|s| s.media.is_some()).map(|s| s.client_id.clone()).collect();
        let seen = lock(&self.last_seen).clone();
        lock(&self.clients)
            .list()
            .iter()
            .map(|c| {
                json!({"id": c.id, "name": c.name, "paired_at": c.paired_at, "last_seen": seen.get(&c.id),
                    "user": c.user, "streaming": streaming.contains(&c.id)})
            })
            .collect()
    }

    /// Notes that the paired client `id` made a request now.
    pub fn saw_client(&self, id: &str) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        let mut seen = lock(&self.last_seen);
        if seen.len() < 4096 || seen.contains_key(id) {
            seen.insert(id.to_owned(), now);
        }
    }

    /// The live sessions with their stream's figures (admin page, `lumen-session sessions`).
    pub fn sessions_json(&self) -> Vec<serde_json::Value> {
        let names: HashMap<String, String> =
            lock(&self.clients).list().iter().map(|c| (c.id.clone(), c.name.clone())).collect();
        lock(&self.sessions)
            .iter()
            .map(|s| {
                let l = &s.launch;
                let state = if s.media.is_some() {
                    "streaming"
                } else if s.awaiting_rtsp() {
                    "starting"
                } else {
                    "idle"
                };
                let mut v = json!({
                    "session": s.generation,
                    "client_id": s.client_id,
                    "client_name": names.get(&s.client_id),
                    "client_address": s.client_ip.to_string(),
                    "app": l.app_name,
                    "mode": format!("{}x{}@{}", l.width, l.height, l.fps),
                    "codec": s.config.as_ref().map(|c| c.codec.name()),
                    "audio_channels": l.audio_channels(),
                    "state": state,
                });
                if let (Some(obj), Some(serde_json::Value::Object(stats))) =
                    (v.as_object_mut(), s.media.as_ref().and_then(|m| m.stats()))
                {
                    obj.extend(stats);
                }
                v
            })
            .collect()
    }

    /// Ends the session `generation` (if it still exists) for `reason`: its media session, then its app and
    /// worker. Blocking (media threads are joined): call it off the async workers.
    pub fn end_session(&self, generation: u64, reason: EndReason) -> bool {
        let taken = lock(&self.sessions).remove(generation);
        match taken {
            Some(live) => {
                self.finish(live, reason);
                true
            }
            None => false,
        }
    }

    /// Ends every session (host shutdown).
    pub fn end_all_sessions(&self, reason: EndReason) {
        let all = lock(&self.sessions).drain();
        for live in all {
            self.finish(live, reason.clone());
        }
    }

    /// The session of the paired client `client_id`, if any.
    pub fn session_of(&self, client_id: &str) -> Option<u64> {
        lock(&self.sessions).by_client(client_id).map(|s| s.generation)
    }

    fn finish(&self, mut live: LiveSession, reason: EndReason) {
        // Stopped outside the lock: joining media threads must not hold up other requests.
        live.stop_media(reason.clone());
        self.media.end_session(live.generation, &reason);
        tracing::info!(session = live.generation, client = live.client_id, app = %live.launch.app_name, ?reason,
            "session ended");
    }
}

impl HostState {
    /// The media plane ended session `generation`'s stream by itself. When the app exited the session ends
    /// with it (the host is free again, as Sunshine); when the client left, only the stream ends and the
    /// session stays for a resume.
    pub fn media_ended(&self, generation: u64, reason: EndReason) {
        if reason == EndReason::AppExited {
            if self.end_session(generation, reason) {
                tracing::info!(session = generation, "the app exited: session ended");
            }
            return;
        }
        let media = lock(&self.sessions).by_id(generation).and_then(|live| {
            tracing::info!(session = generation, ?reason, "the media plane ended the stream");
            live.media_ended = Some(reason.clone());
            live.last_active = Instant::now();
            live.media.take()
        });
        if let Some(mut m) = media {
            m.stop(reason);
        }
    }
}

fn mac_address() -> String {
    let Ok(dir) = std::fs::read_dir("/sys/class/net") else { return "00:00:00:00:00:00".into() };
    let mut names: Vec<_> = dir.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for n in names.iter().filter(|n| n.as_str() != "lo") {
        if let Ok(m) = std::fs::read_to_string(format!("/sys/class/net/{n}/address")) {
            let m = m.trim();
            if !m.is_empty() && m != "00:00:00:00:00:00" {
                return m.to_owned();
            }
        }
    }
    "00:00:00:00:00:00".into()
}

/// Where the host hears that a media session ended by itself: (session id, why).
pub type SessionEnds = mpsc::UnboundedReceiver<(u64, EndReason)>;

/// Builds the host state (state dir, identity, clients, apps) without binding anything.
pub fn build_state(opts: &HostOptions) -> anyhow::Result<(Arc<HostState>, SessionEnds)> {
    let ports = Ports::from_base(opts.port_base)?;
    store::ensure_state_dir(&opts.state_dir)?;
    store::remove_stale_temp_files(&opts.state_dir);
    // The client store first: a file this version must not touch stops the host before anything is written.
    let clients = ClientStore::load(&opts.state_dir)?;
    let identity = HostIdentity::load_or_create(&opts.state_dir)?;
    // Without --config, the state dir's config.toml (if any) is the config, and the admin page saves there.
    let config_path = opts.config.clone().unwrap_or_else(|| opts.state_dir.join("config.toml"));
    let config = Some(config_path.as_path()).filter(|p| opts.config.is_some() || p.exists());
    let apps = AppConfig::load(config, &opts.app_cmds)?;
    let catalog = AppCatalog::new(apps.apps.clone(), config_path.clone());
    let mut policy = PairingPolicy::default();
    if let Some(n) = apps.pairing.max_failures {
        policy.max_failures = n.max(1);
    }
    if let Some(s) = apps.pairing.lockout_secs {
        policy.lockout = Duration::from_secs(s);
    }
    if let Some(s) = apps.pairing.pin_wait_secs {
        policy.pin_wait = Duration::from_secs(s);
    }
    if let Some(s) = apps.pairing.pin_ttl_secs {
        policy.pin_ttl = Duration::from_secs(s);
    }
    let mut gate = PairingGate::new(policy);
    if let Some(pin) = &opts.pin {
        validate_pin(pin).map_err(|e| anyhow::anyhow!("the PIN given at start: {e}"))?;
        let ttl = gate.arm(PinGrant { pin: pin.clone(), name: None, user: None }, Instant::now());
        tracing::info!(expires_in_secs = ttl.as_secs(), "pairing armed at start for the next pairing request");
    }
    let max_sessions = opts.max_sessions.or(apps.sessions.max_sessions).unwrap_or_else(default_max_sessions).max(1);
    let idle_timeout = opts
        .session_idle_timeout
        .or(apps.sessions.idle_timeout_secs.map(Duration::from_secs))
        .unwrap_or(DEFAULT_IDLE_TIMEOUT);
    let (end_tx, end_rx) = mpsc::unbounded_channel();
    let (bind_tx, bind_rx) = mpsc::unbounded_channel();
    let hostname = gethostname::gethostname().to_string_lossy().into_owned();
    let state = Arc::new(HostState {
        identity,
        ports,
        apps,
        catalog,
        last_seen: Mutex::new(HashMap::new()),
        web: WebState::default(),
        clients: Mutex::new(clients),
        pairing: Mutex::new(gate),
        sessions: Mutex::new(SessionTable::default()),
        max_sessions,
        idle_timeout,
        media: opts.media.clone(),
        hostname,
        mac: mac_address(),
        state_dir: opts.state_dir.clone(),
        generation: AtomicU64::new(0),
        end_tx,
        bind_tx,
        bind_rx: Mutex::new(Some(bind_rx)),
    });
    Ok((state, end_rx))
}

/// Where the admin page listens: the command line's choice, else the config's `[admin]` (on by default,
/// loopback, BASE+1).
fn admin_web_addr(opts: &HostOptions, state: &HostState) -> Option<SocketAddr> {
    if let Some(choice) = opts.admin_web {
        return choice;
    }
    let section = state.apps.admin;
    if section.enabled == Some(false) {
        return None;
    }
    let port = section.port.unwrap_or(state.ports.http.saturating_add(1));
    Some(SocketAddr::new(section.bind.unwrap_or(crate::web::DEFAULT_BIND), port))
}

/// Runs the host until SIGINT/SIGTERM.
pub async fn run(opts: HostOptions) -> anyhow::Result<()> {
    run_until(opts, std::future::pending::<()>()).await
}

/// Runs the host until SIGINT/SIGTERM or until `stop` completes (an embedding process whose other half,
/// e.g. the compositor, ended by itself); either way the live session is ended and the admin socket removed.
pub async fn run_until(opts: HostOptions, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    run_until_ready(opts, stop, |_| {}).await
}

/// [`run_until`], calling `on_ready` once every server listens (`lumen-session` prints its ready block
/// there, [`crate::ready`]).
pub async fn run_until_ready(
    opts: HostOptions,
    stop: impl std::future::Future<Output = ()>,
    on_ready: impl FnOnce(&crate::ready::Ready),
) -> anyhow::Result<()> {
    match crate::net_guard::raise_nofile_limit() {
        Ok((old, new)) if old != new => tracing::info!(old, new, "raised the open-file limit to its hard limit"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
    let (state, mut end_rx) = build_state(&opts)?;
    let p = state.ports;
    let bind = |port| SocketAddr::new(opts.bind, port);
    let http =
        tokio::net::TcpListener::bind(bind(p.http)).await.with_context(|| format!("binding HTTP port {}", p.http))?;
    let https = tokio::net::TcpListener::bind(bind(p.https))
        .await
        .with_context(|| format!("binding HTTPS port {}", p.https))?;
    let rtsp =
        tokio::net::TcpListener::bind(bind(p.rtsp)).await.with_context(|| format!("binding RTSP port {}", p.rtsp))?;
    let admin = crate::admin::bind(&state.state_dir)?;
    let tls = crate::nvhttp::tls::server_config(&state.identity)?;

    tokio::spawn(crate::nvhttp::server::serve_http(state.clone(), http));
    tokio::spawn(crate::nvhttp::server::serve_https(state.clone(), https, tls));
    tokio::spawn(crate::rtsp::server::serve(state.clone(), rtsp));
    tokio::spawn(crate::admin::serve(state.clone(), admin));
    let mut admin_page = None;
    if let Some(addr) = admin_web_addr(&opts, &state) {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => {
                let tls = crate::web::tls_config(&state.identity)?;
                tracing::info!(url = %format!("https://{addr}/"), "admin page listening");
                tokio::spawn(crate::web::serve(state.clone(), l, tls));
                admin_page = Some(addr);
            }
            Err(e) => tracing::error!(%addr, error = %e, "the admin page could not listen; the host runs without it"),
        }
    }
    tokio::spawn(async {
        // The summary of hostile traffic is logged even when the flood stops.
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            crate::noise::global().flush_if_due();
        }
    });
    {
        let state = state.clone();
        tokio::spawn(async move {
            while let Some((generation, reason)) = end_rx.recv().await {
                let state = state.clone();
                // Joining media threads and reaping workers may take a moment: not on a runtime worker,
                // not under the lock.
                tokio::task::spawn_blocking(move || state.media_ended(generation, reason));
            }
        });
    }
    if let Some(mut bind_rx) = lock(&state.bind_rx).take() {
        let state = state.clone();
        tokio::spawn(async move {
            while let Some((client, user)) = bind_rx.recv().await {
                let mut clients = lock(&state.clients);
                if clients.bound_user(&client).is_some() {
                    continue;
                }
                match clients.bind(&client, &user) {
                    Ok(true) => tracing::info!(client, user, "client bound to its first login's user"),
                    Ok(false) => tracing::warn!(client, user, "binding: the client is no longer paired"),
                    Err(e) => tracing::error!(client, user, error = %e, "binding: could not save"),
                }
            }
        });
    }
    {
        // Sessions nobody streams end after the idle timeout (checked a few times per timeout).
        let state = state.clone();
        let every = (state.idle_timeout / 4).clamp(Duration::from_millis(250), Duration::from_secs(60));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let idle = lock(&state.sessions).idle_for(state.idle_timeout, Instant::now());
                for generation in idle {
                    let st = state.clone();
                    tracing::info!(
                        session = generation,
                        timeout_secs = state.idle_timeout.as_secs(),
                        "nobody streamed the session: ending it"
                    );
                    tokio::task::spawn_blocking(move || st.end_session(generation, EndReason::IdleTimeout));
                }
            }
        });
    }
    let _mdns = if opts.mdns {
        match crate::mdns::Announcer::start(&state.hostname, &state.identity.unique_id, p.http) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::warn!(error = %e, "mDNS announcement failed; clients must add this host by address");
                None
            }
        }
    } else {
        None
    };
    tracing::info!(http = p.http, https = p.https, rtsp = p.rtsp, video = p.video, control = p.control, audio = p.audio,
        state_dir = %state.state_dir.display(), "lumen-session host ready");
    on_ready(&crate::ready::Ready {
        hostname: state.hostname.clone(),
        ports: p,
        bind: opts.bind,
        mdns: _mdns.is_some(),
        state_dir: state.state_dir.clone(),
        apps: state.catalog.list().iter().filter(|a| a.cmd.is_some()).map(|a| a.name.clone()).collect(),
        admin_page,
    });

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
        _ = stop => {},
    }
    tracing::info!("shutting down");
    let st = state.clone();
    let _ = tokio::task::spawn_blocking(move || st.end_all_sessions(EndReason::HostShutdown)).await;
    let _ = std::fs::remove_file(crate::admin::socket_path(&state.state_dir));
    Ok(())
}

/// The default listen address.
pub const DEFAULT_BIND: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
