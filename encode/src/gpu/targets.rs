//! CUDA registrations of the compositor's render targets (render/'s `TargetPool`), made **once** per target
//! with the semantics of `lumen_render::FrameSink::target_created` and released with `output_removed`.
//!
//! A `Target::GlTexture` (GLES on surfaceless EGL) becomes an EGLImage (`EGL_KHR_gl_texture_2D_image`,
//! made on the EGL display and context that are current — the renderer's, as the hook guarantees) and that
//! image is registered with `cuGraphicsEGLRegisterImage`; the CUDA array behind it is read without any
//! per-frame map (docs/gpu.md: the no-map route has the shortest tail). The texture object over the array is
//! kept with the registration, so a frame costs one lookup by (output, index) and nothing is created.
//! `Target::Dmabuf` targets (GLES on a GBM node) are imported the same way through
//! `EGL_EXT_image_dma_buf_import`; CPU targets are not registered (they take the upload path).
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::ffi::c_void;
use std::sync::Arc;

use khronos_egl as egl;
use lumen_render::{OutputId, Target};

use super::colour::SourceOrder;
use super::cuda::{CudaDevice, TextureObject};
use super::error::{GpuError, GpuResult};
use super::interop::Registered;

const GL_TEXTURE_LEVEL: egl::Attrib = 0x30BC;
const LINUX_DMA_BUF: egl::Enum = 0x3270;

/// A render target already registered with CUDA, as an encoder input: what a GPU frame carries (the
/// `FramePixels` GPU variant's payload). Borrowed from the [`TargetRegistry`] for one `encode` call.
#[derive(Debug, Clone, Copy)]
pub struct GpuTarget<'a> {
    /// Texture object over the target's CUDA array (made once, at registration).
    pub texture: &'a TextureObject,
    /// Byte order of the target's texels (`Target::GlTexture` is ABGR8888 = R,G,B,A → `Rgba`;
    /// a GBM `Xrgb8888` dmabuf is B,G,R,X → `Bgra`).
    pub order: SourceOrder,
    pub width: u32,
    pub height: u32,
}

/// One registered pool target: the EGLImage over it, its CUDA registration and the texture object over its
/// array. Shared (`Arc`) between the registry (compositor thread) and the frames that carry it to the
/// encoder thread; the last holder releases it (CUDA context bound first when the registry has a device).
pub struct RegisteredTarget {
    output: OutputId,
    index: u32,
    size: (u32, u32),
    order: SourceOrder,
    // Taken in `Drop` in this order: the texture object, then the registration, then the image.
    texture: Option<TextureObject>,
    registration: Option<Registered>,
    image: egl::Image,
    display: egl::Display,
    egl: Arc<Egl>,
    dev: Option<Arc<CudaDevice>>,
}

// SAFETY: every field is a handle that is only read after creation (`&self` never mutates); EGL and CUDA
// accept these handles from any thread (the CUDA context is bound in `Drop` before the release).
unsafe impl Send for RegisteredTarget {}
// SAFETY: as above: shared references only read immutable handles.
unsafe impl Sync for RegisteredTarget {}

impl RegisteredTarget {
    /// The target as an encoder input (what `FramePixels::Gpu` carries).
    pub fn gpu_target(&self) -> GpuTarget<'_> {
        GpuTarget {
            texture: self.texture.as_ref().expect("texture object lives until drop"),
            order: self.order,
            width: self.size.0,
            height: self.size.1,
        }
    }

    /// The output and pool slot it belongs to.
    pub fn slot(&self) -> (OutputId, u32) {
        (self.output, self.index)
    }
}

impl std::fmt::Debug for RegisteredTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredTarget")
            .field("output", &self.output)
            .field("index", &self.index)
            .field("size", &self.size)
            .field("order", &self.order)
            .finish()
    }
}

impl Drop for RegisteredTarget {
    fn drop(&mut self) {
        if let Some(dev) = &self.dev {
            let _ = dev.bind();
        }
        drop(self.texture.take());
        drop(self.registration.take());
        if let Err(err) = self.egl.destroy_image(self.display, self.image) {
            tracing::warn!(error = %err, "eglDestroyImage failed");
        }
    }
}

type Egl = egl::DynamicInstance<egl::EGL1_5>;

/// The CUDA side of every GPU render target the compositor created (all outputs).
pub struct TargetRegistry {
    egl: Arc<Egl>,
    entries: Vec<Arc<RegisteredTarget>>,
    dev: Option<Arc<CudaDevice>>,
}

fn gl_err(what: &str, e: impl std::fmt::Display) -> GpuError {
    tracing::warn!("{what}: {e}");
    GpuError::Gl(format!("{what}: {e}"))
}

impl TargetRegistry {
    /// Loads libEGL (the same glvnd library the renderer uses; handles are shared).
    pub fn new() -> GpuResult<TargetRegistry> {
        // SAFETY: loads libEGL.so.1 and resolves the EGL 1.5 entry points from it.
        let egl = unsafe { egl::DynamicInstance::<egl::EGL1_5>::load_required() }
            .map_err(|e| gl_err("load libEGL.so.1", e))?;
        Ok(TargetRegistry { egl: Arc::new(egl), entries: Vec::with_capacity(8), dev: None })
    }

    /// As [`TargetRegistry::new`], binding `dev`'s CUDA context before every registration and release (for
    /// a registry whose hooks run on a thread that does no other CUDA work: the compositor's).
    pub fn with_device(dev: Arc<CudaDevice>) -> GpuResult<TargetRegistry> {
        let mut r = TargetRegistry::new()?;
        r.dev = Some(dev);
        Ok(r)
    }

    /// Registers `target` (slot `index` of `output`'s pool) with CUDA. Call it where
    /// `FrameSink::target_created` is called: the renderer's EGL context must be current on this thread, and
    /// the CUDA context too. Registering the same slot again replaces the old registration.
    pub fn target_created(&mut self, output: OutputId, index: u32, target: &Target) -> GpuResult<()> {
        if let Some(dev) = &self.dev {
            dev.bind()?;
        }
        if matches!(target, Target::Cpu(_)) {
            tracing::debug!(%output, index, "CPU render target: not registered (upload path)");
            return Err(GpuError::Invalid(format!(
                "output {output} target {index} is a CPU image: nothing to register"
            )));
        }
        let display =
            self.egl.get_current_display().ok_or_else(|| gl_err("target_created", "no current EGL display"))?;
        let order = match target {
            Target::Dmabuf(_) => SourceOrder::Bgra,
            _ => SourceOrder::Rgba,
        };
        let image = match target {
            Target::GlTexture(_) => {
                let context =
                    self.egl.get_current_context().ok_or_else(|| gl_err("target_created", "no current EGL context"))?;
                let name = target.gl_texture_id().unwrap_or(0);
                // SAFETY: the client buffer is a texture name of the current context, as EGL_GL_TEXTURE_2D wants.
                unsafe {
                    let buf = egl::ClientBuffer::from_ptr(name as usize as *mut c_void);
                    self.egl.create_image(
                        display,
                        context,
                        egl::GL_TEXTURE_2D as egl::Enum,
                        buf,
                        &[GL_TEXTURE_LEVEL, 0, egl::ATTRIB_NONE],
                    )
                }
                .map_err(|e| gl_err("eglCreateImage(GL_TEXTURE_2D)", e))?
            }
            Target::Dmabuf(d) => {
                use lumen_render::smithay::backend::allocator::Buffer;
                use std::os::fd::AsRawFd;
                let plane = d.handles().next().ok_or_else(|| gl_err("dmabuf", "no planes"))?;
                let stride = d.strides().next().unwrap_or(0);
                let offset = d.offsets().next().unwrap_or(0);
                let size = d.size();
                let modifier: u64 = d.format().modifier.into();
                let attrs: [egl::Attrib; 17] = [
                    egl::WIDTH as egl::Attrib,
                    size.w as egl::Attrib,
                    egl::HEIGHT as egl::Attrib,
                    size.h as egl::Attrib,
                    0x3271, // EGL_LINUX_DRM_FOURCC_EXT
                    d.format().code as u32 as egl::Attrib,
                    0x3272, // EGL_DMA_BUF_PLANE0_FD_EXT
                    plane.as_raw_fd() as egl::Attrib,
                    0x3273, // EGL_DMA_BUF_PLANE0_OFFSET_EXT
                    offset as egl::Attrib,
                    0x3274, // EGL_DMA_BUF_PLANE0_PITCH_EXT
                    stride as egl::Attrib,
                    0x3443, // EGL_DMA_BUF_PLANE0_MODIFIER_LO_EXT
                    (modifier & 0xffff_ffff) as egl::Attrib,
                    0x3444, // EGL_DMA_BUF_PLANE0_MODIFIER_HI_EXT
                    (modifier >> 32) as egl::Attrib,
                    egl::ATTRIB_NONE,
                ];
                // SAFETY: EGL_LINUX_DMA_BUF_EXT takes no context and a null client buffer; the fd is only read
                // during the call.
                unsafe {
                    let ctx = egl::Context::from_ptr(egl::NO_CONTEXT);
                    self.egl.create_image(
                        display,
                        ctx,
                        LINUX_DMA_BUF,
                        egl::ClientBuffer::from_ptr(std::ptr::null_mut()),
                        &attrs,
                    )
                }
                .map_err(|e| gl_err("eglCreateImage(EGL_LINUX_DMA_BUF_EXT)", e))?
            }
            Target::Cpu(_) => {
                return Err(GpuError::Invalid(format!(
                    "output {output} target {index} is a CPU image: nothing to register"
                )))
            }
        };
        let registered = (|| {
            // SAFETY: the image is live and is destroyed only after the registration (RegisteredTarget's Drop).
            let registration = unsafe { Registered::egl_image(image.as_ptr())? };
            let (array, frame) = registration.egl_array()?;
            let texture = TextureObject::new(array)?;
            Ok::<_, GpuError>((registration, texture, (frame.width, frame.height)))
        })();
        let (registration, texture, size) = match registered {
            Ok(r) => r,
            Err(e) => {
                let _ = self.egl.destroy_image(display, image);
                tracing::warn!(%output, index, error = %e, "render target could not be registered with CUDA");
                return Err(e);
            }
        };
        self.entries.retain(|e| !(e.output == output && e.index == index));
        tracing::debug!(%output, index, w = size.0, h = size.1, "render target registered with CUDA");
        self.entries.push(Arc::new(RegisteredTarget {
            output,
            index,
            size,
            order,
            texture: Some(texture),
            registration: Some(registration),
            image,
            display,
            egl: self.egl.clone(),
            dev: self.dev.clone(),
        }));
        Ok(())
    }

    /// Releases every registration of `output` (its pool is gone): `FrameSink::output_removed`. A frame
    /// still holding one of them (through [`TargetRegistry::shared`]) releases it when it is dropped.
    pub fn output_removed(&mut self, output: OutputId) {
        if let Some(dev) = &self.dev {
            let _ = dev.bind();
        }
        self.entries.retain(|e| e.output != output);
    }

    /// The registration of slot `index` of `output`, to travel with its frame (a reference count, no
    /// allocation).
    pub fn shared(&self, output: OutputId, index: u32) -> Option<Arc<RegisteredTarget>> {
        self.entries.iter().find(|e| e.output == output && e.index == index).cloned()
    }

    /// The CUDA texture object over slot `index` of `output` (what the conversion kernel reads), and the
    /// target's size. No allocation, no driver call.
    pub fn texture(&self, output: OutputId, index: u32) -> Option<(&TextureObject, (u32, u32))> {
        self.entries
            .iter()
            .find(|e| e.output == output && e.index == index)
            .map(|e| (e.texture.as_ref().expect("texture object lives until drop"), e.size))
    }

    /// Slot `index` of `output` as an encoder input, or `None` if it was never registered.
    pub fn gpu_target(&self, output: OutputId, index: u32) -> Option<GpuTarget<'_>> {
        self.entries.iter().find(|e| e.output == output && e.index == index).map(|e| e.gpu_target())
    }

    /// Number of registered targets.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
