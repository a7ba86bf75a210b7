//! The lumen transport's video media plane, sans-IO: the lumen framing (`video::lumen`, one GF(2¹⁶) FEC
//! block per frame) sealed per datagram with ChaCha20-Poly1305 under a key derived from the session's
//! `rikey`, plus a per-frame capture timestamp for the latency probe and the FEC policy driven by the
//! client's loss reports.
//!
//! * [`key`]: the HKDF-SHA256 key schedule (`rikey` + the salt the host offers in DESCRIBE).
//! * [`video`]: [`SealedVideoSender`] and [`SealedVideoReceiver`], datagram layout in `docs/wire.md` §12.
//! * [`adapt`]: the FEC percentage for a reported loss rate.
//!
//! Only lumen's own clients negotiate this (`a=x-lumen-transport` in the RTSP exchange); stock Moonlight
//! clients never see it.

pub mod adapt;
pub mod key;
pub mod video;

pub use self::adapt::fec_for_loss;
pub use self::key::{derive_video_key, TransportSalt, KEY_LABEL_VIDEO};
pub use self::video::{
    ReceivedFrame, SealedVideoReceiver, SealedVideoSender, TransportError, TransportStats, TRANSPORT_EXTRA,
    TRANSPORT_HEADER_LEN, TRANSPORT_TAG_LEN,
};
