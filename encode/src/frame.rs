//! Frames handed to an encoder: CPU pixels (packed 32-bit RGB variants with a stride) today, a GPU
//! surface handle added by the GPU path later (the enum is `#[non_exhaustive]` for that reason).

use std::time::Instant;

/// Byte order of a packed 32-bit pixel **in memory**.
///
/// Wayland's `XRGB8888`/`ARGB8888` are little-endian words, i.e. `Bgrx`/`Bgra` in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// B, G, R, A bytes.
    Bgra,
    /// R, G, B, A bytes.
    Rgba,
    /// B, G, R, unused (Wayland XRGB8888).
    Bgrx,
    /// R, G, B, unused (Wayland XBGR8888).
    Rgbx,
}

impl PixelFormat {
    /// Byte offsets of (R, G, B) inside one 4-byte pixel.
    pub const fn rgb_offsets(self) -> (usize, usize, usize) {
        match self {
            PixelFormat::Bgra | PixelFormat::Bgrx => (2, 1, 0),
            PixelFormat::Rgba | PixelFormat::Rgbx => (0, 1, 2),
        }
    }
}

/// Packed CPU pixels: `height` rows of `stride` bytes, each row holding `width` 4-byte pixels.
#[derive(Debug, Clone, Copy)]
pub struct CpuPixels<'a> {
    pub data: &'a [u8],
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub format: PixelFormat,
}

impl<'a> CpuPixels<'a> {
    /// Checks that `data` holds `height` rows of at least `width * 4` bytes at `stride`.
    pub fn validate(&self) -> Result<(), crate::EncodeError> {
        let row = self.width as usize * 4;
        if self.width == 0 || self.height == 0 || self.stride < row {
            return Err(crate::EncodeError::BadFrame(format!(
                "{}x{} with stride {}",
                self.width, self.height, self.stride
            )));
        }
        let need = self.stride * (self.height as usize - 1) + row;
        if self.data.len() < need {
            return Err(crate::EncodeError::BadFrame(format!(
                "{} bytes for {}x{} stride {} (need {need})",
                self.data.len(),
                self.width,
                self.height,
                self.stride
            )));
        }
        Ok(())
    }
}

/// Where a frame's pixels live.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum FramePixels<'a> {
    Cpu(CpuPixels<'a>),
    /// A render target registered with CUDA once (NVIDIA path): the encoder reads it on the GPU, nothing is
    /// copied to the CPU. Only the NVENC encoder takes it.
    Gpu(crate::gpu::targets::GpuTarget<'a>),
}

/// One frame ready to encode.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub pixels: FramePixels<'a>,
    /// Index of the frame in its source (monotonic).
    pub index: u64,
    /// When the frame was ready (rendered/captured): the start of the host processing latency.
    pub ready_at: Instant,
}
