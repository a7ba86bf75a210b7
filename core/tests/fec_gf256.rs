//! Property tests of the GF(2⁸) (Moonlight/nanors) codec: random data and random loss up to the parity
//! count recover exactly; more loss gives `Unrecoverable`, never a panic; bad shapes give errors; every
//! kernel tier this CPU has agrees with the scalar tier byte for byte.

use lumen_core::fec::gf256::{CodecCache, ReedSolomon, Tier, MAX_SHARDS};
use lumen_core::fec::FecError;
use proptest::prelude::*;

fn shape() -> impl Strategy<Value = (usize, usize, usize)> {
    (1usize..=200, 1usize..=60, 1usize..=700)
        .prop_filter_map("≤255 shards", |(d, p, len)| (d + p <= MAX_SHARDS).then_some((d, p, len)))
}

fn block(d: usize, p: usize, len: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..d + p)
        .map(|i| {
            (0..len)
                .map(|_| {
                    if i >= d {
                        return 0;
                    }
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Any loss pattern: recovery iff no more data shards are missing than parity shards arrived, and
    /// then the data comes back exactly.
    #[test]
    fn random_loss_recovers_or_reports((d, p, len) in shape(), seed in any::<u64>(), loss in proptest::collection::vec(any::<u16>(), 0..80)) {
        let rs = ReedSolomon::new(d, p).unwrap();
        let mut shards = block(d, p, len, seed);
        rs.encode(&mut shards).unwrap();
        let want = shards.clone();
        let mut present = vec![true; d + p];
        for l in loss {
            let i = l as usize % (d + p);
            present[i] = false;
            shards[i].iter_mut().for_each(|b| *b = b.wrapping_mul(31).wrapping_add(7)); // garbage
        }
        let missing = present[..d].iter().filter(|&&x| !x).count();
        let parity_present = present[d..].iter().filter(|&&x| x).count();
        let r = rs.reconstruct(&mut shards, &present);
        if missing <= parity_present {
            prop_assert_eq!(r, Ok(()));
            prop_assert_eq!(&shards[..d], &want[..d]);
        } else {
            prop_assert_eq!(r, Err(FecError::Unrecoverable { missing, parity: parity_present }));
        }
    }

    /// Losing exactly `min(d, p)` data shards (the worst recoverable case) always recovers.
    #[test]
    fn loss_equal_to_parity_recovers((d, p, len) in shape(), seed in any::<u64>()) {
        let rs = ReedSolomon::new(d, p).unwrap();
        let mut shards = block(d, p, len, seed);
        rs.encode(&mut shards).unwrap();
        let want = shards.clone();
        let lost = d.min(p);
        let mut present = vec![true; d + p];
        let start = (seed as usize) % d;
        for k in 0..lost {
            let i = (start + k * 7) % d;
            if !present[i] { continue; }
            present[i] = false;
            shards[i].fill(0);
        }
        rs.reconstruct(&mut shards, &present).unwrap();
        prop_assert_eq!(shards, want);
    }

    /// Every tier this CPU runs gives the scalar tier's parity and recovery, byte for byte.
    #[test]
    fn tiers_agree_with_scalar((d, p, len) in shape(), seed in any::<u64>()) {
        let mut want = block(d, p, len, seed);
        ReedSolomon::with_tier(d, p, Tier::Scalar).unwrap().encode(&mut want).unwrap();
        for tier in Tier::ALL.into_iter().filter(|t| t.is_available()) {
            let rs = ReedSolomon::with_tier(d, p, tier).unwrap();
            let mut got = block(d, p, len, seed);
            rs.encode(&mut got).unwrap();
            prop_assert_eq!(&got, &want, "tier {:?}", tier);
            let mut present = vec![true; d + p];
            for k in 0..d.min(p) {
                let i = (seed as usize + k * 3) % d;
                present[i] = false;
                got[i].fill(0xA5);
            }
            rs.reconstruct(&mut got, &present).unwrap();
            prop_assert_eq!(&got, &want, "tier {:?} reconstruct", tier);
        }
    }

    /// Shapes: valid iff 1 ≤ d, 1 ≤ p, d + p ≤ 255; never a panic.
    #[test]
    fn shapes_are_checked(d in 0usize..300, p in 0usize..300) {
        let r = ReedSolomon::new(d, p);
        let valid = d >= 1 && p >= 1 && d + p <= MAX_SHARDS;
        prop_assert_eq!(r.is_ok(), valid);
        if let Ok(rs) = r {
            prop_assert_eq!((rs.data_shards(), rs.parity_shards()), (d, p));
        }
        let mut cache = CodecCache::new();
        prop_assert_eq!(cache.get(d, p).is_ok(), valid);
    }

    /// Wrong shard counts, ragged lengths and wrong presence lists are errors, not panics.
    #[test]
    fn bad_buffers_are_errors(d in 1usize..20, p in 1usize..20, n in 0usize..45, len in 0usize..40, ragged in any::<bool>()) {
        let rs = ReedSolomon::new(d, p).unwrap();
        let mut shards: Vec<Vec<u8>> = (0..n).map(|i| vec![1u8; if ragged && i == n / 2 { len + 1 } else { len }]).collect();
        let present = vec![true; n];
        let ok_shape = n == d + p && len > 0 && !(ragged && n > 0);
        prop_assert_eq!(rs.encode(&mut shards).is_ok(), ok_shape);
        prop_assert_eq!(rs.reconstruct(&mut shards, &present).is_ok(), ok_shape);
    }
}

#[test]
fn extreme_shapes_round_trip() {
    for &(d, p) in &[(1usize, 254usize), (254, 1), (128, 127), (127, 128), (200, 55)] {
        let rs = ReedSolomon::new(d, p).unwrap();
        let mut shards = block(d, p, 333, (d * 1000 + p) as u64);
        rs.encode(&mut shards).unwrap();
        let want = shards.clone();
        let mut present = vec![true; d + p];
        for i in 0..d.min(p) {
            present[d - 1 - i] = false;
            shards[d - 1 - i].fill(0);
        }
        rs.reconstruct(&mut shards, &present).unwrap();
        assert_eq!(shards, want, "{d}+{p}");
    }
}

/// Known-answer vector computed by hand from the construction (Cauchy rows 1/(j ⊕ (p + i)) over 0x11D):
/// data shards [1], [2], [3], [4] and 2 parity rows; also checked against the client's own encoder in
/// tests/e2e/test_fec_nanors.py.
#[test]
fn known_answer_4_2() {
    let rs = ReedSolomon::new(4, 2).unwrap();
    let mut shards = vec![vec![1u8], vec![2], vec![3], vec![4], vec![0], vec![0]];
    rs.encode(&mut shards).unwrap();
    // P = [[1/2, 1/3, 1/4, 1/5], [1/3, 1/2, 1/5, 1/4]] = [[142, 244, 71, 167], [244, 142, 167, 71]]
    let inv = |x: u8| -> u8 { (1..=255u8).find(|&y| gfmul(x, y) == 1).unwrap() };
    assert_eq!([inv(2), inv(3), inv(4), inv(5)], [142, 244, 71, 167]);
    let p0 = gfmul(142, 1) ^ gfmul(244, 2) ^ gfmul(71, 3) ^ gfmul(167, 4);
    let p1 = gfmul(244, 1) ^ gfmul(142, 2) ^ gfmul(167, 3) ^ gfmul(71, 4);
    assert_eq!((shards[4][0], shards[5][0]), (p0, p1));
}

fn gfmul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        let carry = a & 0x80 != 0;
        a <<= 1;
        if carry {
            a ^= 0x1D;
        }
        b >>= 1;
    }
    p
}
