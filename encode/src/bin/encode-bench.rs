//! `encode-bench`: per-frame host processing time of the software video path, printed as a table.
//!
//! For each resolution (1280x720 and 1920x1080, 60 fps targets) and OpenH264 speed setting, frames of the
//! moving test pattern go through: RGB→YUV conversion + OpenH264 encode ("encode"), then lumen-core's
//! Moonlight packetizer with 20 % FEC (min 2 parity) and one UDP `send_to` per datagram to a local
//! receiver ("packetize+send"). "total" is frame ready → last datagram sent. Quality is the Y-plane PSNR of
//! OpenH264's own decode of the stream against the encoder's input; bitrate is what the encoder produced.
//! Frames are processed back to back (not paced at 60 fps), so the times are pure processing times.
//!
//! Usage: `encode-bench [--frames N]` (default 300).

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use lumen_core::video::{FrameMeta, FrameType, PacketBatch, VideoPacketizer, VideoParams};
use lumen_encode::colour::Yuv420;
use lumen_encode::openh264_enc::{OpenH264Encoder, Speed};
use lumen_encode::quality::psnr;
use lumen_encode::{
    AccessUnit, Codec, ColourSpace, CpuPixels, Encoder, EncoderConfig, Frame, FrameKind, FramePixels, PixelFormat,
    Range, TestPattern,
};
use openh264::decoder::Decoder;
use openh264::formats::YUVSource;

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Content of the bench: the clean test pattern, or the pattern with per-frame noise (±16 per channel),
/// which is much harder to compress (closer to camera-like detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Pattern,
    Noisy,
}

struct Row {
    res: String,
    content: Content,
    speed: Speed,
    enc: Vec<f64>,
    send: Vec<f64>,
    total: Vec<f64>,
    psnr: f64,
    mbps: f64,
}

fn run(w: u32, h: u32, kbps: u32, speed: Speed, content: Content, frames: usize) -> anyhow::Result<Row> {
    let cfg = EncoderConfig {
        width: w,
        height: h,
        fps: 60,
        bitrate_kbps: kbps,
        codec: Codec::H264,
        colour_space: ColourSpace::Bt709,
        range: Range::Limited,
        slices: 1,
    };
    let mut enc = OpenH264Encoder::new(cfg, speed)?;
    let mut src = TestPattern::new(w, h);
    let mut dec = Decoder::new()?;
    let mut pk = VideoPacketizer::new(VideoParams { packet_size: 1392, fec_percentage: 20, min_fec_packets: 2 })?;
    let rx = UdpSocket::bind("127.0.0.1:0")?;
    rx.set_nonblocking(true)?;
    let tx = UdpSocket::bind("127.0.0.1:0")?;
    let dest = rx.local_addr()?;
    let mut batch = PacketBatch::new();
    let mut au = AccessUnit::default();
    let mut reference = Yuv420::default();
    let mut sink = [0u8; 2048];
    let (mut e, mut s, mut t) = (Vec::new(), Vec::new(), Vec::new());
    let (mut psnr_sum, mut psnr_n, mut bytes) = (0.0, 0usize, 0usize);
    let mut noisy = vec![0u8; w as usize * h as usize * 4];
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for i in 0..frames {
        src.render(i as u64);
        let px = if content == Content::Noisy {
            for (d, s) in noisy.iter_mut().zip(src.pixels().data) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                *d = (*s as i32 + (rng & 31) as i32 - 16).clamp(0, 255) as u8;
            }
            CpuPixels { data: &noisy, width: w, height: h, stride: w as usize * 4, format: PixelFormat::Bgrx }
        } else {
            src.pixels()
        };
        let frame = Frame { pixels: FramePixels::Cpu(px), index: i as u64, ready_at: Instant::now() };
        let ready = frame.ready_at;
        enc.encode(&frame, &mut au)?;
        let t0 = Instant::now();
        let Some(kind) = au.kind else { continue };
        let meta = FrameMeta {
            frame_index: i as u32 + 1,
            frame_type: if kind == FrameKind::Idr { FrameType::Idr } else { FrameType::P },
            host_latency: 0,
            rtp_timestamp: i as u32 * 1500,
        };
        pk.packetize(&meta, &au.data, &mut batch)?;
        for d in batch.iter() {
            tx.send_to(d, dest)?;
        }
        let t1 = Instant::now();
        e.push(au.encode_time.as_secs_f64() * 1e3);
        s.push((t1 - t0).as_secs_f64() * 1e3);
        t.push((t1 - ready).as_secs_f64() * 1e3);
        bytes += au.data.len();
        // Out of the timed region: drain the receiver, measure quality on every 10th frame.
        while rx.recv_from(&mut sink).is_ok() {}
        reference.clone_from(enc.last_yuv());
        if let Ok(Some(pic)) = dec.decode(&au.data) {
            if i % 10 == 0 {
                let (ys, _, _) = pic.strides();
                psnr_sum += psnr(pic.y(), ys, &reference.y, w as usize, w as usize, h as usize);
                psnr_n += 1;
            }
        }
    }
    Ok(Row {
        res: format!("{w}x{h}"),
        content,
        speed,
        mbps: bytes as f64 * 8.0 / (frames as f64 / 60.0) / 1e6,
        psnr: psnr_sum / psnr_n.max(1) as f64,
        enc: e,
        send: s,
        total: t,
    })
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let frames = args
        .iter()
        .position(|a| a == "--frames")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(300usize);
    println!("software H.264 host path, {frames} frames each, target 60 fps (16.7 ms budget per frame)");
    println!(
        "| resolution | content | encoder | bitrate target | produced | PSNR-Y | encode p50 | encode p99 | packetize+send p50 | packetize+send p99 | total p50 | total p99 | max fps (1/mean encode) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (w, h, kbps) in [(1280u32, 720u32, 10_000u32), (1920, 1080, 20_000)] {
        for (speed, content) in [
            (Speed::Fast, Content::Pattern),
            (Speed::Medium, Content::Pattern),
            (Speed::FastTwoThreads, Content::Pattern),
            (Speed::Fast, Content::Noisy),
            (Speed::FastTwoThreads, Content::Noisy),
        ] {
            let mut r = run(w, h, kbps, speed, content, frames)?;
            let mean = r.enc.iter().sum::<f64>() / r.enc.len().max(1) as f64;
            println!(
                "| {} | {:?} | OpenH264 {:?} | {} Mbit/s | {:.1} Mbit/s | {:.1} dB | {:.2} ms | {:.2} ms | {:.3} ms | {:.3} ms | {:.2} ms | {:.2} ms | {:.0} |",
                r.res,
                r.content,
                r.speed,
                kbps / 1000,
                r.mbps,
                r.psnr,
                pct(&mut r.enc, 0.5),
                pct(&mut r.enc, 0.99),
                pct(&mut r.send, 0.5),
                pct(&mut r.send, 0.99),
                pct(&mut r.total, 0.5),
                pct(&mut r.total, 0.99),
                1000.0 / mean
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}
