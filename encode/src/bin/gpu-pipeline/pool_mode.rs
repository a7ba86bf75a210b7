//! gpu-pipeline `--mode render-pool`: the compositor's renderer and target pool (lumen_render's
//! surfaceless-EGL `GlesRenderer`, a `TargetPool` of GL texture targets), each target registered with CUDA once.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use lumen_encode::gpu::convert::Converter;
use lumen_encode::gpu::cuda::{CudaDevice, Event, PitchedBuffer, Stream};
use lumen_encode::gpu::gles::{gl_fence_wait, GlComputeNv12};
use lumen_encode::gpu::interop::{MapSet, Registered};
use lumen_encode::gpu::software::GpuSoftwareEncoder;
use lumen_encode::gpu::targets::TargetRegistry;
use lumen_encode::gpu::{counters, frame_pool, Conversion};
use lumen_render::smithay::backend::allocator::Fourcc;
use lumen_render::smithay::backend::renderer::damage::OutputDamageTracker;
use lumen_render::smithay::backend::renderer::element::memory::{MemoryRenderBuffer, MemoryRenderBufferRenderElement};
use lumen_render::smithay::backend::renderer::element::Kind;
use lumen_render::smithay::backend::renderer::gles::GlesRenderer;
use lumen_render::smithay::backend::renderer::ExportMem;
use lumen_render::smithay::utils::{Rectangle, Transform};
use lumen_render::{BindTarget, Frame, OutputId, Renderer, RendererChoice, Target, TargetPool};
use std::sync::Arc;

use super::{percentile, Checker, CHECKS, NV12_BT709};

/// Targets per output pool (what the compositor makes: one being rendered, one being encoded, one spare).
const POOL: usize = 3;

/// The known scene: an opaque gradient, four translucent windows (premultiplied alpha) and a checkered
/// square that moves 16 px per frame — every frame differs, so a stale target would show in the check.
struct Scene {
    background: MemoryRenderBuffer,
    windows: Vec<(MemoryRenderBuffer, (i32, i32))>,
    square: MemoryRenderBuffer,
    w: i32,
    h: i32,
}

fn buffer(w: i32, h: i32, f: impl Fn(i32, i32) -> [u8; 4]) -> MemoryRenderBuffer {
    let mut px = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            px.extend_from_slice(&f(x, y));
        }
    }
    // ARGB8888 little-endian: B, G, R, A bytes.
    MemoryRenderBuffer::from_slice(&px, Fourcc::Argb8888, (w, h), 1, Transform::Normal, None)
}

impl Scene {
    fn new(w: i32, h: i32) -> Scene {
        let background = buffer(w, h, |x, y| [(x * 255 / w) as u8, (y * 255 / h) as u8, ((x ^ y) & 0xff) as u8, 255]);
        let windows = (0..4)
            .map(|i| {
                let (ww, wh) = (w * 2 / 5, h * 2 / 5);
                let a = 80 + 50 * i as u32;
                let rgb = [[210u32, 30, 60], [30, 190, 70], [50, 60, 220], [220, 200, 30]][i];
                let win = buffer(ww, wh, move |x, y| {
                    let alpha = if (x + y) % 7 == 0 { 255 } else { a };
                    let pm = |c: u32| (c * alpha / 255) as u8;
                    [pm(rgb[2]), pm(rgb[1]), pm(rgb[0]), alpha as u8]
                });
                (win, (w / 10 + i as i32 * w / 8, h / 10 + i as i32 * h / 8))
            })
            .collect();
        let square =
            buffer(128, 128, |x, y| if (x / 16 + y / 16) % 2 == 0 { [255, 255, 255, 255] } else { [0, 0, 0, 255] });
        Scene { background, windows, square, w, h }
    }

    fn elements(
        &self,
        r: &mut GlesRenderer,
        frame: usize,
    ) -> Result<Vec<MemoryRenderBufferRenderElement<GlesRenderer>>> {
        let mk = |r: &mut GlesRenderer, b: &MemoryRenderBuffer, (x, y): (i32, i32)| {
            MemoryRenderBufferRenderElement::from_buffer(
                r,
                (x as f64, y as f64),
                b,
                None,
                None,
                None,
                Kind::Unspecified,
            )
            .map_err(|e| anyhow!("render element: {e:?}"))
        };
        let sx = ((frame * 16) as i32) % (self.w - 128).max(1);
        let mut out = vec![mk(r, &self.square, (sx, (self.h - 160).max(0)))?];
        for (b, loc) in self.windows.iter().rev() {
            out.push(mk(r, b, *loc)?);
        }
        out.push(mk(r, &self.background, (0, 0))?);
        Ok(out)
    }
}

/// One output: the renderer's pool and its damage tracker.
struct Output {
    id: OutputId,
    pool: TargetPool,
    tracker: OutputDamageTracker,
    seq: u64,
    w: u32,
    h: u32,
}

impl Output {
    fn new(renderer: &mut Renderer, id: OutputId, w: u32, h: u32) -> Result<Output> {
        let targets = (0..POOL).map(|_| renderer.create_target(w as i32, h as i32)).collect::<Result<Vec<_>, _>>()?;
        if !matches!(targets[0], Target::GlTexture(_)) {
            bail!("the renderer made no GL texture targets (kind {})", renderer.kind());
        }
        let tracker = OutputDamageTracker::new((w as i32, h as i32), 1.0, Transform::Normal);
        Ok(Output { id, pool: TargetPool::new(targets), tracker, seq: 0, w, h })
    }

    /// Renders scene frame `n` into a free target (full redraw), waits for GL to finish through the
    /// frame's sync point (EGL fence), and lends the target out as the compositor's `Frame`.
    fn render(&mut self, r: &mut GlesRenderer, scene: &Scene, n: usize) -> Result<Frame> {
        let (index, _age) = self.pool.pick().context("every target of the pool is lent out")?;
        let elements = scene.elements(r, n)?;
        let target = self.pool.target_mut(index).context("picked target")?;
        let sync = {
            let mut fb = r.bind_target(target).map_err(|e| anyhow!("bind: {e}"))?;
            let res = self
                .tracker
                .render_output(r, &mut fb, 0, &elements, [0.0, 0.0, 0.0, 1.0])
                .map_err(|e| anyhow!("render: {e:?}"))?;
            res.sync
        };
        sync.wait().map_err(|e| anyhow!("GL sync: {e:?}"))?;
        let (lease, damage) = self.pool.lend(index).context("lend")?;
        self.seq += 1;
        Ok(Frame::new(self.id, self.seq, Duration::ZERO, self.w, self.h, Fourcc::Abgr8888, damage, None, lease))
    }
}

fn read_rgba(r: &mut GlesRenderer, frame: &Frame, out: &mut Vec<u8>) -> Result<()> {
    let Target::GlTexture(tex) = frame.target() else { bail!("not a texture target") };
    let rect = Rectangle::from_size((frame.width as i32, frame.height as i32).into());
    let map = r.copy_texture(tex, rect, Fourcc::Abgr8888).map_err(|e| anyhow!("copy_texture: {e:?}"))?;
    out.clear();
    out.extend_from_slice(r.map_texture(&map).map_err(|e| anyhow!("map_texture: {e:?}"))?);
    Ok(())
}

/// glow's function table for the renderer's EGL context (made current here), for the GL compute pass.
fn glow_for(r: &mut GlesRenderer) -> Result<glow::Context> {
    r.with_context(|_| ()).map_err(|e| anyhow!("make current: {e:?}"))?;
    Ok(lumen_encode::gpu::gles::current_context_gl()?)
}

fn gles(renderer: &mut Renderer) -> Result<&mut GlesRenderer> {
    match renderer {
        Renderer::Gles(g) => Ok(&mut g.renderer),
        Renderer::Pixman(_) => bail!("lumen_render picked Pixman; the GPU path needs GLES"),
    }
}

/// The session encoder's configuration at `w`×`h` (H.264, BT.709 limited: what `CHECKS[1]` converts).
fn enc_cfg(w: u32, h: u32) -> lumen_encode::EncoderConfig {
    lumen_encode::EncoderConfig {
        width: w,
        height: h,
        fps: 60,
        bitrate_kbps: 20_000,
        codec: lumen_encode::Codec::H264,
        colour_space: lumen_encode::ColourSpace::Bt709,
        range: lumen_encode::Range::Limited,
        slices: 1,
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Variant {
    /// per frame: EGLImage + cuGraphicsEGLRegisterImage + texture object + cuMemAllocPitch + convert +
    /// cuCtxSynchronize + free + unregister + eglDestroyImage.
    Naive,
    /// each pool target registered once (GL texture), one map/unmap per frame, pooled buffer, event.
    GlRegisteredMap,
    /// each pool target registered once as an EGLImage (target_created), no map, pooled buffer, event.
    Registered,
    /// as `Registered`, the event polled with cuEventQuery instead of a blocking cuEventSynchronize.
    RegisteredSpin,
    /// the session's route on a GPU without NVENC: `GpuSoftwareEncoder::upload_input` (I420 kernel + one
    /// device→host copy into pinned memory, event polled); "ready" = I420 on the host.
    I420ToHost,
    /// no CUDA: NV12 as a GLES 3.1 compute pass in the renderer's own context (`GlComputeNv12`, into a
    /// shader storage buffer), "ready" = a GL fence after the dispatch waited on the host.
    GlCompute,
}

struct Stats {
    median: f64,
    p99: f64,
    creations: u64,
    registrations: u64,
    maps_per_frame: f64,
}

#[allow(clippy::too_many_arguments)]
fn bench(
    v: Variant,
    renderer: &mut Renderer,
    dev_arc: &Arc<CudaDevice>,
    conv: &Converter,
    stream: &Stream,
    gl: &glow::Context,
    scene: &Scene,
    id: OutputId,
    frames: usize,
    warmup: usize,
) -> Result<Stats> {
    let dev: &CudaDevice = dev_arc;
    let (w, h) = (scene.w as u32, scene.h as u32);
    let c = NV12_BT709;
    let coeffs = c.coeffs();
    let mut out = Output::new(renderer, id, w, h)?;
    let r = gles(renderer)?;
    // The pool is created: the hook registers every target (renderer's EGL context current).
    r.with_context(|_| ()).map_err(|e| anyhow!("make current: {e:?}"))?;
    let mut registry = TargetRegistry::new()?;
    let mut gl_regs: Vec<(Registered, Option<MapSet>)> = Vec::new();
    match v {
        Variant::Registered | Variant::RegisteredSpin | Variant::I420ToHost => {
            for (i, t) in out.pool.targets() {
                registry.target_created(id, i, t)?;
            }
        }
        Variant::GlRegisteredMap => {
            for (_, t) in out.pool.targets() {
                gl_regs.push((Registered::gl_texture(t.gl_texture_id().context("texture id")?)?, None));
            }
            for (reg, set) in gl_regs.iter_mut() {
                *set = Some(MapSet::new(&[&*reg])?);
            }
        }
        Variant::Naive | Variant::GlCompute => {}
    }
    let mut fpool = frame_pool(c.format, w, h, 4)?;
    let mut soft = match v {
        Variant::I420ToHost => {
            let cfg = enc_cfg(w, h);
            Some(GpuSoftwareEncoder::new(cfg, dev_arc.clone()).map_err(|e| anyhow!("{e}"))?)
        }
        _ => None,
    };
    let compute = match v {
        Variant::GlCompute => Some(GlComputeNv12::new(gl, w, h)?),
        _ => None,
    };
    let done = Event::new(false)?;
    let mut times = Vec::with_capacity(frames);
    let mut base = counters::snapshot();
    for i in 0..warmup + frames {
        if i == warmup {
            base = counters::snapshot();
        }
        let frame = out.render(r, scene, i)?;
        let t0 = Instant::now(); // GL done
        match v {
            Variant::Naive => {
                let mut once = TargetRegistry::new()?;
                once.target_created(frame.output, frame.target_index(), frame.target())?;
                let (tex, _) = once.texture(frame.output, frame.target_index()).context("registered")?;
                let buf = PitchedBuffer::new(c.format, w, h)?;
                conv.from_texture(stream, tex, &coeffs, &buf)?;
                dev.synchronize()?;
                drop(buf);
                once.output_removed(frame.output);
            }
            Variant::GlRegisteredMap => {
                let set = gl_regs[frame.target_index() as usize].1.as_mut().context("map set")?;
                set.map(stream)?;
                let s = fpool.acquire()?;
                // The texture object over a mapped array: the array can change per map, so it is made
                // per frame here (counted); the EGL route below keeps one per target.
                let tex = lumen_encode::gpu::cuda::TextureObject::new(set.array(0)?)?;
                conv.from_texture(stream, &tex, &coeffs, fpool.get(&s))?;
                done.record(stream)?;
                set.unmap(stream)?;
                done.synchronize()?;
                drop(tex);
                fpool.release(s)?;
            }
            Variant::Registered => {
                let (tex, _) = registry.texture(frame.output, frame.target_index()).context("target not registered")?;
                let s = fpool.acquire()?;
                conv.from_texture(stream, tex, &coeffs, fpool.get(&s))?;
                done.record(stream)?;
                done.synchronize()?;
                fpool.release(s)?;
            }
            Variant::RegisteredSpin => {
                let (tex, _) = registry.texture(frame.output, frame.target_index()).context("target not registered")?;
                let s = fpool.acquire()?;
                conv.from_texture(stream, tex, &coeffs, fpool.get(&s))?;
                done.record(stream)?;
                done.spin_wait(Duration::from_millis(5))?;
                fpool.release(s)?;
            }
            Variant::I420ToHost => {
                let t = registry.gpu_target(frame.output, frame.target_index()).context("target not registered")?;
                soft.as_mut().context("encoder")?.upload_input(&t)?;
            }
            Variant::GlCompute => {
                let tex = frame.target().gl_texture_id().context("texture id")?;
                compute.as_ref().context("pass")?.dispatch(gl, tex, &coeffs)?;
                gl_fence_wait(gl)?;
            }
        }
        let dt = t0.elapsed().as_secs_f64() * 1e6;
        drop(frame); // the target goes back to its pool
        if i >= warmup {
            times.push(dt);
        }
    }
    let end = counters::snapshot();
    if let Some(p) = compute {
        p.destroy(gl);
    }
    registry.output_removed(id);
    drop(gl_regs);
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(Stats {
        median: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        creations: end.creations_since(&base),
        registrations: end.registrations - base.registrations,
        maps_per_frame: (end.map_calls - base.map_calls) as f64 / frames as f64,
    })
}

/// Renders the scene through the pool, converts each target through its once-made registration and
/// compares with the CPU reference of the pixels read back from the same target.
fn correctness(
    renderer: &mut Renderer,
    dev: &Arc<CudaDevice>,
    conv: &Converter,
    stream: &Stream,
    w: u32,
    h: u32,
    id: OutputId,
) -> Result<usize> {
    let scene = Scene::new(w as i32, h as i32);
    let mut out = Output::new(renderer, id, w, h)?;
    let r = gles(renderer)?;
    r.with_context(|_| ()).map_err(|e| anyhow!("make current: {e:?}"))?;
    let mut registry = TargetRegistry::new()?;
    for (i, t) in out.pool.targets() {
        registry.target_created(id, i, t)?;
    }
    let mut ck = Checker { conv, stream, gpu: Vec::new(), cpu: Vec::new(), failures: 0 };
    let cfg = enc_cfg(w + (w & 1), h + (h & 1));
    let mut soft = GpuSoftwareEncoder::new(cfg, dev.clone()).map_err(|e| anyhow!("{e}"))?;
    let gl = glow_for(r)?;
    let compute = GlComputeNv12::new(&gl, w, h)?;
    let mut nv12 = Vec::new();
    let mut rgba = Vec::new();
    // Several frames: the pool hands back the target holding the newest content (as in the compositor,
    // which reuses a returned target first), so later frames re-render a target already checked and are
    // read through the same, once-made registration: stale registrations would show here.
    for n in 0..POOL + 2 {
        let frame = out.render(r, &scene, 3 + 7 * n)?;
        read_rgba(r, &frame, &mut rgba)?;
        let (tex, size) = registry.texture(frame.output, frame.target_index()).context("target not registered")?;
        if size != (w, h) {
            bail!("registered target is {}x{}, expected {w}x{h}", size.0, size.1);
        }
        let route = format!("render pool, target {} (frame {})", frame.target_index(), frame.seq);
        let checks: &[Conversion] = if n == 0 { &CHECKS } else { &CHECKS[..2] };
        for c in checks {
            ck.check(&route, tex, &rgba, w, h, c)?;
        }
        // The GL compute pass (no CUDA) on the same target, NV12 checks only.
        for c in checks.iter().filter(|c| c.format == lumen_encode::gpu::PixelFormat::Nv12) {
            let tex = frame.target().gl_texture_id().context("texture id")?;
            compute.dispatch(&gl, tex, &c.coeffs())?;
            gl_fence_wait(&gl)?;
            compute.read(&gl, &mut nv12)?;
            let pitch = compute.pitch();
            let mut cpu = vec![0x5Au8; pitch * c.format.total_rows(h)];
            lumen_encode::gpu::colour::convert_cpu(c, &rgba, w as usize * 4, w, h, &mut cpu, pitch)?;
            let err = super::max_error(c, w, h, pitch, &nv12, &cpu);
            if err > 1 {
                ck.failures += 1;
            }
            println!(
                "| {w}x{h} | {route}, GL compute pass (no CUDA) | {} | {err} | {} |",
                super::fmt_conv(c),
                if err <= 1 { "ok" } else { "FAIL" }
            );
        }
        if w.is_multiple_of(2) && h.is_multiple_of(2) {
            // The session's encoder on this GPU: I420 through the pinned host buffer, BT.709 limited.
            let t = registry.gpu_target(frame.output, frame.target_index()).context("target not registered")?;
            soft.upload_input(&t)?;
            let c = CHECKS[1];
            let pitch = soft.pitch();
            let mut cpu = vec![0x5Au8; pitch * c.format.total_rows(h)];
            lumen_encode::gpu::colour::convert_cpu(&c, &rgba, w as usize * 4, w, h, &mut cpu, pitch)?;
            let err = super::max_error(&c, w, h, pitch, soft.host_i420(), &cpu);
            if err > 1 {
                ck.failures += 1;
            }
            println!(
                "| {w}x{h} | {route}, GpuSoftwareEncoder pinned host copy | I420 Rgba Bt709 Limited | {err} | {} |",
                if err <= 1 { "ok" } else { "FAIL" }
            );
        }
    }
    compute.destroy(&gl);
    registry.output_removed(id);
    if !registry.is_empty() {
        bail!("output_removed left {} registrations", registry.len());
    }
    Ok(ck.failures)
}

/// The whole mode; returns the number of failed checks.
pub fn run(sizes: &[(u32, u32)], frames: usize, warmup: usize) -> Result<usize> {
    let mut renderer = lumen_render::select(RendererChoice::Gles).context("lumen_render GLES renderer")?;
    println!("## render pool (lumen_render)\n\nrenderer: {} ({})\n", renderer.description(), renderer.kind());
    let dev = lumen_encode::gpu::open_device().context("CUDA device")?;
    let conv = Converter::new()?;
    let stream = Stream::new(&dev)?;
    let gl = glow_for(gles(&mut renderer)?)?;
    println!("### correctness: pool targets registered once (EGLImage), GPU vs CPU reference\n");
    println!("| size | route | conversion | max error | |\n|---|---|---|---|---|");
    let mut failures = 0;
    let mut next = 100u32;
    for &(w, h) in sizes.iter().chain([(641, 361)].iter()) {
        failures += correctness(&mut renderer, &dev, &conv, &stream, w, h, OutputId(next))?;
        next += 1;
    }
    println!(
        "\n### GL done (frame sync point) → encoder input ready, NV12, pool of {POOL} targets, {frames} frames after {warmup} warm-up\n"
    );
    println!("| size | variant | median µs | p99 µs | CUDA creations after warm-up | registrations after warm-up | maps/frame | naive p99 / this p99 |");
    println!("|---|---|---|---|---|---|---|---|");
    for &(w, h) in sizes {
        let scene = Scene::new(w as i32, h as i32);
        let mut naive = None;
        for v in [
            Variant::Naive,
            Variant::GlRegisteredMap,
            Variant::Registered,
            Variant::RegisteredSpin,
            Variant::I420ToHost,
            Variant::GlCompute,
        ] {
            let s = bench(v, &mut renderer, &dev, &conv, &stream, &gl, &scene, OutputId(next), frames, warmup)?;
            next += 1;
            if v == Variant::Naive {
                naive = Some(s.p99);
            }
            let ratio = naive.map_or(String::from("-"), |n| format!("{:.2}x", n / s.p99));
            println!(
                "| {w}x{h} | {v:?} | {:.0} | {:.0} | {} | {} | {:.2} | {ratio} |",
                s.median, s.p99, s.creations, s.registrations, s.maps_per_frame
            );
        }
    }
    println!();
    Ok(failures)
}
