//! The audio FEC code: GF(2⁸) (polynomial 0x11D, as nanors) Reed-Solomon with 4 data + 2 parity shards
//! and the fixed parity matrix every Moonlight client patches into its audio decoder (taken from OpenFEC;
//! it differs from nanors' Cauchy matrix). Small enough to do with log/exp tables.

/// Data shards per audio FEC block.
pub const DATA: usize = 4;
/// Parity shards per audio FEC block.
pub const PARITY: usize = 2;
/// The parity matrix, row-major 2 × 4 (parity j = Σᵢ P[j][i] · dataᵢ).
pub const MATRIX: [[u8; DATA]; PARITY] = [[0x77, 0x40, 0x38, 0x0e], [0xc7, 0xa7, 0x0d, 0x6c]];

const fn tables() -> ([u8; 512], [u8; 256]) {
    let mut exp = [0u8; 512];
    let mut log = [0u8; 256];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        log[x as usize] = i as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= 0x11D;
        }
        i += 1;
    }
    while i < 512 {
        exp[i] = exp[i - 255];
        i += 1;
    }
    (exp, log)
}

const TABLES: ([u8; 512], [u8; 256]) = tables();
static EXP: [u8; 512] = TABLES.0;
static LOG: [u8; 256] = TABLES.1;

/// Product in GF(2⁸).
#[inline]
pub fn mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        0
    } else {
        EXP[LOG[a as usize] as usize + LOG[b as usize] as usize]
    }
}

fn inv(a: u8) -> u8 {
    debug_assert!(a != 0);
    EXP[255 - LOG[a as usize] as usize]
}

/// `dst ^= c · src`.
fn axpy(dst: &mut [u8], src: &[u8], c: u8) {
    if c == 0 {
        return;
    }
    let (lc, row) = (LOG[c as usize] as usize, &EXP[..]);
    for (d, &s) in dst.iter_mut().zip(src) {
        if s != 0 {
            *d ^= row[lc + LOG[s as usize] as usize];
        }
    }
}

/// Computes the two parity shards of four equal-length data shards.
pub fn encode(data: [&[u8]; DATA], parity: [&mut [u8]; PARITY]) {
    for (j, p) in parity.into_iter().enumerate() {
        p.fill(0);
        for (i, d) in data.iter().enumerate() {
            axpy(p, d, MATRIX[j][i]);
        }
    }
}

/// The generator row of shard `s` (0..4 data, 4..6 parity).
fn row(s: usize) -> [u8; DATA] {
    if s < DATA {
        let mut r = [0u8; DATA];
        r[s] = 1;
        r
    } else {
        MATRIX[s - DATA]
    }
}

/// Rebuilds the missing data shards in place. `shards` holds the 6 shards (all `len` bytes); `present[s]`
/// says which arrived. Returns false when fewer than 4 shards are present.
pub fn reconstruct(shards: &mut [&mut [u8]; DATA + PARITY], present: [bool; DATA + PARITY]) -> bool {
    let missing: usize = (0..DATA).filter(|&i| !present[i]).count();
    if missing == 0 {
        return true;
    }
    // Pick 4 present shards, data first; solve M · data = picked.
    let mut picked = [0usize; DATA];
    let mut n = 0;
    for (s, &p) in present.iter().enumerate() {
        if p && n < DATA {
            picked[n] = s;
            n += 1;
        }
    }
    if n < DATA {
        return false;
    }
    let mut m = [[0u8; DATA]; DATA];
    for (r, &s) in picked.iter().enumerate() {
        m[r] = row(s);
    }
    // Gauss-Jordan inverse of m.
    let mut invm = [[0u8; DATA]; DATA];
    for (i, r) in invm.iter_mut().enumerate() {
        r[i] = 1;
    }
    for col in 0..DATA {
        let Some(piv) = (col..DATA).find(|&r| m[r][col] != 0) else {
            return false;
        };
        m.swap(col, piv);
        invm.swap(col, piv);
        let f = inv(m[col][col]);
        for k in 0..DATA {
            m[col][k] = mul(m[col][k], f);
            invm[col][k] = mul(invm[col][k], f);
        }
        for r in 0..DATA {
            if r != col && m[r][col] != 0 {
                let g = m[r][col];
                for k in 0..DATA {
                    m[r][k] ^= mul(g, m[col][k]);
                    invm[r][k] ^= mul(g, invm[col][k]);
                }
            }
        }
    }
    // data_i = Σ_r invm[i][r] · picked_r, only for the missing i. The picked shards are never missing
    // ones, so read them before writing: split the borrows by index.
    for i in 0..DATA {
        if present[i] {
            continue;
        }
        let len = shards[i].len();
        shards[i].fill(0);
        for r in 0..DATA {
            let c = invm[i][r];
            let s = picked[r];
            if c == 0 {
                continue;
            }
            let (dst, src) = if i < s {
                let (a, b) = shards.split_at_mut(s);
                (&mut *a[i], &*b[0])
            } else {
                let (a, b) = shards.split_at_mut(i);
                (&mut *b[0], &*a[s])
            };
            axpy(&mut dst[..len], src, c);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_basics() {
        assert_eq!(mul(2, 0x80), 0x1D);
        for a in 1..=255u8 {
            assert_eq!(mul(a, inv(a)), 1);
        }
    }

    #[test]
    fn every_loss_of_two_recovers() {
        let len = 37;
        let orig: Vec<Vec<u8>> = (0..DATA).map(|i| (0..len).map(|b| (i * 73 + b * 29 + 5) as u8).collect()).collect();
        let mut p0 = vec![0u8; len];
        let mut p1 = vec![0u8; len];
        encode([&orig[0], &orig[1], &orig[2], &orig[3]], [&mut p0, &mut p1]);
        for a in 0..6 {
            for b in a..6 {
                let mut present = [true; 6];
                present[a] = false;
                present[b] = false;
                let mut bufs: Vec<Vec<u8>> = orig.iter().cloned().chain([p0.clone(), p1.clone()]).collect();
                bufs[a].fill(0xEE);
                bufs[b].fill(0xEE);
                let [s0, s1, s2, s3, s4, s5] = &mut bufs[..] else { panic!() };
                let mut shards = [&mut s0[..], &mut s1[..], &mut s2[..], &mut s3[..], &mut s4[..], &mut s5[..]];
                assert!(reconstruct(&mut shards, present));
                for i in 0..DATA {
                    assert_eq!(&*shards[i], &orig[i][..], "lost {a},{b}");
                }
            }
        }
        let mut present = [true; 6];
        present[0] = false;
        present[1] = false;
        present[4] = false;
        let mut bufs: Vec<Vec<u8>> = (0..6).map(|_| vec![0u8; len]).collect();
        let [s0, s1, s2, s3, s4, s5] = &mut bufs[..] else { panic!() };
        let mut shards = [&mut s0[..], &mut s1[..], &mut s2[..], &mut s3[..], &mut s4[..], &mut s5[..]];
        assert!(!reconstruct(&mut shards, present));
    }
}
