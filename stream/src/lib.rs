//! lumen-stream: every socket and server of lumen's Moonlight host control plane.
//!
//! - [`nvhttp`]: the GameStream HTTP (pairing, server info) and HTTPS (apps, launch) endpoints,
//! - [`pairing`]: the 5-stage PIN pairing exchange (pure state machine + crypto); [`pairing_gate`]: which
//!   client may pair with which PIN, per-source failure limits,
//! - [`limits`]: what a client may ask for; [`net_guard`]: connection caps and the file limit; [`noise`]:
//!   per-source counting of hostile messages instead of one log line each,
//! - [`rtsp`]: the RTSP handshake (plain and `rtspenc://`), [`sdp`]: the DESCRIBE offer and ANNOUNCE parser,
//! - [`media_plane`]: the seam to the media plane (video/audio/control sockets) started at RTSP PLAY,
//! - [`store`]: the state dir (host identity, paired clients, atomic writes), [`admin`]: the local admin socket,
//!   [`web`]: the admin web page (HTTPS, login, CSRF), [`catalog`]: the app list edited at run time,
//!   [`log_ring`]: the recent log lines they show,
//! - [`host`]: ties them together; [`cli`]: the `lumen-session` command line; [`ready`]: the ready block.

pub mod admin;
pub mod apps;
pub mod catalog;
pub mod cli;
pub mod host;
pub mod identity;
pub mod launch;
pub mod limits;
pub mod log_ring;
pub mod login;
pub mod mdns;
pub mod media;
pub mod media_plane;
pub mod net_guard;
pub mod noise;
pub mod nvhttp;
pub mod pairing;
pub mod pairing_gate;
pub mod ports;
pub mod ready;
pub mod rtsp;
pub mod sdp;
pub mod session;
pub mod store;
pub mod stream_config;
pub mod web;
pub mod worker;

pub use launch::LaunchRecord;
pub use media_plane::{
    CodecSupport, EndReason, HandshakeOnly, MediaPlane, MediaPorts, MediaSession, MediaStart, OfferOptions,
};
pub use ports::Ports;
pub use stream_config::{StreamConfig, VideoCodec};
