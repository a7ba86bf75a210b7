//! Picking the renderer at start: GLES on a validated GBM render node, else GLES on surfaceless EGL, else
//! Pixman. Also creates the render targets each renderer draws into.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use smithay::backend::allocator::dmabuf::AsDmabuf;
use smithay::backend::allocator::gbm::{GbmAllocator, GbmBufferFlags, GbmDevice};
use smithay::backend::allocator::{Allocator, Fourcc, Modifier};
use smithay::backend::drm::{DrmDeviceFd, DrmNode, NodeType};
use smithay::backend::egl::native::EGLSurfacelessDisplay;
use smithay::backend::egl::{EGLContext, EGLDevice, EGLDisplay};
use smithay::backend::renderer::gles::{GlesRenderer, GlesTexture};
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::backend::renderer::{Bind, Offscreen};
use smithay::utils::DeviceFd;
use smithay::utils::{Buffer as BufferCoords, Size};
use tracing::{info, warn};

use crate::target::{Target, TargetError};

/// What `--renderer` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RendererChoice {
    #[default]
    Auto,
    Gles,
    Pixman,
}

impl FromStr for RendererChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "gles" => Ok(Self::Gles),
            "pixman" => Ok(Self::Pixman),
            other => Err(format!("unknown renderer {other:?} (expected auto, gles or pixman)")),
        }
    }
}

/// The renderer that was picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RendererKind {
    /// GLES on a GBM render node (targets are dmabufs).
    GlesGbm,
    /// GLES on surfaceless EGL (targets are GL textures).
    GlesSurfaceless,
    /// Pixman on the CPU (targets are CPU images).
    Pixman,
}

impl fmt::Display for RendererKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::GlesGbm => "gles-gbm",
            Self::GlesSurfaceless => "gles-surfaceless",
            Self::Pixman => "pixman",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("no GLES renderer could be created (GBM: {gbm}; surfaceless EGL: {surfaceless})")]
    NoGles { gbm: String, surfaceless: String },
    #[error("the Pixman renderer could not be created: {0}")]
    Pixman(String),
}

/// A GLES renderer and, on the GBM path, the allocator its dmabuf targets come from.
pub struct GlesGpu {
    pub renderer: GlesRenderer,
    pub gbm: Option<GbmAllocator<DrmDeviceFd>>,
    /// The render node clients should allocate on (dmabuf feedback main device).
    pub node: Option<DrmNode>,
    pub description: String,
    /// EGL reports a software device (Mesa llvmpipe); unknown counts as hardware.
    pub software: bool,
}

/// The renderer in use.
pub enum Renderer {
    Pixman(PixmanRenderer),
    Gles(Box<GlesGpu>),
}

impl Renderer {
    pub fn kind(&self) -> RendererKind {
        match self {
            Renderer::Pixman(_) => RendererKind::Pixman,
            Renderer::Gles(g) if g.gbm.is_some() => RendererKind::GlesGbm,
            Renderer::Gles(_) => RendererKind::GlesSurfaceless,
        }
    }

    pub fn description(&self) -> String {
        match self {
            Renderer::Pixman(_) => "pixman (CPU)".to_string(),
            Renderer::Gles(g) => g.description.clone(),
        }
    }

    /// Pixel format of the targets this renderer draws into.
    pub fn target_format(&self) -> Fourcc {
        match self {
            Renderer::Pixman(_) => Fourcc::Xrgb8888,
            Renderer::Gles(g) if g.gbm.is_some() => Fourcc::Xrgb8888,
            Renderer::Gles(_) => Fourcc::Abgr8888,
        }
    }

    /// Create one render target of `w`×`h`.
    pub fn create_target(&mut self, w: i32, h: i32) -> Result<Target, TargetError> {
        let size: Size<i32, BufferCoords> = (w, h).into();
        let err = |reason: String| TargetError::Create { w, h, reason };
        match self {
            Renderer::Pixman(r) => {
                let img = Offscreen::<smithay::reexports::pixman::Image<'static, 'static>>::create_buffer(
                    r,
                    Fourcc::Xrgb8888,
                    size,
                )
                .map_err(|e| err(e.to_string()))?;
                Ok(Target::Cpu(img))
            }
            Renderer::Gles(g) => {
                if let Some(alloc) = g.gbm.as_mut() {
                    let modifiers: Vec<Modifier> =
                        Bind::<smithay::backend::allocator::dmabuf::Dmabuf>::supported_formats(&g.renderer)
                            .map(|set| set.iter().filter(|f| f.code == Fourcc::Xrgb8888).map(|f| f.modifier).collect())
                            .unwrap_or_default();
                    let mods = if modifiers.is_empty() { vec![Modifier::Linear] } else { modifiers };
                    let bo = alloc
                        .create_buffer(w as u32, h as u32, Fourcc::Xrgb8888, &mods)
                        .map_err(|e| err(e.to_string()))?;
                    let dmabuf = bo.export().map_err(|e| err(e.to_string()))?;
                    Ok(Target::Dmabuf(dmabuf))
                } else {
                    let tex: GlesTexture =
                        Offscreen::<GlesTexture>::create_buffer(&mut g.renderer, Fourcc::Abgr8888, size)
                            .map_err(|e| err(e.to_string()))?;
                    Ok(Target::GlTexture(tex))
                }
            }
        }
    }
}

/// Pick the renderer (`auto`: GBM node → surfaceless EGL → Pixman).
pub fn select(choice: RendererChoice) -> Result<Renderer, SelectError> {
    match choice {
        RendererChoice::Pixman => pixman(),
        RendererChoice::Gles => gles().map(|g| Renderer::Gles(Box::new(g))),
        RendererChoice::Auto => match gles() {
            // Software GLES (Mesa llvmpipe) is far slower than Pixman for compositing (see
            // docs/compositor.md), so `auto` only takes GLES on real hardware.
            Ok(g) if g.software => {
                info!("only software GLES ({}) is available; Pixman is faster", g.description);
                pixman()
            }
            Ok(g) => Ok(Renderer::Gles(Box::new(g))),
            Err(e) => {
                info!("GLES unavailable, using Pixman: {e}");
                pixman()
            }
        },
    }
}

/// Whether this machine has a GPU worth rendering on: a GLES renderer (GBM render node, else surfaceless
/// EGL) that is not a software rasterizer (Mesa llvmpipe/softpipe). `Ok` carries its description, `Err`
/// why not. Creates the renderer and drops it again (a start-up probe; `select` makes the real one).
pub fn probe_gpu() -> Result<String, String> {
    match gles() {
        Ok(g) if g.software => Err(format!("only a software rasterizer ({})", g.description)),
        Ok(g) => Ok(g.description.clone()),
        Err(e) => Err(e.to_string()),
    }
}

fn pixman() -> Result<Renderer, SelectError> {
    let r = PixmanRenderer::new().map_err(|e| SelectError::Pixman(e.to_string()))?;
    info!("renderer: pixman (CPU)");
    Ok(Renderer::Pixman(r))
}

fn gles() -> Result<GlesGpu, SelectError> {
    let gbm_err = match gles_gbm() {
        Ok(g) => return Ok(g),
        Err(e) => e,
    };
    info!("no usable GBM render node ({gbm_err}); trying surfaceless EGL");
    match gles_surfaceless() {
        Ok(g) => Ok(g),
        Err(surfaceless) => Err(SelectError::NoGles { gbm: gbm_err, surfaceless }),
    }
}

/// Render nodes in `/dev/dri`, sorted.
fn render_nodes() -> Vec<PathBuf> {
    let mut nodes: Vec<PathBuf> = std::fs::read_dir("/dev/dri")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("renderD")))
                .collect()
        })
        .unwrap_or_default();
    nodes.sort();
    nodes
}

/// `LUMEN_DRM_NODE=/dev/dri/cardN`: the DRM node GBM allocates on, instead of the render nodes. For a
/// software DRM device (vgem, virtio-gpu without virgl) whose render node refuses the dumb buffers Mesa's
/// software GBM needs (docs/gpu.md, "dmabuf in the VM"); a primary node is accepted only when named here.
pub const ENV_DRM_NODE: &str = "LUMEN_DRM_NODE";

fn gles_gbm() -> Result<GlesGpu, String> {
    if let Some(path) = std::env::var_os(ENV_DRM_NODE) {
        let path = PathBuf::from(path);
        return gles_on_node(&path, true).map_err(|e| format!("{ENV_DRM_NODE}={}: {e}", path.display()));
    }
    let nodes = render_nodes();
    if nodes.is_empty() {
        return Err("no /dev/dri/renderD* node".into());
    }
    let mut errors = Vec::new();
    for path in nodes {
        match gles_on_node(&path, false) {
            Ok(g) => return Ok(g),
            Err(e) => {
                warn!(node = %path.display(), "render node unusable: {e}");
                errors.push(format!("{}: {e}", path.display()));
            }
        }
    }
    Err(errors.join("; "))
}

fn gles_on_node(path: &Path, any_node: bool) -> Result<GlesGpu, String> {
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path).map_err(|e| format!("open: {e}"))?;
    // Validate before trusting GBM: GbmDevice::new accepts any fd (Mesa falls back to software).
    let node = DrmNode::from_file(&file).map_err(|e| format!("not a DRM node: {e}"))?;
    if node.ty() != NodeType::Render && !any_node {
        return Err(format!("{node} is not a render node"));
    }
    // Clients allocate on the render node of the same device when there is one.
    let node = node.node_with_type(NodeType::Render).and_then(|n| n.ok()).unwrap_or(node);
    let fd = DrmDeviceFd::new(DeviceFd::from(std::os::fd::OwnedFd::from(file)));
    let gbm = GbmDevice::new(fd).map_err(|e| format!("gbm: {e}"))?;
    // SAFETY: the display is created from a GBM device we own and keep alive inside the allocator.
    let display = unsafe { EGLDisplay::new(gbm.clone()) }.map_err(|e| format!("egl display: {e}"))?;
    let context = EGLContext::new(&display).map_err(|e| format!("egl context: {e}"))?;
    // SAFETY: the context was just created and is not current on any other thread.
    let mut renderer = unsafe { GlesRenderer::new(context) }.map_err(|e| format!("gles: {e}"))?;
    let software = is_software_rasterizer(&gl_renderer_name(&mut renderer));
    let description = format!("gles on GBM {} ({})", path.display(), gl_strings(&mut renderer));
    info!("renderer: {description}");
    Ok(GlesGpu {
        renderer,
        gbm: Some(GbmAllocator::new(gbm, GbmBufferFlags::RENDERING)),
        node: Some(node),
        description,
        software,
    })
}

fn gles_surfaceless() -> Result<GlesGpu, String> {
    // SAFETY: EGLSurfacelessDisplay has no native resources whose lifetime we would have to manage.
    let display = unsafe { EGLDisplay::new(EGLSurfacelessDisplay) }.map_err(|e| format!("egl display: {e}"))?;
    let context = EGLContext::new(&display).map_err(|e| format!("egl context: {e}"))?;
    // The device behind the display, if EGL can tell: its render node (for dmabuf feedback) and whether it
    // is a software rasterizer. NVIDIA's EGL lacks the split device_query names smithay asks for: unknown.
    let device = EGLDevice::device_for_display(&display).ok();
    let node = device.as_ref().and_then(|d| d.try_get_render_node().ok().flatten());
    // SAFETY: the context was just created and is not current on any other thread.
    let mut renderer = unsafe { GlesRenderer::new(context) }.map_err(|e| format!("gles: {e}"))?;
    let software =
        device.as_ref().is_some_and(|d| d.is_software()) || is_software_rasterizer(&gl_renderer_name(&mut renderer));
    let description =
        format!("gles on surfaceless EGL ({}{})", gl_strings(&mut renderer), if software { ", software" } else { "" });
    info!("renderer: {description}");
    Ok(GlesGpu { renderer, gbm: None, node, description, software })
}

fn gl_strings(renderer: &mut GlesRenderer) -> String {
    let exts = renderer.egl_context().display().extensions().len();
    format!("{}, {exts} EGL extensions", gl_renderer_name(renderer))
}

/// GL_RENDERER of the context ("llvmpipe (LLVM 15.0.6, 256 bits)", "NVIDIA H200/PCIe/SSE2"), or "?".
fn gl_renderer_name(renderer: &mut GlesRenderer) -> String {
    use smithay::backend::renderer::gles::ffi;
    renderer
        .with_context(|gl| {
            // SAFETY: the context is current inside `with_context`; GetString returns a static NUL-terminated
            // string owned by the driver, or null.
            unsafe {
                let p = gl.GetString(ffi::RENDERER);
                if p.is_null() {
                    "?".to_string()
                } else {
                    std::ffi::CStr::from_ptr(p as *const std::ffi::c_char).to_string_lossy().into_owned()
                }
            }
        })
        .unwrap_or_else(|_| "?".to_string())
}

/// Mesa's software rasterizers by their GL_RENDERER name.
pub fn is_software_rasterizer(gl_renderer: &str) -> bool {
    let r = gl_renderer.to_ascii_lowercase();
    ["llvmpipe", "softpipe", "swrast", "lavapipe"].iter().any(|n| r.contains(n))
}
