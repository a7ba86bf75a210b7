//! Loss sweep: realistic frame sequences through packetize → random or burst (Gilbert-Elliott) loss →
//! reassemble, for the Moonlight GF(2⁸) shapes (multi-FEC blocks of ≤ 255 shards) and the lumen GF(2¹⁶)
//! shapes (one block per frame). Prints one table row per (profile, field, FEC %, loss model): measured
//! datagram loss, frames recovered, and the share of frame bytes lost.
//!
//! `cargo run -p lumen-core --bin loss-sweep --release -- --frames 600 --seed 1`

use anyhow::Result;
use clap::Parser;
use lumen_core::video::lumen::{LumenPacketizer, LumenParams, LumenReassembler};
use lumen_core::video::{
    FrameMeta, FrameType, PacketBatch, Reassembled, VideoPacketizer, VideoParams, VideoReassembler,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Parser, Debug)]
#[command(about = "Frame recovery under random and burst loss for lumen's video FEC shapes")]
struct Args {
    /// Frames per (profile, FEC %) run.
    #[arg(long, default_value_t = 600)]
    frames: u32,
    /// Seed of every random choice (frame sizes, contents, loss).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// FEC percentages to sweep.
    #[arg(long, value_delimiter = ',', default_values_t = [10u16, 20, 50])]
    fec: Vec<u16>,
    /// Random (independent) loss rates in percent.
    #[arg(long, value_delimiter = ',', default_values_t = [0.5f64, 1.0, 2.0, 5.0, 10.0, 20.0])]
    random: Vec<f64>,
    /// Mean loss of the burst (Gilbert-Elliott) models in percent.
    #[arg(long, value_delimiter = ',', default_values_t = [1.0f64, 5.0, 10.0])]
    burst: Vec<f64>,
    /// Mean burst length in datagrams of the burst models.
    #[arg(long, default_value_t = 8.0)]
    burst_len: f64,
    /// Profiles: 1080p (60 fps, 20 Mbit/s, IDR every 2 s) and/or 4k (60 fps, 80 Mbit/s).
    #[arg(long, value_delimiter = ',', default_values_t = ["1080p".to_string(), "4k".to_string()])]
    profile: Vec<String>,
}

/// A loss channel: independent loss, or Gilbert-Elliott (bad state drops everything).
#[derive(Clone, Debug)]
struct Channel {
    name: String,
    rng: StdRng,
    /// Good → bad transition probability (0 for independent loss).
    p_gb: f64,
    /// Bad → good transition probability.
    p_bg: f64,
    /// Loss probability in the good state.
    p_good: f64,
    bad: bool,
}

impl Channel {
    fn random(pct: f64, seed: u64) -> Self {
        Self {
            name: format!("random {pct}%"),
            rng: StdRng::seed_from_u64(seed),
            p_gb: 0.0,
            p_bg: 1.0,
            p_good: pct / 100.0,
            bad: false,
        }
    }

    fn burst(pct: f64, mean_len: f64, seed: u64) -> Self {
        let l = pct / 100.0;
        let p_bg = 1.0 / mean_len;
        Self {
            name: format!("burst {pct}% (len {mean_len})"),
            rng: StdRng::seed_from_u64(seed),
            p_gb: (l * p_bg / (1.0 - l)).min(1.0),
            p_bg,
            p_good: 0.0,
            bad: false,
        }
    }

    fn lose(&mut self) -> bool {
        if self.bad {
            if self.rng.gen_bool(self.p_bg) {
                self.bad = false;
            }
        } else if self.p_gb > 0.0 && self.rng.gen_bool(self.p_gb) {
            self.bad = true;
        }
        self.bad || (self.p_good > 0.0 && self.rng.gen_bool(self.p_good))
    }
}

struct Profile {
    name: &'static str,
    mean_frame: usize,
    idr_frame: usize,
    idr_every: u32,
}

fn profile(name: &str) -> Option<Profile> {
    match name {
        "1080p" => Some(Profile {
            name: "1080p60 20 Mbit/s",
            mean_frame: 20_000_000 / 8 / 60,
            idr_frame: 250_000,
            idr_every: 120,
        }),
        "4k" => Some(Profile {
            name: "4K60 80 Mbit/s",
            mean_frame: 80_000_000 / 8 / 60,
            idr_frame: 1_000_000,
            idr_every: 120,
        }),
        _ => None,
    }
}

/// Frame sizes: P-frames ±40 % around the mean, an IDR every `idr_every` frames.
fn frame_sizes(p: &Profile, n: u32, rng: &mut StdRng) -> Vec<usize> {
    (1..=n)
        .map(
            |i| {
                if i % p.idr_every == 1 {
                    p.idr_frame
                } else {
                    (p.mean_frame as f64 * rng.gen_range(0.6..1.4)) as usize
                }
            },
        )
        .collect()
}

struct Tally {
    sent: u64,
    dropped: u64,
    frames: u64,
    delivered: u64,
    bytes: u64,
    bytes_lost: u64,
}

impl Tally {
    fn new() -> Self {
        Self { sent: 0, dropped: 0, frames: 0, delivered: 0, bytes: 0, bytes_lost: 0 }
    }
}

fn print_row(profile: &str, field: &str, fec: u16, ch: &Channel, t: &Tally) {
    println!(
        "{:<20} {:<10} {:>5} {:<22} {:>8.2} {:>12.2} {:>11.3}",
        profile,
        field,
        fec,
        ch.name,
        100.0 * t.dropped as f64 / t.sent.max(1) as f64,
        100.0 * t.delivered as f64 / t.frames.max(1) as f64,
        100.0 * t.bytes_lost as f64 / t.bytes.max(1) as f64,
    );
}

fn run_moonlight(p: &Profile, sizes: &[usize], fec: u16, channels: &mut [Channel], seed: u64) -> Result<Vec<Tally>> {
    let params = VideoParams { packet_size: 1392, fec_percentage: u8::try_from(fec)?, min_fec_packets: 2 };
    let mut tx = VideoPacketizer::new(params)?;
    let mut rxs: Vec<VideoReassembler> =
        channels.iter().map(|_| VideoReassembler::new(params)).collect::<Result<_, _>>()?;
    let mut tallies: Vec<Tally> = channels.iter().map(|_| Tally::new()).collect();
    let mut delivered = vec![vec![false; sizes.len() + 1]; channels.len()];
    let mut rng = StdRng::seed_from_u64(seed);
    let content: Vec<u8> = (0..p.idr_frame.max(p.mean_frame * 2)).map(|_| rng.gen()).collect();
    let mut batch = PacketBatch::new();
    for (k, &len) in sizes.iter().enumerate() {
        let i = k as u32 + 1;
        let meta = FrameMeta {
            frame_index: i,
            frame_type: if i % p.idr_every == 1 { FrameType::Idr } else { FrameType::P },
            host_latency: 0,
            rtp_timestamp: i * 1500,
        };
        tx.packetize(&meta, &content[..len], &mut batch)?;
        for (c, ch) in channels.iter_mut().enumerate() {
            for d in batch.iter() {
                tallies[c].sent += 1;
                if ch.lose() {
                    tallies[c].dropped += 1;
                } else {
                    rxs[c].push(d)?;
                }
            }
            while let Some(e) = rxs[c].poll() {
                if let Reassembled::Frame(f) = e {
                    delivered[c][f.frame_index as usize] = true;
                }
            }
        }
    }
    for (c, rx) in rxs.iter_mut().enumerate() {
        rx.flush();
        while rx.poll().is_some() {}
        finish(&mut tallies[c], sizes, &delivered[c]);
    }
    Ok(tallies)
}

fn run_lumen(p: &Profile, sizes: &[usize], fec: u16, channels: &mut [Channel], seed: u64) -> Result<Vec<Tally>> {
    let params = LumenParams::for_datagram(1392, fec, 2)?;
    let mut tx = LumenPacketizer::new(params)?;
    let mut rxs: Vec<LumenReassembler> =
        channels.iter().map(|_| LumenReassembler::new(params)).collect::<Result<_, _>>()?;
    let mut tallies: Vec<Tally> = channels.iter().map(|_| Tally::new()).collect();
    let mut delivered = vec![vec![false; sizes.len() + 1]; channels.len()];
    let mut rng = StdRng::seed_from_u64(seed);
    let content: Vec<u8> = (0..p.idr_frame.max(p.mean_frame * 2)).map(|_| rng.gen()).collect();
    let mut batch = PacketBatch::new();
    for (k, &len) in sizes.iter().enumerate() {
        let i = k as u32 + 1;
        let meta = FrameMeta { frame_index: i, frame_type: FrameType::P, host_latency: 0, rtp_timestamp: i * 1500 };
        tx.packetize(&meta, &content[..len], &mut batch)?;
        for (c, ch) in channels.iter_mut().enumerate() {
            for d in batch.iter() {
                tallies[c].sent += 1;
                if ch.lose() {
                    tallies[c].dropped += 1;
                } else if let Some(f) = rxs[c].push(d)? {
                    delivered[c][f.header.frame_index as usize] = true;
                }
            }
        }
    }
    for (c, t) in tallies.iter_mut().enumerate() {
        finish(t, sizes, &delivered[c]);
    }
    Ok(tallies)
}

fn finish(t: &mut Tally, sizes: &[usize], delivered: &[bool]) {
    for (k, &len) in sizes.iter().enumerate() {
        t.frames += 1;
        t.bytes += len as u64;
        if delivered[k + 1] {
            t.delivered += 1;
        } else {
            t.bytes_lost += len as u64;
        }
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    println!("loss sweep: {} frames per run, seed {}, 1392-byte packets, min 2 parity", args.frames, args.seed);
    println!(
        "{:<20} {:<10} {:>5} {:<22} {:>8} {:>12} {:>11}",
        "profile", "field", "FEC%", "loss model", "loss %", "frames ok %", "data lost %"
    );
    for pname in &args.profile {
        let Some(p) = profile(pname) else { anyhow::bail!("unknown profile {pname:?} (1080p, 4k)") };
        let mut rng = StdRng::seed_from_u64(args.seed);
        let sizes = frame_sizes(&p, args.frames, &mut rng);
        for &fec in &args.fec {
            for (field, moonlight) in [("GF(2^8)", true), ("GF(2^16)", false)] {
                if moonlight && fec > 255 {
                    continue;
                }
                let mut channels: Vec<Channel> =
                    args.random
                        .iter()
                        .enumerate()
                        .map(|(k, &l)| Channel::random(l, args.seed ^ ((k as u64 + 1) * 0x9E37)))
                        .chain(
                            args.burst.iter().enumerate().map(|(k, &l)| {
                                Channel::burst(l, args.burst_len, args.seed ^ ((k as u64 + 101) * 0x9E37))
                            }),
                        )
                        .collect();
                let tallies = if moonlight {
                    run_moonlight(&p, &sizes, fec, &mut channels, args.seed)?
                } else {
                    run_lumen(&p, &sizes, fec, &mut channels, args.seed)?
                };
                for (ch, t) in channels.iter().zip(&tallies) {
                    print_row(p.name, field, fec, ch, t);
                }
            }
        }
    }
    Ok(())
}
