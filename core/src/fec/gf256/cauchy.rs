//! The nanors coding matrices over GF(2⁸).
//!
//! Parity row `j` (0 ≤ j < parity), data column `i` (0 ≤ i < data) holds `1 / (j ⊕ (parity + i))`: a
//! Cauchy matrix with row points `x_j = j` and column points `y_i = parity + i` (all distinct because
//! `data + parity ≤ 255`, so no entry divides by zero). Parity shard `j` = Σᵢ P[j][i]·data_i.
//!
//! Decoding `W` missing data shards `E` from `W` present parity rows `R` and the known data `K`:
//! `A·d_E = p_R ⊕ P[R][K]·d_K` with `A = P[R][E]`, itself a Cauchy matrix, so
//! `d_E = A⁻¹·p_R ⊕ (A⁻¹·P[R][K])·d_K`. Both products have closed forms (Cauchy inverse and rational
//! interpolation), so the whole decode matrix costs O(W·(data + W)) table look-ups, with no Gaussian elimination.

use super::tables::{EXP, INV, LOG};

/// Fills `out` (parity × data, row-major) with the nanors parity matrix.
pub fn parity_matrix(data: usize, parity: usize, out: &mut [u8]) {
    debug_assert_eq!(out.len(), data * parity);
    for j in 0..parity {
        for i in 0..data {
            out[j * data + i] = INV[(parity + i) ^ j];
        }
    }
}

#[inline]
fn log_sum(a: u8, b: u8) -> u32 {
    // log(a ⊕ b); callers guarantee a ≠ b so the sum is non-zero.
    LOG[(a ^ b) as usize] as u32
}

#[inline]
fn exp_mod(l: u32) -> u8 {
    EXP[(l % 255) as usize]
}

/// Most shards one decode can rebuild (W ≤ min(data, parity) and data + parity ≤ 255).
pub const MAX_MISSING: usize = 127;

/// Builds the decode matrix for rebuilding the data shards `missing` from the parity rows `rows` and the
/// data shards `known`: `out` is `missing.len()` rows of `known.len() + rows.len()` coefficients; row `m`
/// rebuilds `missing[m]` from the known data shards (in `known` order) followed by the parity shards (in
/// `rows` order). `rows.len() == missing.len()`, `known.len() + missing.len() == data`.
pub fn decode_matrix(parity: usize, known: &[u8], missing: &[u8], rows: &[u8], out: &mut [u8]) {
    let w = missing.len();
    debug_assert_eq!(rows.len(), w);
    debug_assert!(w <= MAX_MISSING);
    let cols = known.len() + w;
    debug_assert_eq!(out.len(), w * cols);
    let p = parity as u8;
    let y = |data_index: u8| p.wrapping_add(data_index); // column point of a data shard (< 255)

    // lb[m] = log Π_k (x_k + y_m)        (x_k = rows[k], y_m = y(missing[m]))
    // ld[m] = log Π_{l≠m} (y_m + y_l)
    // la[k] = log Π_m (x_k + y_m)
    // lc[k] = log Π_{l≠k} (x_k + x_l)
    let mut lb = [0u32; MAX_MISSING];
    let mut ld = [0u32; MAX_MISSING];
    let mut la = [0u32; MAX_MISSING];
    let mut lc = [0u32; MAX_MISSING];
    for m in 0..w {
        let ym = y(missing[m]);
        for k in 0..w {
            let s = log_sum(rows[k], ym);
            lb[m] += s;
            la[k] += s;
        }
        for l in 0..w {
            if l != m {
                ld[m] += log_sum(ym, y(missing[l]));
                lc[m] += log_sum(rows[m], rows[l]);
            }
        }
    }
    // Per known data column i (point z = y_i): ly = log Π_l (z + y_l), lx = log X(z) = log Π_k (z + x_k).
    let mut ly = [0u32; 255];
    let mut lx = [0u32; 255];
    for (c, &i) in known.iter().enumerate() {
        let z = y(i);
        for (&e, &r) in missing.iter().zip(rows) {
            ly[c] += log_sum(z, y(e));
            lx[c] += log_sum(z, r);
        }
    }
    for m in 0..w {
        let ym = y(missing[m]);
        let row = &mut out[m * cols..(m + 1) * cols];
        // Known data column i, point z = y_i: Σ_k A⁻¹[m][k] / (x_k + z)
        //   = X(y_m)/Π_{l≠m}(y_m + y_l) · Π_{l≠m}(z + y_l) / X(z),  X(z) = Π_k (z + x_k).
        for (c, &i) in known.iter().enumerate() {
            let z = y(i);
            // log Π_{l≠m}(z + y_l) = log Π_l (z + y_l) − log(z + y_m)
            let num = ly[c] + 255 - log_sum(z, ym);
            row[c] = exp_mod(lb[m] + 255 * 2 * MAX_MISSING as u32 + num - ld[m] - lx[c]);
        }
        // Parity column k: A⁻¹[m][k] = Π_l(x_k + y_l)·Π_l(x_l + y_m) / ((x_k + y_m)·Π_{l≠k}(x_k + x_l)·Π_{l≠m}(y_m + y_l)).
        for k in 0..w {
            let l = la[k] + lb[m] + 255 * 3 * MAX_MISSING as u32 - log_sum(rows[k], ym) - lc[k] - ld[m];
            row[known.len() + k] = exp_mod(l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tables::mul;
    use super::*;

    #[test]
    fn parity_matrix_matches_nanors_formula_spot_values() {
        let mut m = vec![0u8; 4 * 2];
        parity_matrix(4, 2, &mut m);
        // Row 0: 1/(2), 1/(3), 1/(4), 1/(5); row 1: 1/(3), 1/(2), 1/(5), 1/(4).
        let want: Vec<u8> = [2usize, 3, 4, 5, 3, 2, 5, 4].iter().map(|&v| INV[v]).collect();
        assert_eq!(m, want);
    }

    /// The decode matrix applied to the encode matrix must give the identity on the missing columns and
    /// cancel the known columns: that is exactly "decoding recovers the data" for every possible input.
    #[test]
    fn decode_matrix_inverts_for_many_patterns() {
        let shapes = [(1usize, 1usize), (4, 2), (10, 10), (20, 5), (50, 10), (100, 100), (128, 127), (200, 40)];
        let mut seed = 0x1234_5678u32;
        let mut rnd = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as usize % n
        };
        for &(data, parity) in &shapes {
            let mut p = vec![0u8; data * parity];
            parity_matrix(data, parity, &mut p);
            for _ in 0..8 {
                let w = 1 + rnd(parity.min(data));
                // choose w missing data shards and w parity rows
                let mut idx: Vec<u8> = (0..data as u8).collect();
                for i in 0..data {
                    let j = i + rnd(data - i);
                    idx.swap(i, j);
                }
                let mut missing = idx[..w].to_vec();
                missing.sort();
                let mut known = idx[w..].to_vec();
                known.sort();
                let mut r: Vec<u8> = (0..parity as u8).collect();
                for i in 0..parity {
                    let j = i + rnd(parity - i);
                    r.swap(i, j);
                }
                let rows = &r[..w];
                let cols = data;
                let mut d = vec![0u8; w * cols];
                decode_matrix(parity, &known, &missing, rows, &mut d);
                // Express each rebuilt shard as a combination of all data shards: known columns contribute
                // directly, parity column k contributes row P[rows[k]].
                for m in 0..w {
                    let mut comb = vec![0u8; data];
                    for (c, &i) in known.iter().enumerate() {
                        comb[i as usize] ^= d[m * cols + c];
                    }
                    for k in 0..w {
                        let coef = d[m * cols + known.len() + k];
                        let prow = &p[rows[k] as usize * data..(rows[k] as usize + 1) * data];
                        for (c, &pv) in comb.iter_mut().zip(prow) {
                            *c ^= mul(coef, pv);
                        }
                    }
                    for (i, &got) in comb.iter().enumerate() {
                        let want = if i == missing[m] as usize { 1 } else { 0 };
                        assert_eq!(got, want, "shape {data}+{parity} w={w} m={m} i={i}");
                    }
                }
            }
        }
    }
}
