//! The NVIDIA zero-copy path (CUDA import, colour conversion kernels, NVENC).
//!
//! Render targets are registered with CUDA once ([`interop`]), converted by one kernel pass straight into
//! pooled pitched buffers ([`convert`], [`pool`], [`cuda`]) on a CUDA stream ordered by events, and handed to
//! NVENC ([`nvenc`]). Everything is loaded at run time: a machine with no NVIDIA driver builds, tests and runs
//! the rest of lumen, and [`probe`] tells the host which encoder to build ([`GpuSupport`]).
//! The byte layouts and measured figures are in docs/gpu.md.

pub mod colour;
pub mod convert;
pub mod counters;
pub mod cuda;
pub mod error;
pub mod gles;
pub mod interop;
pub mod nvenc;
pub mod pool;
pub mod software;
pub mod support;
pub mod targets;

pub use colour::{Coeffs, Conversion, Matrix, PixelFormat, Range, SourceOrder};
pub use error::{GpuError, GpuResult};
pub use support::{Codec, FallbackReason, GpuSupport, NvencCaps};

use std::sync::Arc;

/// The device-buffer pool of one output: `count` pitched frames of one format and size, made once.
pub type FramePool = pool::SlotPool<cuda::PitchedBuffer>;

/// Builds a [`FramePool`] (the only place frame buffers are allocated).
pub fn frame_pool(format: PixelFormat, width: u32, height: u32, count: usize) -> GpuResult<FramePool> {
    pool::SlotPool::new(count, |_| cuda::PitchedBuffer::new(format, width, height))
}

/// Probes the machine at start: CUDA device 0, then an NVENC session on it. Never panics; logs the
/// reason when it falls back to software.
pub fn probe() -> GpuSupport {
    let dev = cuda::CudaDevice::open(0);
    let (name, dev) = match dev {
        Ok(d) => (Ok(d.name().to_string()), Some(d)),
        Err(e) => (Err(e), None),
    };
    support::decide(name, || match dev {
        Some(d) => nvenc::probe_session(&d),
        None => Err(GpuError::NoCudaDriver),
    })
}

/// Opens CUDA device 0 for the conversion path (also usable when NVENC is absent).
pub fn open_device() -> GpuResult<Arc<cuda::CudaDevice>> {
    cuda::CudaDevice::open(0)
}
