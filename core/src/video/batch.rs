//! `PacketBatch`: caller-owned, reusable storage for the datagrams of one frame.
//!
//! Datagrams sit back to back at a fixed stride in one contiguous buffer, with a length each, so a
//! sender can hand them to `sendmmsg` or (all lengths equal, as Moonlight video always is) to one
//! UDP GSO send with `segment = stride`. Clearing keeps the capacity: a batch that has carried the
//! largest frame once never allocates again.

/// Datagrams of one frame at a fixed stride.
#[derive(Debug, Default, Clone)]
pub struct PacketBatch {
    buf: Vec<u8>,
    lens: Vec<usize>,
    stride: usize,
}

impl PacketBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `count` datagrams of `stride` bytes.
    pub fn with_capacity(count: usize, stride: usize) -> Self {
        Self { buf: Vec::with_capacity(count * stride), lens: Vec::with_capacity(count), stride }
    }

    /// Drops the datagrams, keeps the memory.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.lens.clear();
    }

    /// Resets the batch to `count` zeroed datagrams of `stride` bytes, each `stride` long.
    pub(crate) fn reset(&mut self, count: usize, stride: usize) {
        self.clear();
        self.stride = stride;
        self.buf.resize(count * stride, 0);
        self.lens.resize(count, stride);
    }

    /// Sets the length of datagram `i` (≤ stride).
    pub(crate) fn set_len(&mut self, i: usize, len: usize) {
        debug_assert!(len <= self.stride);
        self.lens[i] = len;
    }

    /// Mutable view of the whole slot of datagram `i` (`stride` bytes).
    pub(crate) fn slot_mut(&mut self, i: usize) -> &mut [u8] {
        let s = self.stride;
        &mut self.buf[i * s..(i + 1) * s]
    }

    /// The whole storage as mutable slots.
    pub(crate) fn slots_mut(&mut self) -> core::slice::ChunksExactMut<'_, u8> {
        self.buf.chunks_exact_mut(self.stride.max(1))
    }

    /// Number of datagrams.
    pub fn len(&self) -> usize {
        self.lens.len()
    }

    /// True when the batch holds no datagram.
    pub fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// The slot size in bytes.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Datagram `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        let s = self.stride;
        &self.buf[i * s..i * s + self.lens[i]]
    }

    /// All datagrams in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// The lengths of the datagrams.
    pub fn lens(&self) -> &[usize] {
        &self.lens
    }

    /// The contiguous storage, `len() × stride()` bytes; when every length equals the stride this is
    /// exactly the GSO buffer.
    pub fn as_contiguous(&self) -> &[u8] {
        &self.buf
    }

    /// True when every datagram fills its slot (the batch can go out as one GSO send).
    pub fn is_uniform(&self) -> bool {
        self.lens.iter().all(|&l| l == self.stride)
    }

    /// Bytes of storage currently reserved (for tests of steady-state reuse).
    pub fn capacity_bytes(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_and_views() {
        let mut b = PacketBatch::new();
        b.reset(3, 4);
        b.slot_mut(1).copy_from_slice(&[1, 2, 3, 4]);
        b.set_len(2, 2);
        assert_eq!(b.len(), 3);
        assert_eq!(b.get(1), &[1, 2, 3, 4]);
        assert_eq!(b.get(2).len(), 2);
        assert!(!b.is_uniform());
        assert_eq!(b.as_contiguous().len(), 12);
        let cap = b.capacity_bytes();
        b.reset(2, 4);
        assert_eq!(b.capacity_bytes(), cap);
        assert!(b.is_uniform());
        assert_eq!(b.iter().count(), 2);
    }
}
