//! Property tests of the GF(2¹⁶) Leopard-family codec: random data and random loss up to the parity count
//! recover exactly; more loss gives `Unrecoverable`; bad shapes and lengths give errors, never panics.

use lumen_core::fec::gf65536::{Backend, CodecCache, ReedSolomon, SHARD_ALIGN};
use lumen_core::fec::FecError;
use proptest::prelude::*;

fn block(d: usize, p: usize, len: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..d + p)
        .map(|i| {
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if i < d {
                        x as u8
                    } else {
                        0
                    }
                })
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_loss_recovers_or_reports(d in 1usize..400, p in 1usize..120, blocks in 1usize..4, seed in any::<u64>(),
                                       loss in proptest::collection::vec(any::<u16>(), 0..160)) {
        let len = blocks * SHARD_ALIGN;
        let rs = ReedSolomon::new(d, p).unwrap();
        let mut shards = block(d, p, len, seed);
        rs.encode(&mut shards).unwrap();
        let want = shards.clone();
        let mut present = vec![true; d + p];
        for l in loss {
            let i = l as usize % (d + p);
            present[i] = false;
            shards[i].fill(0x3C);
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

    /// lumen's GFNI engine and the crate's own engine give the same parity and both recover.
    #[test]
    fn backends_agree(d in 1usize..600, p in 1usize..200, blocks in 1usize..3, seed in any::<u64>()) {
        let len = blocks * SHARD_ALIGN;
        let mut want = block(d, p, len, seed);
        ReedSolomon::with_backend(d, p, Backend::Crate).unwrap().encode(&mut want).unwrap();
        for backend in [Backend::Gfni512, Backend::Crate].into_iter().filter(|b| b.is_available()) {
            let rs = ReedSolomon::with_backend(d, p, backend).unwrap();
            prop_assert_eq!(rs.backend(), backend);
            let mut got = block(d, p, len, seed);
            rs.encode(&mut got).unwrap();
            prop_assert_eq!(&got, &want, "{:?}", backend);
            let mut present = vec![true; d + p];
            for k in 0..d.min(p) {
                let i = (seed as usize).wrapping_add(k * 13) % d;
                present[i] = false;
                got[i].fill(0x77);
            }
            rs.reconstruct(&mut got, &present).unwrap();
            prop_assert_eq!(&got, &want, "{:?} reconstruct", backend);
        }
    }

    #[test]
    fn shapes_and_lengths_are_checked(d in 0usize..70000, p in 0usize..70000, len in 0usize..300) {
        let r = ReedSolomon::new(d, p);
        if d == 0 || p == 0 || d + p > 65535 {
            prop_assert!(r.is_err());
        }
        if let Ok(rs) = r {
            if d + p <= 300 {
                let mut shards = vec![vec![0u8; len]; d + p];
                prop_assert_eq!(rs.encode(&mut shards).is_ok(), len > 0 && len % SHARD_ALIGN == 0);
            }
        }
    }
}

#[test]
fn large_block_recovers_parity_count_losses() {
    let (d, p, len) = (4000, 400, 128);
    let mut cache = CodecCache::new();
    let rs = cache.get(d, p).unwrap();
    let mut shards = block(d, p, len, 99);
    rs.encode(&mut shards).unwrap();
    let want = shards.clone();
    let mut present = vec![true; d + p];
    for i in (0..d).step_by(10) {
        present[i] = false;
        shards[i].fill(0);
    }
    rs.reconstruct(&mut shards, &present).unwrap();
    assert_eq!(shards, want);
}

/// Shapes past 8192 positions (several columns per sweep, an odd column left over) with random loss of
/// as many data shards as there are parity shards, and a loss mixing data and parity shards.
#[test]
fn wide_blocks_recover_random_losses() {
    for &(d, p, len) in &[(9000usize, 500usize, 192usize), (32768, 3277, 192)] {
        let rs = ReedSolomon::new(d, p).unwrap();
        let mut shards = block(d, p, len, d as u64);
        rs.encode(&mut shards).unwrap();
        let want = shards.clone();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |m: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % m as u64) as usize
        };
        for parity_lost in [0, p / 3] {
            let mut present = vec![true; d + p];
            let mut lost = 0;
            while lost < p - parity_lost {
                let i = next(d);
                if present[i] {
                    present[i] = false;
                    shards[i].fill(0x5A);
                    lost += 1;
                }
            }
            for j in 0..parity_lost {
                present[d + p - 1 - 2 * j] = false;
            }
            rs.reconstruct(&mut shards, &present).unwrap();
            assert!(shards[..d] == want[..d], "{d}+{p}, {parity_lost} parity lost");
        }
    }
}

#[test]
fn codec_reuse_across_lengths() {
    let rs = ReedSolomon::new(10, 4).unwrap();
    for len in [64, 640, 128, 64 * 33] {
        let mut shards = block(10, 4, len, len as u64);
        rs.encode(&mut shards).unwrap();
        let want = shards.clone();
        let mut present = vec![true; 14];
        for i in [0, 3, 5, 9] {
            present[i] = false;
            shards[i].fill(1);
        }
        rs.reconstruct(&mut shards, &present).unwrap();
        assert_eq!(shards, want, "len {len}");
    }
}

/// One codec shared by several threads: calls that find the work space busy build a temporary one
/// instead of waiting, and every thread still gets exact results.
#[test]
fn shared_codec_across_threads() {
    let (d, p, len) = (300, 60, 128);
    let rs = ReedSolomon::new(d, p).unwrap();
    let mut want = block(d, p, len, 5);
    rs.encode(&mut want).unwrap();
    std::thread::scope(|scope| {
        for t in 0..4usize {
            let (rs, want) = (&rs, &want);
            scope.spawn(move || {
                for round in 0..20usize {
                    let mut shards = block(d, p, len, 5);
                    rs.encode(&mut shards).unwrap();
                    assert_eq!(&shards, want, "thread {t} round {round} encode");
                    let mut present = vec![true; d + p];
                    for k in 0..p {
                        let i = (t * 31 + round * 17 + k * 5) % d;
                        present[i] = false;
                        shards[i].fill(0);
                    }
                    rs.reconstruct(&mut shards, &present).unwrap();
                    assert_eq!(&shards, want, "thread {t} round {round} reconstruct");
                }
            });
        }
    });
}
