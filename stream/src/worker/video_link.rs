//! A worker's video path: each access unit's bytes go into the session's video ring ([`SharedRing`], mapped
//! once by both processes) and a 41-byte [`RingUnit`] notice goes on the video link, a `SOCK_SEQPACKET`
//! socketpair. The host's video sender reads the notices itself ([`RingSource`]): one wake-up per unit, one
//! copy out of the ring into its own buffer, no allocation once its buffers have grown. The worker never
//! waits: a full ring or a full link drops the unit (and the encoder's next frame is an IDR).

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lumen_core::link::{RingUnit, RING_UNIT_LEN};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::net::{recv, send, socketpair, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

use super::shm_ring::{SharedRing, RING_CAPACITY};
use crate::media::feed::{AccessUnit, FeedEnded, FrameKind, Job, UnitSource};
use crate::media::shared::Shared;
use crate::media::timing::median_p99;

/// The host's side of a worker's video path.
pub struct VideoLink {
    pub ring: Arc<SharedRing>,
    pub sock: Arc<OwnedFd>,
}

/// The worker's ends (mapped to `VIDEO_RING_FD` and `VIDEO_LINK_FD` at spawn).
pub struct WorkerVideoEnds {
    pub ring: OwnedFd,
    pub sock: OwnedFd,
}

impl VideoLink {
    /// Creates the ring and the socketpair.
    pub fn create() -> std::io::Result<(Self, WorkerVideoEnds)> {
        let (ring, ring_fd) = SharedRing::create(RING_CAPACITY)?;
        let (host, worker) = socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)?;
        Ok((Self { ring: Arc::new(ring), sock: Arc::new(host) }, WorkerVideoEnds { ring: ring_fd, sock: worker }))
    }
}

/// What sending a notice came to (worker side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Sent,
    /// The link is full (nobody reads it: no stream attached, or the sender is behind): the unit is dropped.
    Dropped,
    /// The host is gone.
    Gone,
}

/// Sends one notice without waiting (worker side).
pub fn send_notice(sock: &OwnedFd, unit: &RingUnit) -> Notice {
    match send(sock, &unit.encode(), SendFlags::DONTWAIT | SendFlags::NOSIGNAL) {
        Ok(_) => Notice::Sent,
        Err(e) if e == rustix::io::Errno::AGAIN => Notice::Dropped,
        Err(_) => Notice::Gone,
    }
}

pub use crate::media::timing::monotonic_ns;

/// The video sender's source of units from the worker.
pub struct RingSource {
    shared: Arc<Shared>,
    ring: Arc<SharedRing>,
    sock: Arc<OwnedFd>,
    spare: Vec<AccessUnit>,
    /// The IDR request generation the last IDR answered.
    answered: u64,
    hops: HopStats,
}

impl RingSource {
    /// Attaches to `link`: notices queued before now (units encoded before the client pinged) are skipped.
    pub fn attach(shared: Arc<Shared>, link: &VideoLink, session: u64) -> Self {
        let mut buf = [0u8; RING_UNIT_LEN + 1];
        while let Ok((_, n)) = recv(&*link.sock, &mut buf[..], RecvFlags::DONTWAIT) {
            if n == 0 {
                break;
            }
            if let Ok(u) = RingUnit::decode(&buf[..n]) {
                link.ring.set_read_pos(u.start.saturating_add(u64::from(u.len)));
            }
        }
        let answered = shared.idr.generation();
        let spare = (0..3)
            .map(|_| {
                let mut au = AccessUnit::default();
                au.data.reserve(512 * 1024);
                au
            })
            .collect();
        Self { shared, ring: link.ring.clone(), sock: link.sock.clone(), spare, answered, hops: HopStats::new(session) }
    }
}

impl RingSource {
    /// Takes the spare buffers of `old`, the source this one replaces at a hand-over.
    pub fn adopt(&mut self, old: &mut RingSource) {
        self.spare.append(&mut old.spare);
    }
}

impl UnitSource for RingSource {
    fn next(&mut self, timeout: Duration) -> Result<Option<Job>, FeedEnded> {
        let mut fds = [PollFd::new(&*self.sock, PollFlags::IN)];
        let ts = Timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: i64::from(timeout.subsec_nanos()) };
        match poll(&mut fds, Some(&ts)) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) if e == rustix::io::Errno::INTR => return Ok(None),
            Err(_) => return Err(FeedEnded),
        }
        let mut buf = [0u8; RING_UNIT_LEN + 1];
        let n = match recv(&*self.sock, &mut buf[..], RecvFlags::DONTWAIT) {
            Ok((_, 0)) => return Err(FeedEnded),
            Ok((_, n)) => n,
            Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::INTR => return Ok(None),
            Err(_) => return Err(FeedEnded),
        };
        let unit = match RingUnit::decode(&buf[..n]) {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(error = %e, "bad notice on the video link");
                return Err(FeedEnded);
            }
        };
        let Some(mut au) = self.spare.pop() else {
            tracing::warn!("video: no free buffer; unit dropped");
            self.shared.request_idr_internal();
            return Ok(None);
        };
        let len = unit.len as usize;
        if !self.ring.read_into(unit.start, len, &mut au.data) {
            tracing::error!(start = unit.start, len, "a notice outside the video ring");
            self.spare.push(au);
            return Err(FeedEnded);
        }
        self.ring.set_read_pos(unit.start.saturating_add(u64::from(unit.len)));
        let now_ns = monotonic_ns();
        self.hops.record(now_ns.saturating_sub(unit.meta.sent_ns));
        au.kind = Some(if unit.meta.idr { FrameKind::Idr } else { FrameKind::P });
        au.frame_index = unit.meta.frame_no;
        au.encode_time = Duration::from_micros(u64::from(unit.meta.encode_us));
        if unit.meta.idr {
            self.answered = self.shared.idr.generation();
        }
        let age = Duration::from_nanos(now_ns.saturating_sub(unit.meta.ready_ns));
        let now = Instant::now();
        let ready_at = now.checked_sub(age).unwrap_or(now);
        Ok(Some(Job { au, ready_at, idr_answered: self.answered }))
    }

    fn recycle(&mut self, au: AccessUnit) {
        self.spare.push(au);
    }
}

impl Drop for RingSource {
    fn drop(&mut self) {
        self.hops.log();
    }
}

/// The hop of each access unit (the worker's notice → the sender has its bytes), in a ring allocated once,
/// logged as median / p99 every 600 units and when the stream ends.
pub struct HopStats {
    session: u64,
    ring: Vec<u32>,
    n: usize,
}

impl HopStats {
    const RING: usize = 1024;

    pub fn new(session: u64) -> Self {
        Self { session, ring: vec![0; Self::RING], n: 0 }
    }

    pub fn record(&mut self, ns: u64) {
        self.ring[self.n % Self::RING] = (ns / 1000).min(u64::from(u32::MAX)) as u32;
        self.n += 1;
        if self.n.is_multiple_of(600) {
            self.log();
        }
    }

    pub fn log(&self) {
        let k = self.n.min(Self::RING);
        if k == 0 {
            return;
        }
        let mut v = self.ring[..k].to_vec();
        let (p50, p99) = median_p99(&mut v);
        tracing::info!(session = self.session, units = self.n, hop_us_p50 = p50, hop_us_p99 = p99, "worker link hop");
    }
}
