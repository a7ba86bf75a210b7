//! Steady-state allocation check for both FEC fields and the C ABI: after the first call of a shape,
//! `encode` and `reconstruct` must not touch the heap (counted per thread by a counting global allocator).
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use lumen_core::abi::fec::{lumen_fec_encode, lumen_fec_reconstruct, LUMEN_FEC_OK};
use lumen_core::fec::{gf256, gf65536};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::CountingAlloc;

#[global_allocator]
static A: CountingAlloc = CountingAlloc;

fn allocs() -> u64 {
    counting_alloc::allocations()
}

fn shards(n: usize, len: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| (0..len).map(|b| (i * 29 + b * 3) as u8).collect()).collect()
}

#[test]
fn the_counter_sees_allocations() {
    let before = allocs();
    let v = std::hint::black_box(vec![1u8; 100]);
    assert!(allocs() > before);
    drop(v);
}

#[test]
fn gf256_steady_state_allocates_nothing() {
    let mut cache = gf256::CodecCache::new();
    for &(d, p) in &[(200usize, 40usize), (50, 10), (4, 2), (1, 1)] {
        let mut s = shards(d + p, 1392);
        let mut present = vec![true; d + p];
        present[..p.min(d)].fill(false);
        cache.get(d, p).unwrap().encode(&mut s).unwrap(); // first use builds the codec
        let before = allocs();
        for _ in 0..5 {
            let rs = cache.get(d, p).unwrap();
            rs.encode(&mut s).unwrap();
            rs.reconstruct(&mut s, &present).unwrap();
        }
        assert_eq!(allocs() - before, 0, "gf256 {d}+{p}");
    }
}

#[test]
fn gf65536_steady_state_allocates_nothing() {
    let mut cache = gf65536::CodecCache::new();
    for &(d, p) in &[(4000usize, 400usize), (100, 10), (4000, 400)] {
        let mut s = shards(d + p, 128);
        let mut present = vec![true; d + p];
        present[..p].fill(false);
        {
            let rs = cache.get(d, p).unwrap();
            rs.encode(&mut s).unwrap(); // first use sizes the shared work space
            rs.reconstruct(&mut s, &present).unwrap();
        }
        let before = allocs();
        for _ in 0..3 {
            let rs = cache.get(d, p).unwrap();
            rs.encode(&mut s).unwrap();
            rs.reconstruct(&mut s, &present).unwrap();
        }
        assert_eq!(allocs() - before, 0, "gf65536 {d}+{p}");
    }
}

#[test]
fn c_abi_steady_state_allocates_nothing() {
    for field in [8u32, 16] {
        let (d, p, len) = (40usize, 8usize, 256usize);
        let mut s = shards(d + p, len);
        let ptrs: Vec<*mut u8> = s.iter_mut().map(|v| v.as_mut_ptr()).collect();
        let mut present = vec![1u8; d + p];
        present[..p].fill(0);
        // SAFETY: `ptrs` holds d + p pointers to distinct `len`-byte buffers that outlive the calls;
        // `present` holds d + p flags.
        unsafe {
            assert_eq!(lumen_fec_encode(field, d as u32, p as u32, len, ptrs.as_ptr()), LUMEN_FEC_OK);
            assert_eq!(
                lumen_fec_reconstruct(field, d as u32, p as u32, len, ptrs.as_ptr(), present.as_ptr()),
                LUMEN_FEC_OK
            );
            let before = allocs();
            for _ in 0..3 {
                assert_eq!(lumen_fec_encode(field, d as u32, p as u32, len, ptrs.as_ptr()), LUMEN_FEC_OK);
                assert_eq!(
                    lumen_fec_reconstruct(field, d as u32, p as u32, len, ptrs.as_ptr(), present.as_ptr()),
                    LUMEN_FEC_OK
                );
            }
            assert_eq!(allocs() - before, 0, "C ABI field {field}");
        }
    }
}
