//! The local admin interface: a Unix socket `admin.sock` in the state dir (mode 0600) speaking one JSON
//! request line and one JSON reply line per connection. `lumen-session
//! pin|pairing|clients|unpair|rename|status` are its clients.
//!
//! Requests: `{"cmd":"pin","pin":"1234","client":"ID","name":"TV"}` (`client` optional: which waiting
//! pairing request gets the PIN; `name` optional: the paired device's name), `{"cmd":"pairing"}`,
//! `{"cmd":"clients"}`, `{"cmd":"unpair","id":"…"}`, `{"cmd":"rename","id":"…","name":"…"}`,
//! `{"cmd":"apps"}`, `{"cmd":"app_add","app":{…}}`, `{"cmd":"app_edit","id":N,"app":{…}}`,
//! `{"cmd":"app_remove","id":N}`, `{"cmd":"sessions"}`, `{"cmd":"end_session","session":N}`, `{"cmd":"hand_over","session":N}`,
//! `{"cmd":"logs","after":SEQ}`, `{"cmd":"status"}`. Replies: `{"ok":true,…}` or `{"ok":false,"error":"…"}`.
//! A `pin` reply says where the PIN went: `{"given_to":{…}}` or `{"armed_for_secs":N}`. The admin web page
//! sends the same requests ([`crate::web`]).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

use crate::catalog::{app_json, AppSpec};
use crate::host::{lock, HostState};
use crate::media_plane::EndReason;
use crate::pairing_gate::PinGiven;

/// Longest request line accepted.
const MAX_LINE: usize = 4096;

/// An admin request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum AdminRequest {
    Pin {
        pin: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
    Pairing,
    Clients,
    Unpair {
        id: String,
    },
    Rename {
        id: String,
        name: String,
    },
    Status,
    Apps,
    AppAdd {
        app: AppSpec,
    },
    AppEdit {
        id: u32,
        app: AppSpec,
    },
    AppRemove {
        id: u32,
    },
    Sessions,
    EndSession {
        session: u64,
    },
    /// Move a streaming session to a fresh worker (the login hand-over's mechanism).
    HandOver {
        session: u64,
    },
    Logs {
        #[serde(default)]
        after: u64,
    },
}

impl AdminRequest {
    /// The request's name (for log lines).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pin { .. } => "pin",
            Self::Pairing => "pairing",
            Self::Clients => "clients",
            Self::Unpair { .. } => "unpair",
            Self::Rename { .. } => "rename",
            Self::Status => "status",
            Self::Apps => "apps",
            Self::AppAdd { .. } => "app_add",
            Self::AppEdit { .. } => "app_edit",
            Self::AppRemove { .. } => "app_remove",
            Self::Sessions => "sessions",
            Self::EndSession { .. } => "end_session",
            Self::HandOver { .. } => "hand_over",
            Self::Logs { .. } => "logs",
        }
    }
}

/// The socket path in a state dir.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("admin.sock")
}

/// Binds the admin socket (replacing a stale one) with mode 0600.
pub fn bind(state_dir: &Path) -> anyhow::Result<UnixListener> {
    let path = socket_path(state_dir);
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(&path).is_ok() {
            anyhow::bail!("another lumen-session is running with state dir {}", state_dir.display());
        }
        std::fs::remove_file(&path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    let listener = UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Answers one request.
pub fn answer(state: &HostState, req: AdminRequest) -> Value {
    match req {
        AdminRequest::Pin { pin, client, name, user } => {
            match state.give_pin(pin.trim(), client.as_deref(), name.as_deref(), user.as_deref()) {
                Ok(PinGiven::To { id, device, ip, uniqueid }) => {
                    json!({"ok": true, "given_to": {"id": id, "device": device, "address": ip.to_string(), "uniqueid": uniqueid}})
                }
                Ok(PinGiven::Armed(ttl)) => json!({"ok": true, "armed_for_secs": ttl.as_secs()}),
                Err(e) => json!({"ok": false, "error": e.to_string()}),
            }
        }
        AdminRequest::Pairing => {
            let mut v = state.pairing_json();
            v["ok"] = json!(true);
            v
        }
        AdminRequest::Clients => json!({"ok": true, "clients": state.clients_json()}),
        AdminRequest::Unpair { id } => match lock(&state.clients).remove(&id) {
            Ok(Some(c)) => {
                tracing::info!(id = c.id, name = c.name, "client unpaired by the owner");
                json!({"ok": true, "removed": {"id": c.id, "name": c.name}})
            }
            Ok(None) => json!({"ok": false, "error": format!("no paired client with id {id:?}")}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        },
        AdminRequest::Rename { name, .. } if crate::store::validate_client_name(&name).is_err() => {
            json!({"ok": false, "error": "a client name is 1 to 128 printable characters"})
        }
        AdminRequest::Rename { id, name } => match lock(&state.clients).rename(&id, &name) {
            Ok(true) => json!({"ok": true}),
            Ok(false) => json!({"ok": false, "error": format!("no paired client with id {id:?}")}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        },
        AdminRequest::Status => {
            let mut v = state.status_json();
            v["ok"] = json!(true);
            v
        }
        AdminRequest::Apps => {
            let apps: Vec<Value> = state.catalog.list().iter().map(app_json).collect();
            json!({"ok": true, "apps": apps, "config_path": state.catalog.config_path().display().to_string()})
        }
        AdminRequest::AppAdd { app } => catalog_reply(state.catalog.add(&app)),
        AdminRequest::AppEdit { id, app } => catalog_reply(state.catalog.edit(id, &app)),
        AdminRequest::AppRemove { id } => catalog_reply(state.catalog.remove(id)),
        AdminRequest::Sessions => json!({"ok": true, "sessions": state.sessions_json()}),
        AdminRequest::EndSession { session } => {
            if state.end_session(session, EndReason::Cancelled) {
                tracing::info!(session, "session ended by the owner");
                json!({"ok": true})
            } else {
                json!({"ok": false, "error": format!("no session {session}")})
            }
        }
        AdminRequest::HandOver { session } => match state.media.hand_over(session) {
            Ok(pid) => json!({"ok": true, "pid": pid}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        },
        AdminRequest::Logs { after } => json!({"ok": true, "lines": crate::log_ring::lines_after(after)}),
    }
}

fn catalog_reply(r: Result<crate::apps::App, crate::catalog::CatalogError>) -> Value {
    match r {
        Ok(app) => json!({"ok": true, "app": app_json(&app)}),
        Err(e) => json!({"ok": false, "error": e.to_string()}),
    }
}

/// Serves the admin socket forever.
pub async fn serve(state: Arc<HostState>, listener: UnixListener) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut line = String::new();
            let mut reader = tokio::io::BufReader::new(r).take(MAX_LINE as u64);
            let reply = match tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await {
                Ok(Ok(_)) => match serde_json::from_str::<AdminRequest>(line.trim()) {
                    // Off the async workers: ending a session joins its threads.
                    Ok(req) => {
                        let st = state.clone();
                        tokio::task::spawn_blocking(move || answer(&st, req))
                            .await
                            .unwrap_or_else(|e| json!({"ok": false, "error": format!("the request failed: {e}")}))
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "malformed admin request");
                        json!({"ok": false, "error": format!("malformed request: {e}")})
                    }
                },
                Ok(Err(e)) => json!({"ok": false, "error": e.to_string()}),
                Err(_) => json!({"ok": false, "error": "timed out reading the request"}),
            };
            let mut out = reply.to_string();
            out.push('\n');
            let _ = w.write_all(out.as_bytes()).await;
        });
    }
}

/// Sends one request to the host running with `state_dir` and returns its reply.
pub fn request(state_dir: &Path, req: &AdminRequest) -> anyhow::Result<Value> {
    let path = socket_path(state_dir);
    let mut s = std::os::unix::net::UnixStream::connect(&path).with_context(|| {
        format!("cannot reach a running lumen-session at {} (is it running with this --state-dir?)", path.display())
    })?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut line = serde_json::to_string(req)?;
    line.push('\n');
    s.write_all(line.as_bytes())?;
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply)?;
    let v: Value = serde_json::from_str(reply.trim()).context("malformed reply from the host")?;
    Ok(v)
}
