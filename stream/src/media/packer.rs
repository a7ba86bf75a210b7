//! What the video sender packetizes with: Moonlight's packetizer (GF(2⁸) FEC blocks, optional AES-GCM) for
//! stock clients, or the lumen transport (`lumen_core::transport`: one GF(2¹⁶) block per frame,
//! ChaCha20-Poly1305 per datagram, capture timestamp, FEC following the client's loss reports) for clients
//! that accepted it in ANNOUNCE (`docs/wire.md` §12).

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::shared::Shared;
use lumen_core::transport::{derive_video_key, fec_for_loss, SealedVideoSender, TransportSalt};
use lumen_core::video::{FrameMeta, GcmVideo, PacketBatch, VideoPacketizer, VideoParams};

/// The lumen transport of a session, as negotiated.
#[derive(Clone, Copy)]
pub struct LumenSetup {
    /// The session's `rikey`.
    pub rikey: [u8; 16],
    /// The salt of the host's offer the client accepted.
    pub salt: [u8; 16],
    /// The FEC percentage to start from (and never go below).
    pub fec_percent: u16,
}

/// The video packetizer of one session.
pub enum Packer {
    /// Stock Moonlight clients.
    Moonlight(Box<VideoPacketizer>),
    /// lumen clients.
    Lumen { tx: Box<SealedVideoSender>, base_fec: u16 },
}

impl Packer {
    /// Moonlight's packetizer, sealing with AES-GCM under `encrypt_key` when video encryption was negotiated.
    pub fn moonlight(params: VideoParams, encrypt_key: Option<[u8; 16]>) -> anyhow::Result<Self> {
        let mut p = VideoPacketizer::new(params)?;
        if let Some(k) = encrypt_key {
            p = p.with_sealer(Box::new(GcmVideo::new(&k)));
        }
        Ok(Self::Moonlight(Box::new(p)))
    }

    /// The lumen transport with datagrams of at most `max_datagram` bytes.
    pub fn lumen(setup: &LumenSetup, max_datagram: usize, min_parity: u16) -> anyhow::Result<Self> {
        let key = derive_video_key(&setup.rikey, &TransportSalt(setup.salt));
        let tx = SealedVideoSender::new(&key, max_datagram, setup.fec_percent, min_parity)?;
        tracing::info!(datagram = tx.datagram_len(), fec = setup.fec_percent, "video: lumen transport");
        Ok(Self::Lumen { tx: Box::new(tx), base_fec: setup.fec_percent })
    }

    /// Bytes of a datagram.
    pub fn datagram_len(&self) -> usize {
        match self {
            Self::Moonlight(p) => p.datagram_len(),
            Self::Lumen { tx, .. } => tx.datagram_len(),
        }
    }

    /// Packetizes one access unit into `batch`; `age` is how long ago the frame was ready (its capture).
    pub fn packetize(
        &mut self,
        shared: &Shared,
        meta: &FrameMeta,
        age: Duration,
        au: &[u8],
        batch: &mut PacketBatch,
    ) -> anyhow::Result<()> {
        match self {
            Self::Moonlight(p) => {
                p.packetize(meta, au, batch)?;
            }
            Self::Lumen { tx, base_fec } => {
                let pct = fec_for_loss(*base_fec, shared.loss_bp.load(Ordering::Relaxed));
                if pct != tx.fec_percentage() {
                    tracing::info!(from = tx.fec_percentage(), to = pct, "video: lumen FEC follows the reported loss");
                    tx.set_fec_percentage(pct);
                }
                tx.packetize(meta, capture_us(age), au, batch)?;
            }
        }
        Ok(())
    }
}

/// The capture time of a frame ready `age` ago: µs since the Unix epoch on `CLOCK_REALTIME`, the clock a
/// client on the same machine reads too (the latency probe, `docs/lumen-client.md`).
fn capture_us(age: Duration) -> u64 {
    SystemTime::now()
        .checked_sub(age)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_micros() as u64)
}
