//! [`MoonlightMedia`], the real [`MediaPlane`], and [`MoonlightSession`], one streaming session: it
//! owns the session's threads (video encoder and sender, audio, control) and frees everything when
//! stopped or when the client goes away.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;

use lumen_encode::{Codec, ColourSpace, EncoderConfig, Range};

use super::audio::{self, AudioSetup};
use super::control::{self, ControlSetup, HostMessage};
use super::feed::{EncoderFeed, VideoFeed};
use super::shared::Shared;
use super::video::{self, PingRule, VideoSetup};
use super::MediaOptions;
use crate::media_plane::{CodecSupport, EndReason, MediaPlane, MediaSession, MediaStart};
use crate::stream_config::VideoCodec;

/// Fewest parity shards per FEC block, whatever the client's minimum: small P-frames (4–6 data shards)
/// get only the client's 2 parity shards from the percentage, and at 10 % loss about 1.6 % of them are
/// unrecoverable (each costing the client ~3 frames until the IDR it asks for). With 3 it is ~0.3 %,
/// for one extra datagram per small frame.
pub const MIN_PARITY_FLOOR: u32 = 3;

/// The Moonlight media plane (software H.264 unless the options bring another encoder).
pub struct MoonlightMedia {
    opts: MediaOptions,
    /// The last session started (for `status`).
    last: Mutex<Option<Weak<Shared>>>,
}

impl MoonlightMedia {
    pub fn new(opts: MediaOptions) -> Self {
        Self { opts, last: Mutex::new(None) }
    }
}

/// The encoder configuration a stream configuration asks for.
pub fn encoder_config(start: &MediaStart) -> anyhow::Result<EncoderConfig> {
    let c = &start.config;
    let codec = match c.codec {
        VideoCodec::H264 => Codec::H264,
        other => anyhow::bail!("codec {} is not supported by this media plane", other.name()),
    };
    Ok(EncoderConfig {
        width: c.width,
        height: c.height,
        fps: c.fps,
        bitrate_kbps: c.configured_bitrate_kbps.unwrap_or(c.bitrate_kbps).max(500),
        codec,
        colour_space: ColourSpace::from_moonlight(c.encoder_csc_mode >> 1),
        range: Range::from_moonlight(c.encoder_csc_mode & 1),
        slices: c.slices_per_frame.max(1),
    })
}

impl MoonlightMedia {
    /// Starts a session whose video comes from `feed` (a worker's link; [`MediaPlane::start`] uses an
    /// encoder thread of this process), with `input` receiving the client's input events.
    pub fn start_with_feed(
        &self,
        start: MediaStart,
        feed: Box<dyn VideoFeed>,
        input: Arc<dyn super::InputSink>,
    ) -> anyhow::Result<MoonlightSession> {
        let enc = encoder_config(&start)?;
        let c = &start.config;
        tracing::info!(client = %start.client_ip, w = enc.width, h = enc.height, fps = enc.fps,
            kbps = enc.bitrate_kbps, fec = c.fec_percent, video_enc = c.video_encrypted(),
            audio_enc = c.audio_encrypted(), control_v2 = c.control_encrypted_v2(), "media session starting");
        let shared = Arc::new(Shared::new(enc.bitrate_kbps, start.on_end, feed.requests()));
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::downgrade(&shared));
        let key = start.launch.key.clone();
        let (host_tx, host_rx) = sync_channel::<HostMessage>(64);
        // Clients that announce ping payloads and connect data (`x-ml-general.featureFlags` 0x2) must use them.
        let tokens_required = c.ml_feature_flags & 0x2 != 0;
        let ping =
            PingRule { client_ip: start.client_ip, payload: start.tokens.ping_payload, legacy: !tokens_required };
        let mut threads = Vec::new();
        let spawned = (|| -> anyhow::Result<()> {
            threads.push(control::spawn(
                shared.clone(),
                ControlSetup {
                    key: key.clone(),
                    encrypted: c.control_encrypted_v2(),
                    client_ip: start.client_ip,
                    connect_data: tokens_required.then_some(start.tokens.connect_data),
                    port: start.ports.control,
                    sink: input,
                    bitrate_kbps: enc.bitrate_kbps,
                },
                host_rx,
            )?);
            threads.push(video::spawn(
                shared.clone(),
                VideoSetup {
                    fps: enc.fps,
                    packet_size: c.packet_size as usize,
                    fec_percent: c.fec_percent.min(255) as u8,
                    min_fec_packets: c.min_fec_packets.max(MIN_PARITY_FLOOR).min(u16::MAX as u32) as u16,
                    encrypt_key: c.video_encrypted().then_some(key.key),
                    client_ip: start.client_ip,
                    ping,
                    port: start.ports.video,
                    inject_loss: self.opts.inject_video_loss,
                },
                feed,
            )?);
            threads.push(audio::spawn(
                shared.clone(),
                AudioSetup {
                    packet_ms: c.audio_packet_duration_ms.max(1),
                    key: c.audio_encrypted().then(|| key.clone()),
                    client_ip: start.client_ip,
                    ping,
                    port: start.ports.audio,
                    bitrate_bps: 96_000,
                },
                (self.opts.audio)(),
            )?);
            Ok(())
        })();
        let mut session = MoonlightSession { shared, threads, host_tx };
        if let Err(e) = spawned {
            session.shutdown();
            return Err(e);
        }
        Ok(session)
    }
}

impl MediaPlane for MoonlightMedia {
    fn start(&self, start: MediaStart) -> anyhow::Result<Box<dyn MediaSession>> {
        let cfg = encoder_config(&start)?;
        let feed = EncoderFeed::new(cfg, self.opts.encoder.clone(), self.opts.source.clone());
        let input = self.opts.input_sink.clone();
        Ok(Box::new(self.start_with_feed(start, Box::new(feed), input)?))
    }

    fn codec_support(&self) -> CodecSupport {
        CodecSupport::H264_ONLY
    }

    fn status(&self) -> Option<serde_json::Value> {
        let shared = self.last.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(Weak::upgrade);
        Some(match shared {
            Some(s) => serde_json::json!({
                "plane": "moonlight",
                "running": !s.stopping(),
                "frames_sent": s.frames_sent.load(Ordering::Relaxed),
                "bitrate_kbps": s.bitrate_kbps.load(Ordering::Relaxed),
                "idr": s.idr.status(),
                "inject_video_loss": self.opts.inject_video_loss,
            }),
            None => serde_json::json!({ "plane": "moonlight", "running": false }),
        })
    }
}

/// One running session.
pub struct MoonlightSession {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    host_tx: SyncSender<HostMessage>,
}

impl MoonlightSession {
    /// Queues a host message (rumble, HDR mode) for the client; dropped with a log line if the queue is full.
    pub fn send(&self, msg: HostMessage) {
        if self.host_tx.try_send(msg).is_err() {
            tracing::warn!("control: host message queue full; message dropped");
        }
    }

    fn shutdown(&mut self) {
        self.shared.stop_quietly();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl MediaSession for MoonlightSession {
    fn stop(&mut self, reason: EndReason) {
        tracing::info!(?reason, "media session stopping");
        self.shutdown();
    }
}

impl Drop for MoonlightSession {
    fn drop(&mut self) {
        self.shutdown();
    }
}
