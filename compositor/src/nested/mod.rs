//! `--nested`: the session shown in a window on an existing Wayland or X11 desktop (smithay's winit
//! backend, a `GlesRenderer` bound to the window).
//!
//! The window is one more virtual output of the compositor: its mode is the window's size (re-made when the
//! window is resized), it has the same frame clock, damage tracking, frame callbacks and `FrameSink` as the
//! headless outputs, which keep working beside it. Each frame the output renders is also read back into a
//! reused RGBA buffer (`VirtualOutput::mirror`), uploaded into one reused texture of the window's renderer
//! and drawn into the window ([`present`]). Input from the host desktop's keyboard and pointer goes into the
//! seat through the same calls as injected input ([`input`]).

mod input;
mod present;

use smithay::backend::renderer::gles::{GlesRenderer, GlesTexture};
use smithay::backend::winit::{self, WinitEvent, WinitGraphicsBackend};
use smithay::reexports::winit::dpi::PhysicalSize;
use smithay::reexports::winit::window::Window as WinitWindow;
use tracing::{debug, info, warn};

use crate::output::{OutputError, OutputMode};
use crate::state::State;
use lumen_render::OutputId;

pub use present::present;

/// How the nested window starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NestedConfig {
    /// Initial window size in pixels and the output's refresh (millihertz).
    pub mode: OutputMode,
    pub title: String,
}

impl Default for NestedConfig {
    fn default() -> Self {
        NestedConfig {
            mode: OutputMode { width: 1280, height: 720, refresh_mhz: 60_000 },
            title: "lumen (nested)".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NestedError {
    #[error("no host display to open a window on (set WAYLAND_DISPLAY or DISPLAY): {0}")]
    Window(String),
    #[error("event loop: {0}")]
    Loop(String),
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// The host window and the output it shows.
pub struct Nested {
    pub output: OutputId,
    pub(crate) backend: WinitGraphicsBackend<GlesRenderer>,
    /// The frame texture (re-created when the size changes, otherwise updated in place).
    pub(crate) texture: Option<(GlesTexture, (u32, u32))>,
    pub(crate) refresh_mhz: u32,
    /// Frames drawn into the window.
    pub presented: u64,
    /// Time spent drawing them (upload + draw + swap), for the shutdown summary.
    pub present_ns_total: u64,
}

impl Drop for Nested {
    fn drop(&mut self) {
        let avg_us = self.present_ns_total / self.presented.max(1) / 1000;
        info!(output = %self.output, presented = self.presented, avg_present_us = avg_us, "nested window closed");
    }
}

/// Open the host window, add its output and route its events. Must run on the thread that runs the loop
/// (winit requires the main thread on Linux).
pub fn start(state: &mut State, config: &NestedConfig) -> Result<OutputId, NestedError> {
    let attrs = WinitWindow::default_attributes()
        .with_title(config.title.clone())
        .with_inner_size(PhysicalSize::new(config.mode.width, config.mode.height));
    let (backend, winit_loop) =
        winit::init_from_attributes::<GlesRenderer>(attrs).map_err(|e| NestedError::Window(e.to_string()))?;
    // The window manager may not give the size that was asked for: the output follows the real size.
    let size = backend.window_size();
    let mode =
        OutputMode { width: size.w.max(1) as u32, height: size.h.max(1) as u32, refresh_mhz: config.mode.refresh_mhz };
    let id = state.alloc_output_id();
    state.create_output(id, mode, None)?;
    if let Some(out) = state.outputs.get_mut(&id) {
        out.mirror = Some(Vec::with_capacity((mode.width * mode.height * 4) as usize));
    }
    state.nested = Some(Nested {
        output: id,
        backend,
        texture: None,
        refresh_mhz: mode.refresh_mhz,
        presented: 0,
        present_ns_total: 0,
    });
    state
        .loop_handle
        .insert_source(winit_loop, |event, _, state: &mut State| on_event(state, event))
        .map_err(|e| NestedError::Loop(e.to_string()))?;
    info!(%id, %mode, "nested window open");
    Ok(id)
}

fn on_event(state: &mut State, event: WinitEvent) {
    let Some(id) = state.nested.as_ref().map(|n| n.output) else { return };
    match event {
        WinitEvent::Resized { size, .. } => {
            let Some(refresh_mhz) = state.nested.as_ref().map(|n| n.refresh_mhz) else { return };
            if size.w <= 0 || size.h <= 0 {
                debug!(?size, "nested window minimised: output keeps its mode");
                return;
            }
            let mode = OutputMode { width: size.w as u32, height: size.h as u32, refresh_mhz };
            if let Err(e) = state.resize_output(id, mode) {
                warn!(%id, "resizing the nested output: {e}");
            }
        }
        WinitEvent::Input(ev) => input::handle(state, id, ev),
        WinitEvent::Redraw => present(state),
        WinitEvent::Focus(focused) => debug!(focused, "nested window focus"),
        WinitEvent::CloseRequested => {
            info!("nested window closed: stopping");
            state.loop_signal.stop();
        }
    }
}
