//! [`MoonlightMedia`], the Moonlight media plane, and [`MoonlightSession`], one streaming session: it
//! owns the session's threads (video and audio senders, control) and frees everything when stopped or when
//! the client goes away. What it streams comes from the session's [`Feeds`]: [`FeedPlane`] is the
//! [`MediaPlane`] whose feeds a [`FeedMaker`] of the embedding process makes (the nested compositor, tests);
//! the worker plane (`crate::worker`) brings the feeds of its worker processes.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;

use super::audio::{self, AudioSetup};
use super::control::{self, ControlSetup, HostMessage};
use super::control_mux::ControlMuxes;
use super::feed::{AudioParams, Feeds};
use super::packer::LumenSetup;
use super::ping_mux::PingMuxes;
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

/// The Moonlight media plane: starts the senders and the control stream of a session on its feeds.
pub struct MoonlightMedia {
    opts: MediaOptions,
    /// The last session started (for `status`).
    last: Mutex<Option<Weak<Shared>>>,
    /// The media ports, each shared by every session that uses it (opened at the first).
    video_ports: PingMuxes,
    audio_ports: PingMuxes,
    control_ports: ControlMuxes,
}

impl MoonlightMedia {
    pub fn new(opts: MediaOptions) -> Self {
        Self {
            opts,
            last: Mutex::new(None),
            video_ports: PingMuxes::default(),
            audio_ports: PingMuxes::default(),
            control_ports: ControlMuxes::default(),
        }
    }
}

/// What the encoder of a session is asked for (the worker, or an in-process encoder, maps it onto its own
/// configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoPlan {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Initial bitrate, kbit/s (the host's configured rate wins over the client's).
    pub bitrate_kbps: u32,
    /// Moonlight's `encoderCscMode` (colour space << 1 | full range).
    pub csc_mode: u32,
    pub slices: u32,
}

/// The video plan of a stream configuration (H.264 only: the encoders have no other codec yet).
pub fn video_plan(start: &MediaStart) -> anyhow::Result<VideoPlan> {
    let c = &start.config;
    if c.codec != VideoCodec::H264 {
        anyhow::bail!("codec {} is not supported by this media plane", c.codec.name());
    }
    Ok(VideoPlan {
        width: c.width,
        height: c.height,
        fps: c.fps,
        bitrate_kbps: c.configured_bitrate_kbps.unwrap_or(c.bitrate_kbps).max(500),
        csc_mode: c.encoder_csc_mode,
        slices: c.slices_per_frame.max(1),
    })
}

/// The audio of a stream configuration (the ANNOUNCEd channel count and quality; its Opus layout's bitrate).
pub fn audio_params(start: &MediaStart) -> AudioParams {
    let c = &start.config;
    let layout = lumen_core::audio::OpusLayout::for_config(c.audio_channels, c.audio_high_quality);
    AudioParams {
        packet_ms: c.audio_packet_duration_ms.max(1),
        channels: u32::from(layout.channels),
        bitrate_bps: layout.bitrate_bps,
        high_quality: layout.high_quality,
    }
}

/// Makes the feeds of a session at PLAY time.
pub type FeedMaker = Arc<dyn Fn(&MediaStart, &VideoPlan, &AudioParams) -> anyhow::Result<Feeds> + Send + Sync>;

impl MoonlightMedia {
    /// Starts a session on `feeds` (a worker's link, or encoders of this process).
    pub fn start_with_feeds(&self, start: MediaStart, feeds: Feeds) -> anyhow::Result<MoonlightSession> {
        let enc = video_plan(&start)?;
        let Feeds { video: feed, audio: audio_feed, input } = feeds;
        let c = &start.config;
        tracing::info!(client = %start.client_ip, w = enc.width, h = enc.height, fps = enc.fps,
            kbps = enc.bitrate_kbps, fec = c.fec_percent, video_enc = c.video_encrypted(),
            audio_enc = c.audio_encrypted(), control_v2 = c.control_encrypted_v2(), lumen_transport = c.lumen.is_some(),
            "media session starting");
        let shared = Arc::new(Shared::new(enc.bitrate_kbps, start.on_end, feed.requests()));
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::downgrade(&shared));
        let key = start.launch.key.clone();
        let (host_tx, host_rx) = sync_channel::<HostMessage>(64);
        // Clients that announce ping payloads and connect data (`x-ml-general.featureFlags` 0x2) must use them.
        let tokens_required = c.ml_feature_flags & 0x2 != 0;
        let ping =
            PingRule { client_ip: start.client_ip, payload: start.tokens.ping_payload, legacy: !tokens_required };
        let ip = start.client_ip;
        let video_route = self.video_ports.get(ip, start.ports.video, "video")?.route(ping)?;
        let audio_route = self.audio_ports.get(ip, start.ports.audio, "audio")?.route(ping)?;
        let control_route = self
            .control_ports
            .get(ip, start.ports.control)?
            .route(ip, tokens_required.then_some(start.tokens.connect_data));
        let mut threads = Vec::new();
        let spawned = (|| -> anyhow::Result<()> {
            threads.push(control::spawn(
                shared.clone(),
                ControlSetup {
                    key: key.clone(),
                    encrypted: c.control_encrypted_v2(),
                    client_ip: start.client_ip,
                    sink: input,
                    bitrate_kbps: enc.bitrate_kbps,
                },
                control_route,
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
                    inject_loss: self.opts.inject_video_loss,
                    lumen: c.lumen.map(|l| LumenSetup {
                        rikey: key.key,
                        salt: l.salt,
                        fec_percent: l.fec_percent.unwrap_or(c.fec_percent).min(200) as u16,
                    }),
                },
                video_route,
                feed,
            )?);
            threads.push(audio::spawn(
                shared.clone(),
                AudioSetup {
                    packet_ms: c.audio_packet_duration_ms.max(1),
                    key: c.audio_encrypted().then(|| key.clone()),
                },
                audio_route,
                audio_feed,
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

impl MoonlightMedia {
    /// A JSON report of the last session (for `status`).
    pub fn status(&self) -> serde_json::Value {
        let shared = self.last.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(Weak::upgrade);
        match shared {
            Some(s) => serde_json::json!({
                "plane": "moonlight",
                "running": !s.stopping(),
                "frames_sent": s.frames_sent.load(Ordering::Relaxed),
                "bitrate_kbps": s.bitrate_kbps.load(Ordering::Relaxed),
                "idr": s.idr.status(),
                "inject_video_loss": self.opts.inject_video_loss,
            }),
            None => serde_json::json!({ "plane": "moonlight", "running": false }),
        }
    }
}

/// The [`MediaPlane`] whose sessions stream the feeds a [`FeedMaker`] makes in this process.
pub struct FeedPlane {
    media: MoonlightMedia,
    maker: FeedMaker,
    codecs: CodecSupport,
}

impl FeedPlane {
    pub fn new(opts: MediaOptions, maker: FeedMaker, codecs: CodecSupport) -> Self {
        Self { media: MoonlightMedia::new(opts), maker, codecs }
    }
}

impl MediaPlane for FeedPlane {
    fn start(&self, start: MediaStart) -> anyhow::Result<Box<dyn MediaSession>> {
        let plan = video_plan(&start)?;
        let feeds = (self.maker)(&start, &plan, &audio_params(&start))?;
        Ok(Box::new(self.media.start_with_feeds(start, feeds)?))
    }

    fn codec_support(&self) -> CodecSupport {
        self.codecs
    }

    fn status(&self) -> Option<serde_json::Value> {
        Some(self.media.status())
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
    /// A sender of host messages to this session's client (for threads that outlive a borrow).
    pub fn messenger(&self) -> SyncSender<HostMessage> {
        self.host_tx.clone()
    }

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

    fn stats(&self) -> Option<serde_json::Value> {
        Some(self.shared.stats())
    }
}

impl Drop for MoonlightSession {
    fn drop(&mut self) {
        self.shutdown();
    }
}
