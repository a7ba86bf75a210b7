//! Launching the colour conversion kernels (encode/kernels/convert.cu, embedded as PTX): one pass from a
//! render target (texture object over its CUDA array) or a pitched RGBA buffer straight into an encoder
//! input buffer, queued on a stream. Also the small cache of texture objects keyed by CUDA array, so the
//! steady state creates none.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::ffi::c_void;

use cudarc::driver::sys;

use super::colour::{Coeffs, PixelFormat};
use super::cuda::{Function, Module, PitchedBuffer, Stream, TextureObject};
use super::error::{GpuError, GpuResult};

/// The PTX of convert.cu (regenerate with scripts/gpu/build-ptx.py).
pub const PTX: &str = include_str!("../../kernels/convert.ptx");

const BLOCK: (u32, u32) = (32, 8);

/// The loaded conversion kernels.
#[derive(Debug)]
pub struct Converter {
    tex: [Function; 4],
    ptr: [Function; 4],
    _module: Module,
}

fn slot(format: PixelFormat) -> usize {
    match format {
        PixelFormat::Nv12 => 0,
        PixelFormat::P010 => 1,
        PixelFormat::Yuv444 => 2,
        PixelFormat::I420 => 3,
    }
}

impl Converter {
    /// Loads the module into the current context.
    pub fn new() -> GpuResult<Converter> {
        let module = Module::from_ptx(PTX)?;
        let f = |n: &str| module.function(n);
        Ok(Converter {
            tex: [f("lumen_tex_to_nv12")?, f("lumen_tex_to_p010")?, f("lumen_tex_to_yuv444")?, f("lumen_tex_to_i420")?],
            ptr: [f("lumen_ptr_to_nv12")?, f("lumen_ptr_to_p010")?, f("lumen_ptr_to_yuv444")?, f("lumen_ptr_to_i420")?],
            _module: module,
        })
    }

    fn grid(dst: &PitchedBuffer) -> (u32, u32) {
        let (bw, bh) = (2 * BLOCK.0, 2 * BLOCK.1);
        (dst.width().div_ceil(bw), dst.height().div_ceil(bh))
    }

    /// Queues the conversion of the texture's full `dst.width()`×`dst.height()` area into `dst`.
    /// The texture's array must be at least that large and stay valid until the work completes.
    pub fn from_texture(
        &self,
        stream: &Stream,
        src: &TextureObject,
        coeffs: &Coeffs,
        dst: &PitchedBuffer,
    ) -> GpuResult<()> {
        let mut tex = src.raw();
        let mut out = dst.device_ptr();
        let mut pitch = dst.pitch() as u32;
        let (mut w, mut h) = (dst.width() as i32, dst.height() as i32);
        let mut c = *coeffs;
        let mut params: [*mut c_void; 6] = [
            &mut tex as *mut _ as *mut c_void,
            &mut out as *mut _ as *mut c_void,
            &mut pitch as *mut _ as *mut c_void,
            &mut w as *mut _ as *mut c_void,
            &mut h as *mut _ as *mut c_void,
            &mut c as *mut _ as *mut c_void,
        ];
        // SAFETY: the parameters match `lumen_tex_to_*(u64, u8*, u32, i32, i32, Coeffs)`; `dst` holds the
        // whole frame at its pitch; the texture covers w×h (caller's contract, clamped reads otherwise).
        unsafe { self.tex[slot(dst.format())].launch(Self::grid(dst), BLOCK, stream, &mut params) }
    }

    /// Queues the conversion of a pitched RGBA/BGRA device buffer (`src`, `src_pitch` bytes per row,
    /// at least `dst`'s size) into `dst`.
    ///
    /// # Safety
    /// `src` must be a device address readable for `src_pitch * dst.height()` bytes until the work is done.
    pub unsafe fn from_pitched(
        &self,
        stream: &Stream,
        src: u64,
        src_pitch: usize,
        coeffs: &Coeffs,
        dst: &PitchedBuffer,
    ) -> GpuResult<()> {
        if src_pitch < dst.width() as usize * 4 {
            return Err(GpuError::Invalid(format!("source pitch {src_pitch} below {}x4", dst.width())));
        }
        let mut s = src;
        let mut sp = src_pitch as u32;
        let mut out = dst.device_ptr();
        let mut pitch = dst.pitch() as u32;
        let (mut w, mut h) = (dst.width() as i32, dst.height() as i32);
        let mut c = *coeffs;
        let mut params: [*mut c_void; 7] = [
            &mut s as *mut _ as *mut c_void,
            &mut sp as *mut _ as *mut c_void,
            &mut out as *mut _ as *mut c_void,
            &mut pitch as *mut _ as *mut c_void,
            &mut w as *mut _ as *mut c_void,
            &mut h as *mut _ as *mut c_void,
            &mut c as *mut _ as *mut c_void,
        ];
        // SAFETY: `params` matches the conversion kernels' parameter list (src, src pitch, dst, dst pitch, width,
        // height, coefficients) in type and order; `src` is valid per this function's contract and `dst` is a
        // live pitched buffer of the size passed.
        unsafe { self.ptr[slot(dst.format())].launch(Self::grid(dst), BLOCK, stream, &mut params) }
    }
}

/// Texture objects by CUDA array: a mapped GL texture normally yields the same array every tick, so after
/// the first tick no texture object is created. Bounded (oldest evicted) so a driver that hands out new
/// arrays cannot grow it.
#[derive(Debug, Default)]
pub struct TextureCache {
    entries: Vec<TextureObject>,
}

const TEXTURE_CACHE_LIMIT: usize = 8;

impl TextureCache {
    /// The texture object over `array`, created on first sight.
    pub fn get(&mut self, array: sys::CUarray) -> GpuResult<&TextureObject> {
        if let Some(i) = self.entries.iter().position(|t| t.array() == array) {
            return Ok(&self.entries[i]);
        }
        if self.entries.len() == TEXTURE_CACHE_LIMIT {
            tracing::debug!("texture cache full; dropping the oldest");
            self.entries.remove(0);
        }
        self.entries.push(TextureObject::new(array)?);
        Ok(self.entries.last().expect("just pushed"))
    }
}
