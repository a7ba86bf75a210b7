//! Portable GF(2⁸) kernel: one product-table row per coefficient, one byte at a time.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use super::super::tables::MUL;

/// One column block `[off, off + n)` of [`super::gemm`].
///
/// # Safety
/// As [`super::gemm`].
pub unsafe fn block(coefs: &[u8], inputs: &[*const u8], outputs: &[*mut u8], off: usize, n: usize) {
    let k = inputs.len();
    for (r, &out) in outputs.iter().enumerate() {
        // SAFETY: the caller guarantees `out` is valid for writes of [off, off + n) and overlaps no input.
        let out = unsafe { std::slice::from_raw_parts_mut(out.add(off), n) };
        out.fill(0);
        for (i, &inp) in inputs.iter().enumerate() {
            let row = &MUL[coefs[r * k + i] as usize];
            // SAFETY: the caller guarantees `inp` is valid for reads of [off, off + n).
            let inp = unsafe { std::slice::from_raw_parts(inp.add(off), n) };
            for (o, &x) in out.iter_mut().zip(inp) {
                *o ^= row[x as usize];
            }
        }
    }
}
