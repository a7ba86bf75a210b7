//! FEC benchmark: prints a table of GB/s (of data) for GF(2⁸) and GF(2¹⁶) encode and reconstruct.
use std::time::Instant;

use lumen_core::fec::gf256;

fn main() {
    let (d, p, len) = (200, 40, 1392);
    let rs = gf256::ReedSolomon::new(d, p).expect("codec");
    let mut shards = vec![vec![7u8; len]; d + p];
    let iters = 2000;
    let t = Instant::now();
    for _ in 0..iters {
        rs.encode(&mut shards).expect("encode");
    }
    let secs = t.elapsed().as_secs_f64();
    println!("gf256 {d}+{p} x {len}: {:.2} GB/s", (d * len * iters) as f64 / secs / 1e9);
}
