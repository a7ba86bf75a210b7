//! AVX-512BW + GFNI GF(2⁸) kernel: `vgf2p8affineqb` multiplies 64 bytes by a constant (its 8×8 bit matrix
//! broadcast from `tables::AFFINE`) in one instruction; groups of [`G`] output rows accumulate in
//! registers while each input vector is loaded once; inputs go in pairs so two products and the
//! accumulator meet in one `vpternlogq`; the tail uses masked loads and stores.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::arch::x86_64::*;

use super::super::tables::AFFINE;

/// Output rows produced together (accumulators kept in zmm registers).
const G: usize = 8;

/// One column block of [`super::gemm`].
///
/// # Safety
/// As [`super::gemm`]; the CPU must have AVX-512F, AVX-512BW and GFNI.
#[target_feature(enable = "avx512f,avx512bw,gfni")]
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
            5 => group::<5>(coefs, inputs, outputs, r, off, n),
            6 => group::<6>(coefs, inputs, outputs, r, off, n),
            _ => group::<7>(coefs, inputs, outputs, r, off, n),
        }
    }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,gfni")]
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
    while pos < n {
        let rem = n - pos;
        let mask: __mmask64 = if rem >= 64 { !0 } else { (1u64 << rem) - 1 };
        let mut acc = [_mm512_setzero_si512(); N];
        let mut i = 0;
        // Two inputs per step: their products meet the accumulator in one three-way XOR (vpternlogq).
        while i + 1 < k {
            // SAFETY: both inputs are valid for reads of [off, off + n); the mask limits the loads to it.
            let (x, y) = unsafe {
                (
                    _mm512_maskz_loadu_epi8(mask, inputs[i].add(off + pos) as *const i8),
                    _mm512_maskz_loadu_epi8(mask, inputs[i + 1].add(off + pos) as *const i8),
                )
            };
            for (g, a) in acc.iter_mut().enumerate() {
                let mx = _mm512_set1_epi64(AFFINE[crows[g * k + i] as usize] as i64);
                let my = _mm512_set1_epi64(AFFINE[crows[g * k + i + 1] as usize] as i64);
                let px = _mm512_gf2p8affine_epi64_epi8::<0>(x, mx);
                let py = _mm512_gf2p8affine_epi64_epi8::<0>(y, my);
                *a = _mm512_ternarylogic_epi64::<0x96>(*a, px, py);
            }
            i += 2;
        }
        if i < k {
            // SAFETY: as above.
            let x = unsafe { _mm512_maskz_loadu_epi8(mask, inputs[i].add(off + pos) as *const i8) };
            for (g, a) in acc.iter_mut().enumerate() {
                let m = _mm512_set1_epi64(AFFINE[crows[g * k + i] as usize] as i64);
                *a = _mm512_xor_si512(*a, _mm512_gf2p8affine_epi64_epi8::<0>(x, m));
            }
        }
        for (g, a) in acc.iter().enumerate() {
            // SAFETY: `outputs[r + g]` is valid for writes of [off, off + n); the mask limits the store to it.
            unsafe { _mm512_mask_storeu_epi8(outputs[r + g].add(off + pos) as *mut i8, mask, *a) };
        }
        pos += 64;
    }
}
