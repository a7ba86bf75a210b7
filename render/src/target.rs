//! One render target: CPU pixels (Pixman), a GL texture (GLES, surfaceless) or a dmabuf (GLES on GBM).
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Buffer;
use smithay::backend::renderer::gles::GlesTexture;
use smithay::backend::renderer::Texture;
use smithay::reexports::pixman;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("renderer could not create a {w}x{h} target: {reason}")]
    Create { w: i32, h: i32, reason: String },
}

/// A render target owned by a pool.
pub enum Target {
    /// CPU memory rendered by Pixman (format XRGB8888, B,G,R,X bytes in memory).
    Cpu(pixman::Image<'static, 'static>),
    /// A GL texture of the renderer's EGL context (format ABGR8888: R,G,B,A bytes).
    GlTexture(GlesTexture),
    /// A dmabuf allocated on the GBM render node.
    Dmabuf(Dmabuf),
}

/// Borrowed view of a CPU target's pixels.
#[derive(Debug, Clone, Copy)]
pub struct CpuPixels<'a> {
    pub data: &'a [u8],
    pub width: u32,
    pub height: u32,
    /// Bytes per row.
    pub stride: usize,
}

impl Target {
    /// The pixels of a CPU target; `None` for GPU targets.
    pub fn cpu_pixels(&self) -> Option<CpuPixels<'_>> {
        match self {
            Target::Cpu(img) => {
                let len = img.stride() * img.height();
                // SAFETY: `data()` points at the image's pixel storage, `stride * height` bytes long, which
                // lives as long as `img`. The image is owned by exactly one pool slot or lease and only the
                // renderer, through `&mut Target`, ever writes it, so no write can overlap this `&self` borrow.
                let data = unsafe { std::slice::from_raw_parts(img.data() as *const u8, len) };
                Some(CpuPixels { data, width: img.width() as u32, height: img.height() as u32, stride: img.stride() })
            }
            _ => None,
        }
    }

    /// GL texture name of a texture target (valid in the renderer's EGL context).
    pub fn gl_texture_id(&self) -> Option<u32> {
        match self {
            Target::GlTexture(t) => Some(t.tex_id()),
            _ => None,
        }
    }

    pub fn dmabuf(&self) -> Option<&Dmabuf> {
        match self {
            Target::Dmabuf(d) => Some(d),
            _ => None,
        }
    }

    pub fn size(&self) -> (u32, u32) {
        match self {
            Target::Cpu(img) => (img.width() as u32, img.height() as u32),
            Target::GlTexture(t) => {
                let s = t.size();
                (s.w as u32, s.h as u32)
            }
            Target::Dmabuf(d) => {
                let s = d.size();
                (s.w as u32, s.h as u32)
            }
        }
    }
}
