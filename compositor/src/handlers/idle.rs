//! idle-inhibit (a streamed session never idles, so inhibitors are only logged) and text-input.

use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::idle_inhibit::IdleInhibitHandler;
use smithay::{delegate_idle_inhibit, delegate_text_input_manager};

use crate::state::State;

impl IdleInhibitHandler for State {
    fn inhibit(&mut self, surface: WlSurface) {
        tracing::debug!(?surface, "idle inhibited");
    }
    fn uninhibit(&mut self, surface: WlSurface) {
        tracing::debug!(?surface, "idle uninhibited");
    }
}

delegate_idle_inhibit!(State);
delegate_text_input_manager!(State);
