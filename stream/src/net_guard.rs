//! File descriptors against idle connections (issue 11, item 4).
//!
//! * [`raise_nofile_limit`] lifts the soft `RLIMIT_NOFILE` to the hard limit at start (the usual soft limit,
//!   1,024, is what ~1,100 idle unauthenticated connections used to exhaust).
//! * [`ConnLimiter`] caps the connections one listening port holds, in all and per client address; a
//!   connection over a cap is closed at once (so it costs one descriptor for a moment, not for minutes).
//!   The per-port cap is derived from the file limit so that the caps of all ports together leave room for
//!   the media plane, the state dir and the compositor.
//! * The header-read timeouts of nvhttp and RTSP are short (see [`HEADER_TIMEOUT`]), so an idle connection
//!   is closed within seconds.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a connection may take to send a whole request head (and a TLS handshake) before it is closed.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections one address may hold open on one port.
pub const PER_ADDRESS: usize = 64;
/// Descriptors kept out of the connection caps (sockets of the media plane, files, the compositor).
const RESERVED_FDS: u64 = 512;

/// `u64::MAX` stands for "no limit" (`RLIM_INFINITY`).
fn limit_value(v: Option<u64>) -> u64 {
    v.unwrap_or(u64::MAX)
}

/// Raises the soft limit of open files to the hard limit; returns (old soft, new soft).
pub fn raise_nofile_limit() -> std::io::Result<(u64, u64)> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    let old = limit_value(lim.current);
    if lim.current != lim.maximum {
        setrlimit(Resource::Nofile, Rlimit { current: lim.maximum, maximum: lim.maximum })?;
    }
    Ok((old, limit_value(lim.maximum)))
}

/// The current soft limit of open files.
pub fn nofile_soft_limit() -> u64 {
    limit_value(rustix::process::getrlimit(rustix::process::Resource::Nofile).current)
}

/// The per-port connection cap for `ports` TCP listeners under the current file limit.
pub fn per_port_cap(ports: u64) -> usize {
    let soft = nofile_soft_limit().min(1 << 20);
    let cap = soft.saturating_sub(RESERVED_FDS) / ports.max(1);
    cap.clamp(64, 16_384) as usize
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Connection caps of one listening port.
#[derive(Debug, Clone)]
pub struct ConnLimiter {
    name: &'static str,
    max_total: usize,
    per_address: usize,
    counts: Arc<Mutex<Counts>>,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("this address holds too many connections to the port")]
    PerAddress,
    #[error("the port holds too many connections")]
    Total,
}

/// One admitted connection; frees its slot when dropped.
#[derive(Debug)]
pub struct ConnPermit {
    ip: IpAddr,
    counts: Arc<Mutex<Counts>>,
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let mut c = crate::host::lock(&self.counts);
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
    }
}

impl ConnLimiter {
    /// Caps for the port called `name` (for logs).
    pub fn new(name: &'static str, max_total: usize, per_address: usize) -> Self {
        ConnLimiter { name, max_total, per_address, counts: Arc::default() }
    }

    /// The port's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Admits a connection from `ip`, or says why not.
    pub fn admit(&self, ip: IpAddr) -> Result<ConnPermit, Refused> {
        let mut c = crate::host::lock(&self.counts);
        if c.total >= self.max_total {
            return Err(Refused::Total);
        }
        let n = c.per_ip.entry(ip).or_insert(0);
        if *n >= self.per_address {
            return Err(Refused::PerAddress);
        }
        *n += 1;
        c.total += 1;
        Ok(ConnPermit { ip, counts: self.counts.clone() })
    }

    /// Connections held now.
    pub fn held(&self) -> usize {
        crate::host::lock(&self.counts).total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_address_and_in_all() {
        let l = ConnLimiter::new("t", 3, 2);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let p1 = l.admit(a).unwrap();
        let _p2 = l.admit(a).unwrap();
        assert_eq!(l.admit(a).unwrap_err(), Refused::PerAddress);
        let _p3 = l.admit(b).unwrap();
        assert_eq!(l.admit(b).unwrap_err(), Refused::Total);
        drop(p1);
        assert_eq!(l.held(), 2);
        assert!(l.admit(a).is_ok());
    }

    #[test]
    fn raising_the_file_limit_is_idempotent() {
        let (_, first) = raise_nofile_limit().unwrap();
        let (old, again) = raise_nofile_limit().unwrap();
        assert_eq!((old, again), (first, first));
        assert!(per_port_cap(3) >= 64);
    }
}
