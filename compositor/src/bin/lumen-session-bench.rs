//! `lumen-session-bench`: a session's video pipeline in one process, without a network client: the
//! compositor (renderer as `lumen-session` resolves it: `--renderer auto|gles|pixman`), one virtual output
//! at the given mode with the sink the worker uses (`host::gpu_frames::GpuSink` on the GPU route, the CPU
//! mailbox otherwise), the built-in demo client animating a window (`--demo`), and the worker's
//! `DesktopSource` feeding the resolved encoder on this thread. Prints one markdown row: frames, host
//! latency (frame rendered → access unit coded; the session's host latency minus the hand-off to the host
//! process and the send) p50/p99, encode time p50, and CPU per thread group over the timed window.
//!
//! `lumen-session-bench --mode 3840x2160@60 --seconds 10 --renderer auto`

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use lumen_compositor::host::choice::{resolve, EncoderChoice};
use lumen_compositor::host::frames::DesktopSource;
use lumen_compositor::{run, Config, OutputMode, RendererChoice};
use lumen_encode::{AccessUnit, EncoderConfig, FrameSource};

#[derive(Parser)]
#[command(about = "A session's render → encode pipeline in one process (no client)")]
struct Args {
    #[arg(long, default_value = "auto")]
    renderer: RendererChoice,
    #[arg(long, default_value = "software")]
    encoder: EncoderChoice,
    /// WIDTHxHEIGHT@HZ.
    #[arg(long, default_value = "1920x1080@60")]
    mode: String,
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Untimed seconds first (encoder and caches warm up).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    #[arg(long, default_value_t = 20_000)]
    bitrate_kbps: u32,
}

/// CPU seconds per thread name of this process (`/proc/self/task/*/stat`).
fn thread_cpu() -> Vec<(String, f64)> {
    let tick = 100.0; // USER_HZ: 100 on Linux x86_64
    let mut out: Vec<(String, f64)> = Vec::new();
    for e in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        let (Some(a), Some(b)) = (stat.find('('), stat.rfind(')')) else { continue };
        let name = stat[a + 1..b].to_string();
        let f: Vec<&str> = stat[b + 2..].split_whitespace().collect();
        let cpu = (f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0)) / tick;
        // Group pools of threads by their name without digits (OpenH264's, the driver's).
        let group: String = name.chars().filter(|c| !c.is_ascii_digit()).collect();
        match out.iter_mut().find(|(n, _)| *n == group) {
            Some((_, c)) => *c += cpu,
            None => out.push((group, cpu)),
        }
    }
    out
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mode: OutputMode = args.mode.parse().context("--mode")?;
    let resolved = resolve(args.encoder, args.renderer)?;
    let rt = std::env::temp_dir().join(format!("lumen-session-bench-{}", std::process::id()));
    std::fs::create_dir_all(&rt)?;
    std::env::set_var("XDG_RUNTIME_DIR", &rt);
    let socket = format!("lumen-bench-{}", std::process::id());
    let config =
        Config { renderer: resolved.renderer, outputs: Vec::new(), socket: Some(socket.clone()), ..Config::default() };
    let (tx, rx) = std::sync::mpsc::channel();
    let compositor = std::thread::Builder::new()
        .name("compositor".into())
        .spawn(move || run(config, |h, _| tx.send(h).expect("bench waits")))?;
    let handle = rx.recv_timeout(Duration::from_secs(60)).context("compositor start")?;

    let cfg = EncoderConfig {
        width: mode.width,
        height: mode.height,
        fps: mode.refresh_mhz / 1000,
        bitrate_kbps: args.bitrate_kbps,
        codec: lumen_encode::Codec::H264,
        colour_space: lumen_encode::ColourSpace::Bt709,
        range: lumen_encode::Range::Limited,
        slices: 1,
    };
    let mut encoder = (resolved.encoder)(&cfg)?;
    let (sink, mailbox) = lumen_render::mailbox();
    let sink: Box<dyn lumen_render::FrameSink> = if resolved.frames.gpu_frames() {
        Box::new(lumen_compositor::host::gpu_frames::GpuSink::new(sink)?)
    } else {
        Box::new(sink.for_cpu_encoder())
    };
    let id = handle.create_output(mode, Some(sink))?;
    let demo_rt = rt.clone();
    let demo_sock = socket.clone();
    std::thread::Builder::new().name("demo-client".into()).spawn(move || {
        if let Err(e) = lumen_compositor::host::demo::run(&demo_rt, &demo_sock) {
            tracing::warn!(error = %e, "demo client stopped");
        }
    })?;
    let mut source = DesktopSource::new(mailbox, mode.width, mode.height, None);
    let mut au = AccessUnit::default();
    let (mut lat, mut enc) = (Vec::new(), Vec::new());
    let start = Instant::now();
    let warm_end = start + Duration::from_secs_f64(args.warmup);
    let end = warm_end + Duration::from_secs_f64(args.seconds);
    let (mut cpu0, mut t0, mut bytes) = (Vec::new(), warm_end, 0usize);
    let mut timing = false;
    let mut kinds = [0usize; 2];
    while Instant::now() < end {
        if !timing && Instant::now() >= warm_end {
            timing = true;
            cpu0 = thread_cpu();
            t0 = Instant::now();
        }
        let frame = source.next_frame().context("frame")?;
        kinds[usize::from(matches!(frame.pixels, lumen_encode::FramePixels::Gpu(_)))] += 1;
        let ready = frame.ready_at;
        encoder.encode(&frame, &mut au).context("encode")?;
        if timing {
            lat.push(ready.elapsed().as_secs_f64() * 1e3);
            enc.push(au.encode_time.as_secs_f64() * 1e3);
            bytes += au.data.len();
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu1 = thread_cpu();
    lat.sort_by(|a, b| a.total_cmp(b));
    enc.sort_by(|a, b| a.total_cmp(b));
    let mut groups: Vec<(String, f64)> = cpu1
        .iter()
        .map(|(n, c)| (n.clone(), c - cpu0.iter().find(|(m, _)| m == n).map_or(0.0, |(_, c0)| *c0)))
        .filter(|(_, c)| *c > 0.01 * wall)
        .collect();
    groups.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total: f64 = groups.iter().map(|(_, c)| c).sum();
    let per: Vec<String> = groups.iter().map(|(n, c)| format!("{n} {:.0}%", 100.0 * c / wall)).collect();
    println!(
        "| {} | {} | {} ({}) | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.0}% | {} |",
        args.mode,
        resolved.renderer_name(),
        resolved.frames.name(),
        if kinds[1] > 0 { "FramePixels::Gpu" } else { "FramePixels::Cpu" },
        lat.len(),
        lat.len() as f64 / wall,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&enc, 0.5),
        100.0 * total / wall,
        per.join(", ")
    );
    tracing::info!(bytes, wall, "done");
    handle.remove_output(id)?;
    drop(source);
    drop(encoder);
    handle.stop()?;
    let _ = compositor.join();
    let _ = std::fs::remove_dir_all(&rt);
    Ok(())
}
