//! The host ↔ worker link: the typed messages a session's worker process and the host exchange over their
//! Unix socketpair, and their byte encoding (sans-IO: the caller owns the socket and the buffers).
//!
//! Every message is one frame: `body_len: u32 LE` (bytes after this field, kind included) · `kind: u8` ·
//! body. Host → worker: [`ToWorker`] (`Start` of a stream at the client's mode, client input in Moonlight's
//! own input-packet encoding — decoded by [`crate::input::decode`] on the worker side —, encoder requests,
//! stop). Worker → host: [`ToHost`] (ready, streaming, the app's exit, failures, and on a second socketpair
//! of its own, the audio link, the session's Opus packets). Access units take the video ring: their bytes
//! in shared memory placed by [`RingPlan`], one [`RingUnit`] notice each on a `SOCK_SEQPACKET` video link
//! (a notice is small, so no `wmem_max` cap; the bytes never cross a socket).

mod codec;
mod ring;

pub use codec::{
    decode_to_host, decode_to_worker, encode_to_host, encode_to_worker, parse_header, Header, HEADER_LEN, MAX_BODY,
    OPUS_KIND,
};
pub use ring::{RingPlan, RING_HEADER_LEN};

/// The worker's end of the link is this descriptor in the worker process.
pub const LINK_FD: i32 = 3;
/// The worker's end of the audio link (Opus packets only) is this descriptor in the worker process.
pub const AUDIO_LINK_FD: i32 = 4;
/// The video ring (a memfd the host made; [`RingPlan`]) is this descriptor in the worker process.
pub const VIDEO_RING_FD: i32 = 5;
/// The worker's end of the video link (a `SOCK_SEQPACKET` pair: one [`RingUnit`] notice per datagram) is
/// this descriptor in the worker process.
pub const VIDEO_LINK_FD: i32 = 6;
/// Bytes of an encoded [`RingUnit`] notice.
pub const RING_UNIT_LEN: usize = 1 + 8 + 8 + 8 + 4 + 8 + 4;

/// An access unit written into the video ring: its flags and timestamps, where its bytes start (a ring
/// position) and how many there are. One per `SOCK_SEQPACKET` datagram on the video link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RingUnit {
    /// Flags and timestamps (`sent_ns`: when the notice was sent).
    pub meta: AuMeta,
    /// Ring position of the first byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u32,
}

impl RingUnit {
    /// The notice's bytes.
    pub fn encode(&self) -> [u8; RING_UNIT_LEN] {
        let mut b = [0u8; RING_UNIT_LEN];
        b[0] = u8::from(self.meta.idr);
        b[1..9].copy_from_slice(&self.meta.frame_no.to_le_bytes());
        b[9..17].copy_from_slice(&self.meta.ready_ns.to_le_bytes());
        b[17..25].copy_from_slice(&self.meta.sent_ns.to_le_bytes());
        b[25..29].copy_from_slice(&self.meta.encode_us.to_le_bytes());
        b[29..37].copy_from_slice(&self.start.to_le_bytes());
        b[37..41].copy_from_slice(&self.len.to_le_bytes());
        b
    }

    /// Parses a notice (exactly [`RING_UNIT_LEN`] bytes).
    pub fn decode(b: &[u8]) -> Result<Self, LinkError> {
        if b.len() != RING_UNIT_LEN {
            return Err(LinkError::Truncated { kind: 0, need: RING_UNIT_LEN, have: b.len() });
        }
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let idr = match b[0] {
            0 => false,
            1 => true,
            v => return Err(LinkError::BadField { field: "idr", value: u64::from(v) }),
        };
        Ok(Self {
            meta: AuMeta { idr, frame_no: u64_at(1), ready_ns: u64_at(9), sent_ns: u64_at(17), encode_us: u32_at(25) },
            start: u64_at(29),
            len: u32_at(37),
        })
    }
}

/// Version of this protocol; the worker reports it in [`ToHost::Ready`] and the host refuses another.
pub const LINK_VERSION: u16 = 7;

/// Why bytes on the link were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The body is shorter than its kind needs.
    #[error("link message {kind:#04x} truncated: need {need} bytes, have {have}")]
    Truncated {
        /// Message kind.
        kind: u8,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// A kind this side does not know.
    #[error("unknown link message kind {0:#04x}")]
    UnknownKind(u8),
    /// The length field is zero or over [`MAX_BODY`].
    #[error("link frame length {0} out of range")]
    BadLength(usize),
    /// A text field is not UTF-8.
    #[error("link message {0:#04x}: text is not UTF-8")]
    BadText(u8),
    /// A field holds a value outside its set.
    #[error("link message field {field} has invalid value {value}")]
    BadField {
        /// Field name.
        field: &'static str,
        /// The value.
        value: u64,
    },
}

/// What the worker is asked to stream: the negotiated mode and encoder settings, and the launched app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStart<'a> {
    /// Width in pixels as the client asked (the worker encodes at the next even size when odd).
    pub width: u32,
    /// Height in pixels as the client asked.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Initial bitrate in kbit/s.
    pub bitrate_kbps: u32,
    /// Moonlight's `encoderCscMode` (colour space << 1 | full range).
    pub csc_mode: u32,
    /// Slices per frame the client asked for.
    pub slices: u32,
    /// The app's id in the host's app list.
    pub app_id: u32,
    /// Audio: Opus packet duration in ms (5, 10 or 20).
    pub audio_packet_ms: u32,
    /// Audio: channel count the client negotiated (2, 6 or 8).
    pub audio_channels: u32,
    /// Audio: Opus bitrate in bit/s.
    pub audio_bitrate_bps: u32,
    /// Audio: high quality (one Opus stream per channel).
    pub audio_high_quality: bool,
    /// The app's command (`None`: the bare desktop).
    pub app_cmd: Option<&'a str>,
    /// The virtual pad the app wants for every controller (`None`: the session's choice, `--gamepad`).
    pub pad_kind: Option<crate::gamepad::PadKind>,
}

/// Host → worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToWorker<'a> {
    /// Start streaming: create the output at this mode, start the app unless it already runs.
    Start(StreamStart<'a>),
    /// One client input event in Moonlight's input-packet encoding ([`crate::input::encode_into`]).
    Input(&'a [u8]),
    /// The next frame must be an IDR.
    RequestIdr,
    /// Reference frames `first..=last` were lost at the client.
    InvalidateRefs {
        /// First lost frame index.
        first: u64,
        /// Last lost frame index.
        last: u64,
    },
    /// Change the encoder's bitrate.
    SetBitrate {
        /// New bitrate in kbit/s.
        kbps: u32,
    },
    /// The client left: stop the stream (output, encoder), release every key and button it held, keep
    /// the app for a later resume.
    StopStream,
    /// The session ends: stop everything and exit; `end_app` also terminates the app.
    End {
        /// Terminate the app too.
        end_app: bool,
    },
}

/// Timestamps and flags of one access unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuMeta {
    /// An IDR (key frame).
    pub idr: bool,
    /// The worker's frame counter (1, 2, …).
    pub frame_no: u64,
    /// When the frame was ready for the encoder (render done), CLOCK_MONOTONIC ns — the start of the
    /// host latency the client shows.
    pub ready_ns: u64,
    /// When the access unit was handed to the link, CLOCK_MONOTONIC ns (the hop starts here).
    pub sent_ns: u64,
    /// How long encoding took, µs.
    pub encode_us: u32,
}

/// Worker → host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToHost<'a> {
    /// The worker runs (compositor up); `version` must equal [`LINK_VERSION`].
    Ready {
        /// The worker's protocol version.
        version: u16,
        /// The worker's process id.
        pid: u32,
    },
    /// The stream of a `Start` runs at this (encoded) size.
    Streaming {
        /// Encoded width.
        width: u32,
        /// Encoded height.
        height: u32,
    },
    /// The launched app exited by itself.
    AppExited {
        /// Its exit code (−1: killed by a signal).
        code: i32,
    },
    /// The worker cannot go on (or a `Start` failed): a message for the log and the client.
    Failed {
        /// What went wrong.
        message: &'a str,
    },
    /// Feedback from a game for a controller of the client (rumble, light bar, motion reports, triggers).
    Pad(crate::gamepad::PadFeedback),
    /// One Opus packet of the session's audio (sent on the audio link, paced by the worker's audio clock).
    Opus {
        /// When the packet's oldest sample reached the session's audio server, CLOCK_MONOTONIC ns (0: not
        /// known, e.g. silence) — the start of the audio host latency.
        heard_ns: u64,
        /// The packet.
        data: &'a [u8],
    },
}
