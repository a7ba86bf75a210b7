//! One UDP media port (video BASE+9, audio BASE+11) shared by every session: [`PingMux`] owns the socket
//! and a thread that reads what clients send to it — their pings — and moves each session's destination
//! only for pings carrying that session's `X-SS-Ping-Payload` ([`PingRule`]). Senders share the socket
//! (a clone, each datagram addressed to its session's client) and read their destination from a
//! [`Destination`] cell: a generation counter they check per frame (one atomic load) and a value they
//! lock only when it changed.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::video::{PingRule, MAX_PING};
use crate::host::lock;

/// Where one session's media goes: set by the mux thread at each accepted ping that moves it.
#[derive(Default)]
pub struct Destination {
    generation: AtomicU64,
    addr: Mutex<Option<SocketAddr>>,
    changed: Condvar,
}

impl Destination {
    /// Bumped each time the address changes (0: no ping yet).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The current address.
    pub fn get(&self) -> Option<SocketAddr> {
        *lock(&self.addr)
    }

    /// Waits up to `timeout` for the first address.
    pub fn wait_first(&self, timeout: Duration) -> Option<SocketAddr> {
        let deadline = Instant::now() + timeout;
        let mut g = lock(&self.addr);
        while g.is_none() {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            g = self.changed.wait_timeout(g, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        *g
    }

    fn set(&self, to: SocketAddr) -> bool {
        let mut g = lock(&self.addr);
        if *g == Some(to) {
            return false;
        }
        *g = Some(to);
        self.generation.fetch_add(1, Ordering::AcqRel);
        drop(g);
        self.changed.notify_all();
        true
    }
}

struct Route {
    rule: PingRule,
    dest: Arc<Destination>,
}

struct Inner {
    sock: UdpSocket,
    port: u16,
    what: &'static str,
    routes: Mutex<HashMap<u64, Route>>,
    next_id: AtomicU64,
    stop: AtomicBool,
}

/// A shared media port and its reader thread (stopped when the mux is dropped).
pub struct PingMux {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

/// A session's place on a shared port: its destination and a socket to send from; dropping it removes the
/// route.
pub struct PingRoute {
    id: u64,
    mux: Weak<Inner>,
    pub dest: Arc<Destination>,
    /// A clone of the shared socket, for sending.
    pub sock: UdpSocket,
}

impl Drop for PingRoute {
    fn drop(&mut self) {
        if let Some(m) = self.mux.upgrade() {
            lock(&m.routes).remove(&self.id);
        }
    }
}

impl PingMux {
    /// Binds `bind:port` and starts the reader thread.
    pub fn bind(bind: IpAddr, port: u16, what: &'static str) -> std::io::Result<Self> {
        let sock = UdpSocket::bind(SocketAddr::new(bind, port))?;
        sock.set_read_timeout(Some(Duration::from_millis(200)))?;
        let inner = Arc::new(Inner {
            sock,
            port,
            what,
            routes: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            stop: AtomicBool::new(false),
        });
        let reader = inner.clone();
        let thread =
            std::thread::Builder::new().name(format!("lumen-{what}-mux")).spawn(move || read_pings(&reader))?;
        tracing::info!(port, what, "shared media port open");
        Ok(Self { inner, thread: Some(thread) })
    }

    /// Adds a session: pings matching `rule` set its destination.
    pub fn route(&self, rule: PingRule) -> std::io::Result<PingRoute> {
        let sock = self.inner.sock.try_clone()?;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let dest = Arc::new(Destination::default());
        lock(&self.inner.routes).insert(id, Route { rule, dest: dest.clone() });
        Ok(PingRoute { id, mux: Arc::downgrade(&self.inner), dest, sock })
    }

    /// Sessions routed on this port now.
    pub fn routes(&self) -> usize {
        lock(&self.inner.routes).len()
    }
}

impl Drop for PingMux {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_pings(m: &Inner) {
    let mut buf = [0u8; 2048];
    while !m.stop.load(Ordering::Relaxed) {
        let (n, from) = match m.sock.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(e) => {
                tracing::warn!(error = %e, port = m.port, what = m.what, "recv on a shared media port");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let d = &buf[..n];
        let routes = lock(&m.routes);
        // A payload names one session; a legacy `PING` only a session from that address that allows it.
        let hit = routes.values().find(|r| n >= 20 && r.rule.accepts(from.ip(), d) && d[..16] == r.rule.payload);
        let hit = hit.or_else(|| routes.values().find(|r| r.rule.accepts(from.ip(), d)));
        match hit {
            Some(r) => {
                if r.dest.set(from) {
                    tracing::info!(%from, what = m.what, "client ping: media flows to this address");
                }
            }
            None if n <= MAX_PING => {
                crate::noise::record(from.ip(), "a ping for no session", &format_args!("{}: {n} bytes", m.what))
            }
            None => {
                crate::noise::record(from.ip(), "junk datagram on a media port", &format_args!("{}: {n} bytes", m.what))
            }
        }
    }
}

/// The shared media ports of a media plane, opened on first use (one per address family and port).
#[derive(Default)]
pub struct PingMuxes {
    open: Mutex<HashMap<(bool, u16), Arc<PingMux>>>,
}

impl PingMuxes {
    /// The mux of `port` for clients of `client_ip`'s family, opened on the unspecified address if needed.
    pub fn get(&self, client_ip: IpAddr, port: u16, what: &'static str) -> std::io::Result<Arc<PingMux>> {
        let mut open = lock(&self.open);
        let key = (client_ip.is_ipv6(), port);
        if let Some(m) = open.get(&key) {
            return Ok(m.clone());
        }
        let m = Arc::new(PingMux::bind(super::video::unspecified(client_ip), port, what)?);
        open.insert(key, m.clone());
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(payload: u8, legacy: bool) -> PingRule {
        PingRule { client_ip: "127.0.0.1".parse().unwrap(), payload: [payload; 16], legacy }
    }

    fn ping(payload: u8) -> Vec<u8> {
        let mut p = vec![payload; 16];
        p.extend_from_slice(&7u32.to_be_bytes());
        p
    }

    #[test]
    fn pings_move_only_their_own_session() {
        let mux = PingMux::bind("127.0.0.1".parse().unwrap(), 0, "test").unwrap();
        let port = mux.inner.sock.local_addr().unwrap().port();
        let a = mux.route(rule(b'a', false)).unwrap();
        let b = mux.route(rule(b'b', false)).unwrap();
        let ca = UdpSocket::bind("127.0.0.1:0").unwrap();
        let cb = UdpSocket::bind("127.0.0.1:0").unwrap();
        ca.send_to(&ping(b'a'), ("127.0.0.1", port)).unwrap();
        assert_eq!(a.dest.wait_first(Duration::from_secs(2)), Some(ca.local_addr().unwrap()));
        // A legacy PING and a wrong payload move nobody.
        cb.send_to(b"PING", ("127.0.0.1", port)).unwrap();
        cb.send_to(&ping(b'z'), ("127.0.0.1", port)).unwrap();
        cb.send_to(&ping(b'b'), ("127.0.0.1", port)).unwrap();
        assert_eq!(b.dest.wait_first(Duration::from_secs(2)), Some(cb.local_addr().unwrap()));
        assert_eq!(a.dest.get(), Some(ca.local_addr().unwrap()), "b's pings never move a");
        assert_eq!(a.dest.generation(), 1);
        drop(a);
        assert_eq!(mux.routes(), 1);
    }

    #[test]
    fn legacy_ping_counts_only_where_allowed() {
        let mux = PingMux::bind("127.0.0.1".parse().unwrap(), 0, "test").unwrap();
        let port = mux.inner.sock.local_addr().unwrap().port();
        let strict = mux.route(rule(b's', false)).unwrap();
        let legacy = mux.route(rule(b'l', true)).unwrap();
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.send_to(b"PING", ("127.0.0.1", port)).unwrap();
        assert_eq!(legacy.dest.wait_first(Duration::from_secs(2)), Some(c.local_addr().unwrap()));
        assert_eq!(strict.dest.get(), None);
    }
}
