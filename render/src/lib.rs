//! lumen-render: the renderer lumen's compositor draws with, the pools of reusable render targets per
//! output, and the `FrameSink` seam through which rendered frames leave the compositor for the encoder.
//!
//! - [`select`] picks the renderer at start: GLES on a validated GBM render node, else GLES on surfaceless
//!   EGL, else Pixman (CPU) — or exactly the one asked for.
//! - [`TargetPool`] holds the targets of one output; a rendered target is lent out inside a [`Frame`] and
//!   comes back to its pool when the consumer drops the frame, so the encoder can register each target once.
//! - [`FrameSink`] is what the encoder implements; [`mailbox`] is a ready-made newest-wins hand-off.

mod bind;
mod choice;
mod frame;
mod mailbox;
mod pool;
mod readback;
mod target;

pub use bind::BindTarget;
pub use choice::{
    is_software_rasterizer, probe_gpu, select, GlesGpu, Renderer, RendererChoice, RendererKind, SelectError,
    ENV_DRM_NODE,
};
pub use frame::{DamageRect, Frame, FrameSink, OutputId};
pub use mailbox::{mailbox, MailboxCloser, MailboxReceiver, MailboxSink, Waited};
pub use pool::{Lease, TargetPool};
pub use readback::{Readback, ReadbackError, ReadbackPool};
pub use target::{CpuPixels, Target, TargetError};

/// Re-export so consumers use exactly the smithay types lumen was built with.
pub use smithay;
