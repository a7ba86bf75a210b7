//! Lumen transport benchmark (`cargo bench -p lumen-core --bench transport`), one thread = one core:
//! the host's per-frame cost of packetize + FEC + encrypt for a 250 KB and a 4 MB frame next to Moonlight's
//! path, and the goodput (access-unit bytes delivered per second) of the whole chain sender → receiver with
//! 20 % FEC and encryption: in memory with 10 % of the datagrams dropped (lumen), and over UDP on 127.0.0.1
//! with the same thread sending and receiving (no loss, and 10 % dropped at the receiver), batched as the
//! host sends (GSO messages through `sendmmsg`, received with `recvmmsg`: `tests/support/udp_batch.rs`)
//! and, for comparison, one `send` + one `recv` per datagram. Prints a table; allocations per frame
//! counted in steady state.

use std::hint::black_box;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use lumen_core::transport::{SealedVideoReceiver, SealedVideoSender};
use lumen_core::video::{
    FrameMeta, FrameType, GcmVideo, PacketBatch, Reassembled, VideoPacketizer, VideoParams, VideoReassembler,
};

#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::CountingAlloc;

#[path = "../tests/support/udp_batch.rs"]
mod udp_batch;
use udp_batch::{BatchReceiver, BatchSender};

#[global_allocator]
static A: CountingAlloc = CountingAlloc;

const KEY32: [u8; 32] = [9; 32];
const KEY16: [u8; 16] = [7; 16];

fn meta(i: u32) -> FrameMeta {
    FrameMeta { frame_index: i, frame_type: FrameType::P, host_latency: 0, rtp_timestamp: i }
}

/// Runs `f` (one frame, returns AU bytes delivered) `n` times after a warm-up; (µs/frame, Gbit/s, allocs/frame).
fn measure(n: usize, mut f: impl FnMut() -> usize) -> (f64, f64, f64) {
    for _ in 0..3 {
        f();
    }
    let a0 = counting_alloc::allocations();
    let t = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..n {
        bytes += black_box(f());
    }
    let el = t.elapsed().as_secs_f64();
    let allocs = (counting_alloc::allocations() - a0) as f64 / n as f64;
    (el * 1e6 / n as f64, bytes as f64 * 8.0 / el / 1e9, allocs)
}

fn row(name: &str, bytes: usize, r: (f64, f64, f64)) {
    println!("{name:<66} {bytes:>9} {:>11.1} {:>9.2} {:>8.2}", r.0, r.1, r.2);
}

/// Datagrams sent per round before the receiver drains them (4 GSO messages of 46, one `sendmmsg`).
const ROUND: usize = udp_batch::GSO_SEGMENTS * udp_batch::SEND_MESSAGES;

/// A connected loopback pair for batched I/O; the receiver's buffer holds a few rounds and it gives up after
/// a second of silence (a datagram dropped on loopback ends the benchmark instead of hanging it).
fn batch_loopback() -> (BatchSender, BatchReceiver) {
    let (tx, rx) = loopback();
    rx.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    (BatchSender::new(tx), BatchReceiver::new(rx, 4 << 20))
}

/// Sends `batch` in rounds of [`ROUND`] datagrams; after each round, receives them all and hands each to `push`.
fn send_and_drain(s: &mut BatchSender, r: &mut BatchReceiver, batch: &PacketBatch, mut push: impl FnMut(&mut [u8])) {
    assert!(batch.is_uniform(), "every datagram fills its slot (one GSO buffer)");
    let stride = batch.stride();
    for round in batch.as_contiguous().chunks(ROUND * stride) {
        s.send_uniform(round, stride).unwrap();
        let mut left = round.len() / stride;
        while left > 0 {
            left -= r.recv_batch(&mut push).expect("a datagram was dropped on loopback");
        }
    }
}

/// A loopback pair: (sender socket, receiver socket), connected.
fn loopback() -> (UdpSocket, UdpSocket) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    (tx, rx)
}

fn main() {
    let au: Vec<u8> = (0..4_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mp = VideoParams::DEFAULT;
    let mut batch = PacketBatch::new();
    let mut idx = 0u32;
    println!("{:<66} {:>9} {:>11} {:>9} {:>8}", "case (one core)", "AU bytes", "µs/frame", "Gbit/s", "allocs");

    // Host latency: packetize + FEC + encrypt of one frame.
    for len in [250_000usize, 4_000_000] {
        let mut tx = SealedVideoSender::new(&KEY32, 1392, 20, 2).unwrap();
        row(
            &format!("host: lumen GF16 20% + ChaCha20-Poly1305, {} KB", len / 1000),
            len,
            measure(20, || {
                idx += 1;
                tx.packetize(&meta(idx), 1, &au[..len], &mut batch).unwrap();
                len
            }),
        );
        let mut p = VideoPacketizer::new(mp).unwrap().with_sealer(Box::new(GcmVideo::new(&KEY16)));
        let note = if len > 1_000_000 { " (FEC off: > 4 blocks)" } else { "" };
        row(
            &format!("host: Moonlight GF8 20% + AES-GCM, {} KB{note}", len / 1000),
            len,
            measure(20, || {
                idx += 1;
                p.packetize(&meta(idx), &au[..len], &mut batch).unwrap();
                len
            }),
        );
    }

    // Goodput in memory: sender → (10 % loss) → receiver.
    for len in [250_000usize, 4_000_000] {
        let mut tx = SealedVideoSender::new(&KEY32, 1392, 20, 2).unwrap();
        let mut rx = SealedVideoReceiver::new(&KEY32, 1392).unwrap();
        let mut scratch = vec![0u8; 1392];
        row(
            &format!("chain in memory: lumen, 10% loss, {} KB", len / 1000),
            len,
            measure(10, || {
                idx += 1;
                tx.packetize(&meta(idx), 1, &au[..len], &mut batch).unwrap();
                let mut got = 0;
                for (i, d) in batch.iter().enumerate() {
                    if i % 10 == 3 {
                        continue;
                    }
                    scratch.copy_from_slice(d);
                    if let Ok(Some(f)) = rx.push(&mut scratch) {
                        got = f.frame.data.len();
                    }
                }
                got
            }),
        );
    }

    // Goodput over UDP loopback, one thread: the frame goes out in rounds of ROUND datagrams (GSO messages
    // of 46 datagrams, 4 messages per `sendmmsg`, as the host sends), and each round is drained with
    // `recvmmsg` (64 per call) and pushed into the receiver before the next round is sent.
    let mut buf = vec![0u8; 2048];
    for len in [250_000usize, 4_000_000] {
        let (mut s, mut r) = batch_loopback();
        let mut tx = SealedVideoSender::new(&KEY32, 1392, 20, 2).unwrap();
        let mut rx = SealedVideoReceiver::new(&KEY32, 1392).unwrap();
        row(
            &format!("UDP loopback, GSO+recvmmsg: lumen 20% FEC + ChaCha20, {} KB", len / 1000),
            len,
            measure(10, || {
                idx += 1;
                tx.packetize(&meta(idx), 1, &au[..len], &mut batch).unwrap();
                let mut got = 0;
                send_and_drain(&mut s, &mut r, &batch, |d| {
                    if let Ok(Some(f)) = rx.push(d) {
                        got = f.frame.data.len();
                    }
                });
                got
            }),
        );
        // The same with 10 % of the datagrams lost: received, then every tenth not pushed (the receive work
        // of a lost datagram is still paid, so this slightly understates goodput under real loss).
        let (mut s, mut r) = batch_loopback();
        let mut tx = SealedVideoSender::new(&KEY32, 1392, 20, 2).unwrap();
        let mut rx = SealedVideoReceiver::new(&KEY32, 1392).unwrap();
        row(
            &format!("UDP loopback, GSO+recvmmsg: lumen, 10% loss, {} KB", len / 1000),
            len,
            measure(10, || {
                idx += 1;
                tx.packetize(&meta(idx), 1, &au[..len], &mut batch).unwrap();
                let (mut got, mut k) = (0, 0);
                send_and_drain(&mut s, &mut r, &batch, |d| {
                    k += 1;
                    if k % 10 == 3 {
                        return;
                    }
                    if let Ok(Some(f)) = rx.push(d) {
                        got = f.frame.data.len();
                    }
                });
                got
            }),
        );
        let (mut s, mut r) = batch_loopback();
        let mut p = VideoPacketizer::new(mp).unwrap().with_sealer(Box::new(GcmVideo::new(&KEY16)));
        let mut re = VideoReassembler::new(mp).unwrap().with_opener(Box::new(GcmVideo::new(&KEY16)));
        row(
            &format!("UDP loopback, GSO+recvmmsg: Moonlight 20% FEC + AES-GCM, {} KB", len / 1000),
            len,
            measure(10, || {
                idx += 1;
                p.packetize(&meta(idx), &au[..len], &mut batch).unwrap();
                let mut got = 0;
                send_and_drain(&mut s, &mut r, &batch, |d| {
                    let _ = re.push(d);
                    while let Some(e) = re.poll() {
                        if let Reassembled::Frame(f) = e {
                            got = f.data.len();
                        }
                    }
                });
                got
            }),
        );
        // The same lumen chain with one `send` and one `recv` system call per datagram, for comparison.
        let (s, r) = loopback();
        let mut tx = SealedVideoSender::new(&KEY32, 1392, 20, 2).unwrap();
        let mut rx = SealedVideoReceiver::new(&KEY32, 1392).unwrap();
        row(
            &format!("UDP loopback, send+recv per datagram: lumen, {} KB", len / 1000),
            len,
            measure(10, || {
                idx += 1;
                tx.packetize(&meta(idx), 1, &au[..len], &mut batch).unwrap();
                let mut got = 0;
                for d in batch.iter() {
                    s.send(d).unwrap();
                    let n = r.recv(&mut buf).unwrap();
                    if let Ok(Some(f)) = rx.push(&mut buf[..n]) {
                        got = f.frame.data.len();
                    }
                }
                got
            }),
        );
    }
}
