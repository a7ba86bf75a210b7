//! A reusable table of shard slices for handing one FEC block to a codec (the packetizers and reassemblers
//! call `CodecCache::get(..)?.encode/reconstruct` on it) at no allocation per frame.

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
