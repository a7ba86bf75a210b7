//! AVX2 + GFNI GF(2⁸) kernel for CPUs with GFNI but no AVX-512 (VEX-encoded `vgf2p8affineqb` on 32-byte
//! vectors): like the AVX-512 kernel but 32 bytes per step, [`G`] rows per group, scalar tail.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::arch::x86_64::*;

use super::super::tables::AFFINE;

/// Output rows produced together.
const G: usize = 6;

/// One column block of [`super::gemm`].
///
/// # Safety
/// As [`super::gemm`]; the CPU must have AVX2 and GFNI.
#[target_feature(enable = "avx2,gfni")]
pub unsafe fn block(coefs: &[u8], inputs: &[*const u8], outputs: &[*mut u8], off: usize, n: usize) {
    let rows = outputs.len();
    let mut r = 0;
    // SAFETY: (all calls) forwarded from the caller; each call touches rows r..r+g only.
    unsafe {
        while r + G <= rows {
            group::<G>(coefs, inputs, outputs, r, off, n);
            r += G;
        }
        match rows - r {
            0 => {}
            1 => group::<1>(coefs, inputs, outputs, r, off, n),
            2 => group::<2>(coefs, inputs, outputs, r, off, n),
            3 => group::<3>(coefs, inputs, outputs, r, off, n),
            4 => group::<4>(coefs, inputs, outputs, r, off, n),
            _ => group::<5>(coefs, inputs, outputs, r, off, n),
        }
        let whole = n & !31;
        if whole < n {
            super::scalar::block(coefs, inputs, outputs, off + whole, n - whole);
        }
    }
}

#[inline]
#[target_feature(enable = "avx2,gfni")]
unsafe fn group<const N: usize>(
    coefs: &[u8],
    inputs: &[*const u8],
    outputs: &[*mut u8],
    r: usize,
    off: usize,
    n: usize,
) {
    let k = inputs.len();
    let crows = &coefs[r * k..(r + N) * k];
    let mut pos = 0;
    while pos + 32 <= n {
        let mut acc = [_mm256_setzero_si256(); N];
        for (i, &inp) in inputs.iter().enumerate() {
            // SAFETY: `inp` is valid for reads of [off, off + n) and pos + 32 ≤ n.
            let x = unsafe { _mm256_loadu_si256(inp.add(off + pos) as *const __m256i) };
            for (g, a) in acc.iter_mut().enumerate() {
                let m = _mm256_set1_epi64x(AFFINE[crows[g * k + i] as usize] as i64);
                *a = _mm256_xor_si256(*a, _mm256_gf2p8affine_epi64_epi8::<0>(x, m));
            }
        }
        for (g, a) in acc.iter().enumerate() {
            // SAFETY: `outputs[r + g]` is valid for writes of [off, off + n) and pos + 32 ≤ n.
            unsafe { _mm256_storeu_si256(outputs[r + g].add(off + pos) as *mut __m256i, *a) };
        }
        pos += 32;
    }
}
