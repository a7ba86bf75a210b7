//! The error type of the NVIDIA path: every failing driver call becomes a value naming the call and the
//! driver's own status, never a panic.

use thiserror::Error;

/// Errors of the GPU path (CUDA, GL/EGL interop, NVENC, pools).
#[derive(Debug, Error)]
pub enum GpuError {
    /// `libcuda.so.1` could not be opened (no NVIDIA driver on this machine).
    #[error("CUDA driver library not found (libcuda.so.1)")]
    NoCudaDriver,
    /// A CUDA driver API call returned an error.
    #[error("{call} failed: {name} ({code})")]
    Cuda { call: &'static str, name: String, code: i32 },
    /// A symbol the path needs is missing from a driver library.
    #[error("symbol {symbol} missing from {library}: {reason}")]
    MissingSymbol { library: &'static str, symbol: &'static str, reason: String },
    /// A driver library could not be loaded.
    #[error("cannot load {library}: {reason}")]
    Load { library: &'static str, reason: String },
    /// An NVENC API call returned an error status.
    #[error("{call} failed: {name} ({code}){detail}")]
    Nvenc { call: &'static str, name: &'static str, code: u32, detail: String },
    /// EGL or GL failed while setting up or using a render target.
    #[error("EGL/GL: {0}")]
    Gl(String),
    /// A caller passed something the path cannot take (wrong size, format, released twice, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Every buffer of a pool is in use.
    #[error("pool exhausted: all {0} buffers are in flight")]
    PoolExhausted(usize),
}

/// Result alias of the GPU path.
pub type GpuResult<T> = Result<T, GpuError>;
