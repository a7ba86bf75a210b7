//! Loopback UDP round trip: frames → packetize (Moonlight, AES-GCM encrypted; and lumen GF(2¹⁶)) → paced
//! sends over real sockets on 127.0.0.1 with injected random and burst (Gilbert-Elliott) loss → receive →
//! reassemble. The test owns the sockets and threads; lumen-core stays sans-IO.
//!
//! Every frame whose injected loss stays within each block's parity must arrive byte-exact; every other
//! frame must be reported lost.

use std::net::UdpSocket;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use lumen_core::pacing::{Pacer, PacerConfig};
use lumen_core::video::lumen::{LumenPacketizer, LumenParams, LumenReassembler};
use lumen_core::video::{FrameMeta, FrameType, GcmVideo, PacketBatch, Reassembled, VideoPacketizer, VideoParams, VideoReassembler};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const KEY: [u8; 16] = *b"lumen-loopback!!";

/// Gilbert-Elliott loss: a good state with light random loss and a bad state that drops most packets.
struct Channel {
    rng: StdRng,
    bad: bool,
}

impl Channel {
    fn lose(&mut self) -> bool {
        if self.bad {
            if self.rng.gen_bool(0.08) {
                self.bad = false;
            }
        } else if self.rng.gen_bool(0.004) {
            self.bad = true;
        }
        self.rng.gen_bool(if self.bad { 0.8 } else { 0.03 })
    }
}

fn frame(i: u32, rng: &mut StdRng) -> Vec<u8> {
    let len = if i % 30 == 1 { rng.gen_range(150_000..300_000) } else { rng.gen_range(2_000..60_000) };
    (0..len).map(|_| rng.gen()).collect()
}

fn sockets() -> (UdpSocket, UdpSocket) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    (tx, rx)
}

/// Sends `batch[i]` for every kept `i`, in bursts at the times the pacer gives.
fn send_paced(tx: &UdpSocket, pacer: &mut Pacer, epoch: Instant, batch: &PacketBatch, keep: &[bool]) {
    let now = epoch.elapsed().as_nanos() as u64;
    let s = pacer.plan(now, batch.len(), batch.stride());
    let mut sent = 0;
    while let Some((range, due)) = s.next_burst(sent) {
        let now = epoch.elapsed().as_nanos() as u64;
        if due > now {
            thread::sleep(Duration::from_nanos(due - now));
        }
        for i in range.clone() {
            if keep[i] {
                // The receiver closes its socket once the last frame is complete, so the last frame's
                // remaining parity may be refused; any real loss shows up in the frame comparison.
                let _ = tx.send(batch.get(i));
            }
        }
        sent = range.end;
    }
}

#[test]
fn moonlight_encrypted_frames_over_udp_with_loss() {
    let (tx, rx) = sockets();
    let params = VideoParams::DEFAULT;
    let frames = 120u32;
    let (done_tx, done_rx) = mpsc::channel::<(u32, Option<Vec<u8>>)>();
    let receiver = thread::spawn(move || {
        let mut r = VideoReassembler::new(params).unwrap().with_opener(Box::new(GcmVideo::new(&KEY)));
        let mut buf = vec![0u8; 2048];
        let mut out: Vec<(u32, Option<Vec<u8>>)> = Vec::new();
        let mut last = 0;
        while last < frames {
            let Ok(n) = rx.recv(&mut buf) else { break };
            r.push(&buf[..n]).unwrap();
            while let Some(e) = r.poll() {
                match e {
                    Reassembled::Frame(f) => {
                        last = f.frame_index;
                        out.push((f.frame_index, Some(f.data.to_vec())));
                    }
                    Reassembled::Lost { first, last: l } => out.extend((first..=l).map(|i| (i, None))),
                }
            }
        }
        r.flush();
        while let Some(e) = r.poll() {
            if let Reassembled::Lost { first, last } = e {
                out.extend((first..=last).map(|i| (i, None)));
            }
        }
        for o in out {
            done_tx.send(o).unwrap();
        }
    });

    let mut p = VideoPacketizer::new(params).unwrap().with_sealer(Box::new(GcmVideo::new(&KEY)));
    let mut pacer = Pacer::new(PacerConfig { rate_bps: 400_000_000, burst_packets: 32, frame_budget_ns: 8_000_000 });
    let mut ch = Channel { rng: StdRng::seed_from_u64(0x5eed), bad: false };
    let mut rng = StdRng::seed_from_u64(42);
    let mut batch = PacketBatch::new();
    let epoch = Instant::now();
    let mut expected = Vec::new();
    for i in 1..=frames {
        let au = frame(i, &mut rng);
        let meta = FrameMeta { frame_index: i, frame_type: if i % 30 == 1 { FrameType::Idr } else { FrameType::P }, host_latency: 5, rtp_timestamp: i * 1500 };
        let shape = p.packetize(&meta, &au, &mut batch).unwrap();
        // The last frame goes through untouched so the receiver knows where the stream ends.
        let keep: Vec<bool> = (0..batch.len()).map(|_| i == frames || !ch.lose()).collect();
        let mut ok = true;
        let mut at = 0;
        for b in &shape.blocks[..shape.block_count] {
            let lost = keep[at..at + b.data + b.parity].iter().filter(|k| !**k).count();
            ok &= lost <= b.parity;
            at += b.data + b.parity;
        }
        expected.push((i, ok.then_some(au)));
        send_paced(&tx, &mut pacer, epoch, &batch, &keep);
    }
    receiver.join().unwrap();
    let got: Vec<(u32, Option<Vec<u8>>)> = done_rx.iter().collect();
    let recovered = expected.iter().filter(|e| e.1.is_some()).count();
    let lost = expected.len() - recovered;
    assert!(lost > 0 && recovered > 100, "loss model should lose some frames and keep most: {recovered} kept, {lost} lost");
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g.0, e.0);
        assert_eq!(g.1.is_some(), e.1.is_some(), "frame {}: delivered {} expected {}", g.0, g.1.is_some(), e.1.is_some());
        assert_eq!(g.1, e.1, "frame {} bytes", g.0);
    }
}

#[test]
fn lumen_gf16_frames_over_udp_with_loss() {
    let (tx, rx) = sockets();
    let params = LumenParams::for_datagram(1392, 25, 4).unwrap();
    let frames = 60u32;
    let receiver = thread::spawn(move || {
        let mut r = LumenReassembler::new(params).unwrap();
        let mut buf = vec![0u8; 2048];
        let mut out = Vec::new();
        loop {
            let Ok(n) = rx.recv(&mut buf) else { break };
            if let Some(f) = r.push(&buf[..n]).unwrap() {
                out.push((f.header.frame_index, f.data.to_vec()));
                if f.header.frame_index == frames {
                    break;
                }
            }
        }
        out
    });
    let mut p = LumenPacketizer::new(params).unwrap();
    let mut pacer = Pacer::new(PacerConfig { rate_bps: 400_000_000, burst_packets: 32, frame_budget_ns: 8_000_000 });
    let mut ch = Channel { rng: StdRng::seed_from_u64(7), bad: false };
    let mut rng = StdRng::seed_from_u64(43);
    let mut batch = PacketBatch::new();
    let epoch = Instant::now();
    let mut expected = Vec::new();
    for i in 1..=frames {
        let au = frame(i, &mut rng);
        let meta = FrameMeta { frame_index: i, frame_type: FrameType::P, host_latency: 0, rtp_timestamp: i };
        let (_, parity) = p.packetize(&meta, &au, &mut batch).unwrap();
        let keep: Vec<bool> = (0..batch.len()).map(|_| i == frames || !ch.lose()).collect();
        if keep.iter().filter(|k| !**k).count() <= parity {
            expected.push((i, au));
        }
        send_paced(&tx, &mut pacer, epoch, &batch, &keep);
    }
    let got = receiver.join().unwrap();
    assert!(expected.len() > 40, "{} frames recoverable", expected.len());
    assert_eq!(got, expected);
}
