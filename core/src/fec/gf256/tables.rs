//! GF(2⁸) arithmetic tables for the field polynomial x⁸+x⁴+x³+x²+1 (0x11D), the field of nanors and
//! therefore of every Moonlight client; all built at compile time.
//!
//! * `EXP`/`LOG`: powers of the generator 2 (EXP doubled to 512 entries so `EXP[log a + log b]` needs no
//!   reduction); `LOG[0]` is unused.
//! * `INV`: multiplicative inverses (`INV[0] = 0`, never used as a divisor).
//! * `MUL`: the full 256×256 product table (row `c` = multiply-by-`c`), used by the scalar kernel.
//! * `NIB_LO`/`NIB_HI`: per constant `c`, `c·n` and `c·(n<<4)` for every nibble `n` (split-nibble `pshufb`).
//! * `AFFINE`: per constant `c`, the 8×8 bit matrix of "multiply by `c`" in the layout `gf2p8affineqb` wants.

/// The field polynomial, as nanors' generated tables say ("polynomial: 285").
pub const POLY: u16 = 0x11D;

const fn build_exp() -> [u8; 512] {
    let mut exp = [0u8; 512];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        exp[i + 255] = x as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= POLY;
        }
        i += 1;
    }
    exp[510] = exp[0];
    exp[511] = exp[1];
    exp
}

const fn build_log(exp: &[u8; 512]) -> [u8; 256] {
    let mut log = [0u8; 256];
    let mut i = 0;
    while i < 255 {
        log[exp[i] as usize] = i as u8;
        i += 1;
    }
    log
}

pub static EXP: [u8; 512] = EXP_C;
pub static LOG: [u8; 256] = LOG_C;

/// Product of two field elements (log/exp; used off the hot path and to build the other tables).
#[inline]
pub const fn mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        return 0;
    }
    EXP_C[LOG_C[a as usize] as usize + LOG_C[b as usize] as usize]
}

// Compile-time copies so `mul` is usable inside the other `const` builders.
const EXP_C: [u8; 512] = build_exp();
const LOG_C: [u8; 256] = build_log(&EXP_C);

const fn build_inv() -> [u8; 256] {
    let mut inv = [0u8; 256];
    let mut a = 1;
    while a < 256 {
        inv[a] = EXP_C[(255 - LOG_C[a] as usize) % 255];
        a += 1;
    }
    inv
}

const fn build_mul() -> [[u8; 256]; 256] {
    let mut t = [[0u8; 256]; 256];
    let mut a = 0;
    while a < 256 {
        let mut b = 0;
        while b < 256 {
            t[a][b] = mul(a as u8, b as u8);
            b += 1;
        }
        a += 1;
    }
    t
}

const fn build_nib(hi: bool) -> [[u8; 16]; 256] {
    let mut t = [[0u8; 16]; 256];
    let mut c = 0;
    while c < 256 {
        let mut n = 0;
        while n < 16 {
            let v = if hi { (n << 4) as u8 } else { n as u8 };
            t[c][n] = mul(c as u8, v);
            n += 1;
        }
        c += 1;
    }
    t
}

/// Bit matrix of "multiply by c" for `gf2p8affineqb`: output bit `i` of a byte is the parity of
/// `input & matrix.byte[7 - i]`, so byte `7 - i` holds, at bit `k`, bit `i` of `c·2ᵏ`.
const fn build_affine() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut c = 0;
    while c < 256 {
        let mut m: u64 = 0;
        let mut i = 0;
        while i < 8 {
            let mut row: u64 = 0;
            let mut k = 0;
            while k < 8 {
                let col = mul(c as u8, 1u8 << k);
                if (col >> i) & 1 != 0 {
                    row |= 1 << k;
                }
                k += 1;
            }
            m |= row << (8 * (7 - i));
            i += 1;
        }
        t[c] = m;
        c += 1;
    }
    t
}

pub static INV: [u8; 256] = build_inv();
pub static MUL: [[u8; 256]; 256] = build_mul();
pub static NIB_LO: [[u8; 16]; 256] = build_nib(false);
pub static NIB_HI: [[u8; 16]; 256] = build_nib(true);
pub static AFFINE: [u64; 256] = build_affine();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_exp_match_nanors_tables() {
        // First entries of nanors' generated GF2_8_LOG / GF2_8_EXP (polynomial 285).
        assert_eq!(&LOG[1..9], &[0, 1, 25, 2, 50, 26, 198, 3]);
        assert_eq!(&EXP[..16], &[1, 2, 4, 8, 16, 32, 64, 128, 29, 58, 116, 232, 205, 135, 19, 38]);
    }

    #[test]
    fn inverse_and_mul_agree() {
        for a in 1..=255u8 {
            assert_eq!(mul(a, INV[a as usize]), 1, "a={a}");
            for b in 0..=255u8 {
                assert_eq!(MUL[a as usize][b as usize], mul(a, b));
            }
        }
    }

    #[test]
    fn mul_is_carryless_mod_poly() {
        fn slow(mut a: u8, mut b: u8) -> u8 {
            let mut p = 0u8;
            while b != 0 {
                if b & 1 != 0 {
                    p ^= a;
                }
                let carry = a & 0x80 != 0;
                a <<= 1;
                if carry {
                    a ^= (POLY & 0xFF) as u8;
                }
                b >>= 1;
            }
            p
        }
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mul(a, b), slow(a, b));
            }
        }
    }

    #[test]
    fn nibble_and_affine_tables_multiply() {
        fn affine(m: u64, x: u8) -> u8 {
            let mut out = 0u8;
            for i in 0..8 {
                let row = (m >> (8 * (7 - i))) as u8;
                out |= (((row & x).count_ones() & 1) as u8) << i;
            }
            out
        }
        for c in 0..=255usize {
            for x in 0..=255u8 {
                let want = MUL[c][x as usize];
                assert_eq!(NIB_LO[c][(x & 15) as usize] ^ NIB_HI[c][(x >> 4) as usize], want);
                assert_eq!(affine(AFFINE[c], x), want);
            }
        }
    }
}
