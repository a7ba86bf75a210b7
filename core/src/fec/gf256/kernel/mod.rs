//! The GF(2⁸) matrix-times-shards kernels (`out_r = Σ_i coef[r][i] · in_i`), one per CPU tier, chosen at
//! run time.
//!
//! Every tier walks the shard length in cache-sized column blocks and, inside a block, produces a group of
//! output rows at once while each input vector is loaded a single time per group, so inputs stay in L1 and
//! each output byte is written once. Tiers:
//! * [`Tier::Gfni512`]: AVX-512BW + GFNI, `vgf2p8affineqb` multiplies 64 bytes by a constant in one
//!   instruction (the constant's 8×8 bit matrix from `tables::AFFINE`); masked tail, no scalar remainder.
//! * [`Tier::Gfni256`]: AVX2 + GFNI (CPUs with GFNI but no AVX-512), 32 bytes per affine op.
//! * [`Tier::Avx2`]: split-nibble `vpshufb` tables (`tables::NIB_LO/NIB_HI`), 32 bytes per step.
//! * [`Tier::Scalar`]: the 64 KiB product table, one byte at a time; always available.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod gfni;
#[cfg(target_arch = "x86_64")]
mod gfni256;
mod scalar;

use std::sync::OnceLock;

/// An implementation tier of the GF(2⁸) kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Portable table look-ups.
    Scalar,
    /// AVX2 split-nibble shuffles.
    Avx2,
    /// AVX2 with GFNI affine multiplies (no AVX-512).
    Gfni256,
    /// AVX-512BW with GFNI affine multiplies.
    Gfni512,
}

impl Tier {
    /// Whether this CPU can run the tier.
    pub fn is_available(self) -> bool {
        match self {
            Tier::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Tier::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Tier::Gfni256 => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("gfni"),
            #[cfg(target_arch = "x86_64")]
            Tier::Gfni512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("gfni")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Every tier, fastest first.
    pub const ALL: [Tier; 4] = [Tier::Gfni512, Tier::Gfni256, Tier::Avx2, Tier::Scalar];

    /// The fastest tier this CPU runs (detected once).
    pub fn best() -> Tier {
        static BEST: OnceLock<Tier> = OnceLock::new();
        *BEST.get_or_init(|| Tier::ALL.into_iter().find(|t| t.is_available()).unwrap_or(Tier::Scalar))
    }
}

/// Bytes of shard length processed per column block (inputs of one block stay cache-resident while every
/// output row group is produced).
pub const BLOCK: usize = 4096;

/// `outputs[r][..len] = Σ_i coefs[r * inputs.len() + i] · inputs[i][..len]`.
///
/// # Safety
/// Every input pointer must be valid for `len` reads and every output pointer for `len` writes; no output
/// may overlap another output or any input; `coefs.len() == outputs.len() * inputs.len()`; `tier` must be
/// available on this CPU.
pub unsafe fn gemm(tier: Tier, coefs: &[u8], inputs: &[*const u8], outputs: &[*mut u8], len: usize) {
    debug_assert_eq!(coefs.len(), inputs.len() * outputs.len());
    debug_assert!(tier.is_available());
    let mut off = 0;
    while off < len {
        let n = BLOCK.min(len - off);
        // SAFETY: forwarded from the caller; [off, off + n) lies inside every shard.
        unsafe {
            match tier {
                Tier::Scalar => scalar::block(coefs, inputs, outputs, off, n),
                #[cfg(target_arch = "x86_64")]
                Tier::Avx2 => avx2::block(coefs, inputs, outputs, off, n),
                #[cfg(target_arch = "x86_64")]
                Tier::Gfni256 => gfni256::block(coefs, inputs, outputs, off, n),
                #[cfg(target_arch = "x86_64")]
                Tier::Gfni512 => gfni::block(coefs, inputs, outputs, off, n),
                #[cfg(not(target_arch = "x86_64"))]
                _ => scalar::block(coefs, inputs, outputs, off, n),
            }
        }
        off += n;
    }
}
