//! Packetize benchmark (`cargo bench -p lumen-core --bench packetize`): packetize + FEC (+ AES-GCM)
//! throughput for 1080p and 4K access units, the reassembly side under loss, and heap allocations per frame
//! in steady state (counting global allocator; target 0). Prints a table.

use std::hint::black_box;
use std::time::Instant;

use lumen_core::video::lumen::{LumenPacketizer, LumenParams};
use lumen_core::video::{FrameMeta, FrameType, GcmVideo, PacketBatch, VideoPacketizer, VideoParams, VideoReassembler};

#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::CountingAlloc;

#[global_allocator]
static A: CountingAlloc = CountingAlloc;

struct Row {
    name: String,
    bytes: usize,
    datagrams: usize,
    us_per_frame: f64,
    allocs_per_frame: f64,
}

fn iterations(bytes: usize) -> usize {
    (400_000_000 / bytes.max(1)).clamp(20, 4000)
}

fn measure(name: &str, bytes: usize, mut f: impl FnMut() -> usize) -> Row {
    for _ in 0..5 {
        f(); // warm-up: buffers, codec shapes, caches
    }
    let n = iterations(bytes);
    let a0 = counting_alloc::allocations();
    let t = Instant::now();
    let mut datagrams = 0;
    for _ in 0..n {
        datagrams = black_box(f());
    }
    let el = t.elapsed().as_secs_f64();
    let allocs = counting_alloc::allocations() - a0;
    Row {
        name: name.into(),
        bytes,
        datagrams,
        us_per_frame: el * 1e6 / n as f64,
        allocs_per_frame: allocs as f64 / n as f64,
    }
}

fn main() {
    let frames =
        [("1080p P-frame", 40_000usize), ("1080p IDR", 250_000), ("4K P-frame", 150_000), ("4K IDR", 1_000_000)];
    let au: Vec<u8> = (0..1_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let params = VideoParams::DEFAULT;
    let mut rows = Vec::new();
    let mut batch = PacketBatch::new();
    let mut idx = 0u32;

    for (name, len) in frames {
        let mut p = VideoPacketizer::new(params).unwrap();
        rows.push(measure(&format!("moonlight {name} FEC"), len, || {
            idx += 1;
            let m = FrameMeta { frame_index: idx, frame_type: FrameType::P, host_latency: 0, rtp_timestamp: idx };
            p.packetize(&m, &au[..len], &mut batch).unwrap();
            batch.len()
        }));
        let mut p = VideoPacketizer::new(params).unwrap().with_sealer(Box::new(GcmVideo::new(&[7; 16])));
        rows.push(measure(&format!("moonlight {name} FEC+AES-GCM"), len, || {
            idx += 1;
            let m = FrameMeta { frame_index: idx, frame_type: FrameType::P, host_latency: 0, rtp_timestamp: idx };
            p.packetize(&m, &au[..len], &mut batch).unwrap();
            batch.len()
        }));
    }
    for (name, len) in frames {
        let lp = LumenParams::for_datagram(1392, 20, 2).unwrap();
        let mut p = LumenPacketizer::new(lp).unwrap();
        rows.push(measure(&format!("lumen GF16 {name} FEC"), len, || {
            idx += 1;
            let m = FrameMeta { frame_index: idx, frame_type: FrameType::P, host_latency: 0, rtp_timestamp: idx };
            p.packetize(&m, &au[..len], &mut batch).unwrap();
            batch.len()
        }));
    }
    // Reassembly: one datagram of each block lost (FEC recovery on every frame), plus AES-GCM.
    for (name, len) in frames {
        let mut p = VideoPacketizer::new(params).unwrap().with_sealer(Box::new(GcmVideo::new(&[7; 16])));
        let mut r = VideoReassembler::new(params).unwrap().with_opener(Box::new(GcmVideo::new(&[7; 16])));
        let mut frames_in: Vec<PacketBatch> = Vec::new();
        for k in 0..8u32 {
            let mut b = PacketBatch::new();
            let m = FrameMeta { frame_index: k + 1, frame_type: FrameType::P, host_latency: 0, rtp_timestamp: k };
            p.packetize(&m, &au[..len], &mut b).unwrap();
            frames_in.push(b);
        }
        let mut k = 0usize;
        rows.push(measure(&format!("reassemble {name} 1 loss+AES-GCM"), len, || {
            let b = &frames_in[k % frames_in.len()];
            // The 8 prepared frames (indices 1..=8) are replayed cyclically: rewind the expected index.
            if k.is_multiple_of(frames_in.len()) {
                r.set_last_frame(0);
            }
            for i in 1..b.len() {
                let _ = r.push(b.get(i));
            }
            let mut n = 0;
            while let Some(e) = r.poll() {
                if let lumen_core::video::Reassembled::Frame(f) = e {
                    n = f.data.len();
                }
            }
            k += 1;
            n
        }));
    }

    // memcpy of the same sizes for scale.
    let mut dst = vec![0u8; 1_000_000];
    for (name, len) in frames {
        rows.push(measure(&format!("memcpy {name}"), len, || {
            dst[..len].copy_from_slice(black_box(&au[..len]));
            black_box(&dst);
            1
        }));
    }

    println!(
        "{:<42} {:>9} {:>9} {:>11} {:>9} {:>13}",
        "case", "AU bytes", "datagrams", "µs/frame", "GB/s", "allocs/frame"
    );
    for r in &rows {
        let gbs = r.bytes as f64 / (r.us_per_frame * 1e-6) / 1e9;
        println!(
            "{:<42} {:>9} {:>9} {:>11.1} {:>9.2} {:>13.2}",
            r.name, r.bytes, r.datagrams, r.us_per_frame, gbs, r.allocs_per_frame
        );
    }
}
