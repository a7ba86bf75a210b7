//! The video sender of one session: access units from the session's [`VideoFeed`] (the worker process
//! over its link, or an encoder thread of this process) → core packetizer with FEC → optional AES-GCM →
//! paced GSO / `sendmmsg` to the address the client's UDP ping came from. Feed and sender meet in bounded
//! The sender pulls units from the feed's `UnitSource` (the worker's video ring, or an in-process pool) into
//! a fixed set of buffers, so the steady state allocates nothing and neither side waits on the other: when
//! no buffer is free the feed skips (or drops) the frame.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::feed::{FeedEnded, FrameKind, VideoFeed};
use super::packer::{LumenSetup, Packer};
use super::ping_mux::{Destination, PingRoute};
use super::shared::Shared;
use super::timing::Timings;
use super::udp_sys::BatchSender;
use crate::media_plane::EndReason;
use lumen_core::pacing::{Pacer, PacerConfig};
use lumen_core::video::{FrameMeta, FrameType, PacketBatch, VideoParams};

/// How long the sender waits for the client's first ping.
pub const PING_WAIT: Duration = Duration::from_secs(15);

/// What the video pipeline of a session needs.
pub struct VideoSetup {
    /// Frames per second (for the pacer).
    pub fps: u32,
    pub packet_size: usize,
    pub fec_percent: u8,
    pub min_fec_packets: u16,
    /// AES-128-GCM key when video encryption was negotiated.
    pub encrypt_key: Option<[u8; 16]>,
    /// Random datagram loss injected before sending (tests only), 0.0–1.0.
    pub inject_loss: f64,
    /// The lumen transport instead of Moonlight's video datagrams, when the client accepted it.
    pub lumen: Option<LumenSetup>,
}

/// Starts the sender on the session's route of the video port (it starts the feed once the client pinged).
pub fn spawn(
    shared: Arc<Shared>,
    setup: VideoSetup,
    route: PingRoute,
    feed: Box<dyn VideoFeed>,
) -> anyhow::Result<JoinHandle<()>> {
    Ok(std::thread::Builder::new().name("lumen-video-send".into()).spawn(move || {
        if let Err(e) = sender(shared.clone(), setup, route, feed) {
            tracing::error!(error = %e, "video sender failed");
            shared.end(EndReason::Error(format!("video: {e}")));
        }
    })?)
}

pub(crate) fn unspecified(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}

/// Largest datagram accepted as a client ping (Moonlight sends "PING" or a 16-byte Sunshine payload + counter).
pub const MAX_PING: usize = 64;

/// Which datagrams are pings of this session: from the client's address, and carrying the session's
/// `X-SS-Ping-Payload` (first 16 bytes, then the client's counter) — or, only for clients that did not announce
/// ping payloads (`x-ml-general.featureFlags` without 0x2), the legacy 4-byte `PING`. A datagram without the
/// token never moves a session's destination.
#[derive(Debug, Clone, Copy)]
pub struct PingRule {
    pub client_ip: IpAddr,
    pub payload: [u8; 16],
    pub legacy: bool,
}

impl PingRule {
    pub fn accepts(&self, from: IpAddr, d: &[u8]) -> bool {
        from == self.client_ip
            && d.len() <= MAX_PING
            && ((d.len() >= 20 && d[..16] == self.payload) || (self.legacy && d == b"PING"))
    }
}

/// Waits for the client's first ping on the session's route; `None` on stop or timeout.
pub(crate) fn wait_for_ping(shared: &Shared, dest: &Destination) -> Option<SocketAddr> {
    let deadline = Instant::now() + PING_WAIT;
    while !shared.stopping() && Instant::now() < deadline {
        if let Some(a) = dest.wait_first(Duration::from_millis(100)) {
            return Some(a);
        }
    }
    None
}

/// Follows the session's destination: `true` (with `dest` updated) when a ping moved it since `seen`.
pub(crate) fn follow_dest(cell: &Destination, seen: &mut u64, dest: &mut SocketAddr, what: &str) -> bool {
    let g = cell.generation();
    if g == *seen {
        return false;
    }
    *seen = g;
    match cell.get() {
        Some(a) if a != *dest => {
            tracing::info!(from = %a, what, "client ping from a new port: following it");
            *dest = a;
            true
        }
        _ => false,
    }
}

fn sender(shared: Arc<Shared>, setup: VideoSetup, route: PingRoute, feed: Box<dyn VideoFeed>) -> anyhow::Result<()> {
    let Some(mut dest) = wait_for_ping(&shared, &route.dest) else {
        if !shared.stopping() {
            tracing::warn!("no video ping from the client within {:?}", PING_WAIT);
            shared.end(EndReason::ClientGone);
        }
        return Ok(());
    };
    if setup.inject_loss > 0.0 {
        tracing::warn!(pct = setup.inject_loss * 100.0, "test hook: injecting random video loss");
    }
    let params = VideoParams {
        packet_size: setup.packet_size,
        fec_percentage: setup.fec_percent,
        min_fec_packets: setup.min_fec_packets,
    };
    let mut packetizer = match &setup.lumen {
        Some(l) => Packer::lumen(l, setup.packet_size, setup.min_fec_packets)?,
        None => Packer::moonlight(params, setup.encrypt_key)?,
    };
    let fps = setup.fps.max(1);
    let mut pacer = Pacer::new(PacerConfig::for_stream(packetizer.datagram_len(), fps));
    let mut seen = route.dest.generation();
    let mut out = BatchSender::new(route.sock.try_clone()?, dest);

    let mut source = feed.start(shared.clone())?;

    let mut batch = PacketBatch::new();
    let mut frame_index: u32 = 0;
    let mut rng_state: u64 = 0x9e37_79b9_7f4a_7c15 ^ (shared.started.elapsed().as_nanos() as u64);
    let epoch = Instant::now();
    let mut timings = Timings::new("video");
    while !shared.stopping() {
        if follow_dest(&route.dest, &mut seen, &mut dest, "video") {
            out.set_dest(dest);
        }
        let job = match source.next(Duration::from_millis(100)) {
            Ok(Some(j)) => j,
            Ok(None) => continue,
            Err(FeedEnded) => break,
        };
        if job.au.kind != Some(FrameKind::Idr) && shared.idr.is_stale(job.idr_answered) {
            // Encoded before an IDR request: the client discards it while it waits for the IDR.
            tracing::debug!("video: P-frame from before an IDR request dropped");
            source.recycle(job.au);
            continue;
        }
        let t0 = Instant::now();
        frame_index = frame_index.wrapping_add(1);
        let latency = t0.saturating_duration_since(job.ready_at);
        shared.host_latency_us.store(latency.as_micros() as u64, Ordering::Relaxed);
        shared.video_bytes.fetch_add(job.au.data.len() as u64, Ordering::Relaxed);
        let meta = FrameMeta {
            frame_index,
            frame_type: if job.au.kind == Some(FrameKind::Idr) { FrameType::Idr } else { FrameType::P },
            host_latency: (latency.as_micros() / 100).min(u16::MAX as u128) as u16,
            rtp_timestamp: (t0.duration_since(epoch).as_micros() * 9 / 100) as u32,
        };
        if let Err(e) = packetizer.packetize(&shared, &meta, latency, &job.au.data, &mut batch) {
            tracing::warn!(error = %e, bytes = job.au.data.len(), "video: frame not packetized; asking for an IDR");
            shared.request_idr_internal();
            source.recycle(job.au);
            continue;
        }
        let sent = if setup.inject_loss > 0.0 {
            let threshold = (setup.inject_loss.clamp(0.0, 1.0) * u32::MAX as f64) as u64;
            let kept = batch.iter().filter(|_| {
                // xorshift64*: cheap, allocation-free randomness for test loss.
                rng_state ^= rng_state >> 12;
                rng_state ^= rng_state << 25;
                rng_state ^= rng_state >> 27;
                (rng_state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) >= threshold
            });
            out.send_each(kept)
        } else {
            send_paced(&mut out, &mut pacer, &batch, epoch)
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "video send failed");
        }
        let t1 = Instant::now();
        timings.record(job.au.encode_time, t1 - t0, t1.saturating_duration_since(job.ready_at));
        shared.frames_sent.store(frame_index as u64, Ordering::SeqCst);
        if meta.frame_type == FrameType::Idr {
            shared.idr.idr_sent(frame_index as u64);
        }
        source.recycle(job.au);
    }
    drop(source);
    timings.log_summary();
    Ok(())
}

fn send_paced(out: &mut BatchSender, pacer: &mut Pacer, batch: &PacketBatch, epoch: Instant) -> std::io::Result<()> {
    if !batch.is_uniform() {
        return out.send_each(batch.iter());
    }
    let stride = batch.stride();
    let all = batch.as_contiguous();
    let now_ns = epoch.elapsed().as_nanos() as u64;
    let sched = pacer.plan(now_ns, batch.len(), stride);
    for k in 0..sched.bursts() {
        let due = sched.burst_due(k);
        let now = epoch.elapsed().as_nanos() as u64;
        if due > now {
            std::thread::sleep(Duration::from_nanos(due - now));
        }
        let r = sched.burst_range(k);
        out.send_uniform(&all[r.start * stride..r.end * stride], stride)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_sessions_pings_count() {
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        let mut ping = b"0123456789ABCDEF".to_vec();
        ping.extend_from_slice(&1u32.to_be_bytes());
        let tokened = PingRule { client_ip: ip, payload: *b"0123456789ABCDEF", legacy: false };
        assert!(tokened.accepts(ip, &ping));
        assert!(!tokened.accepts(ip, b"PING"), "a client that announced payloads must use them");
        assert!(!tokened.accepts("10.0.0.8".parse().unwrap(), &ping), "another address");
        let mut other = b"FEDCBA9876543210".to_vec();
        other.extend_from_slice(&1u32.to_be_bytes());
        assert!(!tokened.accepts(ip, &other), "another session's payload (same NAT address)");
        assert!(!tokened.accepts(ip, &ping[..16]), "payload without its counter");
        assert!(!tokened.accepts(ip, &[0u8; 64]), "junk of ping size");
        let legacy = PingRule { legacy: true, ..tokened };
        assert!(legacy.accepts(ip, b"PING") && legacy.accepts(ip, &ping));
        assert!(!legacy.accepts(ip, b"PONG!"));
    }
}
