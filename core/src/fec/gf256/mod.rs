//! GF(2⁸) Reed-Solomon, byte-identical to the nanors codec inside every Moonlight client.
//!
//! Construction (see `cauchy.rs`): field polynomial 0x11D, systematic code whose parity rows form the
//! Cauchy matrix `P[j][i] = 1 / (j ⊕ (parity + i))`. At most 255 shards per block. Encoding and decoding are
//! matrix-times-shards products run by the fastest kernel tier this CPU has (`kernel/`).
//!
//! Allocation: `ReedSolomon::new` allocates the coding matrix once; `encode` and `reconstruct` allocate
//! nothing (their scratch — pointer lists and the decode matrix, ≤ 24 KiB — lives on the stack), take
//! `&self`, and can run on several threads at once.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

mod cauchy;
mod kernel;
mod tables;

use std::collections::hash_map::Entry;
use std::collections::HashMap;

pub use kernel::Tier;

use super::FecError;

/// Most shards (data + parity) in one GF(2⁸) block.
pub const MAX_SHARDS: usize = 255;

/// Largest decode matrix: W·data with W ≤ min(data, parity), data + parity ≤ 255 → ≤ 127·128.
const MAX_DECODE_COEFS: usize = 127 * 128;

/// Blocks with at most this many data and parity shards use short stack pointer lists.
const SMALL_BLOCK: usize = 16;

/// Decode matrices up to this size use a smaller stack buffer.
const SMALL_DECODE_COEFS: usize = 1024;

/// A GF(2⁸) Reed-Solomon codec for one (data, parity) shape.
#[derive(Debug, Clone)]
pub struct ReedSolomon {
    data: usize,
    parity: usize,
    tier: Tier,
    /// Parity matrix, `parity` rows × `data` columns.
    matrix: Box<[u8]>,
}

fn fail<T>(e: FecError) -> Result<T, FecError> {
    tracing::debug!(error = %e, "gf256 FEC call refused");
    Err(e)
}

impl ReedSolomon {
    /// A codec for `data_shards` + `parity_shards` (each ≥ 1, sum ≤ 255), on the fastest kernel tier.
    pub fn new(data_shards: usize, parity_shards: usize) -> Result<Self, FecError> {
        Self::with_tier(data_shards, parity_shards, Tier::best())
    }

    /// As [`ReedSolomon::new`] but on a given kernel tier (tests and benchmarks compare tiers).
    pub fn with_tier(data_shards: usize, parity_shards: usize, tier: Tier) -> Result<Self, FecError> {
        if data_shards == 0 {
            return fail(FecError::NoDataShards);
        }
        if parity_shards == 0 {
            return fail(FecError::NoParityShards);
        }
        if data_shards + parity_shards > MAX_SHARDS {
            return fail(FecError::TooManyShards { data: data_shards, parity: parity_shards, max: MAX_SHARDS });
        }
        if !tier.is_available() {
            return fail(FecError::TierUnavailable(tier_name(tier)));
        }
        let mut matrix = vec![0u8; data_shards * parity_shards].into_boxed_slice();
        cauchy::parity_matrix(data_shards, parity_shards, &mut matrix);
        Ok(Self { data: data_shards, parity: parity_shards, tier, matrix })
    }

    /// Number of data shards per block.
    pub fn data_shards(&self) -> usize {
        self.data
    }

    /// Number of parity shards per block.
    pub fn parity_shards(&self) -> usize {
        self.parity
    }

    /// The kernel tier this codec runs on.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// The parity matrix (`parity` rows × `data` columns, row-major).
    pub fn matrix(&self) -> &[u8] {
        &self.matrix
    }

    fn check_shards<S: AsRef<[u8]>>(&self, shards: &[S]) -> Result<usize, FecError> {
        let total = self.data + self.parity;
        if shards.len() != total {
            return fail(FecError::ShardCount { expected: total, got: shards.len() });
        }
        let len = shards[0].as_ref().len();
        if len == 0 {
            return fail(FecError::ShardLength { len, reason: "shards must not be empty" });
        }
        if let Some(s) = shards.iter().find(|s| s.as_ref().len() != len) {
            return fail(FecError::ShardLength { len: s.as_ref().len(), reason: "shards differ in length" });
        }
        Ok(len)
    }

    /// Computes the parity shards: `shards[..data]` are read, `shards[data..]` are overwritten. All shards
    /// must have the same non-zero length.
    pub fn encode<S: AsRef<[u8]> + AsMut<[u8]>>(&self, shards: &mut [S]) -> Result<(), FecError> {
        let len = self.check_shards(shards)?;
        // Small blocks (audio, small frames) use short pointer lists: clearing 4 KiB of pointers would
        // cost as much as encoding them.
        if self.data.max(self.parity) <= SMALL_BLOCK {
            self.encode_with::<SMALL_BLOCK, S>(shards, len);
        } else {
            self.encode_with::<MAX_SHARDS, S>(shards, len);
        }
        Ok(())
    }

    fn encode_with<const N: usize, S: AsRef<[u8]> + AsMut<[u8]>>(&self, shards: &mut [S], len: usize) {
        let mut inputs = [std::ptr::null::<u8>(); N];
        let mut outputs = [std::ptr::null_mut::<u8>(); N];
        let (data, parity) = shards.split_at_mut(self.data);
        for (p, s) in inputs.iter_mut().zip(data.iter()) {
            *p = s.as_ref().as_ptr();
        }
        for (p, s) in outputs.iter_mut().zip(parity.iter_mut()) {
            *p = s.as_mut().as_mut_ptr();
        }
        // SAFETY: every pointer comes from a distinct element of `shards` (disjoint buffers, all `len`
        // long, checked above); the `&mut` borrow of `shards` outlives the call; the tier was checked in
        // `with_tier`; the matrix is parity × data.
        unsafe {
            kernel::gemm(self.tier, &self.matrix, &inputs[..self.data], &outputs[..self.parity], len);
        }
    }

    /// Rebuilds the missing *data* shards in place. `present[i] == false` marks shard `i` (data or parity)
    /// as missing: its contents are ignored and, for a data shard, overwritten with the recovered bytes.
    /// Missing parity shards are not rebuilt. Fails with [`FecError::Unrecoverable`] when more data
    /// shards are missing than parity shards are present.
    pub fn reconstruct<S: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        shards: &mut [S],
        present: &[bool],
    ) -> Result<(), FecError> {
        let total = self.data + self.parity;
        if present.len() != total {
            return fail(FecError::ShardCount { expected: total, got: present.len() });
        }
        let len = self.check_shards(shards)?;
        if self.data.max(self.parity) <= SMALL_BLOCK {
            self.reconstruct_with::<SMALL_BLOCK, S>(shards, present, len)
        } else {
            self.reconstruct_with::<MAX_SHARDS, S>(shards, present, len)
        }
    }

    fn reconstruct_with<const N: usize, S: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        shards: &mut [S],
        present: &[bool],
        len: usize,
    ) -> Result<(), FecError> {
        let mut known = [0u8; N];
        let mut missing = [0u8; N];
        let (mut nk, mut nm) = (0, 0);
        for (i, &p) in present[..self.data].iter().enumerate() {
            if p {
                known[nk] = i as u8;
                nk += 1;
            } else {
                missing[nm] = i as u8;
                nm += 1;
            }
        }
        if nm == 0 {
            return Ok(());
        }
        let mut rows = [0u8; N];
        let mut nr = 0;
        for (j, &p) in present[self.data..].iter().enumerate() {
            if p && nr < nm {
                rows[nr] = j as u8;
                nr += 1;
            }
        }
        if nr < nm {
            let parity_present = present[self.data..].iter().filter(|&&p| p).count();
            return fail(FecError::Unrecoverable { missing: nm, parity: parity_present });
        }
        let cols = self.data; // nk known data + nm parity inputs
                              // The decode matrix lives on the stack; small blocks (audio, short frames) use a small buffer so
                              // the call does not pay for clearing the largest possible matrix.
        let mut small = [0u8; SMALL_DECODE_COEFS];
        let mut large;
        let coefs: &mut [u8] = if nm * cols <= SMALL_DECODE_COEFS {
            &mut small[..nm * cols]
        } else {
            large = [0u8; MAX_DECODE_COEFS];
            &mut large[..nm * cols]
        };
        cauchy::decode_matrix(self.parity, &known[..nk], &missing[..nm], &rows[..nm], coefs);

        let mut inputs = [std::ptr::null::<u8>(); N];
        let mut outputs = [std::ptr::null_mut::<u8>(); N];
        let (mut ni, mut no) = (0, 0);
        // Walk the shards once, in index order, taking one pointer from each shard that takes part.
        let (mut ki, mut mi, mut ri) = (0, 0, 0);
        for (idx, s) in shards.iter_mut().enumerate() {
            if idx < self.data {
                if ki < nk && known[ki] as usize == idx {
                    inputs[ki] = s.as_ref().as_ptr();
                    ki += 1;
                    ni += 1;
                } else if mi < nm && missing[mi] as usize == idx {
                    outputs[mi] = s.as_mut().as_mut_ptr();
                    mi += 1;
                    no += 1;
                }
            } else if ri < nm && rows[ri] as usize == idx - self.data {
                inputs[nk + ri] = s.as_ref().as_ptr();
                ri += 1;
                ni += 1;
            }
        }
        debug_assert_eq!((ni, no), (cols, nm));
        // SAFETY: inputs are known data and present parity shards, outputs are the missing data shards:
        // distinct elements of `shards`, all `len` long (checked), borrowed mutably for the whole call; the
        // decode matrix is nm × cols; the tier was checked in `with_tier`.
        unsafe {
            kernel::gemm(self.tier, coefs, &inputs[..cols], &outputs[..nm], len);
        }
        Ok(())
    }
}

fn tier_name(t: Tier) -> &'static str {
    match t {
        Tier::Scalar => "scalar",
        Tier::Avx2 => "avx2",
        Tier::Gfni256 => "avx2+gfni",
        Tier::Gfni512 => "avx512+gfni",
    }
}

/// One codec per (data, parity) shape, built on first use; later `get`s only look it up (no allocation).
#[derive(Debug, Default)]
pub struct CodecCache {
    codecs: HashMap<(usize, usize), ReedSolomon>,
}

impl CodecCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The codec for `data` + `parity` shards, built on first use.
    pub fn get(&mut self, data: usize, parity: usize) -> Result<&ReedSolomon, FecError> {
        match self.codecs.entry((data, parity)) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(v) => Ok(v.insert(ReedSolomon::new(data, parity)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(data: usize, parity: usize, len: usize) -> Vec<Vec<u8>> {
        (0..data + parity)
            .map(|s| (0..len).map(|b| if s < data { (s * 131 + b * 7 + (b >> 3)) as u8 } else { 0xEE }).collect())
            .collect()
    }

    #[test]
    fn every_tier_encodes_like_scalar_and_recovers() {
        for &(d, p, len) in &[(1, 1, 1), (4, 2, 17), (10, 3, 100), (200, 40, 1392), (50, 10, 4097), (128, 127, 70)] {
            let mut want = pattern(d, p, len);
            ReedSolomon::with_tier(d, p, Tier::Scalar).unwrap().encode(&mut want).unwrap();
            for tier in Tier::ALL.into_iter().filter(|t| t.is_available()) {
                let rs = ReedSolomon::with_tier(d, p, tier).unwrap();
                let mut got = pattern(d, p, len);
                rs.encode(&mut got).unwrap();
                assert_eq!(got, want, "{tier:?} {d}+{p}x{len}");
                // lose the first min(d, p) data shards
                let lost = d.min(p);
                let mut present = vec![true; d + p];
                for i in 0..lost {
                    present[i] = false;
                    got[i].fill(0x55);
                }
                rs.reconstruct(&mut got, &present).unwrap();
                assert_eq!(got, want, "{tier:?} {d}+{p}x{len} reconstruct");
            }
        }
    }

    #[test]
    fn shape_errors() {
        assert_eq!(ReedSolomon::new(0, 1).unwrap_err(), FecError::NoDataShards);
        assert_eq!(ReedSolomon::new(1, 0).unwrap_err(), FecError::NoParityShards);
        assert!(matches!(ReedSolomon::new(200, 56), Err(FecError::TooManyShards { .. })));
        let rs = ReedSolomon::new(3, 2).unwrap();
        let mut short = vec![vec![0u8; 8]; 4];
        assert!(matches!(rs.encode(&mut short), Err(FecError::ShardCount { expected: 5, got: 4 })));
        let mut ragged = vec![vec![0u8; 8], vec![0u8; 8], vec![0u8; 7], vec![0u8; 8], vec![0u8; 8]];
        assert!(matches!(rs.encode(&mut ragged), Err(FecError::ShardLength { .. })));
        let mut empty = vec![Vec::<u8>::new(); 5];
        assert!(matches!(rs.encode(&mut empty), Err(FecError::ShardLength { .. })));
        let mut ok = vec![vec![1u8; 8]; 5];
        let present = [false, false, false, true, true];
        assert_eq!(rs.reconstruct(&mut ok, &present), Err(FecError::Unrecoverable { missing: 3, parity: 2 }));
        assert!(matches!(rs.reconstruct(&mut ok, &present[..4]), Err(FecError::ShardCount { .. })));
    }

    #[test]
    fn cache_reuses_codecs() {
        let mut c = CodecCache::new();
        let a = c.get(4, 2).unwrap() as *const ReedSolomon;
        let b = c.get(4, 2).unwrap() as *const ReedSolomon;
        assert_eq!(a, b);
        assert!(c.get(0, 2).is_err());
    }
}
