//! Window policy for a streamed session: each window belongs to one output and fills it (maximized, or
//! fullscreen on request); popups follow their parent; a new window gets keyboard focus on its first
//! buffer commit (not earlier: foot crashes on `wl_keyboard.enter` before its first configure); focus
//! follows clicks.

use std::cell::Cell;

use lumen_render::OutputId;
use smithay::backend::renderer::utils::{on_commit_buffer_handler, with_renderer_surface_state};
use smithay::desktop::{PopupKind, Window, WindowSurfaceType};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{IsAlive, Logical, Point, Rectangle, SERIAL_COUNTER};
use smithay::wayland::compositor::{get_parent, is_sync_subsurface};
use smithay::wayland::seat::WaylandFocus;
use smithay::wayland::shell::xdg::ToplevelSurface;
use smithay::wayland::text_input::TextInputSeat;

use crate::state::State;

/// Which output a window belongs to (stored in the window's user data).
struct WindowOutput(Cell<Option<OutputId>>);

pub fn window_output(window: &Window) -> Option<OutputId> {
    window.user_data().get::<WindowOutput>().and_then(|w| w.0.get())
}

fn set_window_output(window: &Window, output: Option<OutputId>) {
    window.user_data().insert_if_missing(|| WindowOutput(Cell::new(None)));
    if let Some(w) = window.user_data().get::<WindowOutput>() {
        w.0.set(output);
    }
}

/// The rectangle (global logical coordinates) of an output, if it exists.
pub fn output_rect(state: &State, id: OutputId) -> Option<Rectangle<i32, Logical>> {
    let out = state.outputs.get(&id)?;
    state.space.output_geometry(&out.output)
}

/// Map a new window on the active output, sized to fill it. Configure is sent on its first commit.
pub fn map_window(state: &mut State, window: Window) {
    let target = state.active_output;
    set_window_output(&window, target);
    let rect = target.and_then(|id| output_rect(state, id));
    configure_fill(&window, rect, false);
    let loc = rect.map(|r| r.loc).unwrap_or_default();
    state.space.map_element(window.clone(), loc, true);
    state.pending_focus.push(window);
}

/// Set a toplevel's pending state so it fills `rect` (maximized or fullscreen).
fn configure_fill(window: &Window, rect: Option<Rectangle<i32, Logical>>, fullscreen: bool) {
    if let Some(toplevel) = window.toplevel() {
        toplevel.with_pending_state(|s| {
            s.size = rect.map(|r| r.size);
            s.states.set(xdg_toplevel::State::Maximized);
            if fullscreen {
                s.states.set(xdg_toplevel::State::Fullscreen);
            } else {
                s.states.unset(xdg_toplevel::State::Fullscreen);
            }
        });
    } else if let Some(x11) = window.x11_surface() {
        if let Some(r) = rect {
            if let Err(e) = x11.configure(r) {
                tracing::debug!("x11 configure: {e}");
            }
        }
    }
}

/// A toplevel asked to be (un)fullscreened or (un)maximized: it keeps filling its output.
pub fn fill_output(state: &mut State, surface: &ToplevelSurface, fullscreen: bool) {
    let Some(window) = find_window(state, surface.wl_surface()) else { return };
    let rect = window_output(&window).and_then(|id| output_rect(state, id));
    configure_fill(&window, rect, fullscreen);
    if surface.is_initial_configure_sent() {
        surface.send_pending_configure();
    }
}

/// Move every window of output `from` (or unassigned windows) to output `to`, refilling it.
pub fn reassign_windows(state: &mut State, from: Option<OutputId>, to: Option<OutputId>) {
    let rect = to.and_then(|id| output_rect(state, id));
    let windows: Vec<Window> = state.space.elements().filter(|w| window_output(w) == from).cloned().collect();
    for w in windows {
        set_window_output(&w, to);
        configure_fill(&w, rect, false);
        if let Some(t) = w.toplevel() {
            if t.is_initial_configure_sent() {
                t.send_pending_configure();
            }
        }
        state.space.map_element(w, rect.map(|r| r.loc).unwrap_or_default(), false);
    }
}

pub fn find_window(state: &State, surface: &WlSurface) -> Option<Window> {
    state.space.elements().find(|w| w.wl_surface().as_deref() == Some(surface)).cloned()
}

fn root_surface(surface: &WlSurface) -> WlSurface {
    let mut root = surface.clone();
    while let Some(parent) = get_parent(&root) {
        root = parent;
    }
    root
}

fn has_buffer(surface: &WlSurface) -> bool {
    with_renderer_surface_state(surface, |s| s.buffer().is_some()).unwrap_or(false)
}

/// `wl_surface.commit` for every surface.
pub fn on_commit(state: &mut State, surface: &WlSurface) {
    on_commit_buffer_handler::<State>(surface);
    if !is_sync_subsurface(surface) {
        let root = root_surface(surface);
        if let Some(window) = find_window(state, &root) {
            window.on_commit();
            if let Some(toplevel) = window.toplevel() {
                if !toplevel.is_initial_configure_sent() {
                    toplevel.send_configure();
                }
            }
            if let Some(i) = state.pending_focus.iter().position(|w| w == &window) {
                if has_buffer(&root) {
                    state.pending_focus.remove(i);
                    focus_window(state, &window);
                    let app_id = window.toplevel().map(|t| {
                        smithay::wayland::compositor::with_states(t.wl_surface(), |st| {
                            st.data_map
                                .get::<smithay::wayland::shell::xdg::XdgToplevelSurfaceData>()
                                .and_then(|d| d.lock().ok().and_then(|d| d.app_id.clone()))
                        })
                    });
                    tracing::info!(app_id = ?app_id.flatten(), "window shown with the keyboard focus");
                }
            }
        }
    }
    state.popups.commit(surface);
    if let Some(PopupKind::Xdg(popup)) = state.popups.find_popup(surface) {
        if !popup.is_initial_configure_sent() {
            if let Err(e) = popup.send_configure() {
                tracing::debug!("popup configure: {e}");
            }
        }
    }
    crate::xwayland::on_commit(state, surface);
}

/// Give `window` keyboard focus, raise it and mark it activated (others deactivated).
pub fn focus_window(state: &mut State, window: &Window) {
    state.space.raise_element(window, true);
    for w in state.space.elements() {
        let active = w == window;
        if w.set_activated(active) {
            if let Some(t) = w.toplevel() {
                if t.is_initial_configure_sent() {
                    t.send_pending_configure();
                }
            }
        }
    }
    crate::xwayland::raise(state, window);
    let surface = window.wl_surface().map(|s| s.into_owned());
    if let Some(kb) = state.seat.get_keyboard() {
        let changed = kb.current_focus() != surface;
        let text_input = state.seat.text_input().clone();
        if changed {
            text_input.leave();
        }
        kb.set_focus(state, surface, SERIAL_COUNTER.next_serial());
        // smithay sends text-input `enter` only when an input-method client exists; lumen itself is the
        // input method for the streaming client's text, so it enters the focused surface's text inputs.
        if changed {
            text_input.enter();
        }
    }
}

/// xdg-activation: focus the window of `surface`.
pub fn activate_surface(state: &mut State, surface: &WlSurface) {
    if let Some(w) = find_window(state, &root_surface(surface)) {
        focus_window(state, &w);
    }
}

/// A toplevel went away: unmap it and focus the topmost remaining window of its output.
pub fn unmap_toplevel(state: &mut State, surface: &WlSurface) {
    let Some(window) = find_window(state, surface) else { return };
    let output = window_output(&window);
    state.space.unmap_elem(&window);
    state.pending_focus.retain(|w| w != &window);
    refocus(state, output);
}

/// Focus the topmost window of `output` (or clear focus).
pub fn refocus(state: &mut State, output: Option<OutputId>) {
    let next = state.space.elements().rev().find(|w| window_output(w) == output && w.alive()).cloned();
    match next {
        Some(w) => focus_window(state, &w),
        None => {
            if let Some(kb) = state.seat.get_keyboard() {
                state.seat.text_input().leave();
                kb.set_focus(state, None, SERIAL_COUNTER.next_serial());
            }
        }
    }
}

/// The surface under a global point and that surface's origin in global coordinates.
pub fn surface_under(state: &State, pos: Point<f64, Logical>) -> Option<(WlSurface, Point<f64, Logical>)> {
    let (window, loc) = state.space.element_under(pos)?;
    window.surface_under(pos - loc.to_f64(), WindowSurfaceType::ALL).map(|(s, p)| (s, (p + loc).to_f64()))
}

/// The window owning the surface under `pos`.
pub fn window_under(state: &State, pos: Point<f64, Logical>) -> Option<Window> {
    state.space.element_under(pos).map(|(w, _)| w.clone())
}

impl State {
    /// Global origin of the window that owns `surface` (used for pointer-constraint hints).
    pub fn surface_origin(&self, surface: &WlSurface) -> Option<Point<f64, Logical>> {
        let w = find_window(self, &root_surface(surface))?;
        self.space.element_location(&w).map(|p| p.to_f64())
    }
}
