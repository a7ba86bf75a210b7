//! The joined host: one process is the compositor and the Moonlight host (`lumen-session`).
//!
//! [`SessionPlane`] is a [`lumen_stream::MediaPlane`] that wraps the real media plane
//! ([`lumen_stream::media::MoonlightMedia`]) and, per streaming session, creates a virtual output at the
//! client's W×H@fps, hands that output's frames to the encoder thread ([`frames`]: a newest-wins mailbox
//! behind a `FrameSink` on one side and a `FrameSource` on the other), routes the client's input into the
//! seat ([`input`]), starts the launched app's command ([`apps`]) and removes the output when the session
//! stops. [`choice`] resolves `--encoder` / `--renderer` / `--video-source`; [`logging`] sets up the log
//! and lets the ready block wait for the startup lines to settle.
//!
//! Layouts, behaviour and measured figures: `docs/session.md`.

pub mod apps;
pub mod choice;
pub mod demo;
pub mod frames;
pub mod gpu_frames;
pub mod input;
pub mod logging;
pub mod plane;

pub use choice::{EncoderChoice, Resolved, VideoSource};
pub use plane::{PlaneOptions, SessionPlane};
