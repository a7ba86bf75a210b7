//! Graphics interop: render targets registered with CUDA **once** (GL texture → `cuGraphicsGLRegisterImage`;
//! EGLImage — from a GL texture or a GBM dmabuf — → `cuGraphicsEGLRegisterImage`), unregistered only on
//! drop, and a [`MapSet`] that maps every registered GL target of a tick in **one** `cuGraphicsMapResources`
//! call. The GL/EGL entry points live in cudaGL.h / cudaEGL.h, outside cudarc's bindings, so they are
//! looked up in `libcuda.so.1` here (once, at first use).
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::ffi::c_void;
use std::ptr;
use std::sync::OnceLock;

use cudarc::driver::sys;

use super::counters;
use super::cuda::{check, Stream};
use super::error::{GpuError, GpuResult};

type GlRegisterImage = unsafe extern "C" fn(*mut sys::CUgraphicsResource, u32, u32, u32) -> sys::CUresult;
type EglRegisterImage = unsafe extern "C" fn(*mut sys::CUgraphicsResource, *mut c_void, u32) -> sys::CUresult;
type GetMappedEglFrame = unsafe extern "C" fn(*mut CuEglFrame, sys::CUgraphicsResource, u32, u32) -> sys::CUresult;

/// `CUeglFrame` of cudaEGL.h (only read by us).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CuEglFrame {
    /// `pArray[3]` or `pPitch[3]` depending on `frame_type`.
    pub planes: [*mut c_void; 3],
    /// Width of plane 0.
    pub width: u32,
    /// Height of plane 0.
    pub height: u32,
    /// Depth (1 for 2-D).
    pub depth: u32,
    /// Pitch of a pitch-linear frame.
    pub pitch: u32,
    /// Planes used.
    pub plane_count: u32,
    /// Channels per plane-0 texel.
    pub num_channels: u32,
    /// 0 = CU_EGL_FRAME_TYPE_ARRAY, 1 = CU_EGL_FRAME_TYPE_PITCH.
    pub frame_type: u32,
    /// CUeglColorFormat.
    pub color_format: u32,
    /// CUarray_format of the planes.
    pub cu_format: u32,
}

struct InteropFns {
    _lib: libloading::Library,
    gl_register_image: GlRegisterImage,
    egl_register_image: EglRegisterImage,
    get_mapped_egl_frame: GetMappedEglFrame,
}

static FNS: OnceLock<Result<InteropFns, GpuError>> = OnceLock::new();

fn fns() -> GpuResult<&'static InteropFns> {
    let r = FNS.get_or_init(|| {
        // SAFETY: loading the NVIDIA driver library runs its initialisers, which are safe to run once.
        let lib = unsafe { libloading::Library::new("libcuda.so.1") }
            .map_err(|e| GpuError::Load { library: "libcuda.so.1", reason: e.to_string() })?;
        // SAFETY: the symbol types match cudaGL.h/cudaEGL.h; the library is kept alive in the struct.
        unsafe {
            let sym = |name: &'static str| -> GpuResult<*const c_void> {
                let s: libloading::Symbol<*const c_void> = lib.get(format!("{name}\0").as_bytes()).map_err(|e| {
                    GpuError::MissingSymbol { library: "libcuda.so.1", symbol: name, reason: e.to_string() }
                })?;
                Ok(*s)
            };
            let gl = sym("cuGraphicsGLRegisterImage")?;
            let egl = sym("cuGraphicsEGLRegisterImage")?;
            let frame = sym("cuGraphicsResourceGetMappedEglFrame")?;
            Ok(InteropFns {
                gl_register_image: std::mem::transmute::<*const c_void, GlRegisterImage>(gl),
                egl_register_image: std::mem::transmute::<*const c_void, EglRegisterImage>(egl),
                get_mapped_egl_frame: std::mem::transmute::<*const c_void, GetMappedEglFrame>(frame),
                _lib: lib,
            })
        }
    });
    match r {
        Ok(f) => Ok(f),
        Err(e) => Err(GpuError::Load { library: "libcuda.so.1 (GL/EGL interop)", reason: e.to_string() }),
    }
}

/// GL_TEXTURE_2D.
pub const GL_TEXTURE_2D: u32 = 0x0DE1;
const CU_GRAPHICS_REGISTER_FLAGS_READ_ONLY: u32 = 1;

/// How a resource was registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// A GL texture: needs map/unmap around each CUDA use.
    GlTexture,
    /// An EGLImage: its frame is read with no per-frame map.
    EglImage,
}

/// A graphics resource registered with CUDA; unregistered on drop (pool teardown).
#[derive(Debug)]
pub struct Registered {
    raw: sys::CUgraphicsResource,
    kind: ResourceKind,
}

// SAFETY: resource handles are usable from any thread with the owning context current.
unsafe impl Send for Registered {}

impl Registered {
    /// Registers GL texture `texture` (GL_TEXTURE_2D) for read-only CUDA access. The GL context that owns
    /// it must be current on this thread and the CUDA context too.
    pub fn gl_texture(texture: u32) -> GpuResult<Registered> {
        let f = fns()?;
        let mut raw = ptr::null_mut();
        check(
            // SAFETY: valid out-pointer; the texture name belongs to the current GL context (caller's contract).
            unsafe { (f.gl_register_image)(&mut raw, texture, GL_TEXTURE_2D, CU_GRAPHICS_REGISTER_FLAGS_READ_ONLY) },
            "cuGraphicsGLRegisterImage",
        )?;
        counters::registration();
        Ok(Registered { raw, kind: ResourceKind::GlTexture })
    }

    /// Registers an EGLImage (from a GL texture or an imported dmabuf).
    ///
    /// # Safety
    /// `image` must be a live `EGLImageKHR` of the EGL display in use, outliving this registration.
    pub unsafe fn egl_image(image: *mut c_void) -> GpuResult<Registered> {
        let f = fns()?;
        let mut raw = ptr::null_mut();
        // SAFETY: `image` is a live EGLImage per this function's contract; `raw` is a valid out pointer.
        let result = unsafe { (f.egl_register_image)(&mut raw, image, CU_GRAPHICS_REGISTER_FLAGS_READ_ONLY) };
        check(result, "cuGraphicsEGLRegisterImage")?;
        counters::registration();
        Ok(Registered { raw, kind: ResourceKind::EglImage })
    }

    /// How it was registered.
    pub fn kind(&self) -> ResourceKind {
        self.kind
    }

    /// The CUDA array behind an EGLImage registration (no map needed; NVIDIA's driver rejects mapping EGL
    /// resources). Stable for the registration's life.
    pub fn egl_array(&self) -> GpuResult<(sys::CUarray, CuEglFrame)> {
        if self.kind != ResourceKind::EglImage {
            return Err(GpuError::Invalid("egl_array on a GL texture registration".into()));
        }
        let f = fns()?;
        // SAFETY: zeroed is a valid CUeglFrame bit pattern (null pointers, zero ints).
        let mut frame: CuEglFrame = unsafe { std::mem::zeroed() };
        // SAFETY: valid registration and out-pointer.
        check(unsafe { (f.get_mapped_egl_frame)(&mut frame, self.raw, 0, 0) }, "cuGraphicsResourceGetMappedEglFrame")?;
        if frame.frame_type != 0 {
            tracing::error!(frame_type = frame.frame_type, "EGL frame is pitch-linear, expected a CUDA array");
            return Err(GpuError::Invalid("EGL frame is not a CUDA array".into()));
        }
        Ok((frame.planes[0] as sys::CUarray, frame))
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        // SAFETY: registered once above; unregistered once here.
        let _ = check(unsafe { sys::cuGraphicsUnregisterResource(self.raw) }, "cuGraphicsUnregisterResource");
        counters::unregistration();
    }
}

/// The GL registrations of one tick (all outputs' current targets), mapped and unmapped together.
/// The handle array is filled at set-up; `map`/`unmap` allocate nothing.
#[derive(Debug)]
pub struct MapSet {
    handles: Vec<sys::CUgraphicsResource>,
    mapped: bool,
}

// SAFETY: plain handles, used with the context current.
unsafe impl Send for MapSet {}

impl MapSet {
    /// A set over `resources` (GL texture registrations).
    pub fn new(resources: &[&Registered]) -> GpuResult<MapSet> {
        if resources.iter().any(|r| r.kind != ResourceKind::GlTexture) {
            return Err(GpuError::Invalid("only GL texture registrations are mapped".into()));
        }
        Ok(MapSet { handles: resources.iter().map(|r| r.raw).collect(), mapped: false })
    }

    /// Maps all of them in one call, ordered after the GL work already submitted (the driver orders the
    /// map against GL: CUDA work on `stream` after it sees the finished texture).
    pub fn map(&mut self, stream: &Stream) -> GpuResult<()> {
        if self.mapped {
            return Err(GpuError::Invalid("map set already mapped".into()));
        }
        counters::map_call();
        check(
            // SAFETY: handles are live registrations (their owners outlive this set by the caller's contract).
            unsafe { sys::cuGraphicsMapResources(self.handles.len() as u32, self.handles.as_mut_ptr(), stream.raw()) },
            "cuGraphicsMapResources",
        )?;
        self.mapped = true;
        Ok(())
    }

    /// The CUDA array of resource `i` while mapped.
    pub fn array(&self, i: usize) -> GpuResult<sys::CUarray> {
        if !self.mapped {
            return Err(GpuError::Invalid("array of an unmapped set".into()));
        }
        let h = *self.handles.get(i).ok_or_else(|| GpuError::Invalid(format!("no resource {i} in map set")))?;
        let mut arr = ptr::null_mut();
        check(
            // SAFETY: resource mapped above; out-pointer valid.
            unsafe { sys::cuGraphicsSubResourceGetMappedArray(&mut arr, h, 0, 0) },
            "cuGraphicsSubResourceGetMappedArray",
        )?;
        Ok(arr)
    }

    /// Unmaps all, after the work queued on `stream` (GL may use the textures once that work is done).
    pub fn unmap(&mut self, stream: &Stream) -> GpuResult<()> {
        if !self.mapped {
            return Err(GpuError::Invalid("unmap of an unmapped set".into()));
        }
        self.mapped = false;
        check(
            // SAFETY: resources mapped by `map`.
            unsafe {
                sys::cuGraphicsUnmapResources(self.handles.len() as u32, self.handles.as_mut_ptr(), stream.raw())
            },
            "cuGraphicsUnmapResources",
        )
    }
}
