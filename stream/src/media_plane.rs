//! The seam between the control plane and the media plane (video, audio and control sockets).
//!
//! The host holds an `Arc<dyn MediaPlane>`. When RTSP PLAY arrives it calls [`MediaPlane::start`] with a
//! [`MediaStart`] (the launch record, the typed ANNOUNCE configuration, the client's address and the media
//! ports) before replying; the returned [`MediaSession`] is stopped on `/cancel`, on a new launch, or at
//! shutdown. [`HandshakeOnly`] is the honest placeholder used until a real media plane is plugged in: it
//! binds nothing and records what it was given so the admin socket can report it.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::launch::LaunchRecord;
pub use crate::limits::StreamLimits;
pub use crate::sdp::OfferOptions;
use crate::stream_config::StreamConfig;

/// The media ports of a session (BASE+9, +10, +11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MediaPorts {
    pub video: u16,
    pub control: u16,
    pub audio: u16,
}

/// Why a media session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// `/cancel` from a client.
    Cancelled,
    /// A new `/launch` replaced the session.
    Replaced,
    /// The host is shutting down.
    HostShutdown,
    /// The client went away (disconnect or timeout).
    ClientGone,
    /// The streamed app exited.
    AppExited,
    /// No client streamed the session for `idle_timeout_secs` (a client that left without quitting).
    IdleTimeout,
    /// The media plane failed.
    Error(String),
}

/// Binds the session's client to a user (system mode: its first successful login).
pub type BindFn = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// The paired client a session belongs to.
#[derive(Clone, Default)]
pub struct ClientRef {
    /// Its id (certificate fingerprint).
    pub id: String,
    /// The user it is bound to, if any.
    pub bound_user: Option<String>,
    /// Binds it (system mode's first login).
    pub bind: Option<BindFn>,
}

impl std::fmt::Debug for ClientRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRef").field("id", &self.id).field("bound_user", &self.bound_user).finish()
    }
}

/// Everything a media session needs, fixed at RTSP PLAY time.
pub struct MediaStart {
    /// The paired client (system mode: who may log in as whom).
    pub client: ClientRef,
    /// The host's id of the session (one per client launch; a resume keeps it).
    pub session: u64,
    /// The session's ping payload and connect data (sent in the SETUP replies).
    pub tokens: crate::session::SessionTokens,
    /// From `/launch`: app, mode, `rikey`/`rikeyid`, audio configuration, controllers, HDR, corever.
    pub launch: LaunchRecord,
    /// The typed ANNOUNCE.
    pub config: StreamConfig,
    /// The RTSP peer.
    pub client_ip: IpAddr,
    /// Video, control and audio ports.
    pub ports: MediaPorts,
    /// The media plane calls this when the session ends by itself (client gone / timeout / app exit).
    pub on_end: Box<dyn FnOnce(EndReason) + Send>,
}

impl std::fmt::Debug for MediaStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaStart")
            .field("session", &self.session)
            .field("client", &self.client)
            .field("launch", &self.launch)
            .field("config", &self.config)
            .field("client_ip", &self.client_ip)
            .field("ports", &self.ports)
            .finish_non_exhaustive()
    }
}

/// Which codecs the encoders really support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CodecSupport {
    pub h264: bool,
    pub hevc: bool,
    pub hevc_main10: bool,
    pub av1_main8: bool,
    pub av1_main10: bool,
}

impl CodecSupport {
    /// H.264 only (the software encoder).
    pub const H264_ONLY: CodecSupport =
        CodecSupport { h264: true, hevc: false, hevc_main10: false, av1_main8: false, av1_main10: false };

    /// Whether HEVC of any profile is available.
    pub fn hevc(&self) -> bool {
        self.hevc || self.hevc_main10
    }

    /// Whether AV1 of any profile is available.
    pub fn av1(&self) -> bool {
        self.av1_main8 || self.av1_main10
    }

    /// The `ServerCodecModeSupport` bitmask of `/serverinfo` (H.264 0x1, HEVC 0x100, HEVC Main10 0x200,
    /// AV1 Main8 0x10000, AV1 Main10 0x20000). Never zero: H.264 is always reported because clients refuse
    /// a zero mask.
    pub fn server_codec_mode_support(&self) -> u32 {
        let mut m = 0x1;
        if self.hevc {
            m |= 0x100;
        }
        if self.hevc_main10 {
            m |= 0x200;
        }
        if self.av1_main8 {
            m |= 0x10000;
        }
        if self.av1_main10 {
            m |= 0x20000;
        }
        m
    }
}

/// A media plane: starts media sessions and reports codec support.
pub trait MediaPlane: Send + Sync + 'static {
    /// Binds the media sockets and starts the session's threads; called when PLAY arrives, before replying.
    fn start(&self, start: MediaStart) -> anyhow::Result<Box<dyn MediaSession>>;
    /// Which codecs the encoders really support (drives ServerCodecModeSupport and the DESCRIBE offer).
    fn codec_support(&self) -> CodecSupport;
    /// What DESCRIBE offers besides codecs: encryption supported/requested (the client turns on video
    /// encryption whenever it is offered), Sunshine feature flags (pen/touch), reference-frame invalidation.
    /// Override when the media plane does less (or more) than [`OfferOptions::default`].
    fn offer_options(&self) -> OfferOptions {
        OfferOptions::default()
    }
    /// The session `session` ended for good (`/cancel`, its app exited, host shutdown): free what it kept
    /// between streams (its worker and app). Must not block.
    fn end_session(&self, _session: u64, _reason: &EndReason) {}
    /// Moves the stream of `session` to a fresh worker while the client streams (the login hand-over);
    /// returns the new worker's pid. Blocks until the new worker streams (call off the async runtime).
    fn hand_over(&self, _session: u64) -> anyhow::Result<u32> {
        anyhow::bail!("this media plane cannot hand a stream over")
    }
    /// A JSON report for `lumen-session status` (what the media plane was started with, statistics...).
    fn status(&self) -> Option<serde_json::Value> {
        None
    }
    /// What a client may ask for (resolution, frame rate, bitrate, packet size); `/launch` and ANNOUNCE are
    /// checked against it. Override when the encoders can do less (or more) than [`StreamLimits::default`].
    fn limits(&self) -> StreamLimits {
        StreamLimits::default()
    }
}

/// A running media session.
pub trait MediaSession: Send {
    fn stop(&mut self, reason: EndReason);
    /// Live figures (frames, bitrate, host latency, loss) for the admin page; `None` when it has none.
    fn stats(&self) -> Option<serde_json::Value> {
        None
    }
}

/// What [`HandshakeOnly`] recorded about the last PLAY.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedStart {
    pub launch: LaunchRecord,
    pub config: StreamConfig,
    pub client_ip: IpAddr,
    pub ports: MediaPorts,
    /// Set when the session was stopped, with the reason.
    pub ended: Option<EndReason>,
}

/// A media plane that streams nothing: it completes the handshake, binds no socket, and records the
/// [`MediaStart`] it got. Codec support: H.264 only.
#[derive(Debug, Default, Clone)]
pub struct HandshakeOnly {
    last: Arc<Mutex<Option<RecordedStart>>>,
}

impl HandshakeOnly {
    pub fn new() -> Self {
        Self::default()
    }

    /// The last recorded start, if any.
    pub fn last_start(&self) -> Option<RecordedStart> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl MediaPlane for HandshakeOnly {
    fn start(&self, start: MediaStart) -> anyhow::Result<Box<dyn MediaSession>> {
        tracing::info!(client = %start.client_ip, codec = start.config.codec.name(),
            "handshake-only media plane: session recorded, no media will flow");
        let rec = RecordedStart {
            launch: start.launch,
            config: start.config,
            client_ip: start.client_ip,
            ports: start.ports,
            ended: None,
        };
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(rec);
        Ok(Box::new(HandshakeOnlySession { last: self.last.clone() }))
    }

    fn codec_support(&self) -> CodecSupport {
        CodecSupport::H264_ONLY
    }

    fn status(&self) -> Option<serde_json::Value> {
        let last = self.last_start();
        Some(serde_json::json!({ "kind": "handshake-only", "last_start": last }))
    }
}

struct HandshakeOnlySession {
    last: Arc<Mutex<Option<RecordedStart>>>,
}

impl MediaSession for HandshakeOnlySession {
    fn stop(&mut self, reason: EndReason) {
        tracing::info!(?reason, "handshake-only media session stopped");
        if let Some(rec) = self.last.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            rec.ended = Some(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_mask_tells_the_truth() {
        assert_eq!(CodecSupport::H264_ONLY.server_codec_mode_support(), 0x1);
        let all = CodecSupport { h264: true, hevc: true, hevc_main10: true, av1_main8: true, av1_main10: true };
        assert_eq!(all.server_codec_mode_support(), 0x30301);
        assert_eq!(HandshakeOnly::new().codec_support(), CodecSupport::H264_ONLY);
    }
}
