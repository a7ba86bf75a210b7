//! GF(2¹⁶) Reed-Solomon for the lumen transport: a Leopard-family codec (FFT over the additive basis,
//! O(n log n)) with up to 65535 shards per block, backed by the `reed-solomon-simd` crate (chosen over
//! `leopard-codec` by `benches/fec.rs`; figures in docs/fec.md), running on lumen's own GFNI/AVX-512
//! engine (`gfni_engine.rs`) where the CPU has it and on the crate's engine (AVX2/SSSE3/scalar) otherwise.
//! On the GFNI backend, `reconstruct` of the shapes the crate encodes at its "high rate" (roughly: more
//! data than parity, e.g. 4000 + 400) runs lumen's own decoder (`decoder.rs`): the crate's mathematics,
//! scheduled one 64-byte column at a time so the transforms stay in cache (2–4× the crate's decoder on
//! the same engine for 4000 + 400 and 32768 + 3277; docs/fec.md).
//!
//! Same shape as [`super::gf256`]. Shard lengths must be a non-zero multiple of 64 bytes. Not every split
//! of 65535 shards is possible: the codec needs `next_pow2(min(data, parity)) + max(data, parity) ≤ 65536`
//! (e.g. 60000 + 4000 works, 60000 + 5000 does not); other shapes give [`FecError::TooManyShards`].
//!
//! Allocation and threads: the codec keeps its encoder and decoder work space (sized by the first call
//! and reused while the block does not grow; all codecs of one `CodecCache` share a single work space, so
//! many shapes cost no more memory than the largest) behind `Mutex`es taken with `try_lock`, so `encode` and
//! `reconstruct` take `&self`, allocate nothing in steady state, and never wait: a call that finds the work
//! space busy on another thread builds a temporary one instead (allocating) rather than block.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[cfg(target_arch = "x86_64")]
mod decoder;
#[cfg(target_arch = "x86_64")]
mod gfni_engine;

use reed_solomon_simd::engine::{DefaultEngine, Engine, GfElement, ShardsRefMut};
use reed_solomon_simd::rate::{DefaultRateDecoder, DefaultRateEncoder, RateDecoder, RateEncoder};
use reed_solomon_simd::ReedSolomonEncoder;

use super::FecError;

/// Which GF(2¹⁶) FFT engine a codec runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// lumen's GFNI + AVX-512 engine.
    Gfni512,
    /// `reed-solomon-simd`'s own best engine for this CPU (AVX2, SSSE3 or scalar).
    Crate,
}

impl Backend {
    /// Whether this CPU can run the backend.
    pub fn is_available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Backend::Gfni512 => gfni_engine::Gfni::available(),
            #[cfg(not(target_arch = "x86_64"))]
            Backend::Gfni512 => false,
            Backend::Crate => true,
        }
    }

    /// The fastest backend this CPU runs.
    pub fn best() -> Backend {
        if Backend::Gfni512.is_available() {
            Backend::Gfni512
        } else {
            Backend::Crate
        }
    }
}

/// The engine handed to `reed-solomon-simd`: one of the two backends.
enum LumenEngine {
    #[cfg(target_arch = "x86_64")]
    Gfni(gfni_engine::Gfni),
    Crate(DefaultEngine),
}

impl LumenEngine {
    fn new(backend: Backend) -> Self {
        match backend {
            #[cfg(target_arch = "x86_64")]
            Backend::Gfni512 => match gfni_engine::Gfni::new() {
                Some(g) => LumenEngine::Gfni(g),
                None => LumenEngine::Crate(DefaultEngine::new()),
            },
            _ => LumenEngine::Crate(DefaultEngine::new()),
        }
    }
}

impl Default for LumenEngine {
    fn default() -> Self {
        Self::new(Backend::best())
    }
}

impl Engine for LumenEngine {
    fn fft(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated_size: usize, skew_delta: usize) {
        match self {
            #[cfg(target_arch = "x86_64")]
            LumenEngine::Gfni(e) => e.fft(data, pos, size, truncated_size, skew_delta),
            LumenEngine::Crate(e) => e.fft(data, pos, size, truncated_size, skew_delta),
        }
    }

    fn ifft(&self, data: &mut ShardsRefMut, pos: usize, size: usize, truncated_size: usize, skew_delta: usize) {
        match self {
            #[cfg(target_arch = "x86_64")]
            LumenEngine::Gfni(e) => e.ifft(data, pos, size, truncated_size, skew_delta),
            LumenEngine::Crate(e) => e.ifft(data, pos, size, truncated_size, skew_delta),
        }
    }

    fn mul(&self, x: &mut [[u8; 64]], log_m: GfElement) {
        match self {
            #[cfg(target_arch = "x86_64")]
            LumenEngine::Gfni(e) => e.mul(x, log_m),
            LumenEngine::Crate(e) => e.mul(x, log_m),
        }
    }
}

type Encoder = DefaultRateEncoder<LumenEngine>;
type Decoder = DefaultRateDecoder<LumenEngine>;

/// Most shards (data + parity) in one GF(2¹⁶) block.
pub const MAX_SHARDS: usize = 65535;

/// Shard lengths must be a multiple of this many bytes.
pub const SHARD_ALIGN: usize = 64;

fn fail<T>(e: FecError) -> Result<T, FecError> {
    tracing::debug!(error = %e, "gf65536 FEC call refused");
    Err(e)
}

fn codec_err(e: reed_solomon_simd::Error) -> FecError {
    let e = FecError::Codec(e.to_string());
    tracing::warn!(error = %e, "gf65536 codec failure");
    e
}

/// A GF(2¹⁶) Reed-Solomon codec for one (data, parity) shape.
pub struct ReedSolomon {
    data: usize,
    parity: usize,
    backend: Backend,
    work: Arc<Workspace>,
}

/// Encoder and decoder work space, created on first use and reused (reset to each call's shape).
#[derive(Default)]
struct Workspace {
    encoder: Mutex<Option<Encoder>>,
    decoder: Mutex<Option<Decoder>>,
    /// lumen's own decoder (GFNI backend, high-rate shapes).
    #[cfg(target_arch = "x86_64")]
    high: Mutex<Option<decoder::HighDecoder>>,
}

impl ReedSolomon {
    /// A codec for `data_shards` + `parity_shards` (each ≥ 1, sum ≤ 65535, shape supported by the FFT),
    /// on the fastest backend.
    pub fn new(data_shards: usize, parity_shards: usize) -> Result<Self, FecError> {
        Self::with_backend(data_shards, parity_shards, Backend::best())
    }

    /// As [`ReedSolomon::new`] on a given backend (tests and benchmarks compare them).
    pub fn with_backend(data_shards: usize, parity_shards: usize, backend: Backend) -> Result<Self, FecError> {
        Self::with_workspace(data_shards, parity_shards, backend, Arc::default())
    }

    fn with_workspace(
        data_shards: usize,
        parity_shards: usize,
        backend: Backend,
        work: Arc<Workspace>,
    ) -> Result<Self, FecError> {
        if !backend.is_available() {
            return fail(FecError::TierUnavailable("gf65536 gfni512"));
        }
        if data_shards == 0 {
            return fail(FecError::NoDataShards);
        }
        if parity_shards == 0 {
            return fail(FecError::NoParityShards);
        }
        if data_shards + parity_shards > MAX_SHARDS || !ReedSolomonEncoder::supports(data_shards, parity_shards) {
            return fail(FecError::TooManyShards { data: data_shards, parity: parity_shards, max: MAX_SHARDS });
        }
        Ok(Self { data: data_shards, parity: parity_shards, backend, work })
    }

    /// Number of data shards per block.
    pub fn data_shards(&self) -> usize {
        self.data
    }

    /// Number of parity shards per block.
    pub fn parity_shards(&self) -> usize {
        self.parity
    }

    /// The FFT engine this codec runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn check_shards<S: AsRef<[u8]>>(&self, shards: &[S]) -> Result<usize, FecError> {
        let total = self.data + self.parity;
        if shards.len() != total {
            return fail(FecError::ShardCount { expected: total, got: shards.len() });
        }
        let len = shards[0].as_ref().len();
        if len == 0 || len % SHARD_ALIGN != 0 {
            return fail(FecError::ShardLength {
                len,
                reason: "GF(2^16) shards must be a non-zero multiple of 64 bytes",
            });
        }
        if let Some(s) = shards.iter().find(|s| s.as_ref().len() != len) {
            return fail(FecError::ShardLength { len: s.as_ref().len(), reason: "shards differ in length" });
        }
        Ok(len)
    }

    /// Computes the parity shards: `shards[..data]` are read, `shards[data..]` are overwritten.
    pub fn encode<S: AsRef<[u8]> + AsMut<[u8]>>(&self, shards: &mut [S]) -> Result<(), FecError> {
        let len = self.check_shards(shards)?;
        let mut local = None;
        let mut guard = self.work.encoder.try_lock().ok();
        let slot: &mut Option<Encoder> = match guard.as_deref_mut() {
            Some(s) => s,
            None => &mut local,
        };
        let enc = match slot {
            Some(enc) => {
                enc.reset(self.data, self.parity, len).map_err(codec_err)?;
                enc
            }
            None => slot.insert(
                Encoder::new(self.data, self.parity, len, LumenEngine::new(self.backend), None).map_err(codec_err)?,
            ),
        };
        let (data, parity) = shards.split_at_mut(self.data);
        for s in data.iter() {
            enc.add_original_shard(s.as_ref()).map_err(codec_err)?;
        }
        let result = enc.encode().map_err(codec_err)?;
        for (out, rec) in parity.iter_mut().zip(result.recovery_iter()) {
            out.as_mut().copy_from_slice(rec);
        }
        Ok(())
    }

    /// Rebuilds the missing *data* shards in place (`present[i] == false` marks shard `i` missing; missing
    /// parity shards are not rebuilt). [`FecError::Unrecoverable`] when fewer than `data` shards are present.
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
        let missing = present[..self.data].iter().filter(|&&p| !p).count();
        if missing == 0 {
            return Ok(());
        }
        let parity_present = present[self.data..].iter().filter(|&&p| p).count();
        if parity_present < missing {
            return fail(FecError::Unrecoverable { missing, parity: parity_present });
        }
        #[cfg(target_arch = "x86_64")]
        if self.backend == Backend::Gfni512
            && decoder::uses_high_rate(self.data, self.parity)
            && self.parity.next_power_of_two() + self.data > 32
        {
            if let Some(g) = gfni_engine::Gfni::new() {
                let mut local = None;
                let mut guard = self.work.high.try_lock().ok();
                let slot: &mut Option<decoder::HighDecoder> = match guard.as_deref_mut() {
                    Some(s) => s,
                    None => &mut local,
                };
                slot.get_or_insert_with(Default::default).decode(&g, self.data, self.parity, shards, present);
                return Ok(());
            }
        }
        let mut local = None;
        let mut guard = self.work.decoder.try_lock().ok();
        let slot: &mut Option<Decoder> = match guard.as_deref_mut() {
            Some(s) => s,
            None => &mut local,
        };
        let dec = match slot {
            Some(dec) => {
                dec.reset(self.data, self.parity, len).map_err(codec_err)?;
                dec
            }
            None => slot.insert(
                Decoder::new(self.data, self.parity, len, LumenEngine::new(self.backend), None).map_err(codec_err)?,
            ),
        };
        let mut added = 0;
        for (i, s) in shards.iter().enumerate() {
            if !present[i] {
                continue;
            }
            if i < self.data {
                dec.add_original_shard(i, s.as_ref()).map_err(codec_err)?;
            } else {
                // Only as many parity shards as needed: the decoder's work grows with what it is given.
                if added == missing {
                    continue;
                }
                dec.add_recovery_shard(i - self.data, s.as_ref()).map_err(codec_err)?;
                added += 1;
            }
        }
        let result = dec.decode().map_err(codec_err)?;
        for (i, restored) in result.restored_original_iter() {
            shards[i].as_mut().copy_from_slice(restored);
        }
        Ok(())
    }
}

impl std::fmt::Debug for ReedSolomon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("gf65536::ReedSolomon")
            .field("data", &self.data)
            .field("parity", &self.parity)
            .field("backend", &self.backend)
            .finish()
    }
}

/// One codec per (data, parity) shape, built on first use; later `get`s only look it up. All its codecs
/// share one encoder/decoder work space.
#[derive(Debug, Default)]
pub struct CodecCache {
    codecs: HashMap<(usize, usize), ReedSolomon>,
    work: Arc<Workspace>,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Workspace")
    }
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
            Entry::Vacant(v) => {
                Ok(v.insert(ReedSolomon::with_workspace(data, parity, Backend::best(), Arc::clone(&self.work))?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_loss() {
        let (d, p, len) = (100, 20, 128);
        let rs = ReedSolomon::new(d, p).unwrap();
        let mut shards: Vec<Vec<u8>> =
            (0..d + p).map(|s| (0..len).map(|b| if s < d { (s * 31 + b) as u8 } else { 0 }).collect()).collect();
        rs.encode(&mut shards).unwrap();
        let want = shards.clone();
        let mut present = vec![true; d + p];
        for i in (0..d).step_by(5) {
            present[i] = false;
            shards[i].fill(0xAA);
        }
        rs.reconstruct(&mut shards, &present).unwrap();
        assert_eq!(shards, want);
        present[1] = false;
        assert_eq!(rs.reconstruct(&mut shards, &present), Err(FecError::Unrecoverable { missing: 21, parity: 20 }));
    }

    #[test]
    fn cache_codecs_share_one_workspace() {
        let mut cache = CodecCache::new();
        let mut blocks = Vec::new();
        for &(d, p) in &[(10usize, 2usize), (300, 30), (10, 2), (7, 7)] {
            let rs = cache.get(d, p).unwrap();
            let mut shards: Vec<Vec<u8>> = (0..d + p).map(|s| vec![s as u8 ^ 0x5A; 64]).collect();
            rs.encode(&mut shards).unwrap();
            let want = shards.clone();
            let mut present = vec![true; d + p];
            for i in 0..p.min(d) {
                present[i] = false;
                shards[i].fill(0);
            }
            rs.reconstruct(&mut shards, &present).unwrap();
            assert_eq!(shards, want);
            blocks.push(Arc::as_ptr(&rs.work));
        }
        assert!(blocks.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn shape_errors() {
        assert_eq!(ReedSolomon::new(0, 1).unwrap_err(), FecError::NoDataShards);
        assert!(matches!(ReedSolomon::new(60000, 5535), Err(FecError::TooManyShards { .. })));
        assert!(matches!(ReedSolomon::new(65535, 1), Err(FecError::TooManyShards { .. })));
        let rs = ReedSolomon::new(2, 1).unwrap();
        let mut bad = vec![vec![0u8; 63]; 3];
        assert!(matches!(rs.encode(&mut bad), Err(FecError::ShardLength { len: 63, .. })));
    }
}
