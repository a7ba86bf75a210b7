//! The compositor's single state struct: protocol states, seat, space, outputs, renderer.

use std::collections::BTreeMap;
use std::time::Instant;

use lumen_render::{OutputId, Renderer};
use smithay::desktop::{PopupManager, Space, Window};
use smithay::input::{Seat, SeatState};
use smithay::reexports::calloop::{LoopHandle, LoopSignal};
use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::DisplayHandle;
use smithay::wayland::compositor::{CompositorClientState, CompositorState};
use smithay::wayland::cursor_shape::CursorShapeManagerState;
use smithay::wayland::dmabuf::{DmabufGlobal, DmabufState};
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
use smithay::wayland::tablet_manager::TabletManagerState;
use smithay::wayland::text_input::TextInputManagerState;
use smithay::wayland::viewporter::ViewporterState;
use smithay::wayland::xdg_activation::XdgActivationState;
use smithay::wayland::xwayland_shell::XWaylandShellState;

use crate::cursor::CursorState;
use crate::launch::Children;
use crate::output::VirtualOutput;
use crate::xwayland::XwaylandState;

/// Everything the compositor thread owns.
pub struct State {
    pub dh: DisplayHandle,
    pub loop_handle: LoopHandle<'static, State>,
    pub loop_signal: LoopSignal,
    pub start: Instant,
    pub clock: smithay::utils::Clock<smithay::utils::Monotonic>,

    pub compositor_state: CompositorState,
    pub xdg_shell_state: XdgShellState,
    pub xdg_decoration_state: XdgDecorationState,
    pub shm_state: ShmState,
    pub output_manager_state: OutputManagerState,
    pub seat_state: SeatState<State>,
    pub data_device_state: DataDeviceState,
    pub primary_selection_state: PrimarySelectionState,
    pub presentation_state: PresentationState,
    pub viewporter_state: ViewporterState,
    pub fractional_scale_state: FractionalScaleManagerState,
    pub relative_pointer_state: RelativePointerManagerState,
    pub pointer_constraints_state: PointerConstraintsState,
    pub cursor_shape_state: CursorShapeManagerState,
    pub xdg_activation_state: XdgActivationState,
    pub idle_inhibit_state: IdleInhibitManagerState,
    pub tablet_manager_state: TabletManagerState,
    pub text_input_state: TextInputManagerState,
    pub single_pixel_state: SinglePixelBufferState,
    pub fifo_state: FifoManagerState,
    pub commit_timing_state: smithay::wayland::commit_timing::CommitTimingManagerState,
    pub dmabuf_state: DmabufState,
    pub dmabuf_global: Option<DmabufGlobal>,
    pub xwayland_shell_state: XWaylandShellState,

    pub seat: Seat<State>,
    pub space: Space<Window>,
    pub popups: PopupManager,
    pub renderer: Renderer,

    pub outputs: BTreeMap<OutputId, VirtualOutput>,
    /// The output new windows go to (the most recently created one that still exists).
    pub active_output: Option<OutputId>,
    /// Windows that were mapped but have not committed a buffer yet (focus waits for it).
    pub pending_focus: Vec<Window>,
    /// Reused per-tick list of an output's windows.
    pub scratch_windows: Vec<Window>,

    pub cursor: CursorState,
    pub input: crate::input::InputState,
    pub children: Children,
    pub xwayland: XwaylandState,
    /// Socket name clients connect to (`WAYLAND_DISPLAY`).
    pub socket_name: String,
    /// When set, the session ends once every launched app has exited.
    pub exit_with_apps: bool,
    /// Output ids are handed out here and by every `CompositorHandle` (never reused).
    pub next_output_id: std::sync::Arc<std::sync::atomic::AtomicU32>,
    /// The `--nested` host window (its output is one more virtual output), if any.
    pub nested: Option<crate::nested::Nested>,
}

/// Per-client data smithay needs.
#[derive(Default)]
pub struct ClientState {
    pub compositor_state: CompositorClientState,
}

impl ClientData for ClientState {
    fn initialized(&self, _client_id: ClientId) {}
    fn disconnected(&self, client_id: ClientId, reason: DisconnectReason) {
        tracing::debug!(?client_id, ?reason, "client disconnected");
    }
}

impl State {
    /// A fresh output id.
    pub fn alloc_output_id(&self) -> OutputId {
        OutputId(self.next_output_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}
