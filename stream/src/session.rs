//! The live sessions: what each client's `/launch` started, how far its RTSP handshake got, the typed
//! ANNOUNCE, and its running media session. A session belongs to one paired client (its certificate);
//! [`SessionTable`] holds them all, each with its own media port slot.

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
    /// The paired client's id (a session belongs to exactly one certificate).
    pub client_id: String,
    /// The media port slot (0: the standard ports; see `HostState::media_ports_for_slot`).
    pub slot: u16,
    /// What tells this session's pings and ENet connection apart from everyone else's.
    pub tokens: SessionTokens,
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
    /// The salt of the lumen-transport offer of the last DESCRIBE (`crate::sdp`, `docs/wire.md` §12).
    pub lumen_salt: Option<[u8; 16]>,
    pub media_ports: MediaPorts,
    /// The running media session (after PLAY).
    pub media: Option<Box<dyn MediaSession>>,
    /// Why the media session ended, if it did.
    pub media_ended: Option<EndReason>,
    /// The last time a client launched, resumed, played or left this session: with no media running, the
    /// idle timeout counts from here.
    pub last_active: std::time::Instant,
}

impl LiveSession {
    pub fn new(
        generation: u64,
        launch: LaunchRecord,
        client_ip: IpAddr,
        client_id: String,
        slot: u16,
        media_ports: MediaPorts,
    ) -> Self {
        LiveSession {
            generation,
            launch,
            client_ip,
            client_id,
            slot,
            tokens: SessionTokens::random(),
            rtsp_session_id: None,
            rtsp_steps: Vec::new(),
            rtsp_encrypted: false,
            rtsp_host_seq: 0,
            config: None,
            lumen_salt: None,
            media_ports,
            media: None,
            media_ended: None,
            last_active: std::time::Instant::now(),
        }
    }

    /// Stops the media session, if one runs.
    pub fn stop_media(&mut self, reason: EndReason) {
        if let Some(mut m) = self.media.take() {
            m.stop(reason.clone());
            self.media_ended = Some(reason);
        }
    }

    /// Forgets the handshake so a resumed client can run it again (with fresh tokens).
    pub fn reset_handshake(&mut self) {
        self.last_active = std::time::Instant::now();
        self.tokens = SessionTokens::random();
        self.rtsp_session_id = None;
        self.rtsp_steps.clear();
        self.rtsp_encrypted = false;
        self.config = None;
    }

    /// Whether the client's RTSP handshake is under way (launched or resumed, not yet playing).
    pub fn awaiting_rtsp(&self) -> bool {
        self.media.is_none() && !self.rtsp_steps.contains(&RtspStep::Play)
    }

    /// A JSON snapshot for the admin socket.
    pub fn snapshot(&self) -> SessionSnapshot {
        SessionSnapshot {
            session: self.generation,
            slot: self.slot,
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
    pub session: u64,
    pub slot: u16,
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

/// A session's tokens (Sunshine's extension, `../shared/notes/sessions-audio-gamepads-login.md` §A.2): the
/// 16-character `X-SS-Ping-Payload` the client puts in every video and audio ping, and the `X-SS-Connect-Data`
/// it puts in its ENet connect. Fresh at every launch and resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SessionTokens {
    #[serde(skip)]
    pub ping_payload: [u8; 16],
    #[serde(skip)]
    pub connect_data: u32,
}

impl SessionTokens {
    /// 8 random bytes as 16 hex digits (as Sunshine), and a random non-zero u32.
    pub fn random() -> Self {
        let bytes: [u8; 8] = rand::random();
        let mut ping_payload = [0u8; 16];
        for (i, b) in bytes.iter().enumerate() {
            let hex = format!("{b:02X}");
            ping_payload[2 * i..2 * i + 2].copy_from_slice(hex.as_bytes());
        }
        SessionTokens { ping_payload, connect_data: rand::random::<u32>() | 1 }
    }

    /// The payload as the SETUP header value.
    pub fn ping_payload_str(&self) -> &str {
        std::str::from_utf8(&self.ping_payload).unwrap_or("")
    }
}

/// Every live session of the host.
#[derive(Default)]
pub struct SessionTable {
    list: Vec<LiveSession>,
}

impl SessionTable {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &LiveSession> {
        self.list.iter()
    }

    /// The session of the paired client `client_id`.
    pub fn by_client(&mut self, client_id: &str) -> Option<&mut LiveSession> {
        self.list.iter_mut().find(|s| s.client_id == client_id)
    }

    /// The session with this id.
    pub fn by_id(&mut self, generation: u64) -> Option<&mut LiveSession> {
        self.list.iter_mut().find(|s| s.generation == generation)
    }

    /// The lowest media port slot no session uses.
    pub fn free_slot(&self) -> u16 {
        (0..).find(|k| self.list.iter().all(|s| s.slot != *k)).unwrap_or(0)
    }

    pub fn insert(&mut self, s: LiveSession) {
        self.list.push(s);
    }

    /// Removes and returns the session with this id.
    pub fn remove(&mut self, generation: u64) -> Option<LiveSession> {
        let i = self.list.iter().position(|s| s.generation == generation)?;
        Some(self.list.remove(i))
    }

    /// Ids of the sessions no client has streamed for `timeout` (no media running since their last activity).
    pub fn idle_for(&self, timeout: std::time::Duration, now: std::time::Instant) -> Vec<u64> {
        self.list
            .iter()
            .filter(|s| s.media.is_none() && now.saturating_duration_since(s.last_active) >= timeout)
            .map(|s| s.generation)
            .collect()
    }

    /// Removes every session.
    pub fn drain(&mut self) -> Vec<LiveSession> {
        std::mem::take(&mut self.list)
    }

    /// Ids of the sessions an RTSP request from `peer` may belong to, best candidates first: sessions of
    /// that address waiting for their handshake, then that address's others, then (Sunshine's rule) the only
    /// session waiting for a handshake from anywhere.
    pub fn rtsp_candidates(&self, peer: IpAddr) -> Vec<u64> {
        let mut out: Vec<u64> =
            self.list.iter().filter(|s| s.client_ip == peer && s.awaiting_rtsp()).map(|s| s.generation).collect();
        out.extend(self.list.iter().filter(|s| s.client_ip == peer && !s.awaiting_rtsp()).map(|s| s.generation));
        if out.is_empty() {
            let waiting: Vec<u64> = self.list.iter().filter(|s| s.awaiting_rtsp()).map(|s| s.generation).collect();
            if waiting.len() == 1 {
                out = waiting;
            }
        }
        out
    }
}
