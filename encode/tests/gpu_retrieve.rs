//! CPU-side bookkeeping of NVENC output retrieval on its own thread (no GPU needed): the output ring's
//! order and bounds, buffer recycling without reallocation, and the retrieval thread's channels.

use lumen_encode::gpu::nvenc::retrieve::{BufferPool, Job, OutputRing, Retrieval};
use lumen_encode::gpu::GpuError;
use lumen_encode::FrameKind;

#[test]
fn ring_hands_out_buffers_in_order_and_is_bounded() {
    let mut ring = OutputRing::new(3).unwrap();
    assert_eq!(ring.begin(10).unwrap(), 0);
    assert_eq!(ring.begin(11).unwrap(), 1);
    assert_eq!(ring.begin(12).unwrap(), 2);
    assert!(matches!(ring.begin(13), Err(GpuError::PoolExhausted(3))));
    assert_eq!(ring.oldest(), Some((0, 10)));
    // Out of order is refused and changes nothing.
    assert!(ring.finish(1).is_err());
    assert_eq!(ring.in_flight(), 3);
    assert_eq!(ring.finish(0).unwrap(), 10);
    // Wraps around: the freed buffer 0 is next.
    assert_eq!(ring.begin(13).unwrap(), 0);
    assert_eq!(ring.finish(1).unwrap(), 11);
    assert_eq!(ring.finish(2).unwrap(), 12);
    assert_eq!(ring.finish(0).unwrap(), 13);
    assert_eq!(ring.oldest(), None);
    assert!(ring.finish(0).is_err());
    assert!(OutputRing::new(0).is_err());
}

#[test]
fn ring_survives_many_cycles() {
    let mut ring = OutputRing::new(4).unwrap();
    let mut next_done = 0u64;
    for i in 0..1000u64 {
        if ring.in_flight() == ring.capacity() {
            let (o, idx) = ring.oldest().unwrap();
            assert_eq!(idx, next_done);
            assert_eq!(ring.finish(o).unwrap(), next_done);
            next_done += 1;
        }
        assert_eq!(ring.begin(i).unwrap(), (i % 4) as usize);
    }
}

#[test]
fn buffer_pool_cycles_buffers_and_keeps_capacity() {
    let pool = BufferPool::new(2, 4096);
    let ret = pool.returner();
    let a = pool.try_take().unwrap();
    let mut b = pool.try_take().unwrap();
    assert!(pool.try_take().is_none());
    let ptr = b.as_ptr();
    b.extend_from_slice(&[1, 2, 3]);
    ret.try_send(b).unwrap();
    let b2 = pool.try_take().unwrap();
    assert_eq!(b2.as_ptr(), ptr, "the same allocation comes back");
    assert!(b2.capacity() >= 4096);
    drop(a);
}

#[test]
fn retrieval_thread_returns_frames_in_order_with_recycled_buffers() {
    // The lock function stands in for nvEncLockBitstream's copy-out: it writes the output buffer's number.
    let r = Retrieval::spawn(3, 1024, |output, buf| {
        buf.extend_from_slice(&[output as u8; 8]);
        Ok(if output == 0 { FrameKind::Idr } else { FrameKind::P })
    })
    .unwrap();
    let mut ring = OutputRing::new(3).unwrap();
    let mut ptrs = std::collections::HashSet::new();
    for i in 0..30u64 {
        let out = ring.begin(i).unwrap();
        r.submit(Job { output: out, input: (i % 2) as usize, index: i }).unwrap();
        let got = r.recv().unwrap();
        assert_eq!(got.job.index, i);
        assert_eq!(ring.finish(got.job.output).unwrap(), i);
        assert_eq!(got.data, vec![out as u8; 8]);
        assert_eq!(got.kind, if out == 0 { FrameKind::Idr } else { FrameKind::P });
        ptrs.insert(got.data.as_ptr() as usize);
        r.recycle(got.data);
    }
    assert!(ptrs.len() <= 3, "only the pool's buffers are used ({} seen)", ptrs.len());
}

#[test]
fn retrieval_errors_come_back_and_drop_does_not_hang() {
    let r = Retrieval::spawn(2, 64, |output, _| {
        if output == 1 {
            Err(GpuError::Invalid("lock failed".into()))
        } else {
            Ok(FrameKind::P)
        }
    })
    .unwrap();
    r.submit(Job { output: 0, input: 0, index: 0 }).unwrap();
    r.submit(Job { output: 1, input: 0, index: 1 }).unwrap();
    assert!(r.recv().is_ok());
    assert!(r.recv().is_err());
    // Frames kept by the consumer (never recycled) and jobs still queued: dropping must still end.
    r.submit(Job { output: 0, input: 0, index: 2 }).unwrap();
    r.submit(Job { output: 0, input: 0, index: 3 }).unwrap();
    drop(r);
}
