//! The lumen transport under the kernel's own loss (netem): five 4 MB frames, sealed with 20 % GF(2¹⁶)
//! parity, sent paced over UDP on `lo` in a network namespace whose `lo` drops 10 % at random
//! (`scripts/vm-tests.sh` sets it up under Debian's kernel with `scripts/vm-run` and sets `LUMEN_NETEM=1`;
//! elsewhere this test only says it was skipped). Every lumen frame must be rebuilt; the same frames in
//! Moonlight's framing (GF(2⁸): a 4 MB frame is more than 4 blocks, so it goes out without FEC) must be lost.

use std::net::UdpSocket;
use std::thread;
use std::time::Duration;

use lumen_core::transport::{SealedVideoReceiver, SealedVideoSender};
use lumen_core::video::{
    FrameMeta, FrameType, PacketBatch, Reassembled, VideoPacketizer, VideoParams, VideoReassembler,
};

const KEY: [u8; 32] = [3; 32];
const FRAMES: u32 = 5;
const FRAME_BYTES: usize = 4_000_000;

fn meta(i: u32) -> FrameMeta {
    FrameMeta { frame_index: i, frame_type: FrameType::Idr, host_latency: 0, rtp_timestamp: i * 3000 }
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

/// Receives until 2 s of silence; `push` gets each datagram and says whether it completed a frame.
fn receive(
    sock: UdpSocket,
    mut push: impl FnMut(&mut [u8]) -> bool + Send + 'static,
) -> thread::JoinHandle<(usize, usize)> {
    thread::spawn(move || {
        sock.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
        let mut buf = vec![0u8; 2048];
        let (mut datagrams, mut frames) = (0, 0);
        while let Ok(n) = sock.recv(&mut buf) {
            datagrams += 1;
            frames += usize::from(push(&mut buf[..n]));
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

#[test]
fn four_mb_frames_survive_netem_loss_only_with_the_lumen_transport() {
    if std::env::var_os("LUMEN_NETEM").is_none() {
        eprintln!("skipped: needs a network namespace with netem loss on lo (scripts/vm-tests.sh)");
        return;
    }
    let au: Vec<u8> = (0..FRAME_BYTES as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let mut batch = PacketBatch::new();

    // lumen transport.
    let (tx, rx) = pair();
    let mut receiver = SealedVideoReceiver::new(&KEY, 1392).expect("receiver");
    let expect = au.clone();
    let lumen = receive(rx, move |d| matches!(receiver.push(d), Ok(Some(f)) if f.frame.data == &expect[..]));
    let mut sender = SealedVideoSender::new(&KEY, 1392, 20, 2).expect("sender");
    let mut sent = 0;
    for i in 1..=FRAMES {
        sender.packetize(&meta(i), 0, &au, &mut batch).expect("packetize");
        sent += send_paced(&tx, &batch);
    }
    let (got, frames) = lumen.join().expect("receiver thread");
    let loss = 1.0 - got as f64 / sent as f64;
    eprintln!("lumen: {sent} datagrams sent, {got} received (loss {:.1} %), {frames}/{FRAMES} frames", loss * 100.0);
    assert!((0.05..0.16).contains(&loss), "netem's 10 % loss expected, measured {:.1} %", loss * 100.0);
    assert_eq!(frames, FRAMES as usize, "every 4 MB frame rebuilt from 20 % parity");

    // Moonlight framing: no FEC for a frame this size, so any loss loses it.
    let (tx, rx) = pair();
    let params = VideoParams::DEFAULT;
    let mut reassembler = VideoReassembler::new(params).expect("reassembler");
    let moonlight = receive(rx, move |d| {
        let _ = reassembler.push(d);
        let mut done = false;
        while let Some(e) = reassembler.poll() {
            done |= matches!(e, Reassembled::Frame(_));
        }
        done
    });
    let mut packetizer = VideoPacketizer::new(params).expect("packetizer");
    for i in 1..=FRAMES {
        packetizer.packetize(&meta(i), &au, &mut batch).expect("packetize");
        send_paced(&tx, &batch);
    }
    let (_, frames) = moonlight.join().expect("receiver thread");
    eprintln!("moonlight: {frames}/{FRAMES} frames");
    assert_eq!(frames, 0, "GF(2⁸) cannot protect a 4 MB frame");
}
