//! The state dir: atomic file writes, and the persisted list of paired clients.
//!
//! Every write goes to a fresh temp file in the same directory, is fsynced, renamed over the target, and
//! the directory is fsynced: a crash at any moment leaves either the old or the new file, never a torn one.
//! Stale temp files from a crash are removed at start.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Errors of the state dir.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("state file {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "state file {path} has format version {found}, newer than this lumen understands (up to {supported}); \
         it was left untouched: run the newer lumen-session, or restore a copy written by this version"
    )]
    NewerVersion { path: PathBuf, found: u64, supported: u32 },
}

/// The `clients.json` format version this build reads and writes.
pub const CLIENTS_VERSION: u32 = 1;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_owned(), source }
}

const TMP_MARK: &str = ".tmp-";

/// Writes `data` to `path` atomically (temp file + fsync + rename + directory fsync) with mode `mode`.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!("{name}{TMP_MARK}{}-{:016x}", std::process::id(), rand::random::<u64>()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(io_err(&tmp))?;
        f.write_all(data).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io_err(path))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes temp files a crash left behind in `dir` (files whose name contains the temp marker).
pub fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if e.file_name().to_str().is_some_and(|n| n.contains(TMP_MARK)) {
            tracing::info!(file = %e.path().display(), "removing a temp file left by an interrupted write");
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Creates the state dir (mode 0700) if needed.
pub fn ensure_state_dir(dir: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err(dir))
}

/// One paired client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairedClient {
    /// Short stable id: the first 16 hex digits of SHA-256 of the certificate DER.
    pub id: String,
    /// The name the client gave (`devicename`) or the owner set.
    pub name: String,
    /// The client certificate, PEM.
    pub cert_pem: String,
    /// The certificate, DER, hex (the exact bytes HTTPS admits).
    pub cert_der_hex: String,
    /// Unix time of pairing.
    pub paired_at: u64,
    /// System mode: the user this client is bound to (its first successful login, or `pin --user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// The id of a client certificate.
pub fn client_id(der: &[u8]) -> String {
    hex::encode(&Sha256::digest(der)[..8])
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ClientsFile {
    version: u32,
    clients: Vec<PairedClient>,
}

/// The paired clients, loaded from and saved to `clients.json` in the state dir.
#[derive(Debug)]
pub struct ClientStore {
    path: PathBuf,
    clients: Vec<PairedClient>,
    ders: Vec<Vec<u8>>,
}

impl ClientStore {
    /// Loads `dir/clients.json` (an absent file is an empty store; a corrupt one is an error, never
    /// silently replaced).
    pub fn load(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join("clients.json");
        let clients = match fs::read(&path) {
            Ok(bytes) => {
                // The version first: a newer file may not even parse as this version's format, and must
                // never be rewritten by this version.
                let version = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("version").and_then(serde_json::Value::as_u64));
                if let Some(found) = version.filter(|v| *v > u64::from(CLIENTS_VERSION)) {
                    return Err(StoreError::NewerVersion { path, found, supported: CLIENTS_VERSION });
                }
                let f: ClientsFile = serde_json::from_slice(&bytes)
                    .map_err(|e| StoreError::Corrupt { path: path.clone(), reason: e.to_string() })?;
                f.clients
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StoreError::Io { path, source: e }),
        };
        let mut ders = Vec::with_capacity(clients.len());
        for c in &clients {
            let der = hex::decode(&c.cert_der_hex)
                .map_err(|e| StoreError::Corrupt { path: path.clone(), reason: format!("client {}: {e}", c.id) })?;
            ders.push(der);
        }
        Ok(ClientStore { path, clients, ders })
    }

    fn save(&self) -> Result<(), StoreError> {
        let f = ClientsFile { version: CLIENTS_VERSION, clients: self.clients.clone() };
        let json = serde_json::to_vec_pretty(&f).expect("serialising plain data cannot fail");
        write_atomic(&self.path, &json, 0o600)
    }

    /// Whether this exact certificate (DER) is paired.
    pub fn is_paired(&self, der: &[u8]) -> bool {
        self.ders.iter().any(|d| d == der)
    }

    /// The paired client with this certificate.
    pub fn by_der(&self, der: &[u8]) -> Option<&PairedClient> {
        self.ders.iter().position(|d| d == der).map(|i| &self.clients[i])
    }

    /// All paired clients.
    pub fn list(&self) -> &[PairedClient] {
        &self.clients
    }

    /// Adds (or refreshes) a client and saves. Returns its id.
    pub fn add(&mut self, name: &str, cert_pem: &str, der: &[u8], now_unix: u64) -> Result<String, StoreError> {
        let id = client_id(der);
        let entry = PairedClient {
            id: id.clone(),
            name: name.to_owned(),
            cert_pem: cert_pem.to_owned(),
            cert_der_hex: hex::encode(der),
            paired_at: now_unix,
            user: None,
        };
        let mut next_clients = self.clients.clone();
        let mut next_ders = self.ders.clone();
        match next_ders.iter().position(|d| d == der) {
            Some(i) => next_clients[i] = entry,
            None => {
                next_clients.push(entry);
                next_ders.push(der.to_vec());
            }
        }
        let old = std::mem::replace(&mut self.clients, next_clients);
        if let Err(e) = self.save() {
            self.clients = old;
            return Err(e);
        }
        self.ders = next_ders;
        Ok(id)
    }

    /// Removes the client with `id` (or a unique id prefix) and saves; returns the removed client.
    pub fn remove(&mut self, id: &str) -> Result<Option<PairedClient>, StoreError> {
        let Some(i) = self.find(id) else { return Ok(None) };
        let mut next = self.clients.clone();
        let removed = next.remove(i);
        let old = std::mem::replace(&mut self.clients, next);
        if let Err(e) = self.save() {
            self.clients = old;
            return Err(e);
        }
        self.ders.remove(i);
        Ok(Some(removed))
    }

    /// Renames the client with `id` and saves; returns whether it existed.
    pub fn rename(&mut self, id: &str, name: &str) -> Result<bool, StoreError> {
        let Some(i) = self.find(id) else { return Ok(false) };
        let mut next = self.clients.clone();
        next[i].name = name.to_owned();
        let old = std::mem::replace(&mut self.clients, next);
        if let Err(e) = self.save() {
            self.clients = old;
            return Err(e);
        }
        Ok(true)
    }

    /// Binds the client with `id` to `user` and saves; false if there is no such client.
    pub fn bind(&mut self, id: &str, user: &str) -> Result<bool, StoreError> {
        let Some(i) = self.find(id) else { return Ok(false) };
        let mut next = self.clients.clone();
        next[i].user = Some(user.to_owned());
        let old = std::mem::replace(&mut self.clients, next);
        if let Err(e) = self.save() {
            self.clients = old;
            return Err(e);
        }
        Ok(true)
    }

    /// The user the client with `id` is bound to.
    pub fn bound_user(&self, id: &str) -> Option<String> {
        self.clients.iter().find(|c| c.id == id).and_then(|c| c.user.clone())
    }

    fn find(&self, id: &str) -> Option<usize> {
        if id.is_empty() {
            return None;
        }
        let exact = self.clients.iter().position(|c| c.id == id);
        if exact.is_some() {
            return exact;
        }
        let mut matches = self.clients.iter().enumerate().filter(|(_, c)| c.id.starts_with(id));
        match (matches.next(), matches.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }
}

/// Checks a client name the owner gives (pairing, rename): 1 to 128 printable characters.
pub fn validate_client_name(name: &str) -> Result<(), &'static str> {
    if name.trim().is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err("a client name is 1 to 128 printable characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_remove_rename_persist() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = ClientStore::load(dir.path()).unwrap();
        let a = s.add("a", "PEM-A", b"der-a", 1).unwrap();
        let b = s.add("b", "PEM-B", b"der-b", 2).unwrap();
        assert_ne!(a, b);
        assert!(s.is_paired(b"der-a") && s.is_paired(b"der-b") && !s.is_paired(b"der-c"));
        assert!(s.rename(&a, "renamed").unwrap());
        let again = ClientStore::load(dir.path()).unwrap();
        assert_eq!(again.list().len(), 2);
        assert_eq!(again.by_der(b"der-a").unwrap().name, "renamed");
        assert_eq!(s.remove(&b[..6]).unwrap().unwrap().name, "b");
        assert_eq!(ClientStore::load(dir.path()).unwrap().list().len(), 1);
        let mode = fs::metadata(dir.path().join("clients.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn stale_temp_files_do_not_matter() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = ClientStore::load(dir.path()).unwrap();
        s.add("a", "PEM-A", b"der-a", 1).unwrap();
        // A crash mid-write leaves a truncated temp file next to the real one.
        fs::write(dir.path().join("clients.json.tmp-1-00"), b"{\"version\":1,\"cli").unwrap();
        assert_eq!(ClientStore::load(dir.path()).unwrap().list().len(), 1);
        remove_stale_temp_files(dir.path());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn newer_version_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let text = br#"{"version":2,"clients":[],"devices":{"new":"format"}}"#;
        fs::write(dir.path().join("clients.json"), text).unwrap();
        let err = ClientStore::load(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::NewerVersion { found: 2, .. }), "{err}");
        assert_eq!(fs::read(dir.path().join("clients.json")).unwrap(), text);
    }

    #[test]
    fn corrupt_file_is_an_error_not_an_empty_store() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("clients.json"), b"{not json").unwrap();
        assert!(matches!(ClientStore::load(dir.path()), Err(StoreError::Corrupt { .. })));
    }
}
