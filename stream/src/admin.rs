//! The local admin interface: a Unix socket `admin.sock` in the state dir (mode 0600) speaking one JSON
//! request line and one JSON reply line per connection. `lumen-session
//! pin|pairing|clients|unpair|rename|status` are its clients.
//!
//! Requests: `{"cmd":"pin","pin":"1234","client":"ID"}` (`client` optional: which waiting pairing request
//! gets the PIN), `{"cmd":"pairing"}`, `{"cmd":"clients"}`, `{"cmd":"unpair","id":"…"}`,
//! `{"cmd":"rename","id":"…","name":"…"}`, `{"cmd":"status"}`. Replies: `{"ok":true,…}` or
//! `{"ok":false,"error":"…"}`. A `pin` reply says where the PIN went: `{"given_to":{…}}` or
//! `{"armed_for_secs":N}`.

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

use crate::host::{lock, HostState};
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
        AdminRequest::Pin { pin, client } => match state.give_pin(pin.trim(), client.as_deref()) {
            Ok(PinGiven::To { id, device, ip, uniqueid }) => {
                json!({"ok": true, "given_to": {"id": id, "device": device, "address": ip.to_string(), "uniqueid": uniqueid}})
            }
            Ok(PinGiven::Armed(ttl)) => json!({"ok": true, "armed_for_secs": ttl.as_secs()}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        },
        AdminRequest::Pairing => {
            let mut v = state.pairing_json();
            v["ok"] = json!(true);
            v
        }
        AdminRequest::Clients => {
            let clients: Vec<Value> = lock(&state.clients)
                .list()
                .iter()
                .map(|c| json!({"id": c.id, "name": c.name, "paired_at": c.paired_at}))
                .collect();
            json!({"ok": true, "clients": clients})
        }
        AdminRequest::Unpair { id } => match lock(&state.clients).remove(&id) {
            Ok(Some(c)) => {
                tracing::info!(id = c.id, name = c.name, "client unpaired by the owner");
                json!({"ok": true, "removed": {"id": c.id, "name": c.name}})
            }
            Ok(None) => json!({"ok": false, "error": format!("no paired client with id {id:?}")}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        },
        AdminRequest::Rename { name, .. }
            if name.trim().is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) =>
        {
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
                    Ok(req) => answer(&state, req),
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
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut line = serde_json::to_string(req)?;
    line.push('\n');
    s.write_all(line.as_bytes())?;
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply)?;
    let v: Value = serde_json::from_str(reply.trim()).context("malformed reply from the host")?;
    Ok(v)
}
