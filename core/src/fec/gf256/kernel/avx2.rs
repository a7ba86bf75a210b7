//! AVX2 GF(2⁸) kernel: split-nibble `vpshufb` look-ups (`tables::NIB_LO/NIB_HI`), 32 bytes per step,
//! [`G`] output rows accumulated in registers; the sub-32-byte tail goes through the scalar kernel.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::arch::x86_64::*;

use super::super::tables::{NIB_HI, NIB_LO};

/// Output rows produced together.
const G: usize = 4;

/// One column block of [`super::gemm`].
///
/// # Safety
/// As [`super::gemm`]; the CPU must have AVX2.
#[target_feature(enable = "avx2")]
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
            _ => group::<3>(coefs, inputs, outputs, r, off, n),
        }
        let whole = n & !31;
        if whole < n {
            super::scalar::block(coefs, inputs, outputs, off + whole, n - whole);
        }
    }
}

#[inline]
#[target_feature(enable = "avx2")]
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
    let nib = _mm256_set1_epi8(0x0f);
    let mut pos = 0;
    while pos + 32 <= n {
        let mut acc = [_mm256_setzero_si256(); N];
        for (i, &inp) in inputs.iter().enumerate() {
            // SAFETY: `inp` is valid for reads of [off, off + n) and pos + 32 ≤ n.
            let x = unsafe { _mm256_loadu_si256(inp.add(off + pos) as *const __m256i) };
            let lo = _mm256_and_si256(x, nib);
            let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(x), nib);
            for (g, a) in acc.iter_mut().enumerate() {
                let c = crows[g * k + i] as usize;
                // SAFETY: each table row is exactly 16 bytes.
                let (tl, th) = unsafe {
                    (
                        _mm256_broadcastsi128_si256(_mm_loadu_si128(NIB_LO[c].as_ptr() as *const __m128i)),
                        _mm256_broadcastsi128_si256(_mm_loadu_si128(NIB_HI[c].as_ptr() as *const __m128i)),
                    )
                };
                let p = _mm256_xor_si256(_mm256_shuffle_epi8(tl, lo), _mm256_shuffle_epi8(th, hi));
                *a = _mm256_xor_si256(*a, p);
            }
        }
        for (g, a) in acc.iter().enumerate() {
            // SAFETY: `outputs[r + g]` is valid for writes of [off, off + n) and pos + 32 ≤ n.
            unsafe { _mm256_storeu_si256(outputs[r + g].add(off + pos) as *mut __m256i, *a) };
        }
        pos += 32;
    }
}
