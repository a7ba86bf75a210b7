//! The live session: what `/launch` started, how far the RTSP handshake got, the typed ANNOUNCE, and the
//! running media session. One app runs at a time (like Sunshine); `/cancel` ends it.

use std::net::IpAddr;

use serde::Serialize;

use crate::launch::LaunchRecord;
use crate::media_plane::{EndReason, MediaPorts, MediaSession};
use crate::stream_config::StreamConfig;

/// The RTSP request kinds, in the order a client sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RtspStep {
    Options,
    Describe,
    SetupAudio,
    SetupVideo,
    SetupControl,
    Announce,
    Play,
}

/// One launched app and its streaming state.
pub struct LiveSession {
    /// Distinguishes sessions so a late end notice never ends a newer one.
    pub generation: u64,
    pub launch: LaunchRecord,
    /// The address the launching client came from (RTSP must come from it too).
    pub client_ip: IpAddr,
    /// The paired client's id.
    pub client_id: String,
    /// RTSP `Session:` id, set at the audio SETUP.
    pub rtsp_session_id: Option<String>,
    /// Every RTSP step completed, in order.
    pub rtsp_steps: Vec<RtspStep>,
    /// Whether the handshake ran over `rtspenc://`.
    pub rtsp_encrypted: bool,
    /// The host's sequence number for encrypted RTSP replies.
    pub rtsp_host_seq: u32,
    /// The typed ANNOUNCE.
    pub config: Option<StreamConfig>,
    pub media_ports: MediaPorts,
    /// The running media session (after PLAY).
    pub media: Option<Box<dyn MediaSession>>,
    /// Why the media session ended, if it did.
    pub media_ended: Option<EndReason>,
}

impl LiveSession {
    pub fn new(
        generation: u64,
        launch: LaunchRecord,
        client_ip: IpAddr,
        client_id: String,
        media_ports: MediaPorts,
    ) -> Self {
        LiveSession {
            generation,
            launch,
            client_ip,
            client_id,
            rtsp_session_id: None,
            rtsp_steps: Vec::new(),
            rtsp_encrypted: false,
            rtsp_host_seq: 0,
            config: None,
            media_ports,
            media: None,
            media_ended: None,
        }
    }

    /// Stops the media session, if one runs.
    pub fn stop_media(&mut self, reason: EndReason) {
        if let Some(mut m) = self.media.take() {
            m.stop(reason.clone());
            self.media_ended = Some(reason);
        }
    }

    /// Forgets the handshake so a resumed client can run it again.
    pub fn reset_handshake(&mut self) {
        self.rtsp_session_id = None;
        self.rtsp_steps.clear();
        self.rtsp_encrypted = false;
        self.config = None;
    }

    /// A JSON snapshot for the admin socket.
    pub fn snapshot(&self) -> SessionSnapshot {
        SessionSnapshot {
            launch: self.launch.clone(),
            client_ip: self.client_ip,
            client_id: self.client_id.clone(),
            rtsp_steps: self.rtsp_steps.clone(),
            rtsp_stage: self.rtsp_steps.last().copied(),
            rtsp_encrypted: self.rtsp_encrypted,
            negotiated_codec: self.config.as_ref().map(|c| c.codec.name()),
            stream_config: self.config.clone(),
            media_ports: self.media_ports,
            media_running: self.media.is_some(),
            media_ended: self.media_ended.clone(),
        }
    }
}

/// What the admin `status` command reports about the session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionSnapshot {
    pub launch: LaunchRecord,
    pub client_ip: IpAddr,
    pub client_id: String,
    pub rtsp_steps: Vec<RtspStep>,
    pub rtsp_stage: Option<RtspStep>,
    pub rtsp_encrypted: bool,
    pub negotiated_codec: Option<&'static str>,
    pub stream_config: Option<StreamConfig>,
    pub media_ports: MediaPorts,
    pub media_running: bool,
    pub media_ended: Option<EndReason>,
}
