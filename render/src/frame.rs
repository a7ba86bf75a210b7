//! A rendered frame as it leaves the compositor, and the `FrameSink` trait the encoder side implements.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::sync::SyncPoint;

use crate::pool::Lease;
use crate::readback::Readback;
use crate::target::Target;

/// Identifies a virtual output for the lifetime of the compositor (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutputId(pub u32);

impl std::fmt::Display for OutputId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A damaged rectangle in output pixels (origin top-left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DamageRect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

/// One rendered frame of one output.
///
/// Dropping it hands its target (and its damage vector) back to the output's pool; nothing is freed.
pub struct Frame {
    pub output: OutputId,
    /// 1, 2, 3… per output; gaps never happen (a skipped tick produces no frame and no number).
    pub seq: u64,
    /// CLOCK_MONOTONIC time the frame was rendered.
    pub pts: Duration,
    pub width: u32,
    pub height: u32,
    /// Pixel format of the target (DRM fourcc, little-endian naming: `Xrgb8888` is B,G,R,X in memory).
    pub format: Fourcc,
    /// What changed since this output's previous frame. The first frame of an output is fully damaged.
    pub damage: Vec<DamageRect>,
    /// GPU work still in flight for this frame (GLES); wait on it before reading the target.
    /// `None` or an already signalled point on the CPU path.
    pub sync: Option<SyncPoint>,
    pub(crate) lease: Lease,
    /// A CPU copy of a GPU target, made on the compositor thread for sinks that want CPU pixels.
    readback: Option<Readback>,
    /// What the sink attached to the frame for its consumer (the GPU route: the target's CUDA registration,
    /// made once in `target_created` and shared by reference count).
    attachment: Option<Arc<dyn Any + Send + Sync>>,
}

impl Frame {
    /// The render target holding the pixels.
    pub fn target(&self) -> &Target {
        self.lease.target()
    }

    /// Index of the target inside its output's pool (stable for the target's life: register it once).
    pub fn target_index(&self) -> u32 {
        self.lease.index()
    }

    /// Build a frame (used by the compositor when it lends a target out).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        output: OutputId,
        seq: u64,
        pts: Duration,
        width: u32,
        height: u32,
        format: Fourcc,
        damage: Vec<DamageRect>,
        sync: Option<SyncPoint>,
        lease: Lease,
    ) -> Self {
        Frame { output, seq, pts, width, height, format, damage, sync, lease, readback: None, attachment: None }
    }

    /// Attach the sink's per-target data for the consumer (see the field); replaces any earlier one.
    pub fn set_attachment(&mut self, attachment: Arc<dyn Any + Send + Sync>) {
        self.attachment = Some(attachment);
    }

    /// The attachment, if it is a `T`.
    pub fn attachment<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.attachment.as_deref().and_then(|a| a.downcast_ref::<T>())
    }

    /// Attach the CPU copy of a GPU target (see [`FrameSink::wants_cpu_pixels`]).
    pub fn set_readback(&mut self, readback: Readback) {
        self.readback = Some(readback);
    }

    /// The frame's CPU copy, if one was made: tightly packed R,G,B,A bytes (`Abgr8888`).
    pub fn readback(&self) -> Option<crate::target::CpuPixels<'_>> {
        self.readback.as_ref().map(Readback::pixels)
    }
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("output", &self.output)
            .field("seq", &self.seq)
            .field("pts", &self.pts)
            .field("size", &(self.width, self.height))
            .field("format", &self.format)
            .field("damage", &self.damage.len())
            .field("target_index", &self.target_index())
            .finish()
    }
}

/// The consumer of rendered frames (the encoder side).
///
/// Every method is called on the compositor thread and **must not block**: keep at most the newest frame
/// and drop older ones (dropping a frame returns its target to the pool). If the sink keeps every target of
/// a pool, the output simply skips rendering until one comes back.
pub trait FrameSink: Send {
    /// A new target was created in an output's pool (once per target). On the GLES path the renderer's EGL
    /// context is current, so this is the place to register a GL texture with CUDA.
    fn target_created(&mut self, _output: OutputId, _index: u32, _target: &Target) {}

    /// Whether frames of GPU targets must carry a CPU copy ([`Frame::readback`]) — a CPU encoder. Asked
    /// once when the sink is attached; GPU encoders keep the default and read the targets themselves.
    fn wants_cpu_pixels(&self) -> bool {
        false
    }

    /// An output's pool is gone (output removed or resized); registrations of its targets can be released.
    fn output_removed(&mut self, _output: OutputId) {}

    /// A freshly rendered frame.
    fn submit(&mut self, frame: Frame);
}

impl Drop for Frame {
    fn drop(&mut self) {
        // Give the damage vector back along with the target so it is reused, not freed.
        let damage = std::mem::take(&mut self.damage);
        self.lease.set_damage_storage(damage);
    }
}
