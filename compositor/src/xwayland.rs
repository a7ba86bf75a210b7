//! Xwayland on demand: smithay's `XWayland` server plus its `X11Wm`, X11 windows placed by the same
//! window policy as Wayland ones. smithay 0.7 pairs X11 windows with their wl_surface only through
//! `xwayland_shell_v1`, which needs Xwayland ≥ 23.1: the version is checked before starting.

use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use smithay::delegate_xwayland_shell;
use smithay::desktop::Window;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Rectangle};
use smithay::wayland::selection::SelectionTarget;
use smithay::wayland::xwayland_shell::{XWaylandShellHandler, XWaylandShellState};
use smithay::xwayland::xwm::{Reorder, ResizeEdge, XwmId};
use smithay::xwayland::{X11Surface, X11Wm, XWayland, XWaylandEvent, XwmHandler};
use tracing::{error, info, warn};

use crate::state::State;

/// Oldest Xwayland that smithay 0.7 can pair windows with (xwayland_shell_v1).
pub const MIN_VERSION: (u32, u32) = (23, 1);

#[derive(Default)]
pub struct XwaylandState {
    pub wm: Option<X11Wm>,
    /// `DISPLAY` number once Xwayland is ready.
    pub display: Option<u32>,
    /// Apps waiting for Xwayland before they can be launched.
    pub queued_apps: Vec<String>,
    pub starting: bool,
    /// The Xwayland server's loop source; removing it drops the server and its X lock files.
    pub source: Option<smithay::reexports::calloop::RegistrationToken>,
    /// What other threads see through [`crate::CompositorHandle::x_display`]: [`X_NONE`], [`X_FAILED`], or
    /// the display number + 1.
    pub shared: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

/// [`XwaylandState::shared`]: no Xwayland (yet).
pub const X_NONE: u32 = 0;
/// [`XwaylandState::shared`]: Xwayland failed to start.
pub const X_FAILED: u32 = u32::MAX;

#[derive(Debug, thiserror::Error)]
pub enum XwaylandError {
    #[error("Xwayland not found in PATH ({0}); install xwayland >= 23.1")]
    NotFound(String),
    #[error("Xwayland {found} is too old: smithay needs >= {}.{} (xwayland_shell_v1); install a newer xwayland (see scripts/deps/compositor.sh)", MIN_VERSION.0, MIN_VERSION.1)]
    TooOld { found: String },
    #[error("could not read the Xwayland version from {0:?}")]
    UnknownVersion(String),
    #[error("starting Xwayland: {0}")]
    Spawn(String),
}

/// Parse "xwayland 24.1.6" / "Xwayland ... 22.1.9" style output into (major, minor).
pub fn parse_version(text: &str) -> Option<(u32, u32, String)> {
    for line in text.lines() {
        let l = line.to_ascii_lowercase();
        if !l.contains("xwayland") {
            continue;
        }
        for word in line.split_whitespace() {
            let mut parts = word.split('.');
            let (Some(a), Some(b)) = (parts.next(), parts.next()) else { continue };
            if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                return Some((a, b, word.to_string()));
            }
        }
    }
    None
}

/// Check that `Xwayland` in PATH is new enough.
pub fn check_version() -> Result<String, XwaylandError> {
    check_version_on(None)
}

/// [`check_version`] with `path` as the `PATH` it is looked up in (`None`: this process's).
pub fn check_version_on(path: Option<&std::ffi::OsStr>) -> Result<String, XwaylandError> {
    let mut c = Command::new("Xwayland");
    if let Some(p) = path {
        c.env("PATH", p);
    }
    let out = c.arg("-version").stdin(Stdio::null()).output().map_err(|e| XwaylandError::NotFound(e.to_string()))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let (major, minor, found) = parse_version(&text).ok_or_else(|| XwaylandError::UnknownVersion(text.clone()))?;
    if (major, minor) < MIN_VERSION {
        return Err(XwaylandError::TooOld { found });
    }
    Ok(found)
}

impl State {
    /// Start Xwayland (once). Apps that need `DISPLAY` are launched when it is ready.
    pub fn start_xwayland(&mut self) -> Result<(), XwaylandError> {
        if self.xwayland.starting || self.xwayland.display.is_some() {
            return Ok(());
        }
        let version = check_version()?;
        info!(%version, "starting Xwayland");
        if let Err(e) = std::fs::create_dir_all("/tmp/.X11-unix") {
            warn!("/tmp/.X11-unix: {e}");
        } else {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions("/tmp/.X11-unix", std::fs::Permissions::from_mode(0o1777));
        }
        let (xwayland, client) = XWayland::spawn(
            &self.dh,
            None,
            std::iter::empty::<(String, String)>(),
            true,
            Stdio::null(),
            Stdio::inherit(),
            |_| (),
        )
        .map_err(|e| XwaylandError::Spawn(e.to_string()))?;
        self.xwayland.starting = true;
        let token = self
            .loop_handle
            .insert_source(xwayland, move |event, _, state: &mut State| match event {
                XWaylandEvent::Ready { x11_socket, display_number } => {
                    state.xwayland_ready(x11_socket, display_number, client.clone());
                }
                XWaylandEvent::Error => {
                    error!("Xwayland failed to start");
                    state.xwayland.starting = false;
                    state.xwayland.shared.store(X_FAILED, std::sync::atomic::Ordering::SeqCst);
                }
            })
            .map_err(|e| XwaylandError::Spawn(e.to_string()))?;
        self.xwayland.source = Some(token);
        Ok(())
    }

    /// Stop Xwayland: drop the window manager and the server (which removes `/tmp/.X<n>-lock` and the
    /// socket). Loop sources that hold a loop handle form reference cycles, so this must be explicit.
    pub fn stop_xwayland(&mut self) {
        self.xwayland.wm = None;
        if let Some(token) = self.xwayland.source.take() {
            self.loop_handle.remove(token);
        }
        self.xwayland.display = None;
    }

    fn xwayland_ready(
        &mut self,
        socket: UnixStream,
        display_number: u32,
        client: smithay::reexports::wayland_server::Client,
    ) {
        match X11Wm::start_wm(self.loop_handle.clone(), socket, client) {
            Ok(wm) => {
                info!("Xwayland ready: DISPLAY=:{display_number}");
                self.xwayland.wm = Some(wm);
                self.xwayland.display = Some(display_number);
                self.xwayland.starting = false;
                self.xwayland.shared.store(display_number + 1, std::sync::atomic::Ordering::SeqCst);
                for cmd in std::mem::take(&mut self.xwayland.queued_apps) {
                    self.launch_app(&cmd);
                }
            }
            Err(e) => {
                error!("X11 window manager: {e}");
                self.xwayland.shared.store(X_FAILED, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }
}

/// Commit hook for Xwayland surfaces (nothing beyond the generic window commit is needed).
pub fn on_commit(_state: &mut State, _surface: &WlSurface) {}

/// Raise an X11 window in the X stacking order when it is focused.
pub fn raise(state: &mut State, window: &Window) {
    if let (Some(wm), Some(x11)) = (state.xwayland.wm.as_mut(), window.x11_surface()) {
        if let Err(e) = wm.raise_window(x11) {
            warn!("raise X11 window: {e}");
        }
        let _ = x11.set_activated(true);
    }
}

fn find_x11(state: &State, window: &X11Surface) -> Option<Window> {
    state.space.elements().find(|w| w.x11_surface() == Some(window)).cloned()
}

impl XWaylandShellHandler for State {
    fn xwayland_shell_state(&mut self) -> &mut XWaylandShellState {
        &mut self.xwayland_shell_state
    }
}

impl XwmHandler for State {
    fn xwm_state(&mut self, _xwm: XwmId) -> &mut X11Wm {
        // Only called by the WM we started, so it exists.
        self.xwayland.wm.as_mut().expect("X11Wm callbacks only come from a started X11Wm")
    }

    fn new_window(&mut self, _xwm: XwmId, _window: X11Surface) {}
    fn new_override_redirect_window(&mut self, _xwm: XwmId, _window: X11Surface) {}

    fn map_window_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Err(e) = window.set_mapped(true) {
            warn!("map X11 window: {e}");
            return;
        }
        crate::shell::map_window(self, Window::new_x11_window(window));
    }

    fn mapped_override_redirect_window(&mut self, _xwm: XwmId, window: X11Surface) {
        let loc = window.geometry().loc;
        self.space.map_element(Window::new_x11_window(window), loc, true);
    }

    fn unmapped_window(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Some(w) = find_x11(self, &window) {
            let out = crate::shell::window_output(&w);
            self.space.unmap_elem(&w);
            self.pending_focus.retain(|p| p != &w);
            crate::shell::refocus(self, out);
        }
        if !window.is_override_redirect() {
            let _ = window.set_mapped(false);
        }
    }

    fn destroyed_window(&mut self, _xwm: XwmId, _window: X11Surface) {}

    fn configure_request(
        &mut self,
        _xwm: XwmId,
        window: X11Surface,
        _x: Option<i32>,
        _y: Option<i32>,
        _w: Option<u32>,
        _h: Option<u32>,
        _reorder: Option<Reorder>,
    ) {
        // Managed windows keep filling their output: answer with the current geometry.
        let geo = match find_x11(self, &window)
            .and_then(|w| crate::shell::window_output(&w).and_then(|id| crate::shell::output_rect(self, id)))
        {
            Some(r) => r,
            None => window.geometry(),
        };
        let _ = window.configure(geo);
    }

    fn configure_notify(
        &mut self,
        _xwm: XwmId,
        window: X11Surface,
        geometry: Rectangle<i32, Logical>,
        _above: Option<u32>,
    ) {
        if window.is_override_redirect() {
            if let Some(w) = find_x11(self, &window) {
                self.space.map_element(w, geometry.loc, false);
            }
        }
    }

    fn resize_request(&mut self, _xwm: XwmId, _window: X11Surface, _button: u32, _edge: ResizeEdge) {}
    fn move_request(&mut self, _xwm: XwmId, _window: X11Surface, _button: u32) {}

    fn send_selection(
        &mut self,
        _xwm: XwmId,
        _selection: SelectionTarget,
        _mime_type: String,
        _fd: std::os::fd::OwnedFd,
    ) {
    }
}

delegate_xwayland_shell!(State);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("Xwayland 22.1.9\n").map(|v| (v.0, v.1)), Some((22, 1)));
        assert_eq!(parse_version("xwayland 24.1.6 (Debian)").map(|v| (v.0, v.1)), Some((24, 1)));
        assert_eq!(parse_version("nothing here"), None);
        assert!((22, 1) < MIN_VERSION && (24, 1) >= MIN_VERSION && (23, 1) >= MIN_VERSION);
    }
}
