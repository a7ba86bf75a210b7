//! Virtual outputs: creation and removal at run time, the frame clock (a timer at the refresh rate), and
//! the per-tick work: render only when damaged, hand the frame to the sink, then frame callbacks,
//! presentation feedback and fifo barriers on every tick.

use std::str::FromStr;
use std::time::{Duration, Instant};

use lumen_render::{BindTarget, DamageRect, Frame, FrameSink, OutputId, ReadbackPool, Renderer, Target, TargetPool};
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::element::memory::MemoryRenderBufferRenderElement;
use smithay::backend::renderer::element::surface::WaylandSurfaceRenderElement;
use smithay::backend::renderer::element::{default_primary_scanout_output_compare, RenderElementStates};
use smithay::backend::renderer::{ExportMem, ImportAll, ImportMem, Renderer as SmithayRenderer, Texture};
use smithay::desktop::space::{space_render_elements, SpaceRenderElements};
use smithay::desktop::utils::{
    surface_presentation_feedback_flags_from_states, surface_primary_scanout_output,
    update_surface_primary_scanout_output, OutputPresentationFeedback,
};
use smithay::desktop::Window;
use smithay::output::{Mode, Output, PhysicalProperties, Scale, Subpixel};
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::RegistrationToken;
use smithay::reexports::wayland_protocols::wp::presentation_time::server::wp_presentation_feedback;
use smithay::reexports::wayland_server::backend::GlobalId;
use smithay::reexports::wayland_server::Resource;
use smithay::utils::{Point, Rectangle, Transform};
use smithay::wayland::commit_timing::CommitTimerBarrierStateUserData;
use smithay::wayland::compositor::CompositorHandler;
use smithay::wayland::fifo::FifoBarrierCachedState;
use smithay::wayland::presentation::Refresh;
use tracing::{debug, info, warn};

use crate::shell::window_output;
use crate::state::State;

/// Targets per output pool: one being encoded, one waiting in the sink, one being rendered.
pub const POOL_SIZE: usize = 3;

smithay::backend::renderer::element::render_elements! {
    pub OutputRenderElements<R, E> where R: ImportAll + ImportMem;
    Space=SpaceRenderElements<R, E>,
    Surface=WaylandSurfaceRenderElement<R>,
    Cursor=MemoryRenderBufferRenderElement<R>,
}

/// Width × height @ refresh (millihertz).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputMode {
    pub width: u32,
    pub height: u32,
    pub refresh_mhz: u32,
}

impl OutputMode {
    pub fn period(&self) -> Duration {
        Duration::from_nanos(1_000_000_000_000 / self.refresh_mhz.max(1) as u64)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModeError {
    #[error("output mode {0:?} is not WIDTHxHEIGHT[@HZ] (e.g. 1920x1080@60 or 1280x720@59.94)")]
    Syntax(String),
    #[error("output mode {0:?} is out of range (1..=16384 pixels, 1..=1000 Hz)")]
    Range(String),
}

impl FromStr for OutputMode {
    type Err = ModeError;
    fn from_str(s: &str) -> Result<Self, ModeError> {
        let syntax = || ModeError::Syntax(s.to_string());
        let (size, hz) = match s.split_once('@') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let (w, h) = size.split_once('x').ok_or_else(syntax)?;
        let width: u32 = w.trim().parse().map_err(|_| syntax())?;
        let height: u32 = h.trim().parse().map_err(|_| syntax())?;
        let hz: f64 = match hz {
            Some(hz) => hz.trim().parse().map_err(|_| syntax())?,
            None => 60.0,
        };
        if !(1..=16384).contains(&width) || !(1..=16384).contains(&height) || !(1.0..=1000.0).contains(&hz) {
            return Err(ModeError::Range(s.to_string()));
        }
        Ok(OutputMode { width, height, refresh_mhz: (hz * 1000.0).round() as u32 })
    }
}

impl std::fmt::Display for OutputMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}@{}.{:03}", self.width, self.height, self.refresh_mhz / 1000, self.refresh_mhz % 1000)
    }
}

/// Counters of one output (read by the control socket and the benches).
#[derive(Debug, Clone, Copy, Default)]
pub struct OutputStats {
    pub ticks: u64,
    pub frames: u64,
    pub skipped_undamaged: u64,
    pub skipped_no_target: u64,
    pub render_ns_total: u64,
    pub render_ns_last: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("output {0} does not exist")]
    NoSuchOutput(OutputId),
    #[error("output {0} already exists")]
    Exists(OutputId),
    #[error(transparent)]
    Target(#[from] lumen_render::TargetError),
    #[error("render failed: {0}")]
    Render(String),
    #[error("output {0} has an external frame sink; frames are not kept for dumping")]
    NotRetained(OutputId),
    #[error("output {0} has not produced a frame yet")]
    NoFrame(OutputId),
}

/// One virtual output.
pub struct VirtualOutput {
    pub id: OutputId,
    pub output: Output,
    pub mode: OutputMode,
    /// Integer output scale (logical size = mode / scale): 2 makes text readable on a 4K stream.
    pub scale: i32,
    global: GlobalId,
    /// Damage since the previous frame (always age 1): decides whether a tick produces a frame.
    detect: OutputDamageTracker,
    /// Damage for the target being rendered (its own buffer age).
    tracker: OutputDamageTracker,
    pool: TargetPool,
    timer: Option<RegistrationToken>,
    deadline: Instant,
    seq: u64,
    pub stats: OutputStats,
    sink: Option<Box<dyn FrameSink>>,
    /// Without an external sink the newest frame is kept here (control-socket dumps, tests).
    pub latest: Option<Frame>,
    /// Damage of the tick being rendered (reused: no allocation per frame).
    scratch_damage: Vec<DamageRect>,
    /// When set (the `--nested` window's output), every rendered frame is also read back here as tightly
    /// packed RGBA (reused buffer), for the window to show.
    pub mirror: Option<Vec<u8>>,
    /// CPU copies of GPU targets for a sink that wants CPU pixels (a CPU encoder on the GLES renderer).
    readback: ReadbackPool,
}

impl State {
    /// Create a virtual output and start its frame clock. Frames go to `sink`, or are kept for dumps.
    pub fn create_output(
        &mut self,
        id: OutputId,
        mode: OutputMode,
        mut sink: Option<Box<dyn FrameSink>>,
    ) -> Result<(), OutputError> {
        if self.outputs.contains_key(&id) {
            return Err(OutputError::Exists(id));
        }
        let output = Output::new(
            format!("HEADLESS-{id}"),
            PhysicalProperties {
                size: (0, 0).into(),
                subpixel: Subpixel::Unknown,
                make: "lumen".into(),
                model: "virtual".into(),
            },
        );
        let smode = Mode { size: (mode.width as i32, mode.height as i32).into(), refresh: mode.refresh_mhz as i32 };
        // Outputs sit side by side, left to right, so each has its own area of the space.
        let x = self
            .outputs
            .values()
            .filter_map(|o| self.space.output_geometry(&o.output))
            .map(|g| g.loc.x + g.size.w)
            .max()
            .unwrap_or(0);
        let loc: Point<i32, smithay::utils::Logical> = (x, 0).into();
        output.change_current_state(Some(smode), Some(Transform::Normal), Some(Scale::Integer(1)), Some(loc));
        output.set_preferred(smode);

        let mut targets = Vec::with_capacity(POOL_SIZE);
        for _ in 0..POOL_SIZE {
            targets.push(self.renderer.create_target(mode.width as i32, mode.height as i32)?);
        }
        let pool = TargetPool::new(targets);
        if let Some(sink) = sink.as_mut() {
            announce_targets(&mut self.renderer, id, &pool, sink.as_mut());
        }
        let global = output.create_global::<State>(&self.dh);
        self.space.map_output(&output, loc);

        let now = Instant::now();
        let deadline = now + mode.period();
        let timer = self
            .loop_handle
            .insert_source(Timer::from_deadline(deadline), move |_, _, state: &mut State| match state.tick_output(id) {
                Some(next) => TimeoutAction::ToInstant(next),
                None => TimeoutAction::Drop,
            })
            .map_err(|e| OutputError::Render(format!("timer: {e}")))?;

        info!(%id, %mode, renderer = %self.renderer.kind(), "output created");
        self.outputs.insert(
            id,
            VirtualOutput {
                id,
                detect: OutputDamageTracker::from_output(&output),
                tracker: OutputDamageTracker::from_output(&output),
                output,
                mode,
                scale: 1,
                global,
                pool,
                timer: Some(timer),
                deadline,
                seq: 0,
                stats: OutputStats::default(),
                sink,
                latest: None,
                scratch_damage: Vec::with_capacity(16),
                mirror: None,
                readback: ReadbackPool::new(),
            },
        );
        let previous = self.active_output;
        self.active_output = Some(id);
        // Windows that had no output yet (none existed) now fill this one.
        crate::shell::reassign_windows(self, None, Some(id));
        if previous.is_none() {
            crate::shell::refocus(self, Some(id));
        }
        Ok(())
    }

    /// Remove an output: stop its clock, withdraw its global, move its windows to another output.
    pub fn remove_output(&mut self, id: OutputId) -> Result<(), OutputError> {
        let mut out = self.outputs.remove(&id).ok_or(OutputError::NoSuchOutput(id))?;
        if let Some(t) = out.timer.take() {
            self.loop_handle.remove(t);
        }
        self.space.unmap_output(&out.output);
        self.dh.remove_global::<State>(out.global.clone());
        if let Some(sink) = out.sink.as_mut() {
            sink.output_removed(id);
        }
        drop(out);
        if self.active_output == Some(id) {
            self.active_output = self.outputs.keys().next_back().copied();
        }
        crate::shell::reassign_windows(self, Some(id), self.active_output);
        crate::shell::refocus(self, self.active_output);
        info!(%id, "output removed");
        Ok(())
    }

    /// Change an output's mode (the `--nested` window was resized): new pool at the new size, fresh damage
    /// trackers, outputs re-laid out left to right, windows refilled. A sink sees `output_removed` and then
    /// `target_created` for each new target.
    pub fn resize_output(&mut self, id: OutputId, mode: OutputMode) -> Result<(), OutputError> {
        let current = self.outputs.get(&id).ok_or(OutputError::NoSuchOutput(id))?.mode;
        if current == mode {
            return Ok(());
        }
        let mut targets = Vec::with_capacity(POOL_SIZE);
        for _ in 0..POOL_SIZE {
            targets.push(self.renderer.create_target(mode.width as i32, mode.height as i32)?);
        }
        let State { renderer, outputs, .. } = self;
        let out = outputs.get_mut(&id).ok_or(OutputError::NoSuchOutput(id))?;
        let smode = Mode { size: (mode.width as i32, mode.height as i32).into(), refresh: mode.refresh_mhz as i32 };
        out.output.change_current_state(Some(smode), None, None, None);
        out.output.set_preferred(smode);
        out.detect = OutputDamageTracker::from_output(&out.output);
        out.tracker = OutputDamageTracker::from_output(&out.output);
        out.pool = TargetPool::new(targets);
        out.latest = None;
        out.mode = mode;
        if let Some(m) = out.mirror.as_mut() {
            m.clear();
        }
        if let Some(sink) = out.sink.as_mut() {
            sink.output_removed(id);
            announce_targets(renderer, id, &out.pool, sink.as_mut());
        }
        info!(%id, %mode, "output resized");
        self.relayout_outputs(id);
        Ok(())
    }

    /// Keeps the outputs side by side in the space by their logical widths (a wider output pushes the ones
    /// to its right) and refits the windows of every output that moved and of `changed`.
    fn relayout_outputs(&mut self, changed: OutputId) {
        // Keep the outputs side by side (a wider output pushes the ones to its right).
        let mut x = 0;
        let ids: Vec<OutputId> = self.outputs.keys().copied().collect();
        for oid in ids {
            let Some(o) = self.outputs.get(&oid) else { continue };
            let output = o.output.clone();
            let width = o.mode.width as i32 / o.scale.max(1);
            let moved = self.space.output_geometry(&output).map(|g| g.loc.x) != Some(x);
            if moved {
                output.change_current_state(None, None, None, Some((x, 0).into()));
                self.space.map_output(&output, (x, 0));
            }
            if moved || oid == changed {
                crate::shell::reassign_windows(self, Some(oid), Some(oid));
            }
            x += width;
        }
    }

    /// Sets an output's integer scale: clients render at it (wl_output scale), the output keeps its mode, its
    /// logical size becomes mode / scale, and the windows on it are fitted again.
    pub fn set_output_scale(&mut self, id: OutputId, scale: i32) -> Result<(), OutputError> {
        let scale = scale.clamp(1, 4);
        let out = self.outputs.get_mut(&id).ok_or(OutputError::NoSuchOutput(id))?;
        if out.scale == scale {
            return Ok(());
        }
        out.output.change_current_state(None, None, Some(Scale::Integer(scale)), None);
        out.scale = scale;
        out.detect = OutputDamageTracker::from_output(&out.output);
        out.tracker = OutputDamageTracker::from_output(&out.output);
        info!(%id, scale, "output scale set");
        // Same mode and targets: the layout and the windows follow the new logical size.
        self.relayout_outputs(id);
        Ok(())
    }

    /// Replace (or clear) the frame sink of an output.
    pub fn set_sink(&mut self, id: OutputId, mut sink: Option<Box<dyn FrameSink>>) -> Result<(), OutputError> {
        let out = self.outputs.get_mut(&id).ok_or(OutputError::NoSuchOutput(id))?;
        if let Some(s) = sink.as_mut() {
            announce_targets(&mut self.renderer, id, &out.pool, s.as_mut());
            out.latest = None;
        }
        if let Some(mut old) = std::mem::replace(&mut out.sink, sink) {
            old.output_removed(id);
        }
        Ok(())
    }

    /// One frame-clock tick of output `id`. Returns the next deadline (`None`: the output is gone).
    pub fn tick_output(&mut self, id: OutputId) -> Option<Instant> {
        let period = self.outputs.get(&id)?.mode.period();
        let states = match self.render_output(id) {
            Ok(s) => s,
            Err(e) => {
                warn!(%id, "render: {e}");
                None
            }
        };
        let out = self.outputs.get_mut(&id)?;
        out.stats.ticks += 1;
        let output = out.output.clone();
        let seq = out.seq;
        // Next deadline on the fixed grid; missed deadlines are skipped, not bursted.
        let now = Instant::now();
        let mut next = out.deadline + period;
        if next <= now {
            let behind = (now - out.deadline).as_nanos() / period.as_nanos().max(1);
            next = out.deadline + period * (behind as u32 + 1);
        }
        out.deadline = next;

        self.post_repaint(id, &output, states.as_ref(), seq, period);
        Some(next)
    }

    /// Frame callbacks (every tick), presentation feedback (rendered ticks), fifo barriers and commit timers
    /// due before the next tick.
    fn post_repaint(
        &mut self,
        id: OutputId,
        output: &Output,
        states: Option<&RenderElementStates>,
        seq: u64,
        period: Duration,
    ) {
        let elapsed = self.start.elapsed();
        // Reused list (no allocation per tick). Windows of this output, plus unassigned ones (override-redirect
        // X11 windows) that overlap it.
        let mut windows = std::mem::take(&mut self.scratch_windows);
        windows.clear();
        windows.extend(
            self.space
                .elements()
                .filter(|w| match window_output(w) {
                    Some(o) => o == id,
                    None => self.space.outputs_for_element(w).contains(output),
                })
                .cloned(),
        );
        if let Some(states) = states {
            if self.nested.as_ref().is_some_and(|n| n.output == id) {
                crate::nested::present(self);
            }
            let mut feedback = OutputPresentationFeedback::new(output);
            for w in &windows {
                w.with_surfaces(|surface, data| {
                    update_surface_primary_scanout_output(
                        surface,
                        output,
                        data,
                        states,
                        default_primary_scanout_output_compare,
                    );
                });
                w.take_presentation_feedback(&mut feedback, surface_primary_scanout_output, |s, _| {
                    surface_presentation_feedback_flags_from_states(s, states)
                });
            }
            feedback.presented::<_, smithay::utils::Monotonic>(
                self.clock.now(),
                Refresh::fixed(period),
                seq,
                wp_presentation_feedback::Kind::Vsync,
            );
        }
        let mut blocked_clients = Vec::new();
        // Commit timers: release content updates whose target time is before the next tick.
        let next_tick: smithay::utils::Time<smithay::utils::Monotonic> = (monotonic_now() + period).into();
        for w in &windows {
            w.with_surfaces(|surface, data| {
                let released = data
                    .data_map
                    .get::<CommitTimerBarrierStateUserData>()
                    .and_then(|t| t.lock().ok().map(|mut t| t.signal_until(next_tick)))
                    .unwrap_or(false);
                if released {
                    if let Some(c) = surface.client() {
                        blocked_clients.push(c);
                    }
                }
            });
        }
        for w in &windows {
            w.send_frame(output, elapsed, Some(Duration::ZERO), |_, _| Some(output.clone()));
            w.with_surfaces(|surface, data| {
                let barrier = data.cached_state.get::<FifoBarrierCachedState>().current().barrier.take();
                if let Some(b) = barrier {
                    b.signal();
                    if let Some(c) = surface.client() {
                        blocked_clients.push(c);
                    }
                }
            });
        }
        if let smithay::input::pointer::CursorImageStatus::Surface(s) = &self.cursor.image {
            smithay::desktop::utils::send_frames_surface_tree(s, output, elapsed, None, |_, _| Some(output.clone()));
        }
        for client in blocked_clients {
            let dh = self.dh.clone();
            self.client_compositor_state(&client).blocker_cleared(self, &dh);
        }
        windows.clear();
        self.scratch_windows = windows;
        self.popups.cleanup();
        self.space.refresh();
        if let Err(e) = self.dh.flush_clients() {
            debug!("flush: {e}");
        }
    }

    /// Render output `id` if anything changed; returns the render states of a produced frame.
    fn render_output(&mut self, id: OutputId) -> Result<Option<RenderElementStates>, OutputError> {
        let pointer = self.seat.get_pointer().map(|p| p.current_location());
        let State { renderer, outputs, space, cursor, .. } = self;
        let out = outputs.get_mut(&id).ok_or(OutputError::NoSuchOutput(id))?;
        let origin = space.output_geometry(&out.output).map(|g| g.loc).unwrap_or_default();
        match renderer {
            Renderer::Pixman(r) => render_with(r, out, space, cursor, pointer, origin),
            Renderer::Gles(g) => render_with(&mut g.renderer, out, space, cursor, pointer, origin),
        }
    }

    /// The newest frame of an output as tightly packed RGBA (for dumps and tests).
    pub fn dump_output(&mut self, id: OutputId) -> Result<(u32, u32, Vec<u8>), OutputError> {
        let out = self.outputs.get(&id).ok_or(OutputError::NoSuchOutput(id))?;
        if out.sink.is_some() {
            return Err(OutputError::NotRetained(id));
        }
        let frame = out.latest.as_ref().ok_or(OutputError::NoFrame(id))?;
        let (w, h) = (frame.width, frame.height);
        if let Some(px) = frame.target().cpu_pixels() {
            // XRGB8888 (B,G,R,X) → RGBA.
            let mut rgba = Vec::with_capacity((w * h * 4) as usize);
            for row in 0..h as usize {
                let line = &px.data[row * px.stride..row * px.stride + w as usize * 4];
                for p in line.chunks_exact(4) {
                    rgba.extend_from_slice(&[p[2], p[1], p[0], 255]);
                }
            }
            return Ok((w, h, rgba));
        }
        let rect = Rectangle::from_size((w as i32, h as i32).into());
        match (&mut self.renderer, frame.target()) {
            (Renderer::Gles(g), Target::GlTexture(tex)) => {
                if let Some(sync) = &frame.sync {
                    let _ = sync.wait();
                }
                let map = g
                    .renderer
                    .copy_texture(tex, rect, smithay::backend::allocator::Fourcc::Abgr8888)
                    .map_err(|e| OutputError::Render(e.to_string()))?;
                let bytes = g.renderer.map_texture(&map).map_err(|e| OutputError::Render(e.to_string()))?;
                let mut rgba = bytes.to_vec();
                for p in rgba.chunks_exact_mut(4) {
                    p[3] = 255;
                }
                Ok((w, h, rgba))
            }
            _ => Err(OutputError::Render("dumping this target kind is not supported".into())),
        }
    }

    pub fn output_stats(&self, id: OutputId) -> Option<OutputStats> {
        self.outputs.get(&id).map(|o| o.stats)
    }
}

/// Tell a sink about every target of a pool (with the GL context current on the GLES path).
fn announce_targets(renderer: &mut Renderer, id: OutputId, pool: &TargetPool, sink: &mut dyn FrameSink) {
    match renderer {
        Renderer::Gles(g) => {
            let res = g.renderer.with_context(|_| {
                for (i, t) in pool.targets() {
                    sink.target_created(id, i, t);
                }
            });
            if let Err(e) = res {
                warn!("GL context for target registration: {e}");
            }
        }
        Renderer::Pixman(_) => {
            for (i, t) in pool.targets() {
                sink.target_created(id, i, t);
            }
        }
    }
}

fn render_with<R>(
    r: &mut R,
    out: &mut VirtualOutput,
    space: &smithay::desktop::Space<Window>,
    cursor: &crate::cursor::CursorState,
    pointer: Option<Point<f64, smithay::utils::Logical>>,
    origin: Point<i32, smithay::utils::Logical>,
) -> Result<Option<RenderElementStates>, OutputError>
where
    R: SmithayRenderer + ImportAll + ImportMem + ExportMem + BindTarget,
    R::TextureId: Texture + Send + Clone + 'static,
{
    let Some((index, age)) = out.pool.pick() else {
        out.stats.skipped_no_target += 1;
        return Ok(None);
    };
    let t0 = Instant::now();
    let mut elements: Vec<OutputRenderElements<R, WaylandSurfaceRenderElement<R>>> = Vec::new();
    if let Some(p) = pointer {
        // The cursor is placed in physical pixels of the output.
        let local = p - origin.to_f64();
        let s = f64::from(out.scale.max(1));
        let local: Point<f64, smithay::utils::Logical> = (local.x * s, local.y * s).into();
        if local.x >= 0.0 && local.y >= 0.0 && local.x < out.mode.width as f64 && local.y < out.mode.height as f64 {
            cursor.elements(r, local, &mut elements);
        }
    }
    let space_elements =
        space_render_elements(r, [space], &out.output, 1.0).map_err(|e| OutputError::Render(format!("{e:?}")))?;
    elements.extend(space_elements.into_iter().map(OutputRenderElements::Space));

    let (damage, _) = out.detect.damage_output(1, &elements).map_err(|e| OutputError::Render(format!("{e:?}")))?;
    let Some(damage) = damage else {
        out.stats.skipped_undamaged += 1;
        return Ok(None);
    };
    out.scratch_damage.clear();
    out.scratch_damage.extend(damage.iter().map(|d| DamageRect { x: d.loc.x, y: d.loc.y, w: d.size.w, h: d.size.h }));

    let target = out.pool.target_mut(index).ok_or_else(|| OutputError::Render("picked target is lent".into()))?;
    let (w, h) = target.size();
    let needs_readback = target.cpu_pixels().is_none() && out.sink.as_ref().is_some_and(|sink| sink.wants_cpu_pixels());
    let mut readback = None;
    let (sync, states) = {
        let mut fb = r.bind_target(target).map_err(OutputError::Render)?;
        let res = out
            .tracker
            .render_output(r, &mut fb, age, &elements, [0.0, 0.0, 0.0, 1.0])
            .map_err(|e| OutputError::Render(format!("{e:?}")))?;
        if needs_readback {
            // A CPU encoder on a GPU target: wait for the rendering, then copy into a pooled buffer (top-down
            // RGBA), here where the GL context is current.
            if let Err(e) = res.sync.wait() {
                warn!(id = %out.id, error = ?e, "waiting on the render fence before readback");
            }
            let rect = Rectangle::from_size((w as i32, h as i32).into());
            let rb = out.readback.fill(w, h, |buf| {
                let map = r.copy_framebuffer(&fb, rect, Fourcc::Abgr8888).map_err(|e| format!("{e:?}"))?;
                let bytes = r.map_texture(&map).map_err(|e| format!("{e:?}"))?;
                buf.extend_from_slice(bytes);
                Ok::<(), String>(())
            });
            match rb {
                Ok(rb) => readback = Some(rb),
                Err(e) => return Err(OutputError::Render(e.to_string())),
            }
        }
        if let Some(mirror) = out.mirror.as_mut() {
            // Read back for the nested window (top-down RGBA on both renderers).
            let rect = Rectangle::from_size((w as i32, h as i32).into());
            let map =
                r.copy_framebuffer(&fb, rect, Fourcc::Abgr8888).map_err(|e| OutputError::Render(format!("{e:?}")))?;
            let bytes = r.map_texture(&map).map_err(|e| OutputError::Render(format!("{e:?}")))?;
            mirror.clear();
            mirror.extend_from_slice(bytes);
        }
        (res.sync.clone(), res.states)
    };
    let ns = t0.elapsed().as_nanos() as u64;
    out.stats.render_ns_last = ns;
    out.stats.render_ns_total += ns;
    out.stats.frames += 1;
    out.seq += 1;

    let (lease, mut frame_damage) =
        out.pool.lend(index).ok_or_else(|| OutputError::Render("target vanished".into()))?;
    frame_damage.extend_from_slice(&out.scratch_damage);
    let format = match lease.target() {
        Target::Cpu(_) => smithay::backend::allocator::Fourcc::Xrgb8888,
        Target::GlTexture(_) => smithay::backend::allocator::Fourcc::Abgr8888,
        Target::Dmabuf(d) => smithay::backend::allocator::Buffer::format(d).code,
    };
    let mut frame = Frame::new(out.id, out.seq, monotonic_now(), w, h, format, frame_damage, Some(sync), lease);
    if let Some(rb) = readback {
        frame.set_readback(rb);
    }
    match out.sink.as_mut() {
        Some(sink) => sink.submit(frame),
        None => out.latest = Some(frame),
    }
    Ok(Some(states))
}

/// CLOCK_MONOTONIC now.
pub fn monotonic_now() -> Duration {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
