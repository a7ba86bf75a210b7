//! A GFNI + AVX-512 engine for `reed-solomon-simd`'s GF(2¹⁶) Leopard FFT (its `Engine` trait).
//!
//! Multiplying GF(2¹⁶) elements by a constant is GF(2)-linear on their 16 bits, so it splits into four
//! 8×8 bit matrices (low/high input byte → low/high output byte), each one `vgf2p8affineqb`. The crate
//! stores every 64-byte chunk of a shard as 32 low bytes followed by 32 high bytes, so one zmm holds
//! `[lo | hi]` of 32 elements and the product is
//! `affine([lo | hi], [A_ll | A_hh]) ⊕ affine([hi | lo], [A_lh | A_hl])`: two affine ops, one lane swap.
//! The four matrices of every constant (2 MiB for all 65536 logarithms) are built once per process.
//!
//! The FFT/IFFT schedule (two butterfly layers per pass over four shards, a final odd layer, `skew`
//! factors, a logarithm of `GF_MODULUS` meaning "multiply by zero") is the one the trait's contract
//! defines; here each two-layer butterfly runs chunk by chunk entirely in registers. Output is
//! byte-identical to the crate's own engines (tested).
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::arch::x86_64::*;
use std::sync::OnceLock;

use reed_solomon_simd::engine::{tables, Engine, GfElement, ShardsRefMut, GF_MODULUS, GF_ORDER};

/// Per logarithm: the 8×8 matrices `[A_ll, A_hh, A_lh, A_hl]` (`A_ab`: input byte b → output byte a).
type Matrices = [[u64; 4]; GF_ORDER];

fn matrices() -> &'static Matrices {
    static M: OnceLock<Box<Matrices>> = OnceLock::new();
    M.get_or_init(|| {
        let el = tables::get_exp_log();
        let mut out: Box<Matrices> = vec![[0u64; 4]; GF_ORDER].into_boxed_slice().try_into().expect("GF_ORDER entries");
        for (log_m, m) in out.iter_mut().enumerate() {
            let mut cols = [0u16; 16];
            for (k, c) in cols.iter_mut().enumerate() {
                *c = tables::mul(1 << k, log_m as GfElement, &el.exp, &el.log);
            }
            // block (a, b): byte 7-i, bit j = bit (8a + i) of column (8b + j)
            let block = |a: usize, b: usize| -> u64 {
                let mut q = 0u64;
                for i in 0..8 {
                    let mut row = 0u64;
                    for j in 0..8 {
                        row |= u64::from((cols[8 * b + j] >> (8 * a + i)) & 1) << j;
                    }
                    q |= row << (8 * (7 - i));
                }
                q
            };
            *m = [block(0, 0), block(1, 1), block(0, 1), block(1, 0)];
        }
        out
    })
}

/// `reed-solomon-simd` engine using GFNI; construct only where [`Gfni::available`] is true.
#[derive(Clone, Copy)]
pub struct Gfni {
    skew: &'static [GfElement; GF_MODULUS as usize],
    log_walsh: &'static [GfElement; GF_ORDER],
    mats: &'static Matrices,
}

impl Gfni {
    /// Whether this CPU has what the engine needs (AVX-512F/BW and GFNI).
    pub fn available() -> bool {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("gfni")
    }

    /// The engine, or `None` when the CPU lacks GFNI/AVX-512 (the tables are built on first use).
    pub fn new() -> Option<Self> {
        Self::available().then(|| Self {
            skew: tables::get_skew(),
            log_walsh: tables::get_log_walsh(),
            mats: matrices(),
        })
    }

    #[inline(always)]
    fn coef(&self, log_m: GfElement) -> Option<&[u64; 4]> {
        (log_m != GF_MODULUS).then(|| &self.mats[log_m as usize])
    }
}

/// The two zmm matrices of one constant.
#[derive(Clone, Copy)]
struct Coef {
    m1: __m512i,
    m2: __m512i,
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,gfni")]
fn coef(m: &[u64; 4]) -> Coef {
    let half = |a: u64, b: u64| _mm512_inserti64x4::<1>(_mm512_set1_epi64(a as i64), _mm256_set1_epi64x(b as i64));
    Coef { m1: half(m[0], m[1]), m2: half(m[2], m[3]) }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,gfni")]
fn mulv(v: __m512i, c: Coef) -> __m512i {
    let swapped = _mm512_shuffle_i64x2::<0x4E>(v, v);
    _mm512_xor_si512(_mm512_gf2p8affine_epi64_epi8::<0>(v, c.m1), _mm512_gf2p8affine_epi64_epi8::<0>(swapped, c.m2))
}

/// FFT butterfly in registers: `x ^= y·c` (skipped for c = 0), then `y ^= x`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,gfni")]
fn fft_bf(x: &mut __m512i, y: &mut __m512i, c: Option<Coef>) {
    if let Some(c) = c {
        *x = _mm512_xor_si512(*x, mulv(*y, c));
    }
    *y = _mm512_xor_si512(*y, *x);
}

/// IFFT butterfly in registers: `y ^= x`, then `x ^= y·c` (skipped for c = 0).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,gfni")]
fn ifft_bf(x: &mut __m512i, y: &mut __m512i, c: Option<Coef>) {
    *y = _mm512_xor_si512(*y, *x);
    if let Some(c) = c {
        *x = _mm512_xor_si512(*x, mulv(*y, c));
    }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ld(p: &[u8; 64]) -> __m512i {
    // SAFETY: `p` is 64 readable bytes; the unaligned load needs no alignment.
    unsafe { _mm512_loadu_si512(p.as_ptr() as *const _) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn st(p: &mut [u8; 64], v: __m512i) {
    // SAFETY: `p` is 64 writable bytes.
    unsafe { _mm512_storeu_si512(p.as_mut_ptr() as *mut _, v) }
}

#[target_feature(enable = "avx512f,avx512bw,gfni")]
fn two_layers(
    data: &mut ShardsRefMut,
    pos: usize,
    dist: usize,
    c01: Option<Coef>,
    c23: Option<Coef>,
    c02: Option<Coef>,
    inverse: bool,
) {
    let (s0, s1, s2, s3) = data.dist4_mut(pos, dist);
    for (((a, b), c), d) in s0.iter_mut().zip(s1.iter_mut()).zip(s2.iter_mut()).zip(s3.iter_mut()) {
        let (mut v0, mut v1, mut v2, mut v3) = (ld(a), ld(b), ld(c), ld(d));
        if inverse {
            ifft_bf(&mut v0, &mut v1, c01);
            ifft_bf(&mut v2, &mut v3, c23);
            ifft_bf(&mut v0, &mut v2, c02);
            ifft_bf(&mut v1, &mut v3, c02);
        } else {
            fft_bf(&mut v0, &mut v2, c02);
            fft_bf(&mut v1, &mut v3, c02);
            fft_bf(&mut v0, &mut v1, c01);
            fft_bf(&mut v2, &mut v3, c23);
        }
        st(a, v0);
        st(b, v1);
        st(c, v2);
        st(d, v3);
    }
}

#[target_feature(enable = "avx512f,avx512bw,gfni")]
fn one_layer(x: &mut [[u8; 64]], y: &mut [[u8; 64]], c: Option<Coef>, inverse: bool) {
    for (a, b) in x.iter_mut().zip(y.iter_mut()) {
        let (mut vx, mut vy) = (ld(a), ld(b));
        if inverse {
            ifft_bf(&mut vx, &mut vy, c);
        } else {
            fft_bf(&mut vx, &mut vy, c);
        }
        st(a, vx);
        st(b, vy);
    }
}

impl Gfni {
    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    fn fft_impl(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated_size: usize, skew_delta: usize) {
        let c = |log_m: GfElement| self.coef(log_m).map(|m| coef(m));
        let mut dist4 = size;
        let mut dist = size >> 2;
        while dist != 0 {
            let mut r = 0;
            while r < truncated_size {
                let base = r + dist + skew_delta - 1;
                let (c01, c02, c23) = (c(self.skew[base]), c(self.skew[base + dist]), c(self.skew[base + dist * 2]));
                for i in r..r + dist {
                    two_layers(data, pos + i, dist, c01, c23, c02, false);
                }
                r += dist4;
            }
            dist4 = dist;
            dist >>= 2;
        }
        if dist4 == 2 {
            let mut r = 0;
            while r < truncated_size {
                let cm = c(self.skew[r + skew_delta]);
                let (x, y) = data.dist2_mut(pos + r, 1);
                one_layer(x, y, cm, false);
                r += 2;
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    fn ifft_impl(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated_size: usize, skew_delta: usize) {
        let c = |log_m: GfElement| self.coef(log_m).map(|m| coef(m));
        let mut dist = 1;
        let mut dist4 = 4;
        while dist4 <= size {
            let mut r = 0;
            while r < truncated_size {
                let base = r + dist + skew_delta - 1;
                let (c01, c02, c23) = (c(self.skew[base]), c(self.skew[base + dist]), c(self.skew[base + dist * 2]));
                for i in r..r + dist {
                    two_layers(data, pos + i, dist, c01, c23, c02, true);
                }
                r += dist4;
            }
            dist = dist4;
            dist4 <<= 2;
        }
        if dist < size {
            let cm = c(self.skew[dist + skew_delta - 1]);
            for i in 0..dist {
                let (x, y) = data.dist2_mut(pos + i, dist);
                one_layer(x, y, cm, true);
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    fn mul_impl(&self, x: &mut [[u8; 64]], log_m: GfElement) {
        let c = coef(&self.mats[log_m as usize]);
        for a in x.iter_mut() {
            st(a, mulv(ld(a), c));
        }
    }
}

impl Engine for Gfni {
    fn fft(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated_size: usize, skew_delta: usize) {
        // SAFETY: a `Gfni` exists only where `available()` held (see `new`).
        unsafe { self.fft_impl(data, pos, size, truncated_size, skew_delta) }
    }

    fn ifft(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated_size: usize, skew_delta: usize) {
        // SAFETY: as in `fft`.
        unsafe { self.ifft_impl(data, pos, size, truncated_size, skew_delta) }
    }

    fn mul(&self, x: &mut [[u8; 64]], log_m: GfElement) {
        // SAFETY: as in `fft`.
        unsafe { self.mul_impl(x, log_m) }
    }
}

/// One 64-byte chunk of a shard (32 low bytes, 32 high bytes), aligned so a zmm load never splits a line.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub struct Chunk(pub [u8; 64]);

impl Chunk {
    /// All zero.
    pub const ZERO: Chunk = Chunk([0; 64]);
}

/// The constant's two matrices from one 32-byte load: `[A_ll | A_hh]` and `[A_lh | A_hl]`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,gfni")]
fn coef_of(m: &[u64; 4]) -> Coef {
    // SAFETY: `m` is 32 readable bytes.
    let v = _mm512_castsi256_si512(unsafe { _mm256_loadu_si256(m.as_ptr() as *const __m256i) });
    Coef {
        m1: _mm512_permutexvar_epi64(_mm512_set_epi64(1, 1, 1, 1, 0, 0, 0, 0), v),
        m2: _mm512_permutexvar_epi64(_mm512_set_epi64(3, 3, 3, 3, 2, 2, 2, 2), v),
    }
}

/// `x ⊕ y·c` in one ternary-logic op.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,gfni")]
fn xmul(x: __m512i, y: __m512i, c: Coef) -> __m512i {
    let swapped = _mm512_shuffle_i64x2::<0x4E>(y, y);
    let a = _mm512_gf2p8affine_epi64_epi8::<0>(y, c.m1);
    let b = _mm512_gf2p8affine_epi64_epi8::<0>(swapped, c.m2);
    _mm512_ternarylogic_epi64::<0x96>(x, a, b)
}

#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn ldc(p: *const Chunk) -> __m512i {
    // SAFETY: the caller passes a pointer to a live `Chunk` (64-byte aligned).
    unsafe { _mm512_load_si512(p as *const _) }
}

#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn stc(p: *mut Chunk, v: __m512i) {
    // SAFETY: the caller passes a pointer to a live, writable `Chunk`.
    unsafe { _mm512_store_si512(p as *mut _, v) }
}

/// Two IFFT layers over `p[i + q·dist]` (q = 0..4, i < dist); quarters not in `present` read as zero.
#[target_feature(enable = "avx512f,avx512bw,gfni")]
unsafe fn ifft2_raw(p: *mut Chunk, dist: usize, c01: Coef, c23: Coef, c02: Coef, present: u8) {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    fn bf(v: [__m512i; 4], c01: Coef, c23: Coef, c02: Coef) -> [__m512i; 4] {
        let [mut v0, mut v1, mut v2, mut v3] = v;
        v1 = _mm512_xor_si512(v1, v0);
        v0 = xmul(v0, v1, c01);
        v3 = _mm512_xor_si512(v3, v2);
        v2 = xmul(v2, v3, c23);
        v2 = _mm512_xor_si512(v2, v0);
        v0 = xmul(v0, v2, c02);
        v3 = _mm512_xor_si512(v3, v1);
        v1 = xmul(v1, v3, c02);
        [v0, v1, v2, v3]
    }
    let z = _mm512_setzero_si512();
    for i in 0..dist {
        let q = |k: usize| p.wrapping_add(i + k * dist);
        let v = if present == 0xF {
            // SAFETY: the caller guarantees `p[..4 * dist]` are live chunks.
            unsafe { [ldc(q(0)), ldc(q(1)), ldc(q(2)), ldc(q(3))] }
        } else {
            // SAFETY: as above; absent quarters are never read.
            [0, 1, 2, 3].map(|k| if present & (1 << k) != 0 { unsafe { ldc(q(k)) } } else { z })
        };
        for (k, v) in bf(v, c01, c23, c02).into_iter().enumerate() {
            // SAFETY: as above.
            unsafe { stc(q(k), v) };
        }
    }
}

/// Two FFT layers over `p[i + q·dist]`; only the quarters in `keep` are written back.
#[target_feature(enable = "avx512f,avx512bw,gfni")]
unsafe fn fft2_raw(p: *mut Chunk, dist: usize, c01: Coef, c23: Coef, c02: Coef, keep: u8) {
    for i in 0..dist {
        let q = |k: usize| p.wrapping_add(i + k * dist);
        // SAFETY: the caller guarantees `p[..4 * dist]` are live chunks.
        let (mut v0, mut v1, mut v2, mut v3) = unsafe { (ldc(q(0)), ldc(q(1)), ldc(q(2)), ldc(q(3))) };
        v0 = xmul(v0, v2, c02);
        v2 = _mm512_xor_si512(v2, v0);
        v1 = xmul(v1, v3, c02);
        v3 = _mm512_xor_si512(v3, v1);
        v0 = xmul(v0, v1, c01);
        v1 = _mm512_xor_si512(v1, v0);
        v2 = xmul(v2, v3, c23);
        v3 = _mm512_xor_si512(v3, v2);
        if keep == 0xF {
            // SAFETY: as above.
            unsafe { (stc(q(0), v0), stc(q(1), v1), stc(q(2), v2), stc(q(3), v3)) };
            continue;
        }
        for (k, v) in [v0, v1, v2, v3].into_iter().enumerate() {
            if keep & (1 << k) != 0 {
                // SAFETY: as above.
                unsafe { stc(q(k), v) };
            }
        }
    }
}

/// One layer over the pairs `(p[i], p[i + dist])`, i < dist: IFFT (`inverse`) or FFT butterflies.
#[target_feature(enable = "avx512f,avx512bw,gfni")]
unsafe fn layer1_raw(p: *mut Chunk, dist: usize, c: Coef, inverse: bool) {
    for i in 0..dist {
        // SAFETY: the caller guarantees `p[..2 * dist]` are live chunks.
        let (x, y) = unsafe { (p.add(i), p.add(i + dist)) };
        // SAFETY: as above.
        let (mut vx, mut vy) = unsafe { (ldc(x), ldc(y)) };
        if inverse {
            vy = _mm512_xor_si512(vy, vx);
            vx = xmul(vx, vy, c);
        } else {
            vx = xmul(vx, vy, c);
            vy = _mm512_xor_si512(vy, vx);
        }
        // SAFETY: as above.
        unsafe { (stc(x, vx), stc(y, vy)) };
    }
}

/// Column kernels of lumen's own high-rate decoder (`decoder.rs`): the work space is one 64-byte column
/// of every shard position, so a whole transform stays in cache. Indices are absolute positions (the
/// `skew` factors depend on them); every method checks its range against `w` before touching it.
impl Gfni {
    /// FFT-butterfly constant: a logarithm of `GF_MODULUS` means "multiply by zero".
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    fn fcoef(&self, log_m: GfElement) -> Coef {
        match self.coef(log_m) {
            Some(m) => coef_of(m),
            None => Coef { m1: _mm512_setzero_si512(), m2: _mm512_setzero_si512() },
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    fn coefs3(&self, r: usize, dist: usize) -> (Coef, Coef, Coef) {
        let base = r + dist - 1;
        (self.fcoef(self.skew[base]), self.fcoef(self.skew[base + dist * 2]), self.fcoef(self.skew[base + dist]))
    }

    /// Two IFFT layers on the block `w[r .. r + 4·dist]`; quarters missing from `present` read as zero.
    pub fn ifft2(&self, w: &mut [Chunk], r: usize, dist: usize, present: u8) {
        assert!(r + 4 * dist <= w.len());
        // SAFETY: range checked above; a `Gfni` exists only where `available()` held.
        unsafe {
            let (c01, c23, c02) = self.coefs3(r, dist);
            ifft2_raw(w.as_mut_ptr().add(r), dist, c01, c23, c02, present)
        }
    }

    /// Two FFT layers on the block `w[r .. r + 4·dist]`, writing back only the quarters in `keep`.
    pub fn fft2(&self, w: &mut [Chunk], r: usize, dist: usize, keep: u8) {
        assert!(r + 4 * dist <= w.len());
        // SAFETY: as in `ifft2`.
        unsafe {
            let (c01, c23, c02) = self.coefs3(r, dist);
            fft2_raw(w.as_mut_ptr().add(r), dist, c01, c23, c02, keep)
        }
    }

    /// The last IFFT layer of an odd-sized transform: pairs `(i, i + dist)` for `i < dist`, from `w[0]`.
    pub fn ifft_top(&self, w: &mut [Chunk], dist: usize) {
        assert!(2 * dist <= w.len() && dist > 0);
        // SAFETY: as in `ifft2`.
        unsafe { layer1_raw(w.as_mut_ptr(), dist, self.fcoef(self.skew[dist - 1]), true) }
    }

    /// The whole IFFT of the block `w[r .. r + size]` (`size` a power of 4), no truncation.
    pub fn ifft_block(&self, w: &mut [Chunk], r: usize, size: usize) {
        assert!(r + size <= w.len() && size.is_power_of_two() && size.trailing_zeros().is_multiple_of(2));
        // SAFETY: as in `ifft2`.
        unsafe { self.ifft_block_impl(w.as_mut_ptr(), r, size) }
    }

    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    unsafe fn ifft_block_impl(&self, p: *mut Chunk, r: usize, size: usize) {
        let mut dist = 1;
        while dist * 4 <= size {
            for b in (r..r + size).step_by(dist * 4) {
                let (c01, c23, c02) = self.coefs3(b, dist);
                // SAFETY: `b + 4·dist ≤ r + size`, checked by the caller.
                unsafe { ifft2_raw(p.add(b), dist, c01, c23, c02, 0xF) };
            }
            dist *= 4;
        }
    }

    /// The whole FFT of the block `w[r .. r + size]` (`size` a power of 2), no truncation.
    pub fn fft_block(&self, w: &mut [Chunk], r: usize, size: usize) {
        assert!(r + size <= w.len() && size.is_power_of_two());
        // SAFETY: as in `ifft2`.
        unsafe { self.fft_block_impl(w.as_mut_ptr(), r, size) }
    }

    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    unsafe fn fft_block_impl(&self, p: *mut Chunk, r: usize, size: usize) {
        let (mut dist4, mut dist) = (size, size >> 2);
        while dist != 0 {
            for b in (r..r + size).step_by(dist4) {
                let (c01, c23, c02) = self.coefs3(b, dist);
                // SAFETY: `b + dist4 ≤ r + size`, checked by the caller.
                unsafe { fft2_raw(p.add(b), dist, c01, c23, c02, 0xF) };
            }
            dist4 = dist;
            dist >>= 2;
        }
        if dist4 == 2 {
            for b in (r..r + size).step_by(2) {
                // SAFETY: as above.
                unsafe { layer1_raw(p.add(b), 1, self.fcoef(self.skew[b]), false) };
            }
        }
    }

    /// The crate's formal derivative over all of `w` (length a power of 2 ≥ 16), as the closed form
    /// `w[i] ⊕= ⊕_{bit j of i clear} w[i + 2^j]` (old values), run bottom-up in blocks of 16 chunks.
    pub fn formal_derivative(&self, w: &mut [Chunk]) {
        assert!(w.len().is_power_of_two() && w.len() >= 16);
        // SAFETY: a `Gfni` exists only where `available()` held; the length is checked above.
        unsafe { self.formal_derivative_impl(w.as_mut_ptr(), w.len()) }
    }

    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    unsafe fn formal_derivative_impl(&self, p: *mut Chunk, n: usize) {
        let blocks = n / 16;
        for h in 0..blocks {
            // Blocks `h` and `h + 2^j` (j a clear bit of h, h + 2^j < blocks) lie in `p[..n]`.
            let blk = |b: usize| p.wrapping_add(16 * b);
            let mut v = [_mm512_setzero_si512(); 16];
            for (l, x) in v.iter_mut().enumerate() {
                // SAFETY: as above.
                *x = unsafe { ldc(blk(h).add(l)) };
            }
            for l in 0..15usize {
                for j in 0..4 {
                    if l & (1 << j) == 0 {
                        v[l] = _mm512_xor_si512(v[l], v[l + (1 << j)]);
                    }
                }
            }
            let mut clear = !h & (blocks - 1);
            while clear != 0 {
                let src = blk(h + (clear & clear.wrapping_neg()));
                for (l, x) in v.iter_mut().enumerate() {
                    // SAFETY: as above.
                    *x = _mm512_xor_si512(*x, unsafe { ldc(src.add(l)) });
                }
                clear &= clear - 1;
            }
            for (l, x) in v.iter().enumerate() {
                // SAFETY: as above.
                unsafe { stc(blk(h).add(l), *x) };
            }
        }
    }

    /// For each of the `cols` column buffers `w[k·stride ..]` (k < `cols`): fills chunk `i`
    /// (i < `logs.len()`) with chunk `col + k` of shard `src[i]` times `logs[i]` (a `mul` logarithm), or zero
    /// where `src[i]` is `u32::MAX`. Several columns per sweep read each shard's bytes together, which
    /// DRAM serves much faster than one 64-byte line from every shard per sweep.
    #[allow(clippy::too_many_arguments)]
    pub fn load_columns<S: AsRef<[u8]>>(
        &self,
        w: &mut [Chunk],
        stride: usize,
        cols: usize,
        src: &[u32],
        logs: &[GfElement],
        shards: &[S],
        col: usize,
    ) {
        assert!(cols >= 1 && logs.len() <= stride && logs.len() <= src.len() && w.len() >= cols * stride);
        // SAFETY: a `Gfni` exists only where `available()` held; `w` holds `cols` buffers of `stride`.
        unsafe { self.load_columns_impl(w.as_mut_ptr(), stride, cols, src, logs, shards, col) }
    }

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    unsafe fn load_columns_impl<S: AsRef<[u8]>>(
        &self,
        w: *mut Chunk,
        stride: usize,
        cols: usize,
        src: &[u32],
        logs: &[GfElement],
        shards: &[S],
        col: usize,
    ) {
        for (i, (&s, &log_m)) in src.iter().zip(logs).enumerate() {
            let out = |k: usize| w.wrapping_add(k * stride + i);
            if s == u32::MAX {
                for k in 0..cols {
                    // SAFETY: `i < stride` and `k < cols` (checked by the caller).
                    unsafe { stc(out(k), _mm512_setzero_si512()) };
                }
                continue;
            }
            let bytes = &shards[s as usize].as_ref()[col * 64..(col + cols) * 64];
            let c = coef_of(&self.mats[log_m as usize]);
            for (k, b) in bytes.chunks_exact(64).enumerate() {
                let v = ld(b.try_into().expect("64 bytes"));
                // SAFETY: as above.
                unsafe { stc(out(k), mulv(v, c)) };
            }
        }
    }

    /// Writes chunk `col` of shard `pos − base` as `w[pos]` divided by the error locator (`mul` logarithm
    /// `GF_MODULUS − er[pos]`) for each `pos` in `lost`.
    pub fn store_column<S: AsMut<[u8]>>(
        &self,
        w: &[Chunk],
        lost: &[u32],
        er: &[GfElement],
        base: usize,
        shards: &mut [S],
        col: usize,
    ) {
        // SAFETY: a `Gfni` exists only where `available()` held.
        unsafe { self.store_column_impl(w, lost, er, base, shards, col) }
    }

    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    fn store_column_impl<S: AsMut<[u8]>>(
        &self,
        w: &[Chunk],
        lost: &[u32],
        er: &[GfElement],
        base: usize,
        shards: &mut [S],
        col: usize,
    ) {
        for &pos in lost {
            let pos = pos as usize;
            let v = ld(&w[pos].0);
            let out: &mut [u8; 64] =
                (&mut shards[pos - base].as_mut()[col * 64..col * 64 + 64]).try_into().expect("64 bytes");
            st(out, mulv(v, coef_of(&self.mats[(GF_MODULUS - er[pos]) as usize])));
        }
    }
}

/// `a + b` and `a − b` modulo 65535 in every 16-bit lane (the crate's `add_mod`/`sub_mod`, same residues).
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn add_sub_mod(a: __m512i, b: __m512i) -> (__m512i, __m512i) {
    let one = _mm512_set1_epi16(1);
    let s = _mm512_add_epi16(a, b);
    let s = _mm512_mask_add_epi16(s, _mm512_cmplt_epu16_mask(s, a), s, one);
    let d = _mm512_sub_epi16(a, b);
    (s, _mm512_mask_sub_epi16(d, _mm512_cmplt_epu16_mask(a, b), d, one))
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ld16(e: &[GfElement]) -> __m512i {
    assert!(e.len() >= 32);
    // SAFETY: `e` holds at least 32 readable u16.
    unsafe { _mm512_loadu_si512(e.as_ptr() as *const _) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn st16(e: &mut [GfElement], v: __m512i) {
    assert!(e.len() >= 32);
    // SAFETY: `e` holds at least 32 writable u16.
    unsafe { _mm512_storeu_si512(e.as_mut_ptr() as *mut _, v) }
}

/// Walsh-Hadamard transform modulo 65535 of `x`, in rows of 32; rows from `nonzero` on are zero.
#[target_feature(enable = "avx512f,avx512bw")]
fn fwht(x: &mut [GfElement; GF_ORDER], nonzero: usize) {
    // Lane bits first: partner lane `l ^ d`; the lane with bit d clear keeps the sum, the other the difference.
    let lane = _mm512_set_epi16(
        31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2,
        1, 0,
    );
    for row in x.chunks_exact_mut(32).take(nonzero) {
        let mut r = ld16(row);
        for d in [1i16, 2, 4, 8, 16] {
            let partner = _mm512_permutexvar_epi16(_mm512_xor_si512(lane, _mm512_set1_epi16(d)), r);
            let (sum, _) = add_sub_mod(r, partner);
            let (_, dif) = add_sub_mod(partner, r);
            r = _mm512_mask_blend_epi16(_mm512_test_epi16_mask(lane, _mm512_set1_epi16(d)), sum, dif);
        }
        st16(row, r);
    }
    let rows = GF_ORDER / 32;
    let (mut extent, mut dist) = (nonzero, 1);
    while dist < rows {
        extent = extent.next_multiple_of(2 * dist);
        for block in x[..extent * 32].chunks_exact_mut(64 * dist) {
            let (lo, hi) = block.split_at_mut(32 * dist);
            for (a, b) in lo.chunks_exact_mut(32).zip(hi.chunks_exact_mut(32)) {
                let (s, d) = add_sub_mod(ld16(a), ld16(b));
                st16(a, s);
                st16(b, d);
            }
        }
        dist *= 2;
    }
}

impl Gfni {
    /// The crate's `eval_poly` (the error locator's logarithm at every position, from `er` = 1 at the
    /// erased positions below `truncated`, 0 elsewhere) with AVX-512 transforms. Values are the same
    /// residues modulo 65535 as the crate's (0 may come out as 65535: both mean "times 1" to `mul`).
    pub fn eval_poly(&self, er: &mut [GfElement; GF_ORDER], truncated: usize) {
        // SAFETY: a `Gfni` exists only where `available()` held.
        unsafe { self.eval_poly_impl(er, truncated.min(GF_ORDER)) }
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    fn eval_poly_impl(&self, er: &mut [GfElement; GF_ORDER], truncated: usize) {
        fwht(er, truncated.div_ceil(32));
        for (e, f) in er.chunks_exact_mut(32).zip(self.log_walsh.chunks_exact(32)) {
            let (r, f) = (ld16(e), ld16(f));
            let (lo, hi) = (_mm512_mullo_epi16(r, f), _mm512_mulhi_epu16(r, f));
            st16(e, add_sub_mod(lo, hi).0);
        }
        fwht(er, GF_ORDER / 32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reed_solomon_simd::engine::{DefaultEngine, NoSimd};
    use reed_solomon_simd::rate::{DefaultRateDecoder, DefaultRateEncoder, RateDecoder, RateEncoder};

    fn encode<E: Engine>(engine: E, d: usize, p: usize, shards: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut enc = DefaultRateEncoder::new(d, p, shards[0].len(), engine, None).unwrap();
        for s in shards {
            enc.add_original_shard(s).unwrap();
        }
        let r = enc.encode().unwrap();
        r.recovery_iter().map(|s| s.to_vec()).collect()
    }

    #[test]
    fn mul_matches_scalar() {
        let Some(g) = Gfni::new() else { return };
        let el = tables::get_exp_log();
        for log_m in [0u16, 1, 2, 77, 1000, 40000, 65534, 65535] {
            let mut chunk = [[0u8; 64]; 3];
            for (c, ch) in chunk.iter_mut().enumerate() {
                for (i, b) in ch.iter_mut().enumerate() {
                    *b = (i * 37 + c * 101 + 5) as u8;
                }
            }
            let orig = chunk;
            g.mul(&mut chunk, log_m);
            for c in 0..3 {
                for i in 0..32 {
                    let v = u16::from(orig[c][i]) | u16::from(orig[c][32 + i]) << 8;
                    let w = tables::mul(v, log_m, &el.exp, &el.log);
                    assert_eq!((chunk[c][i], chunk[c][32 + i]), (w as u8, (w >> 8) as u8), "log_m {log_m}");
                }
            }
        }
    }

    #[test]
    fn parity_and_recovery_match_the_crate_engines() {
        let Some(g) = Gfni::new() else { return };
        for &(d, p, len) in
            &[(1usize, 1usize, 64usize), (3, 7, 128), (100, 20, 64), (1000, 100, 192), (37, 200, 64), (4000, 400, 64)]
        {
            let shards: Vec<Vec<u8>> =
                (0..d).map(|s| (0..len).map(|b| (s * 7919 + b * 31 + (s >> 3)) as u8).collect()).collect();
            let want = encode(NoSimd::new(), d, p, &shards);
            assert_eq!(encode(DefaultEngine::new(), d, p, &shards), want);
            let got = encode(g, d, p, &shards);
            assert_eq!(got, want, "{d}+{p}");
            // recover from the GFNI engine's parity with the GFNI engine
            let lost = d.min(p);
            let mut dec = DefaultRateDecoder::new(d, p, len, g, None).unwrap();
            for (i, s) in shards.iter().enumerate().skip(lost) {
                dec.add_original_shard(i, s).unwrap();
            }
            for (j, s) in got.iter().enumerate().take(lost) {
                dec.add_recovery_shard(j, s).unwrap();
            }
            let r = dec.decode().unwrap();
            for (i, s) in r.restored_original_iter() {
                assert_eq!(s, &shards[i][..], "{d}+{p} shard {i}");
            }
        }
    }
}
