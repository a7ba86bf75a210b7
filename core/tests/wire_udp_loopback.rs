//! Loopback UDP round trip: frames → packetize (Moonlight, AES-GCM encrypted; and lumen GF(2¹⁶)) → paced
//! sends over real sockets on 127.0.0.1 with injected random and burst (Gilbert-Elliott) loss → receive →
//! reassemble. The test owns the sockets and threads; lumen-core stays sans-IO.
//!
//! The receiver also records which shards actually arrived (the kernel may drop datagrams of its own on a
//! loaded machine); every frame whose arrived shards suffice for each block must come out byte-exact, every
//! other frame must be reported lost, and the injected loss must both lose and rescue frames.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::collections::HashSet;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::thread;
use std::time::{Duration, Instant};

use lumen_core::crypto::{video as encvideo, Aes128Gcm};
use lumen_core::pacing::{Pacer, PacerConfig};
use lumen_core::video::lumen::{LumenHeader, LumenPacketizer, LumenParams, LumenReassembler};
use lumen_core::video::{
    FrameMeta, FrameType, GcmVideo, PacketBatch, PacketHeader, Reassembled, VideoPacketizer, VideoParams,
    VideoReassembler,
};
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

extern "C" {
    fn setsockopt(fd: i32, level: i32, name: i32, value: *const core::ffi::c_void, len: u32) -> i32;
}

/// Asks for an 8 MiB receive buffer (SO_RCVBUFFORCE as root, else SO_RCVBUF up to the system cap), so a
/// receiver thread that is briefly descheduled does not overflow the socket.
fn big_receive_buffer(s: &UdpSocket) {
    const SOL_SOCKET: i32 = 1;
    const SO_RCVBUF: i32 = 8;
    const SO_RCVBUFFORCE: i32 = 33;
    let size: i32 = 8 << 20;
    for opt in [SO_RCVBUFFORCE, SO_RCVBUF] {
        // SAFETY: a valid socket fd and a pointer to an i32 of the given length.
        let r = unsafe { setsockopt(s.as_raw_fd(), SOL_SOCKET, opt, (&size as *const i32).cast(), 4) };
        if r == 0 {
            return;
        }
    }
}

fn sockets() -> (UdpSocket, UdpSocket) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    big_receive_buffer(&rx);
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
    let receiver = thread::spawn(move || {
        let mut r = VideoReassembler::new(params).unwrap().with_opener(Box::new(GcmVideo::new(&KEY)));
        let gcm = Aes128Gcm::new(&KEY);
        let mut buf = vec![0u8; 2048];
        let mut out: Vec<(u32, Option<Vec<u8>>)> = Vec::new();
        let mut arrived = HashSet::new();
        let mut last = 0;
        while last < frames {
            let Ok(n) = rx.recv(&mut buf) else { break };
            r.push(&buf[..n]).unwrap();
            let mut copy = buf[..n].to_vec();
            let plain = encvideo::open_in_place(&gcm, &mut copy).unwrap().1;
            let h = PacketHeader::parse(&copy[plain]).unwrap();
            arrived.insert((h.frame_index, h.block_index, h.fec.shard_index));
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
        (out, arrived)
    });

    let mut p = VideoPacketizer::new(params).unwrap().with_sealer(Box::new(GcmVideo::new(&KEY)));
    let mut pacer = Pacer::new(PacerConfig { rate_bps: 200_000_000, burst_packets: 16, frame_budget_ns: 8_000_000 });
    let mut ch = Channel { rng: StdRng::seed_from_u64(0x5eed), bad: false };
    let mut rng = StdRng::seed_from_u64(42);
    let mut batch = PacketBatch::new();
    let epoch = Instant::now();
    let mut sent = Vec::new();
    let mut injected_ok = 0;
    for i in 1..=frames {
        let au = frame(i, &mut rng);
        let meta = FrameMeta {
            frame_index: i,
            frame_type: if i % 30 == 1 { FrameType::Idr } else { FrameType::P },
            host_latency: 5,
            rtp_timestamp: i * 1500,
        };
        let shape = p.packetize(&meta, &au, &mut batch).unwrap();
        // The last frame goes through untouched so the receiver knows where the stream ends.
        let keep: Vec<bool> = (0..batch.len()).map(|_| i == frames || !ch.lose()).collect();
        let mut at = 0;
        let mut ok = true;
        for b in &shape.blocks[..shape.block_count] {
            ok &= keep[at..at + b.data + b.parity].iter().filter(|k| !**k).count() <= b.parity;
            at += b.data + b.parity;
        }
        injected_ok += usize::from(ok);
        let blocks: Vec<usize> = shape.blocks[..shape.block_count].iter().map(|b| b.data).collect();
        sent.push((i, blocks, au));
        send_paced(&tx, &mut pacer, epoch, &batch, &keep);
    }
    let (got, arrived) = receiver.join().unwrap();
    assert!(
        injected_ok < frames as usize && injected_ok > 100,
        "the loss model should lose some frames and keep most: {injected_ok} of {frames}"
    );
    assert_eq!(got.len(), sent.len());
    let mut delivered = 0;
    for ((gi, gdata), (i, blocks, au)) in got.iter().zip(&sent) {
        assert_eq!(gi, i);
        let recoverable = blocks
            .iter()
            .enumerate()
            .all(|(b, &data)| arrived.iter().filter(|(f, blk, _)| f == i && *blk as usize == b).count() >= data);
        assert_eq!(
            gdata.is_some(),
            recoverable,
            "frame {i}: delivered {} but recoverable {recoverable}",
            gdata.is_some()
        );
        if let Some(d) = gdata {
            assert!(d == au, "frame {i} bytes differ");
            delivered += 1;
        }
    }
    assert!(delivered > 100, "{delivered} frames delivered");
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
        let mut arrived = HashSet::new();
        while let Ok(n) = rx.recv(&mut buf) {
            let h = LumenHeader::parse(&buf[..n]).unwrap();
            arrived.insert((h.frame_index, h.shard_index));
            if let Some(f) = r.push(&buf[..n]).unwrap() {
                out.push((f.header.frame_index, f.data.to_vec()));
                if f.header.frame_index == frames {
                    break;
                }
            }
        }
        (out, arrived)
    });
    let mut p = LumenPacketizer::new(params).unwrap();
    let mut pacer = Pacer::new(PacerConfig { rate_bps: 200_000_000, burst_packets: 16, frame_budget_ns: 8_000_000 });
    let mut ch = Channel { rng: StdRng::seed_from_u64(7), bad: false };
    let mut rng = StdRng::seed_from_u64(43);
    let mut batch = PacketBatch::new();
    let epoch = Instant::now();
    let mut sent = Vec::new();
    let mut injected_ok = 0;
    for i in 1..=frames {
        let au = frame(i, &mut rng);
        let meta = FrameMeta { frame_index: i, frame_type: FrameType::P, host_latency: 0, rtp_timestamp: i };
        let (data, parity) = p.packetize(&meta, &au, &mut batch).unwrap();
        let keep: Vec<bool> = (0..batch.len()).map(|_| i == frames || !ch.lose()).collect();
        injected_ok += usize::from(keep.iter().filter(|k| !**k).count() <= parity);
        sent.push((i, data, au));
        send_paced(&tx, &mut pacer, epoch, &batch, &keep);
    }
    let (got, arrived) = receiver.join().unwrap();
    assert!(
        injected_ok < frames as usize && injected_ok > 40,
        "{injected_ok} of {frames} frames survive the injected loss"
    );
    let expected: Vec<(u32, Vec<u8>)> = sent
        .into_iter()
        .filter(|(i, data, _)| arrived.iter().filter(|(f, _)| f == i).count() >= *data)
        .map(|(i, _, au)| (i, au))
        .collect();
    assert!(expected.len() > 40, "{} frames recoverable", expected.len());
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g.0, e.0);
        assert!(g.1 == e.1, "frame {} bytes differ", g.0);
    }
}
