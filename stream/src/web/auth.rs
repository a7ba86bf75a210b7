//! The admin page's authentication: the owner's password (an Argon2id hash in `STATE_DIR/admin_password`,
//! set with `lumen-session admin-password`), logged-in browser sessions (a random cookie token, each with
//! its own CSRF token, 12 h), and the per-address rate limit of failed logins.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;

/// How long a login lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Most browser sessions kept at once (the oldest goes first).
const MAX_SESSIONS: usize = 32;
/// Failed logins from one address before it is locked out.
pub const MAX_FAILURES: u32 = 5;
/// The first lockout; each further failure doubles it (up to [`MAX_LOCKOUT`]).
const LOCKOUT: Duration = Duration::from_secs(30);
const MAX_LOCKOUT: Duration = Duration::from_secs(3600);
/// Addresses whose failures are remembered.
const MAX_SOURCES: usize = 1024;
/// Longest password accepted.
pub const MAX_PASSWORD: usize = 1024;

/// Where the password hash lives.
pub fn password_path(state_dir: &Path) -> PathBuf {
    state_dir.join("admin_password")
}

/// Hashes and stores the owner's password (atomically, mode 0600).
pub fn set_password(state_dir: &Path, password: &str) -> anyhow::Result<()> {
    if password.chars().count() < 8 || password.len() > MAX_PASSWORD {
        anyhow::bail!("the admin password is 8 to {MAX_PASSWORD} bytes long");
    }
    crate::store::ensure_state_dir(state_dir)?;
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?
        .to_string();
    crate::store::write_atomic(&password_path(state_dir), format!("{hash}\n").as_bytes(), 0o600)?;
    Ok(())
}

/// The stored hash, if a password was set (read at each login: a new password applies at once).
pub fn stored_hash(state_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(password_path(state_dir)).ok()?;
    let line = text.lines().next()?.trim().to_owned();
    (!line.is_empty()).then_some(line)
}

/// Whether `password` matches `hash` (slow on purpose: call it off the async workers).
pub fn verify(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(h) => Argon2::default().verify_password(password.as_bytes(), &h).is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "the stored admin password hash is unreadable: set it again");
            false
        }
    }
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

struct Login {
    csrf: String,
    expires: Instant,
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

/// Logged-in browsers and failed-login records.
#[derive(Default)]
pub struct WebAuth {
    logins: HashMap<String, Login>,
    failures: HashMap<IpAddr, Failures>,
}

/// Why a login attempt may not even be checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Locked(pub Duration);

impl WebAuth {
    /// A new login: (cookie token, CSRF token).
    pub fn open(&mut self, now: Instant) -> (String, String) {
        self.logins.retain(|_, l| l.expires > now);
        if self.logins.len() >= MAX_SESSIONS {
            if let Some(oldest) = self.logins.iter().min_by_key(|(_, l)| l.expires).map(|(k, _)| k.clone()) {
                self.logins.remove(&oldest);
            }
        }
        let (token, csrf) = (random_token(), random_token());
        self.logins.insert(token.clone(), Login { csrf: csrf.clone(), expires: now + SESSION_TTL });
        (token, csrf)
    }

    /// The CSRF token of the live login `token`.
    pub fn csrf_of(&self, token: &str, now: Instant) -> Option<String> {
        self.logins.get(token).filter(|l| l.expires > now).map(|l| l.csrf.clone())
    }

    pub fn close(&mut self, token: &str) {
        self.logins.remove(token);
    }

    /// `Err` while `ip` is locked out.
    pub fn check_source(&self, ip: IpAddr, now: Instant) -> Result<(), Locked> {
        match self.failures.get(&ip).and_then(|f| f.locked_until).filter(|t| *t > now) {
            Some(t) => Err(Locked(t - now)),
            None => Ok(()),
        }
    }

    /// Records a wrong password from `ip`; returns the lockout it started, if any.
    pub fn failed(&mut self, ip: IpAddr, now: Instant) -> Option<Duration> {
        if !self.failures.contains_key(&ip) && self.failures.len() >= MAX_SOURCES {
            if let Some(oldest) = self.failures.iter().min_by_key(|(_, f)| f.last).map(|(k, _)| *k) {
                self.failures.remove(&oldest);
            }
        }
        let f = self.failures.entry(ip).or_insert(Failures { count: 0, locked_until: None, last: now });
        f.count += 1;
        f.last = now;
        if f.count < MAX_FAILURES {
            return None;
        }
        let doublings = (f.count - MAX_FAILURES).min(16);
        let lock = LOCKOUT.saturating_mul(1 << doublings).min(MAX_LOCKOUT);
        f.locked_until = Some(now + lock);
        Some(lock)
    }

    pub fn succeeded(&mut self, ip: IpAddr) {
        self.failures.remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        assert!(stored_hash(dir.path()).is_none());
        assert!(set_password(dir.path(), "short").is_err());
        set_password(dir.path(), "correct horse").unwrap();
        let h = stored_hash(dir.path()).unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify(&h, "correct horse"));
        assert!(!verify(&h, "correct horsE"));
        assert!(!verify("garbage", "x"));
    }

    #[test]
    fn failures_lock_their_source_and_double() {
        let mut a = WebAuth::default();
        let (ip, other): (IpAddr, IpAddr) = ("127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap());
        let now = Instant::now();
        for _ in 1..MAX_FAILURES {
            assert_eq!(a.failed(ip, now), None);
        }
        assert_eq!(a.failed(ip, now), Some(LOCKOUT));
        assert!(a.check_source(ip, now).is_err());
        assert!(a.check_source(other, now).is_ok());
        assert_eq!(a.failed(ip, now), Some(LOCKOUT * 2));
        assert!(a.check_source(ip, now + LOCKOUT * 3).is_ok());
        a.succeeded(ip);
        assert!(a.check_source(ip, now).is_ok());
    }

    #[test]
    fn logins_expire_and_close() {
        let mut a = WebAuth::default();
        let now = Instant::now();
        let (t, csrf) = a.open(now);
        assert_eq!(a.csrf_of(&t, now).as_deref(), Some(csrf.as_str()));
        assert_eq!(a.csrf_of(&t, now + SESSION_TTL), None);
        assert_eq!(a.csrf_of("nope", now), None);
        a.close(&t);
        assert_eq!(a.csrf_of(&t, now), None);
    }
}
