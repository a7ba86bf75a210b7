//! lumen-compositor: lumen's headless (or nested) Wayland compositor.
//!
//! A calloop loop drives a smithay `Display`: real Wayland (and Xwayland) clients draw into virtual outputs
//! that exist only as render targets. Each output has a frame clock at its refresh rate; a tick renders only
//! when something changed and hands the frame to the output's [`FrameSink`](lumen_render::FrameSink).
//! Input arrives as typed events and is injected straight into the seat.
//!
//! Codemap:
//! - [`state`]: the one state struct and the client data;
//! - `handlers/`: one file per protocol family, each with its `delegate_*!` macro;
//! - [`output`]: virtual outputs, the frame clock, rendering and frame hand-off;
//! - [`shell`]: window policy (focused toplevel fills its output, focus on first buffer);
//! - [`cursor`]: the composited cursor;
//! - `input/`: injection of input events and the Windows-VK → evdev table;
//! - [`handle`]: the thread-safe [`CompositorHandle`] used by the streaming side;
//! - [`control`]: the line-based test/admin control socket;
//! - [`launch`]: runtime directory, socket, app launching; [`applog`]: each app's own log file;
//! - [`run`]: building and running the whole thing.
//! - [`nested`]: `--nested`, the session shown in a window on a host desktop (winit).
//! - [`worker`]: the worker role (`lumen-session worker`): one session's compositor, encoder and apps in a
//!   process of their own, driven by the host over the link.

pub mod applog;
pub mod audio;
pub mod control;
pub mod cursor;
pub mod encoding;
pub mod gamepad;
pub mod handle;
mod handlers;
pub mod host;
pub mod input;
pub mod launch;
pub mod nested;
pub mod output;
pub mod run;
pub mod shell;
pub mod state;
pub mod worker;
pub mod xwayland;

pub use handle::{CompositorHandle, HandleError};
pub use lumen_render::{Frame, FrameSink, OutputId, RendererChoice};
pub use nested::NestedConfig;
pub use output::OutputMode;
pub use run::run_with;
pub use run::{run, Config};
pub use state::State;
