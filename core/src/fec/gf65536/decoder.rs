//! lumen's own high-rate GF(2¹⁶) decoder on the GFNI engine: the same mathematics as `reed-solomon-simd`'s
//! `HighRateDecoder` (error locator by FWHT, multiply, IFFT, formal derivative, FFT, divide), so it reads
//! the crate's parity and rebuilds the very same data, but scheduled for the cache and for losing few shards.
//!
//! * **One 64-byte column at a time.** The crate transforms whole shards (for 32768 + 3277 shards of
//!   1344 bytes that is an 88 MB work space, streamed from DRAM once per layer pair). Every step works on
//!   each byte column independently, so this decoder copies one 64-byte column of every shard position
//!   into a work space of `n` chunks (512 KiB for 4000 + 400, 4 MiB for 32768 + 3277), multiplying by the
//!   error locator on the way in, transforms it, and writes the rebuilt chunks straight into the caller's
//!   lost shards (divided by the locator on the way out). Nothing else is copied. Past 8192 positions the
//!   sweep over the shards fills three column buffers at once (192 contiguous bytes per shard: far fewer
//!   TLB misses and DRAM row switches than one line of every shard per sweep).
//! * **Depth-first transforms.** The IFFT and FFT recurse on quarters (radix 4, two layers per pass,
//!   `Gfni::ifft2`/`fft2`), so each sub-transform runs while its block is in L1/L2.
//! * **Error locator** (two 65536-point Walsh-Hadamard transforms modulo 65535) in AVX-512 (`Gfni::eval_poly`)
//!   instead of the crate's scalar loop: 0.2 ms → 0.03 ms per call.
//! * **Pruning.** IFFT blocks whose inputs are all zero (lost or unused shards, the padding between the
//!   parity and the data) are skipped, and so are blocks at or past the end of the input (read as zero,
//!   never loaded). The FFT only computes blocks that hold a lost *data* shard: the others' outputs are
//!   not needed.
//! * **Formal derivative in closed form**: `w[i] ⊕= ⊕_{bit j of i clear} w[i + 2^j]`, which is what the
//!   crate's sequential loop computes, evaluated bottom-up in registers (`Gfni::formal_derivative`).

use reed_solomon_simd::engine::{GfElement, GF_ORDER};

use super::gfni_engine::{Chunk, Gfni};

/// No shard feeds this position.
const NONE: u32 = u32::MAX;

/// Blocks this small are transformed whole, without pruning checks.
const IFFT_LEAF: usize = 64;
const FFT_LEAF: usize = 32;

/// Transforms longer than this many chunks (512 KiB) no longer fit L2 ...
const WIDE_FROM: usize = 8192;
/// ... and then this many columns are loaded per sweep over the shards.
const WIDE_COLUMNS: usize = 3;

/// Whether the crate's `DefaultRate` picks the high rate for this shape (only then is the parity the one
/// this decoder reads). Same rule as `reed_solomon_simd::rate::DefaultRate`.
pub(super) fn uses_high_rate(data: usize, parity: usize) -> bool {
    let (dp, pp) = (data.next_power_of_two(), parity.next_power_of_two());
    dp > pp || (dp == pp && data <= parity)
}

/// Decoder work space, reused across calls (grows, never shrinks).
pub(super) struct HighDecoder {
    work: Vec<Chunk>,
    er: Box<[GfElement; GF_ORDER]>,
    src: Vec<u32>,
    lost: Vec<u32>,
    nonzero: Vec<u64>,
    need: Vec<u64>,
}

impl Default for HighDecoder {
    fn default() -> Self {
        Self {
            work: Vec::new(),
            er: vec![0; GF_ORDER].into_boxed_slice().try_into().expect("GF_ORDER entries"),
            src: Vec::new(),
            lost: Vec::new(),
            nonzero: Vec::new(),
            need: Vec::new(),
        }
    }
}

fn set(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

/// Whether any bit in `a..b` is set.
fn any(bits: &[u64], a: usize, b: usize) -> bool {
    if a >= b {
        return false;
    }
    let (wa, wb) = (a / 64, (b - 1) / 64);
    let lo = !0u64 << (a % 64);
    let hi = !0u64 >> (63 - (b - 1) % 64);
    if wa == wb {
        return bits[wa] & lo & hi != 0;
    }
    bits[wa] & lo != 0 || bits[wa + 1..wb].iter().any(|&x| x != 0) || bits[wb] & hi != 0
}

/// One decode's shape and masks, borrowed from the work space.
struct Plan<'a> {
    g: &'a Gfni,
    end: usize,
    nonzero: &'a [u64],
    need: &'a [u64],
}

impl Plan<'_> {
    /// IFFT of the block `w[r .. r + size]` (`size` a power of 4, `r < end`); positions ≥ `end` are zero
    /// and may hold garbage until this writes them.
    fn ifft(&self, w: &mut [Chunk], r: usize, size: usize) {
        let whole = r + size <= self.end;
        if whole && !any(self.nonzero, r, r + size) {
            return; // all inputs zero (the load wrote zeros): so are the outputs
        }
        if whole && size <= IFFT_LEAF {
            self.g.ifft_block(w, r, size);
            return;
        }
        let q = size / 4;
        let mut present = 0u8;
        for k in 0..4 {
            if r + k * q < self.end {
                present |= 1 << k;
                if q > 1 {
                    self.ifft(w, r + k * q, q);
                }
            }
        }
        self.g.ifft2(w, r, q, present);
    }

    /// FFT of the block `w[r .. r + size]`, computing only what the lost data positions need.
    fn fft(&self, w: &mut [Chunk], r: usize, size: usize) {
        if !any(self.need, r, r + size) {
            return;
        }
        if size <= FFT_LEAF {
            self.g.fft_block(w, r, size);
            return;
        }
        let q = size / 4;
        let mut keep = 0u8;
        for k in 0..4 {
            if any(self.need, r + k * q, r + (k + 1) * q) {
                keep |= 1 << k;
            }
        }
        self.g.fft2(w, r, q, keep);
        for k in 0..4 {
            if keep & (1 << k) != 0 {
                self.fft(w, r + k * q, q);
            }
        }
    }
}

impl HighDecoder {
    /// Rebuilds the lost data shards in place. The caller has checked the shape (high rate), the shard
    /// lengths (equal, a multiple of 64) and that enough parity shards are present.
    pub(super) fn decode<S: AsRef<[u8]> + AsMut<[u8]>>(
        &mut self,
        g: &Gfni,
        data: usize,
        parity: usize,
        shards: &mut [S],
        present: &[bool],
    ) {
        let missing = present[..data].iter().filter(|&&p| !p).count();
        let len = shards[0].as_mut().len();
        let m = parity.next_power_of_two();
        let end = m + data;
        let n = end.next_power_of_two().max(16);
        let words = n.div_ceil(64);
        let chunks = len / 64;
        // Past L2 the transforms stream from L3 anyway: load several columns per sweep over the shards.
        let batch = if n > WIDE_FROM { WIDE_COLUMNS.min(chunks) } else { 1 };
        if self.work.len() < n * batch {
            self.work.resize(n * batch, Chunk::ZERO);
        }
        self.src.clear();
        self.src.resize(end, NONE);
        self.lost.clear();
        self.nonzero.clear();
        self.nonzero.resize(words, 0);
        self.need.clear();
        self.need.resize(words, 0);
        let er = &mut *self.er;
        er.fill(0);

        // Error locator inputs: 1 at every position that does not feed the decoder. Only the first
        // `missing` present parity shards are used (fewer inputs, more zero blocks to skip).
        let mut used = 0;
        for j in 0..m {
            if j < parity && present[data + j] && used < missing {
                used += 1;
                self.src[j] = (data + j) as u32;
                set(&mut self.nonzero, j);
            } else {
                er[j] = 1;
            }
        }
        for (i, &here) in present[..data].iter().enumerate() {
            let pos = m + i;
            if here {
                self.src[pos] = i as u32;
                set(&mut self.nonzero, pos);
            } else {
                er[pos] = 1;
                self.lost.push(pos as u32);
                set(&mut self.need, pos);
            }
        }
        g.eval_poly(er, end);

        let plan = Plan { g, end, nonzero: &self.nonzero, need: &self.need };
        let mut col = 0;
        while col < chunks {
            let cols = batch.min(chunks - col);
            g.load_columns(&mut self.work, n, cols, &self.src, &er[..end], shards, col);
            for (k, w) in self.work.chunks_exact_mut(n).take(cols).enumerate() {
                if n.trailing_zeros().is_multiple_of(2) {
                    plan.ifft(w, 0, n);
                } else {
                    plan.ifft(w, 0, n / 2);
                    plan.ifft(w, n / 2, n / 2);
                    g.ifft_top(w, n / 2);
                }
                g.formal_derivative(w);
                plan.fft(w, 0, n);
                g.store_column(w, &self.lost, &er[..], m, shards, col + k);
            }
            col += cols;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reed_solomon_simd::engine::{Engine, ShardsRefMut};

    fn column(n: usize, end: usize, seed: u64) -> Vec<Chunk> {
        let mut x = seed | 1;
        (0..n)
            .map(|i| {
                let mut c = Chunk::ZERO;
                if i < end {
                    for b in c.0.iter_mut() {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        *b = x as u8;
                    }
                }
                c
            })
            .collect()
    }

    fn flat(w: &[Chunk]) -> Vec<[u8; 64]> {
        w.iter().map(|c| c.0).collect()
    }

    /// The AVX-512 error locator gives the crate's residues (mod 65535) on random erasure sets.
    #[test]
    fn eval_poly_matches_the_crate() {
        let Some(g) = Gfni::new() else { return };
        let mut x = 0x1234_5678_9ABC_DEF1u64;
        for &end in &[1usize, 31, 33, 1000, 4512, 36864, 65536] {
            let mut want = [0 as GfElement; GF_ORDER];
            for e in want[..end].iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *e = GfElement::from(x.is_multiple_of(3));
            }
            let mut got = want;
            reed_solomon_simd::engine::utils::eval_poly(&mut want, end);
            g.eval_poly(&mut got, end);
            for (i, (a, b)) in got.iter().zip(want.iter()).enumerate() {
                assert_eq!(a % 65535, b % 65535, "end {end} at {i}");
            }
        }
    }

    /// Each stage against the crate's own schedule on the same column (scalar formal derivative).
    #[test]
    fn stages_match_the_crate() {
        let Some(g) = Gfni::new() else { return };
        for &(n, end) in &[(64usize, 40usize), (128, 100), (256, 129), (8192, 4512), (1024, 1024), (512, 300)] {
            let words = n.div_ceil(64);
            let mut nonzero = vec![0u64; words];
            let mut need = vec![0u64; words];
            let mut w = column(n, end, n as u64);
            for (i, c) in w[..end].iter_mut().enumerate() {
                if i % 7 < 3 || (i > end / 3 && i < end / 2) {
                    *c = Chunk::ZERO;
                } else {
                    set(&mut nonzero, i);
                }
                if i % 5 == 1 {
                    set(&mut need, i);
                }
            }
            let plan = Plan { g: &g, end, nonzero: &nonzero, need: &need };
            let mut want = flat(&w);
            // garbage past `end`: must never be read
            for c in w[end..].iter_mut() {
                c.0 = [0xEE; 64];
            }
            if n.trailing_zeros().is_multiple_of(2) {
                plan.ifft(&mut w, 0, n);
            } else {
                plan.ifft(&mut w, 0, n / 2);
                plan.ifft(&mut w, n / 2, n / 2);
                g.ifft_top(&mut w, n / 2);
            }
            g.ifft(&mut ShardsRefMut::new(n, 1, &mut want), 0, n, end, 0);
            assert!(flat(&w) == want, "ifft {n} {end}");
            g.formal_derivative(&mut w);
            for i in 1..n {
                let width = 1 << i.trailing_zeros();
                for k in 0..width {
                    let src = want[i + k];
                    for (a, b) in want[i - width + k].iter_mut().zip(src) {
                        *a ^= b;
                    }
                }
            }
            assert!(flat(&w) == want, "fd {n} {end}");
            plan.fft(&mut w, 0, n);
            g.fft(&mut ShardsRefMut::new(n, 1, &mut want), 0, n, end, 0);
            for i in 0..end {
                if i % 5 == 1 {
                    assert!(w[i].0 == want[i], "fft {n} {end} at {i}");
                }
            }
        }
    }
}
