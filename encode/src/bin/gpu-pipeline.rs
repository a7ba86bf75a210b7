//! gpu-pipeline: the device test of the NVIDIA path. Renders a known scene with GLES (surfaceless EGL)
//! into texture targets, imports them into CUDA once, converts to NV12 / P010 / YUV444 and checks the
//! result against the CPU reference (max error per sample), then times 1000 frames per size and variant
//! from "GL done" to "encoder input ready" with CUDA creations counted after warm-up, and finally tries
//! NVENC and prints why it cannot be used where it cannot. Output is markdown tables on stdout.
//!
//! `--mode render-pool` does the same through the compositor's own renderer (lumen_render's surfaceless-EGL
//! `GlesRenderer` and a `TargetPool` of `Target::GlTexture` targets), registering each pool target with CUDA
//! once through `gpu::targets::TargetRegistry` (the `FrameSink::target_created` hook's semantics).
//!
//! Run on an NVIDIA machine (see docs/gpu.md): `gpu-pipeline --frames 1000`.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use lumen_encode::gpu::colour::convert_cpu;
use lumen_encode::gpu::convert::{Converter, TextureCache};
use lumen_encode::gpu::cuda::{CudaDevice, Event, PitchedBuffer, RgbaBuffer, Stream, TextureObject};
use lumen_encode::gpu::gles::Gles;
use lumen_encode::gpu::interop::{MapSet, Registered};
use lumen_encode::gpu::nvenc::encoder::{NvencEncoder, NvencOptions};
use lumen_encode::gpu::{counters, frame_pool, nvenc, Conversion, Matrix, PixelFormat, Range, SourceOrder};

#[derive(Parser)]
#[command(about = "GLES → CUDA → colour conversion → NVENC device test")]
struct Args {
    /// Timed frames per size and variant.
    #[arg(long, default_value_t = 1000)]
    frames: usize,
    /// Untimed frames before counting starts.
    #[arg(long, default_value_t = 50)]
    warmup: usize,
    /// Sizes, WIDTHxHEIGHT.
    #[arg(long, value_delimiter = ',', default_value = "1920x1080,3840x2160")]
    sizes: Vec<String>,
    /// What to run: `render-pool` (the compositor's renderer and target pool, lumen_render), `standalone`
    /// (the stand-in GLES context of gpu::gles, every variant) or `all`.
    #[arg(long, default_value = "all")]
    mode: String,
}

fn parse_size(s: &str) -> Result<(u32, u32)> {
    let (w, h) = s.split_once('x').context("size must be WIDTHxHEIGHT")?;
    Ok((w.parse()?, h.parse()?))
}

/// Largest difference between GPU and CPU samples over the meaningful bytes of every row.
fn max_error(conv: &Conversion, w: u32, h: u32, pitch: usize, gpu: &[u8], cpu: &[u8]) -> u32 {
    // Luma rows hold `w` samples; 4:2:0 chroma rows hold ceil(w/2) CbCr pairs (one more byte pair than
    // luma when w is odd). Bytes past those are padding and stay as poisoned.
    let bps = conv.format.bytes_per_sample();
    let rows = conv.format.total_rows(h);
    let mut worst = 0u32;
    for r in 0..rows {
        let chroma_420 = conv.format != PixelFormat::Yuv444 && r >= h as usize;
        let row = if chroma_420 { conv.format.row_bytes(w) } else { w as usize * bps };
        let (a, b) = (&gpu[r * pitch..r * pitch + row], &cpu[r * pitch..r * pitch + row]);
        if conv.format == PixelFormat::P010 {
            for (x, y) in a.chunks_exact(2).zip(b.chunks_exact(2)) {
                let (x, y) = (u16::from_le_bytes([x[0], x[1]]) >> 6, u16::from_le_bytes([y[0], y[1]]) >> 6);
                worst = worst.max(u32::from(x.abs_diff(y)));
            }
        } else {
            for (x, y) in a.iter().zip(b) {
                worst = worst.max(u32::from(x.abs_diff(*y)));
            }
        }
    }
    worst
}

const CHECKS: [Conversion; 6] = [
    Conversion { order: SourceOrder::Rgba, format: PixelFormat::Nv12, matrix: Matrix::Bt709, range: Range::Limited },
    Conversion { order: SourceOrder::Rgba, format: PixelFormat::Yuv444, matrix: Matrix::Bt709, range: Range::Limited },
    Conversion { order: SourceOrder::Rgba, format: PixelFormat::P010, matrix: Matrix::Bt2020, range: Range::Limited },
    Conversion { order: SourceOrder::Bgra, format: PixelFormat::Nv12, matrix: Matrix::Bt601, range: Range::Full },
    Conversion { order: SourceOrder::Bgra, format: PixelFormat::Yuv444, matrix: Matrix::Bt2020, range: Range::Full },
    Conversion { order: SourceOrder::Rgba, format: PixelFormat::P010, matrix: Matrix::Bt709, range: Range::Full },
];

fn fmt_conv(c: &Conversion) -> String {
    format!("{:?} {:?} {:?} {:?}", c.format, c.order, c.matrix, c.range)
}

struct Checker<'a> {
    conv: &'a Converter,
    stream: &'a Stream,
    gpu: Vec<u8>,
    cpu: Vec<u8>,
    failures: usize,
}

impl Checker<'_> {
    fn check(&mut self, route: &str, tex: &TextureObject, rgba: &[u8], w: u32, h: u32, c: &Conversion) -> Result<()> {
        let buf = PitchedBuffer::new(c.format, w, h)?;
        buf.fill(0xA5, self.stream)?; // poison: unwritten samples show up as errors
        self.conv.from_texture(self.stream, tex, &c.coeffs(), &buf)?;
        self.stream.synchronize()?;
        buf.download(&mut self.gpu)?;
        self.cpu.clear();
        self.cpu.resize(buf.len(), 0x5A);
        convert_cpu(c, rgba, w as usize * 4, w, h, &mut self.cpu, buf.pitch())?;
        let err = max_error(c, w, h, buf.pitch(), &self.gpu, &self.cpu);
        let ok = err <= 1;
        if !ok {
            self.failures += 1;
        }
        println!("| {w}x{h} | {route} | {} | {err} | {} |", fmt_conv(c), if ok { "ok" } else { "FAIL" });
        Ok(())
    }
}

fn correctness(gles: &Gles, conv: &Converter, stream: &Stream, w: u32, h: u32, failures: &mut usize) -> Result<()> {
    let target = gles.target(w, h)?;
    let mut rgba = Vec::new();
    gles.draw(&target, 3);
    gles.finish();
    gles.read(&target, &mut rgba);
    let mut ck = Checker { conv, stream, gpu: Vec::new(), cpu: Vec::new(), failures: 0 };

    // GL texture registered once, mapped for the check.
    let reg = Registered::gl_texture(target.texture_name())?;
    let mut set = MapSet::new(&[&reg])?;
    set.map(stream)?;
    let tex = TextureObject::new(set.array(0)?)?;
    for c in &CHECKS {
        ck.check("GL register+map", &tex, &rgba, w, h, c)?;
    }
    set.unmap(stream)?;
    drop(tex);
    drop(set);
    drop(reg);

    // EGLImage registered once, read without any map; re-rendered and re-checked through the same array.
    let image = gles.egl_image(&target)?;
    // SAFETY: the image lives until destroy_image below, after the registration is dropped.
    let reg = unsafe { Registered::egl_image(image.as_ptr())? };
    let (array, frame) = reg.egl_array()?;
    if frame.width != w || frame.height != h {
        bail!("EGL frame is {}x{}, expected {w}x{h}", frame.width, frame.height);
    }
    let tex = TextureObject::new(array)?;
    for c in &CHECKS[..2] {
        ck.check("EGLImage, no map", &tex, &rgba, w, h, c)?;
    }
    gles.draw(&target, 11);
    gles.finish();
    gles.read(&target, &mut rgba);
    for c in &CHECKS[..2] {
        ck.check("EGLImage, re-rendered", &tex, &rgba, w, h, c)?;
    }
    drop(tex);
    drop(reg);
    gles.destroy_image(image);

    // The GL pass (no CUDA) against the same reference (even sizes: its image has no row padding).
    if w.is_multiple_of(2) {
        let c = CHECKS[0];
        let pass = gles.nv12_pass(w, h)?;
        gles.convert_nv12(&pass, &target, &c.coeffs());
        gles.finish();
        let mut img = Vec::new();
        gles.read(&pass.target, &mut img);
        let pitch = w as usize;
        let gl_nv12: Vec<u8> = img.chunks_exact(4).map(|p| p[0]).collect();
        let mut cpu = vec![0u8; pitch * c.format.total_rows(h)];
        convert_cpu(&c, &rgba, w as usize * 4, w, h, &mut cpu, pitch)?;
        let err = max_error(&c, w, h, pitch, &gl_nv12, &cpu);
        if err > 1 {
            ck.failures += 1;
        }
        println!(
            "| {w}x{h} | GL pass (no CUDA) | {} | {err} | {} |",
            fmt_conv(&c),
            if err <= 1 { "ok" } else { "FAIL" }
        );
        gles.destroy_target(pass.target);
    }
    gles.destroy_target(target);
    *failures += ck.failures;
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    /// register + alloc + map + texture object + convert + unmap + unregister + free + cuCtxSynchronize, every frame.
    Naive,
    /// registered once, one map/unmap per tick, pooled buffer, stream + event.
    GlMap,
    /// two outputs' targets mapped in one call per tick (per-tick time for both).
    GlMapBatch2,
    /// EGLImage registered once, no per-frame map, pooled buffer, stream + event; GL done by glFinish.
    Egl,
    /// as Egl, GL done by an EGL fence waited on the host.
    EglFence,
    /// as Egl but with no GL work between frames: the CUDA-only floor (launch + kernel + event wait).
    CudaOnly,
    /// GL draws and finishes an unregistered target; CUDA then converts a plain device RGBA buffer (no
    /// interop resource involved): separates the GL→CUDA switch from interop synchronisation.
    Unrelated,
    /// as Egl, but the host waits 1 ms after GL is done before starting the clock: shows whether the
    /// hand-off cost is paid lazily when CUDA work arrives.
    EglIdle,
    /// No CUDA: the NV12 conversion as a GL pass right after the scene (GL done → NV12 finished in GL).
    GlPass,
}

struct Stats {
    median: f64,
    p99: f64,
    creations: u64,
    maps_per_frame: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[allow(clippy::too_many_arguments)]
fn bench(
    v: Variant,
    gles: &Gles,
    dev: &CudaDevice,
    conv: &Converter,
    stream: &Stream,
    w: u32,
    h: u32,
    frames: usize,
    warmup: usize,
) -> Result<Stats> {
    let c = Conversion {
        order: SourceOrder::Rgba,
        format: PixelFormat::Nv12,
        matrix: Matrix::Bt709,
        range: Range::Limited,
    };
    let coeffs = c.coeffs();
    let targets = [gles.target(w, h)?, gles.target(w, h)?];
    let n_out = if v == Variant::GlMapBatch2 { 2 } else { 1 };
    let done = Event::new(false)?;
    let mut pool = frame_pool(c.format, w, h, 4)?;
    let mut times = Vec::with_capacity(frames);
    let mut cache = TextureCache::default();

    // Set-up done once per variant (the pool's creation time in the real pipeline).
    let regs: Vec<Registered> = match v {
        Variant::GlMap | Variant::GlMapBatch2 => {
            targets[..n_out].iter().map(|t| Registered::gl_texture(t.texture_name())).collect::<Result<_, _>>()?
        }
        _ => Vec::new(),
    };
    let mut set = if regs.is_empty() { None } else { Some(MapSet::new(&regs.iter().collect::<Vec<_>>())?) };
    let image = if matches!(v, Variant::Egl | Variant::EglFence | Variant::CudaOnly | Variant::EglIdle) {
        Some(gles.egl_image(&targets[0])?)
    } else {
        None
    };
    // SAFETY: the image outlives the registration (destroyed after it below).
    let egl_reg = match &image {
        Some(i) => Some(unsafe { Registered::egl_image(i.as_ptr())? }),
        None => None,
    };
    let plain = if v == Variant::Unrelated { Some(RgbaBuffer::new(w, h)?) } else { None };
    let egl_tex = match &egl_reg {
        Some(r) => Some(TextureObject::new(r.egl_array()?.0)?),
        None => None,
    };

    let gl_pass = if v == Variant::GlPass { Some(gles.nv12_pass(w, h)?) } else { None };
    let mut base = counters::snapshot();
    for i in 0..warmup + frames {
        if i == warmup {
            base = counters::snapshot();
        }
        if v == Variant::Unrelated {
            gles.draw(&targets[1], i as i32);
        } else if v != Variant::CudaOnly {
            for t in &targets[..n_out] {
                gles.draw(t, i as i32);
            }
        }
        match v {
            Variant::CudaOnly => {}
            Variant::EglFence => gles.fence_wait()?,
            Variant::GlPass => gles.finish(),
            Variant::EglIdle => {
                gles.finish();
                let t = Instant::now();
                while t.elapsed().as_micros() < 1000 {
                    std::hint::spin_loop();
                }
            }
            _ => gles.finish(),
        }
        let t0 = Instant::now(); // GL done
        match v {
            Variant::Naive => {
                let reg = Registered::gl_texture(targets[0].texture_name())?;
                let mut s = MapSet::new(&[&reg])?;
                s.map(stream)?;
                let tex = TextureObject::new(s.array(0)?)?;
                let buf = PitchedBuffer::new(c.format, w, h)?;
                conv.from_texture(stream, &tex, &coeffs, &buf)?;
                s.unmap(stream)?;
                dev.synchronize()?;
                drop(tex);
                drop(buf);
                drop(reg);
            }
            Variant::GlMap | Variant::GlMapBatch2 => {
                let set = set.as_mut().context("map set")?;
                set.map(stream)?;
                let mut slots = [None, None];
                for (k, slot) in slots.iter_mut().enumerate().take(n_out) {
                    let s = pool.acquire()?;
                    let tex = cache.get(set.array(k)?)?;
                    conv.from_texture(stream, tex, &coeffs, pool.get(&s))?;
                    *slot = Some(s);
                }
                done.record(stream)?;
                set.unmap(stream)?;
                done.synchronize()?;
                for s in slots.into_iter().flatten() {
                    pool.release(s)?;
                }
            }
            Variant::GlPass => {
                gles.convert_nv12(gl_pass.as_ref().context("gl pass")?, &targets[0], &coeffs);
                gles.finish();
            }
            Variant::Unrelated => {
                let s = pool.acquire()?;
                let src = plain.as_ref().context("plain buffer")?;
                // SAFETY: the buffer holds w×h texels at its pitch and outlives the work (synchronised below).
                unsafe { conv.from_pitched(stream, src.device_ptr(), src.pitch(), &coeffs, pool.get(&s))? };
                done.record(stream)?;
                done.synchronize()?;
                pool.release(s)?;
            }
            Variant::Egl | Variant::EglFence | Variant::CudaOnly | Variant::EglIdle => {
                let s = pool.acquire()?;
                conv.from_texture(stream, egl_tex.as_ref().context("egl texture")?, &coeffs, pool.get(&s))?;
                done.record(stream)?;
                done.synchronize()?;
                pool.release(s)?;
            }
        }
        let dt = t0.elapsed().as_secs_f64() * 1e6;
        if i >= warmup {
            times.push(dt);
        }
    }
    let end = counters::snapshot();
    drop(egl_tex);
    drop(egl_reg);
    if let Some(i) = image {
        gles.destroy_image(i);
    }
    drop(set);
    drop(regs);
    drop(cache);
    for t in targets {
        gles.destroy_target(t);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(Stats {
        median: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        creations: end.creations_since(&base),
        maps_per_frame: (end.map_calls - base.map_calls) as f64 / frames as f64,
    })
}

/// GPU time of the conversion kernel alone (timing events around it), median over `n` launches.
fn kernel_time(
    conv: &Converter,
    stream: &Stream,
    gles: &Gles,
    w: u32,
    h: u32,
    format: PixelFormat,
    n: usize,
) -> Result<f64> {
    let target = gles.target(w, h)?;
    gles.draw(&target, 1);
    gles.finish();
    let image = gles.egl_image(&target)?;
    // SAFETY: the image outlives the registration.
    let reg = unsafe { Registered::egl_image(image.as_ptr())? };
    let tex = TextureObject::new(reg.egl_array()?.0)?;
    let c = Conversion { order: SourceOrder::Rgba, format, matrix: Matrix::Bt709, range: Range::Limited };
    let buf = PitchedBuffer::new(format, w, h)?;
    let (a, b) = (Event::new(true)?, Event::new(true)?);
    let mut t = Vec::with_capacity(n);
    for _ in 0..n {
        a.record(stream)?;
        conv.from_texture(stream, &tex, &c.coeffs(), &buf)?;
        b.record(stream)?;
        b.synchronize()?;
        t.push(f64::from(b.elapsed_ms(&a)?) * 1000.0);
    }
    drop(tex);
    drop(reg);
    gles.destroy_image(image);
    gles.destroy_target(target);
    t.sort_by(|x, y| x.total_cmp(y));
    Ok(percentile(&t, 0.5))
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let sizes = args.sizes.iter().map(|s| parse_size(s)).collect::<Result<Vec<_>>>()?;

    let (standalone, render_pool) = match args.mode.as_str() {
        "all" => (true, true),
        "standalone" => (true, false),
        "render-pool" => (false, true),
        other => bail!("unknown --mode {other} (all, standalone, render-pool)"),
    };
    let mut failures = 0;
    if render_pool {
        // First, before any other EGL display exists in the process: the compositor's own renderer.
        failures += pool_mode::run(&sizes, args.frames, args.warmup)?;
        if !standalone {
            if failures > 0 {
                bail!("{failures} conversion checks exceeded an error of 1");
            }
            return Ok(());
        }
    }

    let support = lumen_encode::gpu::probe();
    println!("## probe\n\nencoder: {} — {:?}\n", support.encoder_name(), support);

    let gles = Gles::new().context("surfaceless EGL / GLES")?;
    println!("GL: {}", gles.describe());
    for ext in ["GL_EXT_memory_object_fd", "GL_EXT_semaphore_fd", "GL_NV_timeline_semaphore"] {
        println!("{ext}: {}", gles.has_extension(ext));
    }
    let dev = lumen_encode::gpu::open_device().context("CUDA device")?;
    println!("CUDA: {}\n", dev.name());
    let conv = Converter::new()?;
    let stream = Stream::new(&dev)?;

    println!("## correctness (GPU vs CPU reference, max error per sample)\n");
    println!("| size | route | conversion | max error | |\n|---|---|---|---|---|");
    for &(w, h) in &sizes {
        correctness(&gles, &conv, &stream, w, h, &mut failures)?;
    }
    correctness(&gles, &conv, &stream, 641, 361, &mut failures)?; // odd sizes: edge blocks

    println!("\n## conversion kernel alone (GPU time, median of 200)\n");
    println!("| size | format | µs | GB/s (read RGBA + write) |\n|---|---|---|---|");
    for &(w, h) in &sizes {
        for f in [PixelFormat::Nv12, PixelFormat::Yuv444, PixelFormat::P010] {
            let us = kernel_time(&conv, &stream, &gles, w, h, f, 200)?;
            let bytes = (w as usize * h as usize * 4 + f.row_bytes(w) * f.total_rows(h)) as f64;
            println!("| {w}x{h} | {f:?} | {us:.1} | {:.0} |", bytes / us / 1e3);
        }
    }

    println!("\n## GL done → encoder input ready (NV12, {} frames after {} warm-up)\n", args.frames, args.warmup);
    println!("| size | variant | median µs | p99 µs | creations after warm-up | maps/frame | naive p99 / this p99 |");
    println!("|---|---|---|---|---|---|---|");
    for &(w, h) in &sizes {
        let mut naive_p99 = None;
        for v in [
            Variant::Naive,
            Variant::GlMap,
            Variant::GlMapBatch2,
            Variant::Egl,
            Variant::EglFence,
            Variant::CudaOnly,
            Variant::Unrelated,
            Variant::EglIdle,
            Variant::GlPass,
        ] {
            let s = bench(v, &gles, &dev, &conv, &stream, w, h, args.frames, args.warmup)?;
            if v == Variant::Naive {
                naive_p99 = Some(s.p99);
            }
            let ratio = naive_p99.map_or(String::from("-"), |n| format!("{:.2}x", n / s.p99));
            println!(
                "| {w}x{h} | {v:?} | {:.0} | {:.0} | {} | {:.2} | {ratio} |",
                s.median, s.p99, s.creations, s.maps_per_frame
            );
        }
    }

    println!("\n## NVENC\n");
    match nvenc::probe_session(&dev) {
        Ok(caps) => {
            println!("NVENC session opened: codecs {:?}, API {}.{}", caps.codecs, caps.max_api.0, caps.max_api.1)
        }
        Err(e) => println!("NVENC unusable here: {e} → the host falls back to the software encoder"),
    }
    let cfg = lumen_encode::EncoderConfig {
        width: 1920,
        height: 1080,
        fps: 60,
        bitrate_kbps: 20_000,
        codec: lumen_encode::Codec::H264,
        colour_space: lumen_encode::ColourSpace::Bt709,
        range: lumen_encode::Range::Limited,
        slices: 1,
    };
    match NvencEncoder::new(cfg, NvencOptions::default(), dev.clone()) {
        Ok(_) => println!("NvencEncoder H.264 1080p60 opened"),
        Err(e) => println!("NvencEncoder::new: {e}"),
    }
    if failures > 0 {
        bail!("{failures} conversion checks exceeded an error of 1");
    }
    Ok(())
}

/// The render-pool mode: the compositor's renderer and target pool, targets registered with CUDA once.
mod pool_mode {
    use std::time::{Duration, Instant};

    use anyhow::{anyhow, bail, Context, Result};
    use lumen_encode::gpu::convert::Converter;
    use lumen_encode::gpu::cuda::{CudaDevice, Event, PitchedBuffer, Stream};
    use lumen_encode::gpu::interop::{MapSet, Registered};
    use lumen_encode::gpu::targets::TargetRegistry;
    use lumen_encode::gpu::{counters, frame_pool, Conversion, Matrix, PixelFormat, Range, SourceOrder};
    use lumen_render::smithay::backend::allocator::Fourcc;
    use lumen_render::smithay::backend::renderer::damage::OutputDamageTracker;
    use lumen_render::smithay::backend::renderer::element::memory::{
        MemoryRenderBuffer, MemoryRenderBufferRenderElement,
    };
    use lumen_render::smithay::backend::renderer::element::Kind;
    use lumen_render::smithay::backend::renderer::gles::GlesRenderer;
    use lumen_render::smithay::backend::renderer::ExportMem;
    use lumen_render::smithay::utils::{Rectangle, Transform};
    use lumen_render::{BindTarget, Frame, OutputId, Renderer, RendererChoice, Target, TargetPool};

    use super::{percentile, Checker, CHECKS};

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
            let background =
                buffer(w, h, |x, y| [(x * 255 / w) as u8, (y * 255 / h) as u8, ((x ^ y) & 0xff) as u8, 255]);
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
            let targets =
                (0..POOL).map(|_| renderer.create_target(w as i32, h as i32)).collect::<Result<Vec<_>, _>>()?;
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

    fn gles(renderer: &mut Renderer) -> Result<&mut GlesRenderer> {
        match renderer {
            Renderer::Gles(g) => Ok(&mut g.renderer),
            Renderer::Pixman(_) => bail!("lumen_render picked Pixman; the GPU path needs GLES"),
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
        dev: &CudaDevice,
        conv: &Converter,
        stream: &Stream,
        scene: &Scene,
        id: OutputId,
        frames: usize,
        warmup: usize,
    ) -> Result<Stats> {
        let (w, h) = (scene.w as u32, scene.h as u32);
        let c = Conversion {
            order: SourceOrder::Rgba,
            format: PixelFormat::Nv12,
            matrix: Matrix::Bt709,
            range: Range::Limited,
        };
        let coeffs = c.coeffs();
        let mut out = Output::new(renderer, id, w, h)?;
        let r = gles(renderer)?;
        // The pool is created: the hook registers every target (renderer's EGL context current).
        r.with_context(|_| ()).map_err(|e| anyhow!("make current: {e:?}"))?;
        let mut registry = TargetRegistry::new()?;
        let mut gl_regs: Vec<(Registered, Option<MapSet>)> = Vec::new();
        match v {
            Variant::Registered => {
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
            Variant::Naive => {}
        }
        let mut fpool = frame_pool(c.format, w, h, 4)?;
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
                    let (tex, _) =
                        registry.texture(frame.output, frame.target_index()).context("target not registered")?;
                    let s = fpool.acquire()?;
                    conv.from_texture(stream, tex, &coeffs, fpool.get(&s))?;
                    done.record(stream)?;
                    done.synchronize()?;
                    fpool.release(s)?;
                }
            }
            let dt = t0.elapsed().as_secs_f64() * 1e6;
            drop(frame); // the target goes back to its pool
            if i >= warmup {
                times.push(dt);
            }
        }
        let end = counters::snapshot();
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
        }
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
        println!("### correctness: pool targets registered once (EGLImage), GPU vs CPU reference\n");
        println!("| size | route | conversion | max error | |\n|---|---|---|---|---|");
        let mut failures = 0;
        let mut next = 100u32;
        for &(w, h) in sizes.iter().chain([(641, 361)].iter()) {
            failures += correctness(&mut renderer, &conv, &stream, w, h, OutputId(next))?;
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
            for v in [Variant::Naive, Variant::GlRegisteredMap, Variant::Registered] {
                let s = bench(v, &mut renderer, &dev, &conv, &stream, &scene, OutputId(next), frames, warmup)?;
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
}
