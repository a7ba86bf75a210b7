//! `lumen-render-bench`: renders one deterministic test scene (an opaque gradient background, translucent
//! windows, a moving square) with Pixman and/or GLES into lumen's pool targets and prints a table of
//! per-frame render times: full redraws and damage-only frames. With `--renderer both` it also compares the
//! two renderers' pixels. No Wayland clients are involved, so it runs on a bare GPU machine.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use lumen_render::{BindTarget, Renderer, RendererChoice, Target};
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::element::memory::{MemoryRenderBuffer, MemoryRenderBufferRenderElement};
use smithay::backend::renderer::element::Kind;
use smithay::backend::renderer::{ExportMem, ImportMem, Renderer as SRenderer, Texture};
use smithay::utils::{Rectangle, Transform};

#[derive(Parser)]
#[command(about = "Render-time bench of lumen's renderers on a fixed test scene")]
struct Args {
    /// pixman, gles or both (both also compares pixels).
    #[arg(long, default_value = "both")]
    renderer: String,
    #[arg(long, default_value = "1920x1080")]
    size: String,
    /// Frames per measurement.
    #[arg(long, default_value_t = 120)]
    frames: usize,
    /// Write each renderer's last full frame as PNG into this directory.
    #[arg(long)]
    dump: Option<std::path::PathBuf>,
}

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
    MemoryRenderBuffer::from_slice(&px, Fourcc::Argb8888, (w, h), 1, Transform::Normal, None)
}

impl Scene {
    fn new(w: i32, h: i32) -> Scene {
        // ARGB8888 little-endian = B, G, R, A; premultiplied alpha.
        let background = buffer(w, h, |x, y| [(x * 255 / w) as u8, (y * 255 / h) as u8, 96, 255]);
        let mut windows = Vec::new();
        for i in 0..4 {
            let (ww, wh) = (w * 2 / 5, h * 2 / 5);
            let a = 96 + 40 * i as u8;
            let colour = [[200u8, 40, 40], [40, 200, 40], [40, 40, 200], [200, 200, 40]][i];
            let win = buffer(ww, wh, move |x, _y| {
                let alpha = if x < ww / 2 { a } else { 255 };
                let pm = |c: u8| ((c as u32 * alpha as u32) / 255) as u8;
                [pm(colour[2]), pm(colour[1]), pm(colour[0]), alpha]
            });
            windows.push((win, (w / 10 + i as i32 * w / 8, h / 10 + i as i32 * h / 8)));
        }
        let square =
            buffer(256, 256, |x, y| if (x / 32 + y / 32) % 2 == 0 { [255, 255, 255, 255] } else { [0, 0, 0, 255] });
        Scene { background, windows, square, w, h }
    }

    fn elements<R>(&self, r: &mut R, frame: usize) -> anyhow::Result<Vec<MemoryRenderBufferRenderElement<R>>>
    where
        R: SRenderer + ImportMem,
        R::TextureId: Send + Clone + 'static,
    {
        let mut out = Vec::new();
        let sx = ((frame * 16) as i32) % (self.w - 256);
        let mk = |r: &mut R, b: &MemoryRenderBuffer, (x, y): (i32, i32)| {
            MemoryRenderBufferRenderElement::from_buffer(
                r,
                (x as f64, y as f64),
                b,
                None,
                None,
                None,
                Kind::Unspecified,
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))
        };
        out.push(mk(r, &self.square, (sx, self.h - 300))?);
        for (b, loc) in self.windows.iter().rev() {
            out.push(mk(r, b, *loc)?);
        }
        out.push(mk(r, &self.background, (0, 0))?);
        Ok(out)
    }
}

struct Measured {
    name: String,
    full: Vec<Duration>,
    damaged: Vec<Duration>,
    readback: Duration,
    rgba: Vec<u8>,
}

fn percentile(v: &[Duration], p: f64) -> f64 {
    let mut s: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return 0.0;
    }
    s[((s.len() - 1) as f64 * p).round() as usize]
}

fn mean(v: &[Duration]) -> f64 {
    v.iter().map(|d| d.as_secs_f64() * 1e3).sum::<f64>() / v.len().max(1) as f64
}

fn run<R>(
    r: &mut R,
    target: &mut Target,
    scene: &Scene,
    frames: usize,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)>
where
    R: SRenderer + ImportMem + BindTarget,
    R::TextureId: Texture + Send + Clone + 'static,
{
    let size = (scene.w, scene.h);
    let mut full = Vec::with_capacity(frames);
    let mut damaged = Vec::with_capacity(frames);
    for (age, out) in [(0usize, &mut full), (1usize, &mut damaged)] {
        let mut tracker = OutputDamageTracker::new(size, 1.0, Transform::Normal);
        for i in 0..frames + 5 {
            let t0 = Instant::now();
            let elements = scene.elements(r, i)?;
            let mut fb = r.bind_target(target).map_err(|e| anyhow::anyhow!(e))?;
            let res = tracker
                .render_output(r, &mut fb, age, &elements, [0.0, 0.0, 0.0, 1.0])
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            // Count the GPU work too: wait for the frame to be finished.
            res.sync.wait().map_err(|e| anyhow::anyhow!("{e:?}"))?;
            drop(fb);
            if i >= 5 {
                out.push(t0.elapsed());
            }
        }
    }
    Ok((full, damaged))
}

fn bench(choice: RendererChoice, scene: &Scene, frames: usize) -> anyhow::Result<Measured> {
    let mut renderer = lumen_render::select(choice).context("renderer")?;
    let name = renderer.description();
    let mut target = renderer.create_target(scene.w, scene.h)?;
    let rect = Rectangle::from_size((scene.w, scene.h).into());
    let (full, damaged, readback, rgba) = match &mut renderer {
        Renderer::Pixman(r) => {
            let (full, damaged) = run(r, &mut target, scene, frames)?;
            // Final deterministic frame for the comparison: full redraw of frame 0.
            let mut tracker = OutputDamageTracker::new((scene.w, scene.h), 1.0, Transform::Normal);
            let elements = scene.elements(r, 0)?;
            let mut fb = r.bind_target(&mut target).map_err(|e| anyhow::anyhow!(e))?;
            tracker
                .render_output(r, &mut fb, 0, &elements, [0.0, 0.0, 0.0, 1.0])
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            drop(fb);
            let t0 = Instant::now();
            let px = target.cpu_pixels().context("pixman target has CPU pixels")?;
            let mut rgba = Vec::with_capacity((scene.w * scene.h * 4) as usize);
            for row in 0..scene.h as usize {
                for p in px.data[row * px.stride..row * px.stride + scene.w as usize * 4].chunks_exact(4) {
                    rgba.extend_from_slice(&[p[2], p[1], p[0], 255]);
                }
            }
            (full, damaged, t0.elapsed(), rgba)
        }
        Renderer::Gles(g) => {
            let r = &mut g.renderer;
            let (full, damaged) = run(r, &mut target, scene, frames)?;
            let mut tracker = OutputDamageTracker::new((scene.w, scene.h), 1.0, Transform::Normal);
            let elements = scene.elements(r, 0)?;
            {
                let mut fb = r.bind_target(&mut target).map_err(|e| anyhow::anyhow!(e))?;
                let res = tracker
                    .render_output(r, &mut fb, 0, &elements, [0.0, 0.0, 0.0, 1.0])
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                res.sync.wait().map_err(|e| anyhow::anyhow!("{e:?}"))?;
            }
            let Target::GlTexture(tex) = &target else { bail!("GLES bench needs a texture target (surfaceless EGL)") };
            let t0 = Instant::now();
            let map = r.copy_texture(tex, rect, Fourcc::Abgr8888).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let mut rgba = r.map_texture(&map).map_err(|e| anyhow::anyhow!("{e:?}"))?.to_vec();
            let readback = t0.elapsed();
            for p in rgba.chunks_exact_mut(4) {
                p[3] = 255;
            }
            (full, damaged, readback, rgba)
        }
    };
    Ok(Measured { name, full, damaged, readback, rgba })
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("warn").with_writer(std::io::stderr).init();
    let args = Args::parse();
    let (w, h) = args.size.split_once('x').context("--size WxH")?;
    let (w, h): (i32, i32) = (w.parse()?, h.parse()?);
    let scene = Scene::new(w, h);
    let choices: Vec<RendererChoice> = match args.renderer.as_str() {
        "pixman" => vec![RendererChoice::Pixman],
        "gles" => vec![RendererChoice::Gles],
        "both" => vec![RendererChoice::Pixman, RendererChoice::Gles],
        other => bail!("unknown renderer {other}"),
    };
    let mut results = Vec::new();
    for c in choices {
        results.push(bench(c, &scene, args.frames)?);
    }
    println!("scene {w}x{h}: background + 4 translucent windows + moving 256x256 square; {} frames each", args.frames);
    println!("| renderer | full redraw mean ms | p50 | p99 | damage-only mean ms | p99 | readback ms |");
    println!("|---|---|---|---|---|---|---|");
    for m in &results {
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            m.name,
            mean(&m.full),
            percentile(&m.full, 0.5),
            percentile(&m.full, 0.99),
            mean(&m.damaged),
            percentile(&m.damaged, 0.99),
            m.readback.as_secs_f64() * 1e3
        );
    }
    if let Some(dir) = &args.dump {
        std::fs::create_dir_all(dir)?;
        for (i, m) in results.iter().enumerate() {
            let p = dir.join(format!("scene-{i}.png"));
            lumen_compositor::control::write_png(&p, w as u32, h as u32, &m.rgba).map_err(|e| anyhow::anyhow!(e))?;
        }
    }
    if results.len() == 2 {
        let (a, b) = (&results[0].rgba, &results[1].rgba);
        let mut max = 0u8;
        let mut differing = 0usize;
        for (pa, pb) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
            let d = pa.iter().zip(pb).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
            max = max.max(d);
            if d > 2 {
                differing += 1;
            }
        }
        let total = a.len() / 4;
        println!(
            "pixel comparison pixman vs gles: max channel difference {max}, {differing} of {total} pixels differ by more than 2 ({:.4}%)",
            differing as f64 * 100.0 / total as f64
        );
        if differing * 1000 > total {
            bail!("renderers disagree on more than 0.1% of the pixels");
        }
    }
    Ok(())
}
