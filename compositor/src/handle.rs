//! `CompositorHandle`: the thread-safe way into the compositor (the streaming side uses it to create an
//! output per client, inject that client's input and launch apps). Requests travel on a calloop channel
//! and run on the compositor thread.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use lumen_core::input::InputEvent;
use lumen_render::{FrameSink, OutputId};
use smithay::reexports::calloop::channel::Sender;

use crate::output::OutputMode;

/// A request for the compositor thread.
pub enum Command {
    CreateOutput {
        id: OutputId,
        mode: OutputMode,
        sink: Option<Box<dyn FrameSink>>,
    },
    RemoveOutput(OutputId),
    SetSink(OutputId, Option<Box<dyn FrameSink>>),
    Inject(OutputId, InputEvent),
    LaunchApp(String),
    SetOutputScale(OutputId, i32),
    ReleaseInput,
    /// Answers the `--nested` window's output and its current mode.
    NestedOutput(std::sync::mpsc::SyncSender<Option<(OutputId, crate::output::OutputMode)>>),
    SetCursorVisible(bool),
    Stop,
}

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error("the compositor has stopped")]
    Stopped,
    #[error("Xwayland failed to start (see the log)")]
    XwaylandFailed,
}

/// Cloneable, `Send` handle to a running compositor.
#[derive(Clone)]
pub struct CompositorHandle {
    tx: Sender<Command>,
    next_id: Arc<AtomicU32>,
    x_display: Arc<AtomicU32>,
}

impl CompositorHandle {
    pub(crate) fn new(tx: Sender<Command>, next_id: Arc<AtomicU32>, x_display: Arc<AtomicU32>) -> Self {
        CompositorHandle { tx, next_id, x_display }
    }

    /// Xwayland's `DISPLAY` number: `Ok(None)` while none runs (or it is still starting), `Err` when it failed.
    pub fn x_display(&self) -> Result<Option<u32>, HandleError> {
        match self.x_display.load(std::sync::atomic::Ordering::SeqCst) {
            crate::xwayland::X_NONE => Ok(None),
            crate::xwayland::X_FAILED => Err(HandleError::XwaylandFailed),
            n => Ok(Some(n - 1)),
        }
    }

    fn send(&self, c: Command) -> Result<(), HandleError> {
        self.tx.send(c).map_err(|_| HandleError::Stopped)
    }

    /// Create a virtual output; its frames go to `sink` (or are kept for dumps when `None`). The id is
    /// returned at once; the output exists once the compositor thread has processed the request.
    pub fn create_output(&self, mode: OutputMode, sink: Option<Box<dyn FrameSink>>) -> Result<OutputId, HandleError> {
        let id = OutputId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.send(Command::CreateOutput { id, mode, sink })?;
        Ok(id)
    }

    pub fn remove_output(&self, id: OutputId) -> Result<(), HandleError> {
        self.send(Command::RemoveOutput(id))
    }

    pub fn set_sink(&self, id: OutputId, sink: Option<Box<dyn FrameSink>>) -> Result<(), HandleError> {
        self.send(Command::SetSink(id, sink))
    }

    /// Inject a client's input event on its output.
    pub fn inject(&self, id: OutputId, event: InputEvent) -> Result<(), HandleError> {
        self.send(Command::Inject(id, event))
    }

    pub fn launch_app(&self, cmd: impl Into<String>) -> Result<(), HandleError> {
        self.send(Command::LaunchApp(cmd.into()))
    }

    /// The `--nested` window's output and its current mode (`None` without a window).
    pub fn nested_output(&self) -> Result<Option<(OutputId, crate::output::OutputMode)>, HandleError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.send(Command::NestedOutput(tx))?;
        rx.recv_timeout(std::time::Duration::from_secs(5)).map_err(|_| HandleError::Stopped)
    }

    /// Sets an output's integer scale (see `State::set_output_scale`).
    pub fn set_output_scale(&self, id: OutputId, scale: i32) -> Result<(), HandleError> {
        self.send(Command::SetOutputScale(id, scale))
    }

    /// Releases every key and button injected input holds (a client left).
    pub fn release_input(&self) -> Result<(), HandleError> {
        self.send(Command::ReleaseInput)
    }

    pub fn set_cursor_visible(&self, visible: bool) -> Result<(), HandleError> {
        self.send(Command::SetCursorVisible(visible))
    }

    pub fn stop(&self) -> Result<(), HandleError> {
        self.send(Command::Stop)
    }
}

impl crate::state::State {
    /// Execute one handle request.
    pub fn handle_command(&mut self, c: Command) {
        match c {
            Command::CreateOutput { id, mode, sink } => {
                if let Err(e) = self.create_output(id, mode, sink) {
                    tracing::warn!("create output {id}: {e}");
                }
            }
            Command::RemoveOutput(id) => {
                if let Err(e) = self.remove_output(id) {
                    tracing::warn!("remove output: {e}");
                }
            }
            Command::SetSink(id, sink) => {
                if let Err(e) = self.set_sink(id, sink) {
                    tracing::warn!("set sink: {e}");
                }
            }
            Command::Inject(id, ev) => self.inject(id, &ev),
            Command::LaunchApp(cmd) => self.launch_app(&cmd),
            Command::ReleaseInput => self.release_all_input(),
            Command::SetOutputScale(id, scale) => {
                if let Err(e) = self.set_output_scale(id, scale) {
                    tracing::warn!("output scale: {e}");
                }
            }
            Command::NestedOutput(reply) => {
                let id = self.nested.as_ref().map(|n| n.output);
                let _ = reply.send(id.and_then(|id| self.outputs.get(&id).map(|o| (id, o.mode))));
            }
            Command::SetCursorVisible(v) => self.cursor.visible = v,
            Command::Stop => self.loop_signal.stop(),
        }
    }
}
