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
    mats: &'static Matrices,
}

impl Gfni {
    /// Whether this CPU has what the engine needs (AVX-512F/BW and GFNI).
    pub fn available() -> bool {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("gfni")
    }

    /// The engine, or `None` when the CPU lacks GFNI/AVX-512 (the tables are built on first use).
    pub fn new() -> Option<Self> {
        Self::available().then(|| Self { skew: tables::get_skew(), mats: matrices() })
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
