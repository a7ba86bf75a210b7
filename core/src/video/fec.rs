//! Glue between the video framing and the FEC codecs: encode/reconstruct one block through a codec
//! cache, plus a reusable table of shard slices that costs no allocation per frame.

use crate::fec::{gf256, gf65536};

use super::VideoError;

/// A reusable, empty table of shard slices. Between calls it holds no borrow; [`recycle`] turns it into
/// a table of any lifetime without reallocating (in-place collect of an empty vector).
pub(crate) type ShardTable = Vec<&'static mut [u8]>;

/// Empties `v` and re-types its allocation for another lifetime; no allocation, no copy.
// `filter` cannot change the element lifetime, which is the point here.
#[allow(clippy::unnecessary_filter_map, clippy::needless_lifetimes)]
pub(crate) fn recycle<'a, 'b>(mut v: Vec<&'a mut [u8]>) -> Vec<&'b mut [u8]> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// Computes the parity shards of a GF(2⁸) block in place (`shards` = data then parity).
pub(crate) fn encode_block(
    codecs: &mut gf256::CodecCache,
    shards: &mut [&mut [u8]],
    data: usize,
    parity: usize,
) -> Result<(), VideoError> {
    let rs = codecs.get(data, parity)?;
    rs.encode(shards)?;
    Ok(())
}

/// Rebuilds the missing data shards of a GF(2⁸) block in place.
pub(crate) fn reconstruct_block(
    codecs: &mut gf256::CodecCache,
    shards: &mut [&mut [u8]],
    present: &[bool],
    data: usize,
    parity: usize,
) -> Result<(), VideoError> {
    let rs = codecs.get(data, parity)?;
    rs.reconstruct(shards, present)?;
    Ok(())
}

/// Computes the parity shards of a GF(2¹⁶) block in place.
pub(crate) fn encode_block16(
    codecs: &mut gf65536::CodecCache,
    shards: &mut [&mut [u8]],
    data: usize,
    parity: usize,
) -> Result<(), VideoError> {
    let rs = codecs.get(data, parity)?;
    rs.encode(shards)?;
    Ok(())
}

/// Rebuilds the missing data shards of a GF(2¹⁶) block in place.
pub(crate) fn reconstruct_block16(
    codecs: &mut gf65536::CodecCache,
    shards: &mut [&mut [u8]],
    present: &[bool],
    data: usize,
    parity: usize,
) -> Result<(), VideoError> {
    let rs = codecs.get(data, parity)?;
    rs.reconstruct(shards, present)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycle_keeps_the_allocation() {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        let mut t: ShardTable = Vec::with_capacity(4);
        let cap = t.capacity();
        let ptr = t.as_ptr() as usize;
        let mut u = recycle(t);
        u.push(&mut a[..]);
        u.push(&mut b[..]);
        u[1][0] = 7;
        t = recycle(u);
        assert_eq!(t.capacity(), cap);
        assert_eq!(t.as_ptr() as usize, ptr);
        assert_eq!(b[0], 7);
    }
}
