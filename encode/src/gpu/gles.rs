//! A headless GLES 3 context on surfaceless EGL (`EGL_MESA_platform_surfaceless`, which NVIDIA's EGL
//! offers) with RGBA8 texture render targets and a known test scene. Used by the device test binary and
//! the GPU tests until the compositor's render-target pool (render/) hands its targets over; the handles
//! it exposes (GL texture name, EGLImage) are exactly what that pool will give the encoder.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::ffi::c_void;

use glow::HasContext;
use khronos_egl as egl;

use super::error::{GpuError, GpuResult};

const PLATFORM_SURFACELESS_MESA: egl::Enum = 0x31DD;
const LINUX_DMA_BUF: egl::Enum = 0x3270;
const LINUX_DRM_FOURCC: egl::Int = 0x3271;
const DMA_BUF_PLANE0_FD: egl::Int = 0x3272;
const DMA_BUF_PLANE0_OFFSET: egl::Int = 0x3273;
const DMA_BUF_PLANE0_PITCH: egl::Int = 0x3274;
const DMA_BUF_PLANE0_MODIFIER_LO: egl::Int = 0x3443;
const DMA_BUF_PLANE0_MODIFIER_HI: egl::Int = 0x3444;
/// DRM_FORMAT_MOD_INVALID: the buffer's layout is implicit.
pub const DRM_FORMAT_MOD_INVALID: u64 = 0x00ff_ffff_ffff_ffff;

/// A single-plane dmabuf as render/'s GBM targets export it.
#[derive(Debug, Clone, Copy)]
pub struct Dmabuf {
    /// The dmabuf file descriptor (borrowed for the import).
    pub fd: i32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// DRM fourcc (e.g. `AR24` = ARGB8888, BGRA in memory).
    pub fourcc: u32,
    /// Byte offset of the plane.
    pub offset: u32,
    /// Row stride in bytes.
    pub stride: u32,
    /// DRM format modifier.
    pub modifier: u64,
}

/// The first DRM render node (`/dev/dri/renderD*`) that really is a DRM character device (major 226).
/// GBM "opens" any fd (Mesa falls back to a software backend), so the node is checked here first.
pub fn render_node() -> Option<std::path::PathBuf> {
    let mut nodes: Vec<_> = std::fs::read_dir("/dev/dri")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("renderD")))
        .collect();
    nodes.sort();
    let found = nodes.into_iter().find(|p| is_drm_node(p));
    if found.is_none() {
        tracing::info!("no DRM render node: GBM/dmabuf import unavailable, using GL textures / EGLImages");
    }
    found
}

/// Whether `path` is a DRM character device.
pub fn is_drm_node(path: &std::path::Path) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    const DRM_MAJOR: u64 = 226;
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_char_device() => {
            let rdev = m.rdev();
            let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
            major == DRM_MAJOR
        }
        _ => false,
    }
}
const GL_TEXTURE_LEVEL: egl::Attrib = 0x30BC;

fn gl_err(what: &str, e: impl std::fmt::Display) -> GpuError {
    tracing::error!(what, error = %e, "EGL/GL failure");
    GpuError::Gl(format!("{what}: {e}"))
}

/// A surfaceless EGL display and current GLES 3 context on this thread.
pub struct Gles {
    egl: egl::DynamicInstance<egl::EGL1_5>,
    display: egl::Display,
    context: egl::Context,
    gl: glow::Context,
    scene: glow::Program,
    frame_loc: Option<glow::UniformLocation>,
    vao: glow::VertexArray,
}

/// A texture render target (GL_RGBA8, one level) with its framebuffer.
#[derive(Debug)]
pub struct GlTarget {
    /// The texture.
    pub texture: glow::Texture,
    fbo: glow::Framebuffer,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl GlTarget {
    /// The GL texture name (for `cuGraphicsGLRegisterImage`).
    pub fn texture_name(&self) -> u32 {
        self.texture.0.get()
    }
}

const VS: &str = "#version 300 es
void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}";

// The known scene: every channel an exact k/255 from integer pixel coordinates and the frame number, so
// every byte value and many colour combinations occur; varies per frame.
const FS: &str = "#version 300 es
precision highp float;
precision highp int;
uniform int frame;
out vec4 color;
void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    int r = (p.x + frame) & 255;
    int g = (p.y * 3 + frame * 7) & 255;
    int b = ((p.x ^ p.y) + (p.x >> 8) * 37) & 255;
    color = vec4(float(r), float(g), float(b), 255.0) / 255.0;
}";

// NV12 as one R8 image of W × (H + ceil(H/2)): rows 0..H luma, then interleaved Cb/Cr rows: the same
// integer math as convert.cu / colour.rs, so the result is bit-identical to the CPU reference.
const NV12_FS: &str = "#version 300 es
precision highp float;
precision highp int;
uniform highp sampler2D src;
uniform ivec3 wy;
uniform ivec3 wu;
uniform ivec3 wv;
uniform ivec4 k; // y_bias, c_bias4, max, swap_rb
uniform ivec2 size;
out vec4 o;
ivec3 px(ivec2 p) {
    vec4 t = texelFetch(src, min(p, size - 1), 0);
    ivec3 c = ivec3(round(t.rgb * 255.0));
    return k.w != 0 ? c.bgr : c;
}
int dot3(ivec3 w, ivec3 c) { return w.x * c.x + w.y * c.y + w.z * c.z; }
void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    int v;
    if (p.y < size.y) {
        v = clamp((dot3(wy, px(p)) + k.x) >> 16, 0, k.z);
    } else {
        ivec2 b = ivec2((p.x / 2) * 2, (p.y - size.y) * 2);
        ivec3 s = px(b) + px(b + ivec2(1, 0)) + px(b + ivec2(0, 1)) + px(b + ivec2(1, 1));
        ivec3 w = (p.x & 1) == 0 ? wu : wv;
        v = clamp((dot3(w, s) + k.y) >> 18, 0, k.z);
    }
    o = vec4(float(v) / 255.0, 0.0, 0.0, 1.0);
}";

/// The colour conversion as a GL pass (NV12 into an R8 texture): the single-API alternative to the CUDA
/// kernel, for measuring the frame path without a graphics→compute switch.
pub struct GlNv12 {
    program: glow::Program,
    /// The NV12 image (R8, W × (H + ceil(H/2))).
    pub target: GlTarget,
}

impl Gles {
    /// Builds the NV12 pass and its R8 target for `width`×`height` frames.
    pub fn nv12_pass(&self, width: u32, height: u32) -> GpuResult<GlNv12> {
        let gl = &self.gl;
        let rows = height + height.div_ceil(2);
        // SAFETY: GL object creation on the current context with valid arguments.
        unsafe {
            let program = build_program(gl, VS, NV12_FS, "NV12")?;
            let texture = gl.create_texture().map_err(|e| gl_err("glCreateTexture", e))?;
            gl.bind_texture(glow::TEXTURE_2D, Some(texture));
            gl.tex_storage_2d(glow::TEXTURE_2D, 1, glow::R8, width as i32, rows as i32);
            gl.bind_texture(glow::TEXTURE_2D, None);
            let fbo = gl.create_framebuffer().map_err(|e| gl_err("glCreateFramebuffer", e))?;
            gl.bind_framebuffer(glow::FRAMEBUFFER, Some(fbo));
            gl.framebuffer_texture_2d(glow::FRAMEBUFFER, glow::COLOR_ATTACHMENT0, glow::TEXTURE_2D, Some(texture), 0);
            let status = gl.check_framebuffer_status(glow::FRAMEBUFFER);
            gl.bind_framebuffer(glow::FRAMEBUFFER, None);
            if status != glow::FRAMEBUFFER_COMPLETE {
                return Err(gl_err("NV12 framebuffer", format!("incomplete: {status:#x}")));
            }
            Ok(GlNv12 { program, target: GlTarget { texture, fbo, width, height: rows } })
        }
    }

    /// Queues the NV12 conversion of `src` (same frame size) into `pass.target`.
    pub fn convert_nv12(&self, pass: &GlNv12, src: &GlTarget, c: &super::colour::Coeffs) {
        let gl = &self.gl;
        let p = pass.program;
        // SAFETY: valid objects of the current context; uniforms match the shader's declarations.
        unsafe {
            gl.bind_framebuffer(glow::FRAMEBUFFER, Some(pass.target.fbo));
            gl.viewport(0, 0, pass.target.width as i32, pass.target.height as i32);
            gl.use_program(Some(p));
            gl.active_texture(glow::TEXTURE0);
            gl.bind_texture(glow::TEXTURE_2D, Some(src.texture));
            gl.uniform_1_i32(gl.get_uniform_location(p, "src").as_ref(), 0);
            gl.uniform_3_i32(gl.get_uniform_location(p, "wy").as_ref(), c.y[0], c.y[1], c.y[2]);
            gl.uniform_3_i32(gl.get_uniform_location(p, "wu").as_ref(), c.u[0], c.u[1], c.u[2]);
            gl.uniform_3_i32(gl.get_uniform_location(p, "wv").as_ref(), c.v[0], c.v[1], c.v[2]);
            gl.uniform_4_i32(gl.get_uniform_location(p, "k").as_ref(), c.y_bias, c.c_bias4, c.max, c.swap_rb);
            gl.uniform_2_i32(gl.get_uniform_location(p, "size").as_ref(), src.width as i32, src.height as i32);
            gl.bind_vertex_array(Some(self.vao));
            gl.draw_arrays(glow::TRIANGLES, 0, 3);
            gl.bind_texture(glow::TEXTURE_2D, None);
            gl.bind_framebuffer(glow::FRAMEBUFFER, None);
        }
    }

    /// Opens libEGL, the surfaceless display, a GLES 3 context, and compiles the scene.
    pub fn new() -> GpuResult<Gles> {
        // SAFETY: loads libEGL.so.1 (glvnd) and resolves the EGL 1.5 entry points from it.
        let egl = unsafe { egl::DynamicInstance::<egl::EGL1_5>::load_required() }
            .map_err(|e| gl_err("load libEGL.so.1", e))?;
        // SAFETY: EGL_DEFAULT_DISPLAY with the surfaceless platform takes no native display.
        let display =
            unsafe { egl.get_platform_display(PLATFORM_SURFACELESS_MESA, egl::DEFAULT_DISPLAY, &[egl::ATTRIB_NONE]) }
                .map_err(|e| gl_err("eglGetPlatformDisplay(surfaceless)", e))?;
        egl.initialize(display).map_err(|e| gl_err("eglInitialize", e))?;
        egl.bind_api(egl::OPENGL_ES_API).map_err(|e| gl_err("eglBindAPI", e))?;
        let attrs = [egl::RENDERABLE_TYPE, egl::OPENGL_ES3_BIT, egl::SURFACE_TYPE, 0, egl::NONE];
        let config = egl
            .choose_first_config(display, &attrs)
            .map_err(|e| gl_err("eglChooseConfig", e))?
            .ok_or_else(|| gl_err("eglChooseConfig", "no GLES3 config"))?;
        let context = egl
            .create_context(display, config, None, &[egl::CONTEXT_MAJOR_VERSION, 3, egl::NONE])
            .map_err(|e| gl_err("eglCreateContext", e))?;
        egl.make_current(display, None, None, Some(context)).map_err(|e| gl_err("eglMakeCurrent", e))?;
        // SAFETY: the context is current on this thread; the loader returns its entry points.
        let gl = unsafe {
            glow::Context::from_loader_function(|s| {
                egl.get_proc_address(s).map_or(std::ptr::null(), |f| f as *const c_void)
            })
        };
        // SAFETY: GL calls on the current context with valid arguments.
        unsafe {
            let program = build_program(&gl, VS, FS, "scene")?;
            let frame_loc = gl.get_uniform_location(program, "frame");
            let vao = gl.create_vertex_array().map_err(|e| gl_err("glCreateVertexArray", e))?;
            Ok(Gles { egl, display, context, gl, scene: program, frame_loc, vao })
        }
    }

    /// GL_RENDERER / GL_VERSION.
    pub fn describe(&self) -> String {
        // SAFETY: string queries on the current context.
        unsafe {
            format!(
                "{} / {}",
                self.gl.get_parameter_string(glow::RENDERER),
                self.gl.get_parameter_string(glow::VERSION)
            )
        }
    }

    /// Whether the GL implementation lists `name` among its extensions.
    pub fn has_extension(&self, name: &str) -> bool {
        self.gl.supported_extensions().contains(name)
    }

    /// Creates a `width`×`height` RGBA8 texture target.
    pub fn target(&self, width: u32, height: u32) -> GpuResult<GlTarget> {
        let gl = &self.gl;
        // SAFETY: GL object creation on the current context with valid sizes.
        unsafe {
            let texture = gl.create_texture().map_err(|e| gl_err("glCreateTexture", e))?;
            gl.bind_texture(glow::TEXTURE_2D, Some(texture));
            gl.tex_storage_2d(glow::TEXTURE_2D, 1, glow::RGBA8, width as i32, height as i32);
            gl.tex_parameter_i32(glow::TEXTURE_2D, glow::TEXTURE_MIN_FILTER, glow::NEAREST as i32);
            gl.tex_parameter_i32(glow::TEXTURE_2D, glow::TEXTURE_MAG_FILTER, glow::NEAREST as i32);
            gl.bind_texture(glow::TEXTURE_2D, None);
            let fbo = gl.create_framebuffer().map_err(|e| gl_err("glCreateFramebuffer", e))?;
            gl.bind_framebuffer(glow::FRAMEBUFFER, Some(fbo));
            gl.framebuffer_texture_2d(glow::FRAMEBUFFER, glow::COLOR_ATTACHMENT0, glow::TEXTURE_2D, Some(texture), 0);
            let status = gl.check_framebuffer_status(glow::FRAMEBUFFER);
            gl.bind_framebuffer(glow::FRAMEBUFFER, None);
            if status != glow::FRAMEBUFFER_COMPLETE {
                return Err(gl_err("framebuffer", format!("incomplete: {status:#x}")));
            }
            Ok(GlTarget { texture, fbo, width, height })
        }
    }

    /// Draws scene `frame` into `target` (submitted, not waited for).
    pub fn draw(&self, target: &GlTarget, frame: i32) {
        let gl = &self.gl;
        // SAFETY: valid objects of the current context.
        unsafe {
            gl.bind_framebuffer(glow::FRAMEBUFFER, Some(target.fbo));
            gl.viewport(0, 0, target.width as i32, target.height as i32);
            gl.use_program(Some(self.scene));
            gl.uniform_1_i32(self.frame_loc.as_ref(), frame);
            gl.bind_vertex_array(Some(self.vao));
            gl.draw_arrays(glow::TRIANGLES, 0, 3);
            gl.bind_framebuffer(glow::FRAMEBUFFER, None);
        }
    }

    /// glFinish: the documented fallback ordering (host waits for GL).
    pub fn finish(&self) {
        // SAFETY: plain GL call.
        unsafe { self.gl.finish() }
    }

    /// glFlush.
    pub fn flush(&self) {
        // SAFETY: plain GL call.
        unsafe { self.gl.flush() }
    }

    /// Inserts an EGL fence after the submitted GL work and waits for it on the host
    /// (EGL_SYNC_FLUSH_COMMANDS_BIT, no timeout).
    pub fn fence_wait(&self) -> GpuResult<()> {
        // SAFETY: display and context are live; the sync is destroyed on the same display.
        unsafe {
            let sync = self
                .egl
                .create_sync(self.display, egl::SYNC_FENCE as egl::Enum, &[egl::ATTRIB_NONE])
                .map_err(|e| gl_err("eglCreateSync", e))?;
            let r = self.egl.client_wait_sync(self.display, sync, egl::SYNC_FLUSH_COMMANDS_BIT, egl::FOREVER);
            let _ = self.egl.destroy_sync(self.display, sync);
            r.map(|_| ()).map_err(|e| gl_err("eglClientWaitSync", e))
        }
    }

    /// Reads the target back (RGBA, rows bottom-up as GL stores them: row 0 = texture row 0).
    pub fn read(&self, target: &GlTarget, out: &mut Vec<u8>) {
        out.resize(target.width as usize * target.height as usize * 4, 0);
        let gl = &self.gl;
        // SAFETY: `out` holds width×height×4 bytes, matching RGBA/UNSIGNED_BYTE with pack alignment 4.
        unsafe {
            gl.bind_framebuffer(glow::READ_FRAMEBUFFER, Some(target.fbo));
            gl.pixel_store_i32(glow::PACK_ALIGNMENT, 4);
            gl.read_pixels(
                0,
                0,
                target.width as i32,
                target.height as i32,
                glow::RGBA,
                glow::UNSIGNED_BYTE,
                glow::PixelPackData::Slice(Some(out.as_mut_slice())),
            );
            gl.bind_framebuffer(glow::READ_FRAMEBUFFER, None);
        }
    }

    /// Wraps the target's texture in an EGLImage (EGL_GL_TEXTURE_2D), for `cuGraphicsEGLRegisterImage`.
    pub fn egl_image(&self, target: &GlTarget) -> GpuResult<EglImage> {
        // SAFETY: the client buffer is the texture name of the current context, as EGL_GL_TEXTURE_2D wants.
        let image = unsafe {
            let buf = egl::ClientBuffer::from_ptr(target.texture_name() as usize as *mut c_void);
            self.egl.create_image(
                self.display,
                self.context,
                egl::GL_TEXTURE_2D as egl::Enum,
                buf,
                &[GL_TEXTURE_LEVEL, 0, egl::ATTRIB_NONE],
            )
        }
        .map_err(|e| gl_err("eglCreateImage(GL_TEXTURE_2D)", e))?;
        Ok(EglImage { image })
    }

    /// Whether the display offers dmabuf import (`EGL_EXT_image_dma_buf_import`).
    pub fn has_dmabuf_import(&self) -> bool {
        self.egl
            .query_string(Some(self.display), egl::EXTENSIONS)
            .map(|e| e.to_string_lossy().split(' ').any(|x| x == "EGL_EXT_image_dma_buf_import"))
            .unwrap_or(false)
    }

    /// Imports a single-plane dmabuf (a GBM render target of render/) as an EGLImage, for
    /// `cuGraphicsEGLRegisterImage`: the route a desktop NVIDIA host with a render node takes.
    pub fn import_dmabuf(&self, d: &Dmabuf) -> GpuResult<EglImage> {
        if !self.has_dmabuf_import() {
            return Err(gl_err("dmabuf import", "EGL_EXT_image_dma_buf_import not offered"));
        }
        let mut attrs: [egl::Attrib; 17] = [
            egl::WIDTH as egl::Attrib,
            d.width as egl::Attrib,
            egl::HEIGHT as egl::Attrib,
            d.height as egl::Attrib,
            LINUX_DRM_FOURCC as egl::Attrib,
            d.fourcc as egl::Attrib,
            DMA_BUF_PLANE0_FD as egl::Attrib,
            d.fd as egl::Attrib,
            DMA_BUF_PLANE0_OFFSET as egl::Attrib,
            d.offset as egl::Attrib,
            DMA_BUF_PLANE0_PITCH as egl::Attrib,
            d.stride as egl::Attrib,
            DMA_BUF_PLANE0_MODIFIER_LO as egl::Attrib,
            (d.modifier & 0xffff_ffff) as egl::Attrib,
            DMA_BUF_PLANE0_MODIFIER_HI as egl::Attrib,
            (d.modifier >> 32) as egl::Attrib,
            egl::ATTRIB_NONE,
        ];
        if d.modifier == DRM_FORMAT_MOD_INVALID {
            attrs[12] = egl::ATTRIB_NONE; // implicit modifier: no modifier attributes
        }
        // SAFETY: EGL_LINUX_DMA_BUF_EXT takes no context and a null client buffer; the fd is only read by
        // EGL during the call (it dups what it keeps).
        let image = unsafe {
            let ctx = egl::Context::from_ptr(egl::NO_CONTEXT);
            self.egl.create_image(
                self.display,
                ctx,
                LINUX_DMA_BUF,
                egl::ClientBuffer::from_ptr(std::ptr::null_mut()),
                &attrs,
            )
        }
        .map_err(|e| gl_err("eglCreateImage(EGL_LINUX_DMA_BUF_EXT)", e))?;
        Ok(EglImage { image })
    }

    /// Destroys an EGLImage (after its CUDA registration is dropped).
    pub fn destroy_image(&self, image: EglImage) {
        if let Err(e) = self.egl.destroy_image(self.display, image.image) {
            tracing::warn!(error = %e, "eglDestroyImage failed");
        }
    }

    /// Deletes a target.
    pub fn destroy_target(&self, t: GlTarget) {
        // SAFETY: objects of the current context, deleted once.
        unsafe {
            self.gl.delete_framebuffer(t.fbo);
            self.gl.delete_texture(t.texture);
        }
    }
}

/// An EGLImage made from a GL target.
#[derive(Debug)]
pub struct EglImage {
    image: egl::Image,
}

impl EglImage {
    /// The raw `EGLImageKHR`.
    pub fn as_ptr(&self) -> *mut c_void {
        self.image.as_ptr()
    }
}

impl Drop for Gles {
    fn drop(&mut self) {
        let _ = self.egl.make_current(self.display, None, None, None);
        let _ = self.egl.destroy_context(self.display, self.context);
        let _ = self.egl.terminate(self.display);
    }
}

/// Compiles a vertex + fragment shader pair and links them into a program (`what` names it in errors).
///
/// # Safety
/// A GL context must be current on this thread and `gl` must be loaded from it.
unsafe fn build_program(gl: &glow::Context, vs: &str, fs: &str, what: &str) -> GpuResult<glow::Program> {
    // SAFETY: forwarded from the caller (current context); every argument is a valid object or string.
    unsafe {
        let program = gl.create_program().map_err(|e| gl_err("glCreateProgram", e))?;
        for (kind, src) in [(glow::VERTEX_SHADER, vs), (glow::FRAGMENT_SHADER, fs)] {
            let sh = gl.create_shader(kind).map_err(|e| gl_err("glCreateShader", e))?;
            gl.shader_source(sh, src);
            gl.compile_shader(sh);
            if !gl.get_shader_compile_status(sh) {
                return Err(gl_err(&format!("compile {what} shader"), gl.get_shader_info_log(sh)));
            }
            gl.attach_shader(program, sh);
        }
        gl.link_program(program);
        if !gl.get_program_link_status(program) {
            return Err(gl_err(&format!("link {what} program"), gl.get_program_info_log(program)));
        }
        Ok(program)
    }
}

// NV12 as a GLES 3.1 compute pass: one invocation per 4×2 pixel block writes one 32-bit word of each of
// the two luma rows and one word of the interleaved CbCr row (two Cb/Cr pairs), little-endian bytes, into
// a shader storage buffer of `pitch` bytes per row. Same integer math and edge clamping as `NV12_FS`,
// convert.cu and colour.rs, so the result is bit-identical to the CPU reference.
const NV12_CS: &str = "#version 310 es
precision highp float;
precision highp int;
layout(local_size_x = 16, local_size_y = 8) in;
uniform highp sampler2D src;
layout(std430, binding = 0) writeonly buffer Nv12 { uint words[]; };
uniform ivec3 wy;
uniform ivec3 wu;
uniform ivec3 wv;
uniform ivec4 k; // y_bias, c_bias4, max, swap_rb
uniform ivec3 size; // width, height, pitch in words
ivec3 px(ivec2 p) {
    vec4 t = texelFetch(src, min(p, size.xy - 1), 0);
    ivec3 c = ivec3(round(t.rgb * 255.0));
    return k.w != 0 ? c.bgr : c;
}
int dot3(ivec3 w, ivec3 c) { return w.x * c.x + w.y * c.y + w.z * c.z; }
uint luma(ivec3 c) { return uint(clamp((dot3(wy, c) + k.x) >> 16, 0, k.z)); }
uint chroma(ivec3 w, ivec3 s) { return uint(clamp((dot3(w, s) + k.y) >> 18, 0, k.z)); }
void main() {
    ivec2 g = ivec2(gl_GlobalInvocationID.xy);
    int x0 = g.x * 4;
    int y0 = g.y * 2;
    if (x0 >= size.x || y0 >= size.y) return;
    ivec3 a0 = px(ivec2(x0, y0));
    ivec3 a1 = px(ivec2(x0 + 1, y0));
    ivec3 a2 = px(ivec2(x0 + 2, y0));
    ivec3 a3 = px(ivec2(x0 + 3, y0));
    ivec3 b0 = px(ivec2(x0, y0 + 1));
    ivec3 b1 = px(ivec2(x0 + 1, y0 + 1));
    ivec3 b2 = px(ivec2(x0 + 2, y0 + 1));
    ivec3 b3 = px(ivec2(x0 + 3, y0 + 1));
    words[y0 * size.z + g.x] = luma(a0) | (luma(a1) << 8) | (luma(a2) << 16) | (luma(a3) << 24);
    if (y0 + 1 < size.y) {
        words[(y0 + 1) * size.z + g.x] = luma(b0) | (luma(b1) << 8) | (luma(b2) << 16) | (luma(b3) << 24);
    }
    ivec3 s0 = a0 + a1 + b0 + b1;
    ivec3 s1 = a2 + a3 + b2 + b3;
    words[(size.y + g.y) * size.z + g.x] =
        chroma(wu, s0) | (chroma(wv, s0) << 8) | (chroma(wu, s1) << 16) | (chroma(wv, s1) << 24);
}";

/// The colour conversion as a GLES 3.1 **compute** pass in the renderer's own GL context: NV12 (BT.601/709/
/// 2020 from `Coeffs`, 8-bit) of an RGBA8 texture into a shader storage buffer (Y rows, then interleaved
/// CbCr rows, `pitch` bytes each). No CUDA work follows the render, so the GPU never switches from the
/// graphics to the compute context on the frame path (the ~150 µs the CUDA route pays per frame, docs/gpu.md).
pub struct GlComputeNv12 {
    program: glow::Program,
    buffer: glow::Buffer,
    locs: [Option<glow::UniformLocation>; 6],
    width: u32,
    height: u32,
    pitch: usize,
}

/// glow's function table for the EGL context current on this thread (e.g. the compositor renderer's, made
/// current by smithay), for [`GlComputeNv12`]. An error when no context is current.
pub fn current_context_gl() -> GpuResult<glow::Context> {
    // SAFETY: loads libEGL.so.1 (glvnd), the library the current context comes from, and resolves the EGL
    // 1.4 entry points from it.
    let egl =
        unsafe { egl::DynamicInstance::<egl::EGL1_4>::load_required() }.map_err(|e| gl_err("load libEGL.so.1", e))?;
    if egl.get_current_context().is_none() {
        return Err(gl_err("current EGL context", "none is current on this thread"));
    }
    // SAFETY: a context is current; the loader returns its GL entry points, valid while libEGL stays loaded
    // (it does: the instance is never unloaded, below).
    let gl = unsafe {
        glow::Context::from_loader_function(|s| {
            egl.get_proc_address(s).map_or(std::ptr::null(), |f| f as *const c_void)
        })
    };
    // Keeps libEGL.so.1 loaded for as long as the returned function table may be used.
    std::mem::forget(egl);
    Ok(gl)
}

/// Waits on the host until the GL work queued so far has completed (`glFenceSync` + `glClientWaitSync`,
/// flushing).
/// `gl` must be current on this thread (as for every call here).
pub fn gl_fence_wait(gl: &glow::Context) -> GpuResult<()> {
    // SAFETY: `gl` is current (documented precondition); the fence is deleted once.
    unsafe {
        let fence = gl.fence_sync(glow::SYNC_GPU_COMMANDS_COMPLETE, 0).map_err(|e| gl_err("glFenceSync", e))?;
        let r = loop {
            match gl.client_wait_sync(fence, glow::SYNC_FLUSH_COMMANDS_BIT, 1_000_000_000) {
                glow::TIMEOUT_EXPIRED => continue,
                r => break r,
            }
        };
        gl.delete_sync(fence);
        if r == glow::WAIT_FAILED {
            return Err(gl_err("glClientWaitSync", "WAIT_FAILED"));
        }
        Ok(())
    }
}

impl GlComputeNv12 {
    /// Builds the pass and its buffer for `width`×`height` frames on `gl` (GLES ≥ 3.1), which must be
    /// current on this thread now and for every later call with this pass.
    pub fn new(gl: &glow::Context, width: u32, height: u32) -> GpuResult<GlComputeNv12> {
        if width == 0 || height == 0 {
            return Err(gl_err("NV12 compute pass", "empty frame"));
        }
        let pitch = (width as usize).div_ceil(4) * 4;
        let rows = height as usize + (height as usize).div_ceil(2);
        // SAFETY: `gl` is the pass's context, current here (documented precondition);
        // object creation with valid arguments.
        unsafe {
            let program = gl.create_program().map_err(|e| gl_err("glCreateProgram", e))?;
            let sh = gl.create_shader(glow::COMPUTE_SHADER).map_err(|e| gl_err("glCreateShader(compute)", e))?;
            gl.shader_source(sh, NV12_CS);
            gl.compile_shader(sh);
            if !gl.get_shader_compile_status(sh) {
                return Err(gl_err("compile NV12 compute shader", gl.get_shader_info_log(sh)));
            }
            gl.attach_shader(program, sh);
            gl.link_program(program);
            gl.delete_shader(sh);
            if !gl.get_program_link_status(program) {
                return Err(gl_err("link NV12 compute program", gl.get_program_info_log(program)));
            }
            let locs = ["src", "wy", "wu", "wv", "k", "size"].map(|n| gl.get_uniform_location(program, n));
            let buffer = gl.create_buffer().map_err(|e| gl_err("glCreateBuffer", e))?;
            gl.bind_buffer(glow::SHADER_STORAGE_BUFFER, Some(buffer));
            gl.buffer_data_size(glow::SHADER_STORAGE_BUFFER, (pitch * rows) as i32, glow::DYNAMIC_READ);
            gl.bind_buffer(glow::SHADER_STORAGE_BUFFER, None);
            Ok(GlComputeNv12 { program, buffer, locs, width, height, pitch })
        }
    }

    /// Bytes per row of the NV12 buffer (the width rounded up to 4).
    pub fn pitch(&self) -> usize {
        self.pitch
    }

    /// Size of the NV12 buffer in bytes (`pitch` × (H + ceil(H/2))).
    pub fn len(&self) -> usize {
        self.pitch * (self.height as usize + (self.height as usize).div_ceil(2))
    }

    /// Never empty (a frame has at least one pixel); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Queues the conversion of the RGBA8 texture `src` (GL texture name, `width`×`height`) and a
    /// buffer-update barrier (so a later map or copy of the buffer sees the result). Not waited for.
    pub fn dispatch(&self, gl: &glow::Context, src: u32, c: &super::colour::Coeffs) -> GpuResult<()> {
        let tex = std::num::NonZeroU32::new(src)
            .map(glow::NativeTexture)
            .ok_or_else(|| gl_err("NV12 compute", "texture 0"))?;
        let l = &self.locs;
        // SAFETY: `gl` is the pass's context, current here (documented precondition);
        // uniforms match the shader's declarations.
        unsafe {
            gl.use_program(Some(self.program));
            gl.active_texture(glow::TEXTURE0);
            gl.bind_texture(glow::TEXTURE_2D, Some(tex));
            gl.uniform_1_i32(l[0].as_ref(), 0);
            gl.uniform_3_i32(l[1].as_ref(), c.y[0], c.y[1], c.y[2]);
            gl.uniform_3_i32(l[2].as_ref(), c.u[0], c.u[1], c.u[2]);
            gl.uniform_3_i32(l[3].as_ref(), c.v[0], c.v[1], c.v[2]);
            gl.uniform_4_i32(l[4].as_ref(), c.y_bias, c.c_bias4, c.max, c.swap_rb);
            gl.uniform_3_i32(l[5].as_ref(), self.width as i32, self.height as i32, (self.pitch / 4) as i32);
            gl.bind_buffer_base(glow::SHADER_STORAGE_BUFFER, 0, Some(self.buffer));
            let gx = self.width.div_ceil(4).div_ceil(16);
            let gy = self.height.div_ceil(2).div_ceil(8);
            gl.dispatch_compute(gx, gy, 1);
            gl.memory_barrier(glow::BUFFER_UPDATE_BARRIER_BIT);
            gl.bind_buffer_base(glow::SHADER_STORAGE_BUFFER, 0, None);
            gl.bind_texture(glow::TEXTURE_2D, None);
            gl.use_program(None);
        }
        Ok(())
    }

    /// Copies the NV12 buffer into `out` (maps it for reading; waits for the GPU): for checks, not for the
    /// frame path.
    pub fn read(&self, gl: &glow::Context, out: &mut Vec<u8>) -> GpuResult<()> {
        let len = self.len();
        // SAFETY: `gl` is the pass's context, current here (documented precondition);
        // the mapping covers the buffer's `len` bytes and is unmapped
        // before the function returns.
        unsafe {
            gl.bind_buffer(glow::SHADER_STORAGE_BUFFER, Some(self.buffer));
            let p = gl.map_buffer_range(glow::SHADER_STORAGE_BUFFER, 0, len as i32, glow::MAP_READ_BIT);
            if p.is_null() {
                gl.bind_buffer(glow::SHADER_STORAGE_BUFFER, None);
                return Err(gl_err("glMapBufferRange(NV12)", "null mapping"));
            }
            out.clear();
            out.extend_from_slice(std::slice::from_raw_parts(p, len));
            gl.unmap_buffer(glow::SHADER_STORAGE_BUFFER);
            gl.bind_buffer(glow::SHADER_STORAGE_BUFFER, None);
        }
        Ok(())
    }

    /// Deletes the program and the buffer.
    pub fn destroy(self, gl: &glow::Context) {
        // SAFETY: `gl` is the pass's context, current here (documented precondition);
        // objects deleted once.
        unsafe {
            gl.delete_program(self.program);
            gl.delete_buffer(self.buffer);
        }
    }
}
