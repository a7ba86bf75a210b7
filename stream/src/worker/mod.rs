//! The host's side of the host / worker split: each session's compositor, renderer, encoder and apps run in
//! a worker process of its own (`lumen-session worker`), started by the host with one end of a Unix
//! socketpair on fd `LINK_FD` and of a second one, for audio, on `AUDIO_LINK_FD` (`lumen_core::link`).
//! This module spawns and reaps workers ([`process`]), runs the link's reader and writer threads
//! ([`link`]: access units into the video sender's pool, input and encoder requests out) and the audio
//! link's reader ([`audio_link`]: Opus packets into the audio sender's pool), and is the host's [`crate::MediaPlane`] ([`plane::WorkerPlane`]): per PLAY it asks the
//! session's worker to stream at the client's mode and starts the media plane on the worker's feed.
//! Message layouts: `lumen_core::link`.

pub mod audio_link;
pub mod link;
pub mod login;
pub mod plane;
pub mod process;
pub mod route;
pub mod shm_ring;
pub mod video_link;

pub use audio_link::{AudioLink, LinkAudioFeed};
pub use link::{LinkFeed, WorkerLink};
pub use plane::{WorkerPlane, WorkerPlaneOptions};
pub use process::WorkerCommand;
