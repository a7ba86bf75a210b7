//! Bookkeeping of the frame-buffer pools (free list, exhaustion, double release) with host buffers as
//! items: the device pools use the same `SlotPool` with pitched CUDA buffers. Runs without a GPU.

use lumen_encode::gpu::pool::SlotPool;
use lumen_encode::gpu::{GpuError, PixelFormat};

fn pool(n: usize) -> (SlotPool<Vec<u8>>, usize) {
    let mut made = 0;
    let p = SlotPool::new(n, |i| {
        made += 1;
        Ok(vec![i as u8; 16])
    })
    .unwrap();
    (p, made)
}

#[test]
fn items_are_made_once_and_recycled() {
    let (mut p, made) = pool(3);
    assert_eq!(made, 3);
    assert_eq!(p.len(), 3);
    let mut seen = Vec::new();
    for _ in 0..1000 {
        let s = p.acquire().unwrap();
        seen.push(p.get(&s)[0]);
        p.release(s).unwrap();
    }
    // One buffer in flight at a time: always the same (warm) one.
    assert!(seen.iter().all(|&i| i == 0));
    assert_eq!(p.free_count(), 3);
}

#[test]
fn exhaustion_is_an_error_and_release_makes_room() {
    let (mut p, _) = pool(2);
    let a = p.acquire().unwrap();
    let b = p.acquire().unwrap();
    assert_ne!(a.index(), b.index());
    assert!(matches!(p.acquire(), Err(GpuError::PoolExhausted(2))));
    let bi = b.index();
    p.release(b).unwrap();
    let c = p.acquire().unwrap();
    assert_eq!(c.index(), bi);
    p.release(a).unwrap();
    p.release(c).unwrap();
}

#[test]
fn double_and_foreign_releases_are_rejected() {
    let (mut p, _) = pool(2);
    let a = p.acquire().unwrap();
    let i = a.index();
    p.release(a).unwrap();
    assert!(matches!(p.release_index(i), Err(GpuError::Invalid(_))));
    assert!(matches!(p.release_index(7), Err(GpuError::Invalid(_))));
    assert_eq!(p.free_count(), 2);
}

#[test]
fn empty_pools_and_failing_makers_are_errors() {
    assert!(SlotPool::<u8>::new(0, |_| Ok(0)).is_err());
    let r = SlotPool::<u8>::new(3, |i| if i == 2 { Err(GpuError::Invalid("boom".into())) } else { Ok(0) });
    assert!(matches!(r, Err(GpuError::Invalid(m)) if m == "boom"));
}

#[test]
fn buffer_sizes_per_format() {
    assert_eq!(PixelFormat::Nv12.total_rows(1080), 1620);
    assert_eq!(PixelFormat::Nv12.total_rows(361), 361 + 181);
    assert_eq!(PixelFormat::Yuv444.total_rows(1080), 3240);
    assert_eq!(PixelFormat::P010.row_bytes(1920), 3840);
    assert_eq!(PixelFormat::Nv12.row_bytes(641), 642);
    assert_eq!(PixelFormat::Yuv444.row_bytes(641), 641);
}
