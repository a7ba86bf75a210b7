//! Process-wide counters of GPU resource creation: every wrapper that allocates device memory, registers
//! a graphics resource or creates a texture object bumps one. The device test binary reads them before and
//! after its timed loop to prove that the steady state creates nothing.

use std::sync::atomic::{AtomicU64, Ordering};

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static FREES: AtomicU64 = AtomicU64::new(0);
static REGISTRATIONS: AtomicU64 = AtomicU64::new(0);
static UNREGISTRATIONS: AtomicU64 = AtomicU64::new(0);
static TEXTURE_OBJECTS: AtomicU64 = AtomicU64::new(0);
static MAP_CALLS: AtomicU64 = AtomicU64::new(0);

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Device allocations (`cuMemAllocPitch`).
    pub allocations: u64,
    /// Device frees.
    pub frees: u64,
    /// Graphics registrations (GL image, EGL image) and NVENC resource registrations.
    pub registrations: u64,
    /// Unregistrations.
    pub unregistrations: u64,
    /// Texture objects created.
    pub texture_objects: u64,
    /// `cuGraphicsMapResources` calls.
    pub map_calls: u64,
}

impl Counts {
    /// Creations (allocations + registrations + texture objects) since `earlier`.
    pub fn creations_since(&self, earlier: &Counts) -> u64 {
        (self.allocations - earlier.allocations)
            + (self.registrations - earlier.registrations)
            + (self.texture_objects - earlier.texture_objects)
    }
}

/// Reads all counters.
pub fn snapshot() -> Counts {
    Counts {
        allocations: ALLOCATIONS.load(Ordering::Relaxed),
        frees: FREES.load(Ordering::Relaxed),
        registrations: REGISTRATIONS.load(Ordering::Relaxed),
        unregistrations: UNREGISTRATIONS.load(Ordering::Relaxed),
        texture_objects: TEXTURE_OBJECTS.load(Ordering::Relaxed),
        map_calls: MAP_CALLS.load(Ordering::Relaxed),
    }
}

pub(crate) fn allocation() {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
}
pub(crate) fn free() {
    FREES.fetch_add(1, Ordering::Relaxed);
}
pub(crate) fn registration() {
    REGISTRATIONS.fetch_add(1, Ordering::Relaxed);
}
pub(crate) fn unregistration() {
    UNREGISTRATIONS.fetch_add(1, Ordering::Relaxed);
}
pub(crate) fn texture_object() {
    TEXTURE_OBJECTS.fetch_add(1, Ordering::Relaxed);
}
pub(crate) fn map_call() {
    MAP_CALLS.fetch_add(1, Ordering::Relaxed);
}
