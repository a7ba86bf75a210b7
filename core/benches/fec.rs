//! FEC benchmark (`cargo bench -p lumen-core --bench fec`): prints a table of GB/s of *data* for GF(2⁸)
//! (ours on every kernel tier, and the Moonlight client's own nanors encoder/decoder loaded from
//! `libmoonlight-common-c.so` in the same process) and GF(2¹⁶) (`reed-solomon-simd`, which lumen uses, and
//! `leopard-codec`; lumen runs reed-solomon-simd on its own GFNI engine or the crate's), each as a fraction of single-thread memcpy of the same bytes measured in the same run,
//! plus heap allocations per call in steady state (counting global allocator).
//!
//! Each figure is the best of several timed repetitions (the build machine is shared).
//! `LUMEN_MOONLIGHT_LIB` overrides the path of the client library.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::ffi::{c_int, c_void};
use std::hint::black_box;
use std::time::Instant;

use lumen_core::fec::{gf256, gf65536};

#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::CountingAlloc;

#[global_allocator]
static A: CountingAlloc = CountingAlloc;

/// Seconds per call: the best of `8 × reps` short batches that take about `target × reps` seconds in all
/// (short batches so that some run while the shared machine is quiet).
fn time(mut f: impl FnMut(), target: f64, reps: usize) -> f64 {
    f();
    let t = Instant::now();
    f();
    let one = t.elapsed().as_secs_f64().max(1e-7);
    let n = ((target / 8.0 / one) as usize).clamp(1, 100_000);
    let mut best = f64::MAX;
    for _ in 0..reps * 8 {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / n as f64);
    }
    best
}

/// Allocations made by one call of `f` after warm-up.
fn allocs_per_call(mut f: impl FnMut()) -> u64 {
    f();
    f();
    let before = counting_alloc::allocations();
    for _ in 0..10 {
        f();
    }
    (counting_alloc::allocations() - before) / 10
}

fn random_shards(n: usize, len: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        })
        .collect()
}

/// `present` flags for `d + p` shards with `p` distinct data shards lost, chosen by a seeded xorshift.
fn random_loss(d: usize, p: usize, seed: u64) -> Vec<bool> {
    let mut present = vec![true; d + p];
    let (mut x, mut lost) = (seed | 1, 0);
    while lost < p.min(d) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = (x % d as u64) as usize;
        if present[i] {
            present[i] = false;
            lost += 1;
        }
    }
    present
}

/// Single-thread memcpy of the data shards into same-sized buffers, seconds per pass.
fn memcpy_time(shards: &[Vec<u8>], data: usize) -> f64 {
    let mut dst: Vec<Vec<u8>> = shards[..data].iter().map(|s| vec![0u8; s.len()]).collect();
    time(
        || {
            for (d, s) in dst.iter_mut().zip(&shards[..data]) {
                d.copy_from_slice(black_box(s));
            }
            black_box(&mut dst);
        },
        0.05,
        5,
    )
}

type NewFn = unsafe extern "C" fn(c_int, c_int) -> *mut c_void;
type EncFn = unsafe extern "C" fn(*mut c_void, *mut *mut u8, c_int, c_int) -> c_int;
type DecFn = unsafe extern "C" fn(*mut c_void, *mut *mut u8, *mut u8, c_int, c_int) -> c_int;

/// The Moonlight client's nanors, through the function pointers `reed_solomon_init()` selects.
struct Nanors {
    _lib: libloading::Library,
    new: NewFn,
    encode: EncFn,
    decode: DecFn,
}

impl Nanors {
    fn load() -> Result<Self, String> {
        let path = std::env::var("LUMEN_MOONLIGHT_LIB").unwrap_or_else(|_| {
            let cache = std::env::var("LUMEN_CACHE")
                .unwrap_or_else(|_| format!("{}/.cache/lumen", std::env::var("HOME").unwrap_or_default()));
            format!("{cache}/venv/lib/python3.11/site-packages/moonlight_python/libmoonlight-common-c.so")
        });
        // SAFETY: loading the stock client's library runs its (trivial) initialisers; the symbols read
        // below have the C types declared in nanors' rs.h.
        unsafe {
            let lib = libloading::Library::new(&path).map_err(|e| format!("{path}: {e}"))?;
            let init: libloading::Symbol<unsafe extern "C" fn()> =
                lib.get(b"reed_solomon_init").map_err(|e| e.to_string())?;
            init();
            let new = **lib.get::<*const Option<NewFn>>(b"reed_solomon_new_fn").map_err(|e| e.to_string())?;
            let encode = **lib.get::<*const Option<EncFn>>(b"reed_solomon_encode_fn").map_err(|e| e.to_string())?;
            let decode = **lib.get::<*const Option<DecFn>>(b"reed_solomon_decode_fn").map_err(|e| e.to_string())?;
            match (new, encode, decode) {
                (Some(new), Some(encode), Some(decode)) => Ok(Self { _lib: lib, new, encode, decode }),
                _ => Err("reed_solomon_init left a null function pointer".into()),
            }
        }
    }
}

struct Row {
    what: String,
    gbps: f64,
    memcpy_gbps: f64,
    allocs: Option<u64>,
    vs_nanors: Option<f64>,
}

fn print(rows: &[Row]) {
    println!(
        "| {:<62} | {:>8} | {:>10} | {:>7} | {:>10} | {:>9} |",
        "case", "GB/s", "memcpy GB/s", "of memcpy", "vs nanors", "allocs/call"
    );
    println!("|{:-<64}|{:->10}|{:->13}|{:->11}|{:->12}|{:->13}|", "", "", "", "", "", "");
    for r in rows {
        println!(
            "| {:<62} | {:>8.2} | {:>11.2} | {:>8.1}% | {:>10} | {:>11} |",
            r.what,
            r.gbps,
            r.memcpy_gbps,
            100.0 * r.gbps / r.memcpy_gbps,
            r.vs_nanors.map(|v| format!("{v:.2}x")).unwrap_or_else(|| "-".into()),
            r.allocs.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
        );
    }
}

fn gf256_rows(nanors: Option<&Nanors>, rows: &mut Vec<Row>) {
    for &(d, p, len) in &[(200usize, 40usize, 1392usize), (50, 10, 1392), (4, 2, 1392)] {
        let mut shards = random_shards(d + p, len, 42);
        let bytes = (d * len) as f64;
        let memcpy = bytes / memcpy_time(&shards, d) / 1e9;
        // nanors first, so our rows can carry the ratio
        let mut nan_enc = None;
        let mut nan_dec = None;
        if let Some(n) = nanors {
            // SAFETY: nanors' documented API: a codec for (d, p), d + p shard pointers of `len` bytes each,
            // marks[i] = 1 for a missing shard; the buffers outlive the calls.
            unsafe {
                let rs = (n.new)(d as c_int, p as c_int);
                assert!(!rs.is_null(), "nanors refused {d}+{p}");
                let mut ptrs: Vec<*mut u8> = shards.iter_mut().map(|s| s.as_mut_ptr()).collect();
                let t =
                    time(|| assert_eq!((n.encode)(rs, ptrs.as_mut_ptr(), (d + p) as c_int, len as c_int), 0), 0.15, 5);
                nan_enc = Some(bytes / t / 1e9);
                let mut marks = vec![0u8; d + p];
                marks[..p.min(d)].fill(1);
                let t = time(
                    || {
                        assert_eq!(
                            (n.decode)(rs, ptrs.as_mut_ptr(), marks.as_mut_ptr(), (d + p) as c_int, len as c_int),
                            0
                        )
                    },
                    0.15,
                    5,
                );
                nan_dec = Some(bytes / t / 1e9);
                // (nanors' release frees with the library's allocator; one codec per shape is left as is.)
            }
            rows.push(Row {
                what: format!("nanors (client) encode {d}+{p} x {len}"),
                gbps: nan_enc.unwrap_or(0.0),
                memcpy_gbps: memcpy,
                allocs: None,
                vs_nanors: None,
            });
            rows.push(Row {
                what: format!("nanors (client) reconstruct {d}+{p} x {len}, {} lost", p.min(d)),
                gbps: nan_dec.unwrap_or(0.0),
                memcpy_gbps: memcpy,
                allocs: None,
                vs_nanors: None,
            });
        }
        for tier in gf256::Tier::ALL.into_iter().filter(|t| t.is_available()) {
            let rs = gf256::ReedSolomon::with_tier(d, p, tier).expect("codec");
            let t = time(|| rs.encode(&mut shards).expect("encode"), 0.15, 5);
            let allocs = allocs_per_call(|| rs.encode(&mut shards).expect("encode"));
            let gbps = bytes / t / 1e9;
            rows.push(Row {
                what: format!("lumen gf256 {tier:?} encode {d}+{p} x {len}"),
                gbps,
                memcpy_gbps: memcpy,
                allocs: Some(allocs),
                vs_nanors: nan_enc.map(|n| gbps / n),
            });
            let mut present = vec![true; d + p];
            present[..p.min(d)].fill(false);
            let t = time(|| rs.reconstruct(&mut shards, &present).expect("reconstruct"), 0.15, 5);
            let allocs = allocs_per_call(|| rs.reconstruct(&mut shards, &present).expect("reconstruct"));
            let gbps = bytes / t / 1e9;
            rows.push(Row {
                what: format!("lumen gf256 {tier:?} reconstruct {d}+{p} x {len}, {} lost", p.min(d)),
                gbps,
                memcpy_gbps: memcpy,
                allocs: Some(allocs),
                vs_nanors: nan_dec.map(|n| gbps / n),
            });
        }
    }
}

fn gf65536_rows(rows: &mut Vec<Row>) {
    for &(d, p, len) in &[(4000usize, 400usize, 1344usize), (32768, 3277, 1344)] {
        let mut shards = random_shards(d + p, len, 7);
        let bytes = (d * len) as f64;
        let memcpy = bytes / memcpy_time(&shards, d) / 1e9;
        for backend in [gf65536::Backend::Gfni512, gf65536::Backend::Crate].into_iter().filter(|b| b.is_available()) {
            let rs = gf65536::ReedSolomon::with_backend(d, p, backend).expect("codec");
            let t = time(|| rs.encode(&mut shards).expect("encode"), 0.3, 3);
            let allocs = allocs_per_call(|| rs.encode(&mut shards).expect("encode"));
            rows.push(Row {
                what: format!("lumen gf65536 {backend:?} encode {d}+{p} x {len}"),
                gbps: bytes / t / 1e9,
                memcpy_gbps: memcpy,
                allocs: Some(allocs),
                vs_nanors: None,
            });
            let mut present = vec![true; d + p];
            present[..p].fill(false);
            let t = time(|| rs.reconstruct(&mut shards, &present).expect("reconstruct"), 0.3, 3);
            let allocs = allocs_per_call(|| rs.reconstruct(&mut shards, &present).expect("reconstruct"));
            rows.push(Row {
                what: format!("lumen gf65536 {backend:?} reconstruct {d}+{p}, {p} lost"),
                gbps: bytes / t / 1e9,
                memcpy_gbps: memcpy,
                allocs: Some(allocs),
                vs_nanors: None,
            });
            // The same count lost at random positions (what a network does): fewer blocks to skip.
            let present = random_loss(d, p, 11);
            let t = time(|| rs.reconstruct(&mut shards, &present).expect("reconstruct"), 0.3, 3);
            rows.push(Row {
                what: format!("lumen gf65536 {backend:?} reconstruct {d}+{p}, {p} random lost"),
                gbps: bytes / t / 1e9,
                memcpy_gbps: memcpy,
                allocs: None,
                vs_nanors: None,
            });
        }

        // leopard-codec, the other candidate: only its 8-bit field is implemented (≤ 256 shards).
        match leopard_codec::encode(&mut shards, d) {
            Ok(()) => unreachable!("leopard-codec gained GF(2^16): benchmark it here"),
            Err(e) => println!("leopard-codec {d}+{p}: unsupported ({e})"),
        }
    }
    // A shape both candidates take (leopard-codec needs next_pow2(parity) + data ≤ 256): 8-bit Leopard vs
    // reed-solomon-simd.
    let (d, p, len) = (128usize, 32usize, 1344usize);
    let mut shards = random_shards(d + p, len, 9);
    let bytes = (d * len) as f64;
    let memcpy = bytes / memcpy_time(&shards, d) / 1e9;
    let rs = gf65536::ReedSolomon::with_backend(d, p, gf65536::Backend::Crate).expect("codec");
    let t = time(|| rs.encode(&mut shards).expect("encode"), 0.15, 5);
    rows.push(Row {
        what: format!("reed-solomon-simd (own engine) encode {d}+{p} x {len}"),
        gbps: bytes / t / 1e9,
        memcpy_gbps: memcpy,
        allocs: None,
        vs_nanors: None,
    });
    let t = time(|| leopard_codec::encode(&mut shards, d).expect("leopard encode"), 0.15, 5);
    rows.push(Row {
        what: format!("leopard-codec (8-bit Leopard) encode {d}+{p} x {len}"),
        gbps: bytes / t / 1e9,
        memcpy_gbps: memcpy,
        allocs: None,
        vs_nanors: None,
    });
    let mut present = vec![true; d + p];
    present[..p].fill(false);
    let t = time(|| rs.reconstruct(&mut shards, &present).expect("reconstruct"), 0.15, 5);
    rows.push(Row {
        what: format!("reed-solomon-simd (own engine) reconstruct {d}+{p}, {p} lost"),
        gbps: bytes / t / 1e9,
        memcpy_gbps: memcpy,
        allocs: None,
        vs_nanors: None,
    });
    let full = shards.clone();
    let mut work = full.clone();
    let t = time(
        || {
            for (w, f) in work.iter_mut().zip(&full).take(p) {
                w.clear();
                let _ = f;
            }
            leopard_codec::reconstruct(&mut work, d).expect("leopard reconstruct");
        },
        0.15,
        5,
    );
    rows.push(Row {
        what: format!("leopard-codec (8-bit Leopard) reconstruct {d}+{p}, {p} lost"),
        gbps: bytes / t / 1e9,
        memcpy_gbps: memcpy,
        allocs: None,
        vs_nanors: None,
    });
}

fn main() {
    let nanors = match Nanors::load() {
        Ok(n) => Some(n),
        Err(e) => {
            println!("nanors: not found ({e})");
            None
        }
    };
    let mut rows = Vec::new();
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if only.as_deref() != Some("gf65536") {
        gf256_rows(nanors.as_ref(), &mut rows);
    }
    if only.as_deref() != Some("gf256") {
        gf65536_rows(&mut rows);
    }
    print(&rows);
}
