//! Client input into the seat: an [`InputSink`] that injects every event on the session's output (the
//! compositor scales absolute pointer/touch/pen positions from the client's reference plane to the output),
//! optionally teeing it to another sink (the `LUMEN_INPUT_LOG` test hook of the media plane).

use std::sync::Arc;

use lumen_core::input::InputEvent;
use lumen_render::OutputId;
use lumen_stream::media::InputSink;

use crate::handle::CompositorHandle;

/// Injects a session's input on its output.
pub struct SeatInput {
    handle: CompositorHandle,
    output: Option<OutputId>,
    tee: Option<Arc<dyn InputSink>>,
}

impl SeatInput {
    /// `output` is `None` when the session streams no output (test pattern): events only reach `tee`.
    pub fn new(handle: CompositorHandle, output: Option<OutputId>, tee: Option<Arc<dyn InputSink>>) -> Self {
        Self { handle, output, tee }
    }
}

impl InputSink for SeatInput {
    fn input(&self, event: InputEvent) {
        let Some(output) = self.output else {
            if let Some(t) = &self.tee {
                t.input(event);
            }
            return;
        };
        if let Some(t) = &self.tee {
            t.input(event.clone());
        }
        if let Err(e) = self.handle.inject(output, event) {
            tracing::warn!(error = %e, "input dropped: the compositor is gone");
        }
    }
}
