//! The audio sender of one session: Opus packets from the session's [`AudioFeed`] (the worker's audio
//! clock paces them) → core's audio packetizer (AES-128-CBC when negotiated, RS 4+2 FEC) → `sendmmsg` to
//! the address of the client's audio ping (on the shared audio port, `super::ping_mux`). Feed and sender share a fixed pool of packet buffers.

use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use lumen_core::audio::{AudioPacketizer, MAX_OPUS_LEN};
use lumen_core::crypto::{AudioCipher, RemoteInputKey};
use lumen_core::video::PacketBatch;

use super::feed::{AudioFeed, AudioPacket, AudioPool};
use super::ping_mux::PingRoute;
use super::shared::Shared;
use super::timing::{median_p99, monotonic_ns};
use super::udp_sys::BatchSender;
use super::video::{follow_dest, wait_for_ping, PING_WAIT};
use crate::media_plane::EndReason;

/// Packet buffers in flight between the audio feed and the sender (100 ms at 5 ms packets).
const POOL: usize = 20;

/// What the audio sender needs.
pub struct AudioSetup {
    pub packet_ms: u32,
    pub key: Option<RemoteInputKey>,
}

/// Starts the sender on the session's route of the audio port.
pub fn spawn(
    shared: Arc<Shared>,
    setup: AudioSetup,
    route: PingRoute,
    feed: Box<dyn AudioFeed>,
) -> anyhow::Result<JoinHandle<()>> {
    Ok(std::thread::Builder::new().name("lumen-audio".into()).spawn(move || {
        if let Err(e) = run(&shared, setup, route, feed) {
            tracing::error!(error = %e, "audio sender failed");
            shared.end(EndReason::Error(format!("audio: {e}")));
        }
    })?)
}

fn run(shared: &Arc<Shared>, setup: AudioSetup, route: PingRoute, feed: Box<dyn AudioFeed>) -> anyhow::Result<()> {
    let Some(mut dest) = wait_for_ping(shared, &route.dest) else {
        if !shared.stopping() {
            tracing::warn!("no audio ping from the client within {:?}", PING_WAIT);
        }
        return Ok(());
    };
    let (full_tx, full_rx) = sync_channel::<AudioPacket>(POOL);
    let (free_tx, free_rx) = sync_channel::<AudioPacket>(POOL);
    for _ in 0..POOL {
        let p = AudioPacket { data: Vec::with_capacity(MAX_OPUS_LEN), heard_ns: 0 };
        free_tx.send(p).map_err(|_| anyhow::anyhow!("pool channel closed"))?;
    }
    let mut latency = LatencyRing::default();
    let feed_thread = feed.start(shared.clone(), AudioPool { free_rx, full_tx })?;
    let mut packetizer = AudioPacketizer::new(setup.packet_ms, setup.key.as_ref().map(AudioCipher::new));
    let mut seen = route.dest.generation();
    let mut out = BatchSender::new(route.sock.try_clone()?, dest);
    let mut batch = PacketBatch::new();
    let mut sent = 0u64;
    while !shared.stopping() {
        let pkt = match full_rx.recv_timeout(Duration::from_millis(50)) {
            Ok(p) => p,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if follow_dest(&route.dest, &mut seen, &mut dest, "audio") {
            out.set_dest(dest);
        }
        match packetizer.packetize(&pkt.data, &mut batch) {
            Ok(()) => {
                if let Err(e) = out.send_each(batch.iter()) {
                    tracing::warn!(error = %e, "audio send failed");
                }
                if pkt.heard_ns != 0 {
                    latency.record(monotonic_ns().saturating_sub(pkt.heard_ns));
                }
                sent += 1;
            }
            Err(e) => tracing::warn!(error = %e, "audio: packet dropped"),
        }
        // The feed is gone once its end of the free channel is: then the sender ends too.
        if free_tx.send(pkt).is_err() {
            break;
        }
    }
    drop(full_rx);
    drop(free_tx);
    if let Some(t) = feed_thread {
        let _ = t.join();
    }
    latency.log();
    tracing::info!(packets = sent, "audio sender stopped");
    Ok(())
}

/// The audio host latency of the last 1024 packets that carried sound (the app's samples reach the session's
/// audio server → their packet's datagrams are sent), allocated once, logged as median / p99 at the end.
struct LatencyRing {
    ring: Vec<u32>,
    n: usize,
}

impl Default for LatencyRing {
    fn default() -> Self {
        Self { ring: vec![0; 1024], n: 0 }
    }
}

impl LatencyRing {
    fn record(&mut self, ns: u64) {
        let k = self.n % self.ring.len();
        self.ring[k] = (ns / 1000).min(u64::from(u32::MAX)) as u32;
        self.n += 1;
    }

    fn log(&self) {
        let k = self.n.min(self.ring.len());
        if k == 0 {
            return;
        }
        let mut v = self.ring[..k].to_vec();
        let (p50, p99) = median_p99(&mut v);
        tracing::info!(packets = self.n, us_p50 = p50, us_p99 = p99, "audio host latency (heard → sent)");
    }
}
