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
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

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

/// The render-pool mode: the compositor's renderer and target pool, targets registered with CUDA once.
mod pool_mode;

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
        if conv.format == PixelFormat::I420 && r >= h as usize {
            // Two chroma half-rows (U rows, then V rows) per full-pitch row, ceil(w/2) samples each.
            for half in [r * pitch, r * pitch + pitch / 2] {
                let n = w.div_ceil(2) as usize;
                for (x, y) in gpu[half..half + n].iter().zip(&cpu[half..half + n]) {
                    worst = worst.max(u32::from(x.abs_diff(*y)));
                }
            }
            continue;
        }
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

/// The conversion the timed paths run: RGBA → NV12, BT.709, limited range (what NVENC takes for H.264).
const NV12_BT709: Conversion =
    Conversion { order: SourceOrder::Rgba, format: PixelFormat::Nv12, matrix: Matrix::Bt709, range: Range::Limited };

const CHECKS: [Conversion; 8] = [
    NV12_BT709,
    Conversion { order: SourceOrder::Rgba, format: PixelFormat::I420, matrix: Matrix::Bt709, range: Range::Limited },
    Conversion { order: SourceOrder::Bgra, format: PixelFormat::I420, matrix: Matrix::Bt601, range: Range::Full },
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
    let c = NV12_BT709;
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
    let egl_reg = match &image {
        // SAFETY: the image outlives the registration (destroyed after it below).
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
