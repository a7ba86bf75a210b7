//! The audio sender of one session: tone (or any `AudioSource`) → Opus 48 kHz stereo at the negotiated
//! packet duration → core's audio packetizer (AES-128-CBC when negotiated, RS 4+2 FEC) → `sendmmsg` to
//! the address of the client's audio ping, on an absolute clock so packets never drift.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use lumen_core::audio::{AudioPacketizer, MAX_OPUS_LEN};
use lumen_core::crypto::{AudioCipher, RemoteInputKey};
use lumen_core::video::PacketBatch;
use lumen_encode::audio::{AudioSource, OpusEncoder};

use super::shared::Shared;
use super::timing::Ticker;
use super::udp_sys::BatchSender;
use super::video::{drain_incoming, unspecified, wait_for_ping, PingRule, PING_WAIT};
use crate::media_plane::EndReason;

/// What the audio sender needs.
pub struct AudioSetup {
    pub packet_ms: u32,
    pub key: Option<RemoteInputKey>,
    pub client_ip: IpAddr,
    /// Which pings are this session's.
    pub ping: PingRule,
    pub port: u16,
    pub bitrate_bps: i32,
}

pub fn spawn(shared: Arc<Shared>, setup: AudioSetup, source: Box<dyn AudioSource>) -> anyhow::Result<JoinHandle<()>> {
    let sock = UdpSocket::bind(SocketAddr::new(unspecified(setup.client_ip), setup.port))?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    Ok(std::thread::Builder::new().name("lumen-audio".into()).spawn(move || {
        if let Err(e) = run(&shared, setup, sock, source) {
            tracing::error!(error = %e, "audio sender failed");
            shared.end(EndReason::Error(format!("audio: {e}")));
        }
    })?)
}

fn run(shared: &Shared, setup: AudioSetup, sock: UdpSocket, mut source: Box<dyn AudioSource>) -> anyhow::Result<()> {
    let Some(mut dest) = wait_for_ping(shared, &sock, &setup.ping, "audio") else {
        if !shared.stopping() {
            tracing::warn!("no audio ping from the client within {:?}", PING_WAIT);
        }
        return Ok(());
    };
    let mut opus = OpusEncoder::new(setup.packet_ms, setup.bitrate_bps)?;
    let mut packetizer = AudioPacketizer::new(setup.packet_ms, setup.key.as_ref().map(AudioCipher::new));
    let mut out = BatchSender::new(sock.try_clone()?, dest);
    let mut batch = PacketBatch::new();
    let mut pkt = vec![0u8; MAX_OPUS_LEN];
    // No resync: audio packets keep their exact cadence.
    let mut ticker = Ticker::new(Duration::from_millis(setup.packet_ms as u64), false);
    let mut sent = 0u64;
    while !shared.stopping() {
        ticker.wait();
        if sent.is_multiple_of(50) && drain_incoming(&sock, &setup.ping, &mut dest, "audio") {
            out.set_dest(dest);
        }
        let n = opus.encode_from(source.as_mut(), &mut pkt)?;
        if let Err(e) = packetizer.packetize(&pkt[..n], &mut batch) {
            tracing::warn!(error = %e, "audio: packet dropped");
            continue;
        }
        if let Err(e) = out.send_each(batch.iter()) {
            tracing::warn!(error = %e, "audio send failed");
        }
        sent += 1;
    }
    tracing::info!(packets = sent, "audio sender stopped");
    Ok(())
}
