//! Steady-state allocation check: after a warm-up with the largest frame, packetizing (with FEC and
//! AES-GCM), reassembling under loss, and audio packetize/receive allocate nothing per frame. Counted
//! with a global counting allocator (this test binary's own); not a timing test.

use lumen_core::audio::{AudioPacketizer, AudioReceiver};
use lumen_core::crypto::{AudioCipher, RemoteInputKey};
use lumen_core::video::lumen::{LumenPacketizer, LumenParams};
use lumen_core::video::{
    FrameMeta, FrameType, GcmVideo, PacketBatch, Reassembled, VideoPacketizer, VideoParams, VideoReassembler,
};

use counting_alloc::counted;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::CountingAlloc;

#[global_allocator]
static A: CountingAlloc = CountingAlloc;

// One test function only: the counter is process-wide and tests run on parallel threads.
#[test]
fn steady_state_paths_allocate_nothing() {
    let params = VideoParams::DEFAULT;
    let mut p = VideoPacketizer::new(params).unwrap().with_sealer(Box::new(GcmVideo::new(&[1; 16])));
    let mut r = VideoReassembler::new(params).unwrap().with_opener(Box::new(GcmVideo::new(&[1; 16])));
    let mut batch = PacketBatch::new();
    let big = vec![0x42u8; 1_000_000];
    let sizes = [40_000usize, 250_000, 1_000_000, 5_000, 150_000];
    let mut index = 0u32;
    let mut run = |p: &mut VideoPacketizer, r: &mut VideoReassembler, batch: &mut PacketBatch| {
        for &len in &sizes {
            index += 1;
            let meta =
                FrameMeta { frame_index: index, frame_type: FrameType::P, host_latency: 1, rtp_timestamp: index };
            p.packetize(&meta, &big[..len], batch).unwrap();
            // Lose the first datagram of the frame (a data shard) to exercise recovery.
            for i in 1..batch.len() {
                r.push(batch.get(i)).unwrap();
            }
            while let Some(e) = r.poll() {
                assert!(matches!(e, Reassembled::Frame(_)));
            }
        }
    };
    for _ in 0..3 {
        run(&mut p, &mut r, &mut batch); // warm-up: buffers and codec shapes
    }
    let n = counted(|| run(&mut p, &mut r, &mut batch));
    assert_eq!(n, 0, "video packetize + reassemble allocated {n} times in steady state");

    let lp = LumenParams::for_datagram(1392, 20, 2).unwrap();
    let mut l = LumenPacketizer::new(lp).unwrap();
    let meta = FrameMeta { frame_index: 1, frame_type: FrameType::Idr, host_latency: 0, rtp_timestamp: 0 };
    l.packetize(&meta, &big, &mut batch).unwrap();
    let n = counted(|| {
        l.packetize(&meta, &big, &mut batch).unwrap();
    });
    eprintln!("lumen GF(2^16) packetize: {n} allocations per frame (inside the codec crate)");

    let rik = RemoteInputKey::new([3; 16], 77);
    let mut ap = AudioPacketizer::new(5, Some(AudioCipher::new(&rik)));
    let mut ar = AudioReceiver::new(5, Some(AudioCipher::new(&rik)));
    let opus = [0x11u8; 200];
    let audio = |ap: &mut AudioPacketizer, ar: &mut AudioReceiver, batch: &mut PacketBatch| {
        for k in 0..64 {
            ap.packetize(&opus, batch).unwrap();
            for (j, d) in batch.iter().enumerate() {
                if k % 4 == 1 && j == 0 {
                    continue;
                }
                ar.push(d, &mut |_| {}).unwrap();
            }
        }
    };
    audio(&mut ap, &mut ar, &mut batch);
    let n = counted(|| audio(&mut ap, &mut ar, &mut batch));
    assert_eq!(n, 0, "audio allocated {n} times in steady state");
}
