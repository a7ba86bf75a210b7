//! Moonlight's FEC and the lumen transport under the kernel's own loss (netem), on the same 4K stream: 30
//! frames (an IDR of 4 MB at frames 1 and 16, P-frames of 100–300 KB between them) with 20 % parity, sent
//! paced over UDP on `lo` in a network namespace (`scripts/vm-tests.sh` runs this under Debian's kernel
//! with `scripts/vm-run` in a fresh namespace and sets `LUMEN_NETEM=1`; elsewhere this test only says it was
//! skipped). The test sets `lo`'s netem qdisc itself for each loss profile (random 5 %, random 10 %, and
//! bursty loss from netem's Gilbert-Elliott model), streams the frames once through the lumen transport
//! (GF(2¹⁶), one block per frame, ChaCha20-Poly1305) and once in Moonlight's framing (GF(2⁸), up to 4
//! blocks of 255 shards: a 4 MB frame goes out without FEC), and prints the frames each rebuilt.
//!
//! netem's loss is random (no seed on Debian 12's kernel), so the assertions keep wide margins: under random
//! loss the lumen transport rebuilds every 4 MB IDR and ≥ 95 % of all frames; Moonlight rebuilds no 4 MB IDR
//! under any profile (each has ~3 000 datagrams and no parity); bursty loss is reported with a loose bound.

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use lumen_core::transport::{SealedVideoReceiver, SealedVideoSender};
use lumen_core::video::{
    FrameMeta, FrameType, PacketBatch, Reassembled, VideoPacketizer, VideoParams, VideoReassembler,
};

const KEY: [u8; 32] = [3; 32];
/// Frames in the stream; frames `IDRS` are 4 MB IDRs, the rest P-frames.
const FRAMES: u32 = 30;
const IDRS: [u32; 2] = [1, 16];
const IDR_BYTES: usize = 4_000_000;
/// Silence that ends a receive once the sender has sent everything.
const QUIET: Duration = Duration::from_secs(1);

/// A loss profile: its name, netem's `loss` arguments, and the range its measured loss must fall in.
struct Profile {
    name: &'static str,
    loss: &'static [&'static str],
    expect: (f64, f64),
    random: bool,
}

const PROFILES: [Profile; 3] = [
    Profile { name: "random 5 %", loss: &["5%"], expect: (0.025, 0.08), random: true },
    Profile { name: "random 10 %", loss: &["10%"], expect: (0.06, 0.15), random: true },
    // Gilbert-Elliott: good → bad with p = 2 %, bad → good with r = 20 %, every datagram lost in the bad
    // state and none in the good one: 2/22 ≈ 9 % lost, in bursts of 5 on average.
    Profile {
        name: "bursty (gemodel p 2 % r 20 %)",
        loss: &["gemodel", "2%", "20%", "100%", "0%"],
        expect: (0.03, 0.18),
        random: false,
    },
];

/// The stream: frame `i` (1-based) is `stream[i - 1]`, deterministic contents and sizes.
fn stream() -> Vec<Vec<u8>> {
    let mut seed = 0x2545_f491_u32;
    (1..=FRAMES)
        .map(|i| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let len = if IDRS.contains(&i) { IDR_BYTES } else { 100_000 + (seed >> 8) as usize % 200_000 };
            (0..len as u32).map(|b| (b.wrapping_mul(2_654_435_761).wrapping_add(i) >> 11) as u8).collect()
        })
        .collect()
}

fn meta(i: u32) -> FrameMeta {
    let frame_type = if IDRS.contains(&i) { FrameType::Idr } else { FrameType::P };
    FrameMeta { frame_index: i, frame_type, host_latency: 0, rtp_timestamp: i * 1500 }
}

/// Sets `lo`'s root qdisc to netem with `loss` (the namespace is the test's own).
fn set_loss(loss: &[&str]) {
    let st = Command::new("tc")
        .args(["qdisc", "replace", "dev", "lo", "root", "netem", "limit", "100000", "loss"])
        .args(loss)
        .status()
        .expect("run tc");
    assert!(st.success(), "tc qdisc replace … netem loss {loss:?}");
}

/// Sends every datagram of `batch` to `sock`, 16 at a time with a 1 ms pause (netem's queue and the receive
/// buffer must not be what drops them).
fn send_paced(sock: &UdpSocket, batch: &PacketBatch) -> usize {
    for (i, d) in batch.iter().enumerate() {
        sock.send(d).expect("send");
        if i % 16 == 15 {
            thread::sleep(Duration::from_millis(1));
        }
    }
    batch.len()
}

/// Receives until the sender is done (`sent` set) and [`QUIET`] passes without a datagram; `push` gets each
/// datagram and returns the index of the frame it completed intact. Returns (datagrams received, indices of the
/// frames rebuilt). Silence before the sender is done (packetizing a 4 MB frame under the VM's emulated CPU
/// can take longer than `QUIET`) does not end it: the socket must stay open while datagrams may still come.
fn receive(
    sock: UdpSocket,
    sent: Arc<AtomicBool>,
    mut push: impl FnMut(&mut [u8]) -> Option<u32> + Send + 'static,
) -> thread::JoinHandle<(usize, Vec<u32>)> {
    thread::spawn(move || {
        sock.set_read_timeout(Some(QUIET)).expect("timeout");
        let mut buf = vec![0u8; 2048];
        let (mut datagrams, mut frames) = (0, Vec::new());
        loop {
            match sock.recv(&mut buf) {
                Ok(n) => {
                    datagrams += 1;
                    frames.extend(push(&mut buf[..n]));
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if sent.load(Ordering::Acquire) {
                        break;
                    }
                }
                Err(e) => panic!("recv: {e}"),
            }
        }
        (datagrams, frames)
    })
}

fn pair() -> (UdpSocket, UdpSocket) {
    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    tx.connect(rx.local_addr().expect("addr")).expect("connect");
    (tx, rx)
}

/// One run of the stream: (datagrams sent, datagrams received, frames rebuilt intact).
struct Run {
    sent: usize,
    got: usize,
    frames: Vec<u32>,
}

impl Run {
    fn idrs(&self) -> usize {
        self.frames.iter().filter(|i| IDRS.contains(i)).count()
    }
    fn cell(&self) -> String {
        let idrs = self.idrs();
        let p = self.frames.len() - idrs;
        format!(
            "{:>2}/{FRAMES} ({idrs}/{} IDR, {p:>2}/{} P)",
            self.frames.len(),
            IDRS.len(),
            FRAMES as usize - IDRS.len()
        )
    }
}

fn lumen(stream: &Arc<Vec<Vec<u8>>>) -> Run {
    let (tx, rx) = pair();
    let mut receiver = SealedVideoReceiver::new(&KEY, 1392).expect("receiver");
    let expect = Arc::clone(stream);
    let done = Arc::new(AtomicBool::new(false));
    let handle = receive(rx, Arc::clone(&done), move |d| match receiver.push(d) {
        Ok(Some(f)) => {
            let i = f.frame.header.frame_index;
            (f.frame.data == &expect[i as usize - 1][..]).then_some(i)
        }
        _ => None,
    });
    let mut sender = SealedVideoSender::new(&KEY, 1392, 20, 2).expect("sender");
    let mut batch = PacketBatch::new();
    let mut sent = 0;
    for (i, au) in (1..).zip(stream.iter()) {
        sender.packetize(&meta(i), 0, au, &mut batch).expect("packetize");
        sent += send_paced(&tx, &batch);
    }
    done.store(true, Ordering::Release);
    let (got, frames) = handle.join().expect("receiver thread");
    Run { sent, got, frames }
}

fn moonlight(stream: &Arc<Vec<Vec<u8>>>) -> Run {
    let (tx, rx) = pair();
    let params = VideoParams::DEFAULT;
    let mut reassembler = VideoReassembler::new(params).expect("reassembler");
    let expect = Arc::clone(stream);
    let done = Arc::new(AtomicBool::new(false));
    let handle = receive(rx, Arc::clone(&done), move |d| {
        let _ = reassembler.push(d);
        let mut done = None;
        while let Some(e) = reassembler.poll() {
            if let Reassembled::Frame(f) = e {
                if f.data == &expect[f.frame_index as usize - 1][..] {
                    done = Some(f.frame_index);
                }
            }
        }
        done
    });
    let mut packetizer = VideoPacketizer::new(params).expect("packetizer");
    let mut batch = PacketBatch::new();
    let mut sent = 0;
    for (i, au) in (1..).zip(stream.iter()) {
        packetizer.packetize(&meta(i), au, &mut batch).expect("packetize");
        sent += send_paced(&tx, &batch);
    }
    done.store(true, Ordering::Release);
    let (got, frames) = handle.join().expect("receiver thread");
    Run { sent, got, frames }
}

#[test]
fn moonlight_fec_and_the_lumen_transport_under_netem_loss() {
    if std::env::var_os("LUMEN_NETEM").is_none() {
        eprintln!(
            "skipped: needs a network namespace of its own whose lo it may give a netem qdisc (scripts/vm-tests.sh)"
        );
        return;
    }
    let stream = Arc::new(stream());
    let bytes: usize = stream.iter().map(Vec::len).sum();
    eprintln!("stream: {FRAMES} frames, {bytes} bytes (IDRs of 4 MB at {IDRS:?}, P-frames 100–300 KB), 20 % FEC");
    let t = Instant::now();
    let mut rows = Vec::new();
    for p in &PROFILES {
        set_loss(p.loss);
        let l = lumen(&stream);
        let m = moonlight(&stream);
        let loss = 1.0 - (l.got + m.got) as f64 / (l.sent + m.sent) as f64;
        eprintln!("{}: lumen {} of {} datagrams, Moonlight {} of {}", p.name, l.got, l.sent, m.got, m.sent);
        rows.push((p, loss, l, m));
    }
    eprintln!("\n| netem loss profile | measured loss | lumen transport (GF(2¹⁶) 20 %) | Moonlight (GF(2⁸) 20 %) |");
    eprintln!("|---|---|---|---|");
    for (p, loss, l, m) in &rows {
        eprintln!("| {} | {:.1} % | {} | {} |", p.name, loss * 100.0, l.cell(), m.cell());
    }
    eprintln!("({:.1} s)", t.elapsed().as_secs_f64());

    for (p, loss, l, m) in &rows {
        let name = p.name;
        assert!((p.expect.0..p.expect.1).contains(loss), "{name}: measured loss {:.1} %", loss * 100.0);
        assert_eq!(m.idrs(), 0, "{name}: GF(2⁸) cannot protect a 4 MB frame");
        if p.random {
            assert_eq!(l.idrs(), IDRS.len(), "{name}: every 4 MB IDR rebuilt from 20 % parity");
            assert!(l.frames.len() * 100 >= FRAMES as usize * 95, "{name}: lumen rebuilt {}/{FRAMES}", l.frames.len());
        } else {
            assert!(l.idrs() >= 1 && l.frames.len() * 2 >= FRAMES as usize, "{name}: lumen rebuilt {}", l.cell());
        }
    }
}
