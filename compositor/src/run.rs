//! Building the compositor (display, globals, seat, renderer, socket) and running its loop until it is
//! stopped (SIGTERM/SIGINT, the control socket, a handle, or — with `--app` — the last app exiting).
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::path::PathBuf;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lumen_render::RendererChoice;
use smithay::desktop::{PopupManager, Space};
use smithay::input::keyboard::XkbConfig;
use smithay::input::SeatState;
use smithay::reexports::calloop::channel::{self, Event as ChannelEvent};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::{EventLoop, Interest, Mode, PostAction};
use smithay::reexports::wayland_server::Display;
use smithay::wayland::compositor::CompositorState;
use smithay::wayland::cursor_shape::CursorShapeManagerState;
use smithay::wayland::dmabuf::DmabufState;
use smithay::wayland::fifo::FifoManagerState;
use smithay::wayland::fractional_scale::FractionalScaleManagerState;
use smithay::wayland::idle_inhibit::IdleInhibitManagerState;
use smithay::wayland::output::OutputManagerState;
use smithay::wayland::pointer_constraints::PointerConstraintsState;
use smithay::wayland::presentation::PresentationState;
use smithay::wayland::relative_pointer::RelativePointerManagerState;
use smithay::wayland::selection::data_device::DataDeviceState;
use smithay::wayland::selection::primary_selection::PrimarySelectionState;
use smithay::wayland::shell::xdg::decoration::XdgDecorationState;
use smithay::wayland::shell::xdg::XdgShellState;
use smithay::wayland::shm::ShmState;
use smithay::wayland::single_pixel_buffer::SinglePixelBufferState;
use smithay::wayland::socket::ListeningSocketSource;
use smithay::wayland::tablet_manager::TabletManagerState;
use smithay::wayland::text_input::TextInputManagerState;
use smithay::wayland::viewporter::ViewporterState;
use smithay::wayland::xdg_activation::XdgActivationState;
use smithay::wayland::xwayland_shell::XWaylandShellState;
use tracing::{error, info, warn};

use crate::cursor::CursorState;
use crate::handle::{Command, CompositorHandle};
use crate::launch::{Children, RuntimeDir};
use crate::output::OutputMode;
use crate::state::{ClientState, State};

/// Everything `lumen-compositor` (later `lumen-session`) is started with.
#[derive(Debug, Clone)]
pub struct Config {
    pub apps: Vec<String>,
    pub renderer: RendererChoice,
    pub outputs: Vec<OutputMode>,
    /// Wayland socket name (`None`: the first free `wayland-N`).
    pub socket: Option<String>,
    pub control: Option<PathBuf>,
    /// Start Xwayland and export `DISPLAY` to apps.
    pub xwayland: bool,
    pub keyboard_layout: String,
    pub cursor_visible: bool,
    /// Catch SIGTERM/SIGINT and stop on them (the standalone compositor). `false` when an embedding
    /// process owns the signals: the compositor then stops only through its [`CompositorHandle`] (or the
    /// control socket, or its apps exiting).
    pub handle_signals: bool,
    /// Each launched app's stdout/stderr go to a file of its own in this directory (`<app>-<pid>.log`);
    /// `None`: apps inherit the compositor's streams.
    pub app_log_dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            apps: Vec::new(),
            renderer: RendererChoice::Auto,
            outputs: vec![OutputMode { width: 1280, height: 720, refresh_mhz: 60_000 }],
            socket: None,
            control: None,
            xwayland: false,
            keyboard_layout: "us".into(),
            cursor_visible: true,
            handle_signals: true,
            app_log_dir: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("runtime directory: {0}")]
    RuntimeDir(std::io::Error),
    #[error("keymaps missing: {0} not found (install xkb-data)")]
    NoXkbData(String),
    #[error(transparent)]
    Renderer(#[from] lumen_render::SelectError),
    #[error("wayland: {0}")]
    Wayland(String),
    #[error("event loop: {0}")]
    Loop(String),
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    #[error("control socket: {0}")]
    Control(std::io::Error),
    #[error(transparent)]
    Xwayland(#[from] crate::xwayland::XwaylandError),
    #[error("nested window: {0}")]
    Nested(#[from] crate::nested::NestedError),
}

/// Run the compositor on the calling thread until it stops. `ready` gets a handle once the socket is up.
pub fn run(config: Config, ready: impl FnOnce(CompositorHandle, &str)) -> Result<(), RunError> {
    run_with(config, None, ready)
}

/// [`run`], optionally with the `--nested` window (one more output, shown on the host desktop). The loop
/// must then run on the main thread (winit's rule on Linux).
pub fn run_with(
    config: Config,
    nested: Option<crate::nested::NestedConfig>,
    ready: impl FnOnce(CompositorHandle, &str),
) -> Result<(), RunError> {
    let runtime = RuntimeDir::ensure().map_err(RunError::RuntimeDir)?;
    // A missing xkb-data makes xkbcommon return NULL and smithay crash inside add_keyboard: check first.
    let xkb_root = std::env::var("XKB_CONFIG_ROOT").unwrap_or_else(|_| "/usr/share/X11/xkb".into());
    if !std::path::Path::new(&xkb_root).join("rules").is_dir() {
        return Err(RunError::NoXkbData(format!("{xkb_root}/rules")));
    }

    let mut event_loop: EventLoop<'static, State> = EventLoop::try_new().map_err(|e| RunError::Loop(e.to_string()))?;
    let display: Display<State> = Display::new().map_err(|e| RunError::Wayland(e.to_string()))?;
    let dh = display.handle();
    let renderer = lumen_render::select(config.renderer)?;
    info!(renderer = %renderer.description(), "renderer ready");

    let mut seat_state = SeatState::new();
    let mut seat = seat_state.new_wl_seat(&dh, "seat0");
    // Key repeat off (rate 0): the client's own repeat arrives as repeated key-downs.
    let xkb = XkbConfig { layout: &config.keyboard_layout, ..Default::default() };
    seat.add_keyboard(xkb, 600, 0).map_err(|e| RunError::Wayland(format!("keyboard: {e}")))?;
    seat.add_pointer();
    seat.add_touch();

    let next_output_id = Arc::new(AtomicU32::new(0));
    let mut state = State {
        dh: dh.clone(),
        loop_handle: event_loop.handle(),
        loop_signal: event_loop.get_signal(),
        start: Instant::now(),
        clock: smithay::utils::Clock::new(),
        compositor_state: CompositorState::new::<State>(&dh),
        xdg_shell_state: XdgShellState::new::<State>(&dh),
        xdg_decoration_state: XdgDecorationState::new::<State>(&dh),
        shm_state: ShmState::new::<State>(&dh, vec![]),
        output_manager_state: OutputManagerState::new_with_xdg_output::<State>(&dh),
        seat_state,
        data_device_state: DataDeviceState::new::<State>(&dh),
        primary_selection_state: PrimarySelectionState::new::<State>(&dh),
        presentation_state: PresentationState::new::<State>(&dh, rustix::time::ClockId::Monotonic as u32),
        viewporter_state: ViewporterState::new::<State>(&dh),
        fractional_scale_state: FractionalScaleManagerState::new::<State>(&dh),
        relative_pointer_state: RelativePointerManagerState::new::<State>(&dh),
        pointer_constraints_state: PointerConstraintsState::new::<State>(&dh),
        cursor_shape_state: CursorShapeManagerState::new::<State>(&dh),
        xdg_activation_state: XdgActivationState::new::<State>(&dh),
        idle_inhibit_state: IdleInhibitManagerState::new::<State>(&dh),
        tablet_manager_state: TabletManagerState::new::<State>(&dh),
        text_input_state: TextInputManagerState::new::<State>(&dh),
        single_pixel_state: SinglePixelBufferState::new::<State>(&dh),
        fifo_state: FifoManagerState::new::<State>(&dh),
        commit_timing_state: smithay::wayland::commit_timing::CommitTimingManagerState::new::<State>(&dh),
        dmabuf_state: DmabufState::new(),
        dmabuf_global: None,
        xwayland_shell_state: XWaylandShellState::new::<State>(&dh),
        seat,
        space: Space::default(),
        popups: PopupManager::default(),
        renderer,
        outputs: Default::default(),
        active_output: None,
        pending_focus: Vec::new(),
        scratch_windows: Vec::new(),
        cursor: CursorState::new(),
        input: crate::input::InputState::new(&config.keyboard_layout),
        children: Children { log_dir: config.app_log_dir.clone(), ..Children::default() },
        xwayland: Default::default(),
        socket_name: String::new(),
        exit_with_apps: !config.apps.is_empty(),
        next_output_id: next_output_id.clone(),
        nested: None,
    };
    state.cursor.visible = config.cursor_visible;
    crate::handlers::create_dmabuf_global(&mut state);

    // The Wayland socket.
    let source = match &config.socket {
        Some(name) => ListeningSocketSource::with_name(name),
        None => ListeningSocketSource::new_auto(),
    }
    .map_err(|e| RunError::Wayland(format!("socket: {e}")))?;
    state.socket_name = source.socket_name().to_string_lossy().into_owned();
    let handle = event_loop.handle();
    handle
        .insert_source(source, |stream, _, state: &mut State| {
            if let Err(e) = state.dh.insert_client(stream, Arc::new(ClientState::default())) {
                warn!("client rejected: {e}");
            }
        })
        .map_err(|e| RunError::Loop(e.to_string()))?;
    handle
        .insert_source(Generic::new(display, Interest::READ, Mode::Level), |_, display, state: &mut State| {
            // SAFETY: the display is only dispatched here and never dropped through this reference.
            let display = unsafe { display.get_mut() };
            if let Err(e) = display.dispatch_clients(state) {
                error!("dispatching clients: {e}");
            }
            state.space.refresh();
            state.popups.cleanup();
            let _ = state.dh.flush_clients();
            Ok(PostAction::Continue)
        })
        .map_err(|e| RunError::Loop(e.to_string()))?;

    // Requests from other threads.
    let (tx, rx) = channel::channel::<Command>();
    handle
        .insert_source(rx, |event, _, state: &mut State| {
            if let ChannelEvent::Msg(c) = event {
                state.handle_command(c);
            }
        })
        .map_err(|e| RunError::Loop(e.to_string()))?;

    // SIGTERM / SIGINT: stop the loop; everything is torn down below and through Drop. An embedding
    // process that owns the signals stops us through the handle instead.
    if config.handle_signals {
        let signals =
            calloop::signals::Signals::new(&[calloop::signals::Signal::SIGTERM, calloop::signals::Signal::SIGINT])
                .map_err(|e| RunError::Loop(format!("signals: {e}")))?;
        handle
            .insert_source(signals, |ev, _, state: &mut State| {
                info!(signal = ?ev.signal(), "stopping");
                state.loop_signal.stop();
            })
            .map_err(|e| RunError::Loop(e.to_string()))?;
    }

    // Reap apps; end the session when it was started with apps and all of them are gone.
    handle
        .insert_source(Timer::from_duration(Duration::from_millis(250)), |_, _, state: &mut State| {
            let running = state.children.reap();
            if state.exit_with_apps
                && state.children.started > 0
                && running == 0
                && state.xwayland.queued_apps.is_empty()
            {
                info!("every app has exited; stopping");
                state.loop_signal.stop();
            }
            TimeoutAction::ToDuration(Duration::from_millis(250))
        })
        .map_err(|e| RunError::Loop(e.to_string()))?;

    if let Some(path) = &config.control {
        crate::control::listen(&handle, path).map_err(RunError::Control)?;
    }
    for mode in &config.outputs {
        let id = state.alloc_output_id();
        state.create_output(id, *mode, None)?;
    }
    if let Some(n) = &nested {
        crate::nested::start(&mut state, n)?;
    }
    if config.xwayland {
        state.start_xwayland()?;
    }
    info!(socket = %state.socket_name, runtime = %runtime.path.display(), "compositor ready");
    ready(CompositorHandle::new(tx, next_output_id, state.xwayland.shared.clone()), &state.socket_name);
    for app in &config.apps {
        state.launch_app(app);
    }

    let result = event_loop.run(None, &mut state, |_| {}).map_err(|e| RunError::Loop(e.to_string()));
    info!("shutting down");
    state.children.terminate_all();
    state.stop_xwayland();
    let ids: Vec<_> = state.outputs.keys().copied().collect();
    for id in ids {
        let _ = state.remove_output(id);
    }
    // Dropping the X11 WM and Xwayland (through `state`) removes its lock files.
    drop(state);
    drop(event_loop);
    drop(runtime);
    result
}
