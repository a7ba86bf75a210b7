//! The typed stream configuration a client chooses in its RTSP ANNOUNCE (see [`crate::sdp::parse_announce`]).
//!
//! Every attribute moonlight-common-c sends is kept; the media plane reads this at PLAY time.

use serde::Serialize;

/// The video codec the client chose (`x-nv-vqos[0].bitStreamFormat`: 0 H.264, 1 HEVC, 2 AV1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    H264,
    Hevc,
    Av1,
}

impl VideoCodec {
    /// The codec for a `bitStreamFormat` value, `None` if unknown.
    pub fn from_bitstream_format(v: u32) -> Option<Self> {
        match v {
            0 => Some(VideoCodec::H264),
            1 => Some(VideoCodec::Hevc),
            2 => Some(VideoCodec::Av1),
            _ => None,
        }
    }

    /// A short lowercase name ("h264", "hevc", "av1").
    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::Hevc => "hevc",
            VideoCodec::Av1 => "av1",
        }
    }
}

/// Sunshine encryption feature bits (`x-ss-general.encryption{Supported,Requested,Enabled}`).
pub mod encryption {
    /// Control stream encryption v2 (AES-GCM per message).
    pub const CONTROL_V2: u32 = 0x1;
    /// Video packet encryption (AES-GCM).
    pub const VIDEO: u32 = 0x2;
    /// Audio packet encryption (AES-CBC).
    pub const AUDIO: u32 = 0x4;
}

/// GFE feature flag bit meaning "audio is encrypted" (`x-nv-general.featureFlags`).
pub const NV_FEATURE_AUDIO_ENCRYPTION: u32 = 0x20;

/// The host's FEC percentage when the client does not ask for one (modern clients never do).
pub const DEFAULT_FEC_PERCENT: u32 = 20;

/// Everything the client chose in ANNOUNCE, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamConfig {
    /// `x-nv-video[0].clientViewportWd` / `Ht`.
    pub width: u32,
    pub height: u32,
    /// `x-nv-video[0].maxFPS`.
    pub fps: u32,
    /// `x-nv-video[0].packetSize`: video payload bytes per packet (1392 with the stock client).
    pub packet_size: u32,
    /// `x-nv-vqos[0].bw.maximumBitrateKbps` (the client's adjusted bitrate).
    pub bitrate_kbps: u32,
    /// `x-ml-video.configuredBitrateKbps` (the bitrate the user configured), when sent.
    pub configured_bitrate_kbps: Option<u32>,
    /// `x-nv-vqos[0].fec.repairPercent` when sent, else [`DEFAULT_FEC_PERCENT`].
    pub fec_percent: u32,
    /// `x-nv-vqos[0].fec.minRequiredFecPackets` (0 when absent).
    pub min_fec_packets: u32,
    /// From `x-nv-vqos[0].bitStreamFormat`.
    pub codec: VideoCodec,
    /// `x-ss-video[0].chromaSamplingType` = 1.
    pub chroma_444: bool,
    /// `x-nv-video[0].dynamicRangeMode` = 1 (10-bit HDR).
    pub hdr: bool,
    /// `x-nv-aqos.packetDuration` in ms (5 when absent).
    pub audio_packet_duration_ms: u32,
    /// `x-nv-audio.surround.numChannels` (2 when absent).
    pub audio_channels: u32,
    /// `x-nv-audio.surround.channelMask` (0x3 when absent).
    pub audio_channel_mask: u32,
    /// `x-nv-audio.surround.AudioQuality` = 1.
    pub audio_high_quality: bool,
    /// `x-ss-general.encryptionEnabled` (bits in [`encryption`]); 0 when absent.
    pub encryption_enabled: u32,
    /// `x-nv-general.featureFlags` (GFE flags; 0x20 = encrypted audio, 0x80 = encrypted remote input).
    pub nv_feature_flags: u32,
    /// `x-ml-general.featureFlags` (Moonlight flags: 0x1 FEC status, 0x2 session id v1).
    pub ml_feature_flags: u32,
    /// `x-nv-general.useReliableUdp` (13 = encrypted control stream generation).
    pub use_reliable_udp: u32,
    /// `x-nv-video[0].maxNumReferenceFrames` (0 = no limit).
    pub max_reference_frames: u32,
    /// `x-nv-video[0].videoEncoderSlicesPerFrame` (1 when absent).
    pub slices_per_frame: u32,
    /// `x-nv-video[0].clientRefreshRateX100` when sent.
    pub client_refresh_rate_x100: Option<u32>,
    /// `x-nv-video[0].encoderCscMode`: (colour space << 1) | full range.
    pub encoder_csc_mode: u32,
    /// `x-nv-vqos[0].drc.enable` = 1.
    pub dynamic_resolution: bool,
    /// The port of the `m=video` line, when present.
    pub video_port_hint: Option<u16>,
    /// The lumen transport, when the client accepted the host's offer (`a=x-lumen-transport-accept`,
    /// `crate::sdp`); `None` for every stock Moonlight client.
    pub lumen: Option<LumenAccept>,
}

/// A client's acceptance of the lumen transport (`docs/wire.md` §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LumenAccept {
    /// Transport version (1).
    pub version: u32,
    /// The salt of the host's offer the client echoed (checked against the offer at ANNOUNCE).
    #[serde(skip)]
    pub salt: [u8; 16],
    /// The FEC percentage the client asks for (the host's default when absent).
    pub fec_percent: Option<u32>,
}

impl StreamConfig {
    /// Whether the control stream uses Sunshine's encryption v2.
    pub fn control_encrypted_v2(&self) -> bool {
        self.encryption_enabled & encryption::CONTROL_V2 != 0
    }
    /// Whether video packets are encrypted.
    pub fn video_encrypted(&self) -> bool {
        self.encryption_enabled & encryption::VIDEO != 0
    }
    /// Whether audio packets are encrypted (either the Sunshine bit or the GFE feature flag).
    pub fn audio_encrypted(&self) -> bool {
        self.encryption_enabled & encryption::AUDIO != 0 || self.nv_feature_flags & NV_FEATURE_AUDIO_ENCRYPTION != 0
    }
}
