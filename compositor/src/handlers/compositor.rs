//! wl_compositor / wl_subcompositor, wl_shm, buffers, viewporter, fractional-scale, presentation-time,
//! single-pixel-buffer, fifo and commit-timing.

use std::sync::OnceLock;

use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Client;
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::compositor::{CompositorClientState, CompositorHandler, CompositorState};
use smithay::wayland::fractional_scale::{with_fractional_scale, FractionalScaleHandler};
use smithay::wayland::shm::{ShmHandler, ShmState};
use smithay::xwayland::XWaylandClientData;
use smithay::{
    delegate_commit_timing, delegate_compositor, delegate_fifo, delegate_fractional_scale, delegate_presentation,
    delegate_shm, delegate_single_pixel_buffer, delegate_viewporter,
};

use crate::state::{ClientState, State};

impl CompositorHandler for State {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor_state
    }

    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        if let Some(data) = client.get_data::<ClientState>() {
            return &data.compositor_state;
        }
        if let Some(data) = client.get_data::<XWaylandClientData>() {
            return &data.compositor_state;
        }
        // Every client is inserted by us with one of the two data types above; this fallback only keeps a
        // foreign client from crashing the session.
        static FALLBACK: OnceLock<CompositorClientState> = OnceLock::new();
        tracing::warn!("client without lumen client data");
        FALLBACK.get_or_init(CompositorClientState::default)
    }

    fn commit(&mut self, surface: &WlSurface) {
        crate::shell::on_commit(self, surface);
    }
}

impl BufferHandler for State {
    fn buffer_destroyed(&mut self, _buffer: &WlBuffer) {}
}

impl ShmHandler for State {
    fn shm_state(&self) -> &ShmState {
        &self.shm_state
    }
}

impl FractionalScaleHandler for State {
    fn new_fractional_scale(&mut self, surface: WlSurface) {
        // Virtual outputs are always scale 1.
        smithay::wayland::compositor::with_states(&surface, |states| {
            with_fractional_scale(states, |fs| fs.set_preferred_scale(1.0));
        });
    }
}

delegate_compositor!(State);
delegate_shm!(State);
delegate_viewporter!(State);
delegate_fractional_scale!(State);
delegate_presentation!(State);
delegate_single_pixel_buffer!(State);
delegate_fifo!(State);
delegate_commit_timing!(State);
