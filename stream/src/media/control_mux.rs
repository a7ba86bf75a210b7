//! The ENet control port (BASE+10) shared by every session: [`ControlMux`] owns one `rusty_enet` host on a
//! thread of its own. A client's ENet connect is matched to its session by the `X-SS-Connect-Data` it
//! carries (and its address; address only for a client without connect data); its peer is then the
//! session's, and its packets go to that session's control thread through a bounded inbox. Sessions send
//! through the mux's outbox; nothing of one session reaches another's peer.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use rusty_enet::{Event, Host, HostSettings, Packet, PeerID};

use super::control::GuardedSocket;
use crate::host::lock;

/// Bytes of one control packet carried without allocation (larger ones are refused with a log line: no
/// Moonlight control message comes near it).
pub const MAX_CONTROL_PACKET: usize = 1024;
/// How long the mux sleeps at most while nothing arrives (ENet's timers tick at this granularity, and
/// host messages wait at most this long).
const IDLE_WAIT: Duration = Duration::from_millis(5);

/// One control packet, in place.
#[derive(Clone, Copy)]
pub struct ControlBytes {
    len: u16,
    buf: [u8; MAX_CONTROL_PACKET],
}

impl ControlBytes {
    /// `None` when `b` is longer than [`MAX_CONTROL_PACKET`].
    pub fn new(b: &[u8]) -> Option<Self> {
        let mut buf = [0u8; MAX_CONTROL_PACKET];
        buf.get_mut(..b.len())?.copy_from_slice(b);
        Some(Self { len: b.len() as u16, buf })
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..usize::from(self.len)]
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

/// What the mux tells a session.
#[allow(clippy::large_enum_variant)] // packets travel in place on purpose: no allocation per packet
pub enum ControlIn {
    /// The session's client connected from this address.
    Connected(SocketAddr),
    /// Its peer disconnected or timed out.
    Disconnected,
    /// A packet from its peer.
    Packet(ControlBytes),
}

#[allow(clippy::large_enum_variant)] // packets travel in place on purpose: no allocation per packet
enum ControlOut {
    Send {
        route: u64,
        bytes: ControlBytes,
    },
    /// Disconnect the route's peer once what was queued before is delivered.
    Disconnect {
        route: u64,
    },
    /// The session is gone: forget the route (its peer, if still there, is disconnected).
    Forget {
        route: u64,
    },
}

struct Route {
    client_ip: IpAddr,
    connect_data: Option<u32>,
    inbox: SyncSender<ControlIn>,
    peer: Option<PeerID>,
}

struct Inner {
    routes: Mutex<HashMap<u64, Route>>,
    outbox: SyncSender<ControlOut>,
    next_id: AtomicU64,
    stop: AtomicBool,
}

/// The shared control port and its ENet thread (stopped when the mux is dropped).
pub struct ControlMux {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
    port: u16,
}

/// A session's place on the control port. Dropping it forgets the route.
pub struct ControlRoute {
    id: u64,
    pub inbox: Receiver<ControlIn>,
    outbox: SyncSender<ControlOut>,
    mux: Weak<Inner>,
}

impl ControlRoute {
    /// Queues a reliable packet for the session's peer; `false` (logged) when the mux is behind or gone.
    pub fn send(&self, b: &[u8]) -> bool {
        let Some(bytes) = ControlBytes::new(b) else {
            tracing::error!(len = b.len(), "control: host message too long");
            return false;
        };
        self.push(ControlOut::Send { route: self.id, bytes })
    }

    /// Disconnects the session's peer after what was queued.
    pub fn disconnect(&self) {
        self.push(ControlOut::Disconnect { route: self.id });
    }

    fn push(&self, m: ControlOut) -> bool {
        match self.outbox.try_send(m) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                tracing::warn!("control: the control port's queue is full; message dropped");
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

impl Drop for ControlRoute {
    fn drop(&mut self) {
        // Through the outbox, so it comes after the session's last messages; straight from the table if the
        // outbox is full.
        if self.outbox.try_send(ControlOut::Forget { route: self.id }).is_err() {
            if let Some(m) = self.mux.upgrade() {
                lock(&m.routes).remove(&self.id);
            }
        }
    }
}

impl ControlMux {
    /// Binds `bind:port` and starts the ENet thread.
    pub fn bind(bind: IpAddr, port: u16) -> std::io::Result<Self> {
        let sock = UdpSocket::bind(SocketAddr::new(bind, port))?;
        let port = sock.local_addr()?.port();
        let (outbox, out_rx) = sync_channel(1024);
        let inner = Arc::new(Inner {
            routes: Mutex::new(HashMap::new()),
            outbox,
            next_id: AtomicU64::new(1),
            stop: AtomicBool::new(false),
        });
        let m = inner.clone();
        let thread = std::thread::Builder::new().name("lumen-control-mux".into()).spawn(move || {
            if let Err(e) = serve(&m, sock, &out_rx) {
                tracing::error!(error = %e, "the shared control port failed");
            }
        })?;
        tracing::info!(port, "shared control port open");
        Ok(Self { inner, thread: Some(thread), port })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Adds a session: an ENet connect from `client_ip` carrying `connect_data` (any, when `None`) becomes
    /// its peer.
    pub fn route(&self, client_ip: IpAddr, connect_data: Option<u32>) -> ControlRoute {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, inbox) = sync_channel(256);
        lock(&self.inner.routes).insert(id, Route { client_ip, connect_data, inbox: tx, peer: None });
        ControlRoute { id, inbox, outbox: self.inner.outbox.clone(), mux: Arc::downgrade(&self.inner) }
    }
}

impl Drop for ControlMux {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(m: &Inner, sock: UdpSocket, out_rx: &Receiver<ControlOut>) -> anyhow::Result<()> {
    let settings = HostSettings { peer_limit: 256, channel_limit: 32, ..Default::default() };
    // A second handle on the same socket, only to sleep until a datagram arrives (ENet's service polls).
    let waker = sock.try_clone()?;
    let mut host = Host::new(GuardedSocket::new(sock), settings).map_err(|e| anyhow::anyhow!("ENet host: {e:?}"))?;
    let mut peers: HashMap<PeerID, u64> = HashMap::new();
    while !m.stop.load(Ordering::Relaxed) {
        loop {
            let ev = match host.service() {
                Ok(Some(ev)) => ev,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "control: socket error");
                    break;
                }
            };
            match ev {
                Event::Connect { peer: p, data } => {
                    let from = p.address();
                    let mut routes = lock(&m.routes);
                    let ip = from.map(|a| a.ip());
                    let free = |r: &Route| Some(r.client_ip) == ip && r.peer.is_none();
                    let hit = routes
                        .iter()
                        .find(|(_, r)| free(r) && r.connect_data == Some(data))
                        .or_else(|| routes.iter().find(|(_, r)| free(r) && r.connect_data.is_none()))
                        .map(|(id, _)| *id);
                    let (Some(id), Some(addr)) = (hit, from) else {
                        drop(routes);
                        let ip = ip.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
                        crate::noise::record(
                            ip,
                            "control: an ENet connection for no session",
                            &format_args!("{from:?} connect data {data:#x}"),
                        );
                        p.disconnect_now(0);
                        continue;
                    };
                    p.set_timeout(0, 5000, 10_000);
                    if let Some(r) = routes.get_mut(&id) {
                        r.peer = Some(p.id());
                        let _ = r.inbox.try_send(ControlIn::Connected(addr));
                    }
                    peers.insert(p.id(), id);
                }
                Event::Disconnect { peer: p, .. } => {
                    if let Some(id) = peers.remove(&p.id()) {
                        if let Some(r) = lock(&m.routes).get_mut(&id) {
                            r.peer = None;
                            let _ = r.inbox.try_send(ControlIn::Disconnected);
                        }
                    }
                }
                Event::Receive { peer: p, packet, .. } => {
                    let Some(id) = peers.get(&p.id()) else { continue };
                    let Some(bytes) = ControlBytes::new(packet.data()) else {
                        tracing::warn!(len = packet.data().len(), "control: oversized packet dropped");
                        continue;
                    };
                    if let Some(r) = lock(&m.routes).get(id) {
                        if r.inbox.try_send(ControlIn::Packet(bytes)).is_err() {
                            tracing::debug!("control: a session's inbox is full; packet dropped");
                        }
                    }
                }
            }
        }
        while let Ok(msg) = out_rx.try_recv() {
            let (route, bytes, disconnect, forget) = match msg {
                ControlOut::Send { route, bytes } => (route, Some(bytes), false, false),
                ControlOut::Disconnect { route } => (route, None, true, false),
                ControlOut::Forget { route } => (route, None, true, true),
            };
            let peer = if forget {
                lock(&m.routes).remove(&route).and_then(|r| r.peer)
            } else {
                lock(&m.routes).get(&route).and_then(|r| r.peer)
            };
            let Some(pid) = peer else { continue };
            if let Some(p) = host.get_peer_mut(pid) {
                if let Some(b) = &bytes {
                    let _ = p.send(0, &Packet::reliable(b.as_slice()));
                }
                if disconnect {
                    p.disconnect_later(0);
                }
            }
            if forget {
                peers.remove(&pid);
            }
        }
        host.flush();
        if let Err(e) = super::udp_sys::wait_readable(&waker, IDLE_WAIT) {
            tracing::warn!(error = %e, "control: poll failed");
            std::thread::sleep(IDLE_WAIT);
        }
    }
    Ok(())
}

/// The shared control ports of a media plane, opened on first use (one per address family and port).
#[derive(Default)]
pub struct ControlMuxes {
    open: Mutex<HashMap<(bool, u16), Arc<ControlMux>>>,
}

impl ControlMuxes {
    /// The mux of `port` for clients of `client_ip`'s family, opened on the unspecified address if needed.
    pub fn get(&self, client_ip: IpAddr, port: u16) -> std::io::Result<Arc<ControlMux>> {
        let mut open = lock(&self.open);
        let key = (client_ip.is_ipv6(), port);
        if let Some(m) = open.get(&key) {
            return Ok(m.clone());
        }
        let m = Arc::new(ControlMux::bind(super::video::unspecified(client_ip), port)?);
        open.insert(key, m.clone());
        Ok(m)
    }
}
