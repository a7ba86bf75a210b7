//! What the GPU path can do on this machine, and the decision the host takes from it: NVENC with the
//! codecs its session reports, or the software encoder with the logged reason NVENC is not usable.

use super::error::GpuError;

pub use crate::encoder::Codec;

/// What an opened NVENC session reported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NvencCaps {
    /// Codecs the encoder lists (`nvEncGetEncodeGUIDs`), in H.264, HEVC, AV1 order.
    pub codecs: Vec<Codec>,
    /// The driver's newest NVENC API version (major, minor).
    pub max_api: (u32, u32),
}

/// Why the host falls back to software encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FallbackReason {
    /// No `libcuda.so.1`.
    NoCudaDriver,
    /// CUDA is there but no device could be opened.
    Cuda(String),
    /// `libnvidia-encode.so.1` missing or too old.
    NvencLibrary(String),
    /// Opening an encode session failed (the H100/H200 answer `NV_ENC_ERR_UNSUPPORTED_DEVICE`).
    NvencSession(String),
    /// The session opened but lists none of the codecs lumen streams.
    NoCodecs,
}

impl std::fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FallbackReason::NoCudaDriver => write!(f, "no NVIDIA CUDA driver (libcuda.so.1 not found)"),
            FallbackReason::Cuda(e) => write!(f, "CUDA unusable: {e}"),
            FallbackReason::NvencLibrary(e) => write!(f, "NVENC library unusable: {e}"),
            FallbackReason::NvencSession(e) => write!(f, "NVENC session cannot open: {e}"),
            FallbackReason::NoCodecs => write!(f, "NVENC lists none of H.264/HEVC/AV1"),
        }
    }
}

/// The probe's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuSupport {
    /// Encode on the GPU.
    Nvenc {
        /// CUDA device name.
        device: String,
        /// What the session reported.
        caps: NvencCaps,
    },
    /// Encode in software; `cuda_device` is set when CUDA itself works (conversion could still run there).
    Software {
        /// Why NVENC is not used.
        reason: FallbackReason,
        /// The CUDA device, when CUDA works.
        cuda_device: Option<String>,
    },
}

impl GpuSupport {
    /// "nvenc" or "software": the encoder the host should build.
    pub fn encoder_name(&self) -> &'static str {
        match self {
            GpuSupport::Nvenc { .. } => "nvenc",
            GpuSupport::Software { .. } => "software",
        }
    }

    /// The codecs the host may offer in /serverinfo and DESCRIBE when it uses this path
    /// (the software encoder's own list applies when this is `Software`).
    pub fn nvenc_codecs(&self) -> &[Codec] {
        match self {
            GpuSupport::Nvenc { caps, .. } => &caps.codecs,
            GpuSupport::Software { .. } => &[],
        }
    }
}

/// Turns the probe's steps into the verdict (pure, so the fallback logic is testable without a GPU).
/// `cuda` is the opened device's name or the error; `nvenc` runs only when CUDA works.
pub fn decide(cuda: Result<String, GpuError>, nvenc: impl FnOnce() -> Result<NvencCaps, GpuError>) -> GpuSupport {
    let device = match cuda {
        Ok(d) => d,
        Err(GpuError::NoCudaDriver) => {
            return software(FallbackReason::NoCudaDriver, None);
        }
        Err(e) => return software(FallbackReason::Cuda(e.to_string()), None),
    };
    match nvenc() {
        Ok(caps) if caps.codecs.is_empty() => software(FallbackReason::NoCodecs, Some(device)),
        Ok(caps) => {
            tracing::info!(%device, codecs = ?caps.codecs, "NVENC available");
            GpuSupport::Nvenc { device, caps }
        }
        Err(e @ (GpuError::Load { .. } | GpuError::MissingSymbol { .. })) => {
            software(FallbackReason::NvencLibrary(e.to_string()), Some(device))
        }
        Err(e) => software(FallbackReason::NvencSession(e.to_string()), Some(device)),
    }
}

fn software(reason: FallbackReason, cuda_device: Option<String>) -> GpuSupport {
    tracing::warn!(%reason, "GPU encoding unavailable; falling back to the software encoder");
    GpuSupport::Software { reason, cuda_device }
}
