//! RTSP: the handshake a client runs after `/launch` (OPTIONS → DESCRIBE → SETUP ×3 → ANNOUNCE → PLAY),
//! over TCP with one request per connection (the host closes after each reply), in plain text or framed
//! and AES-GCM encrypted for `rtspenc://`.
//!
//! [`request`] parses requests, [`handler`] answers them against the live session, [`server`] does the
//! sockets and the encrypted framing.

pub mod handler;
pub mod request;
pub mod server;
