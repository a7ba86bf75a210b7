//! A fixed-size pool with a free list: the bookkeeping behind the pitched device-buffer pools (one per
//! resolution and format). Items are created once when the pool is built and handed out by index; an index
//! comes back when its consumer (NVENC, once the frame's bitstream is locked and read) is done with it.
//! Nothing is created or dropped while the pool lives, and acquire/release allocate nothing.

use super::error::{GpuError, GpuResult};

/// A slot handed out by [`SlotPool::acquire`]; give it back with [`SlotPool::release`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a slot that is never released leaks its buffer from the pool"]
pub struct Slot(usize);

impl Slot {
    /// The index of the item in the pool.
    pub fn index(&self) -> usize {
        self.0
    }
}

/// A pool of `T` recycled through a free list.
#[derive(Debug)]
pub struct SlotPool<T> {
    items: Vec<T>,
    free: Vec<usize>,
    in_use: Vec<bool>,
}

impl<T> SlotPool<T> {
    /// Builds a pool of `count` items, creating each with `make(index)` (the only place items are made).
    pub fn new(count: usize, mut make: impl FnMut(usize) -> GpuResult<T>) -> GpuResult<Self> {
        if count == 0 {
            return Err(GpuError::Invalid("a pool needs at least one buffer".into()));
        }
        let mut items = Vec::with_capacity(count);
        for i in 0..count {
            items.push(make(i)?);
        }
        // Lowest index first out: keeps the hot buffers warm in caches/TLBs.
        let free = (0..count).rev().collect();
        Ok(SlotPool { items, free, in_use: vec![false; count] })
    }

    /// Takes a free item, or `PoolExhausted` when all are in flight.
    pub fn acquire(&mut self) -> GpuResult<Slot> {
        match self.free.pop() {
            Some(i) => {
                self.in_use[i] = true;
                Ok(Slot(i))
            }
            None => {
                tracing::warn!(size = self.items.len(), "buffer pool exhausted");
                Err(GpuError::PoolExhausted(self.items.len()))
            }
        }
    }

    /// Returns a slot to the free list.
    pub fn release(&mut self, slot: Slot) -> GpuResult<()> {
        self.release_index(slot.0)
    }

    /// Returns a slot by index (for consumers that carry the index across threads).
    pub fn release_index(&mut self, index: usize) -> GpuResult<()> {
        match self.in_use.get_mut(index) {
            Some(used @ true) => {
                *used = false;
                self.free.push(index);
                Ok(())
            }
            Some(false) => {
                tracing::error!(index, "buffer released twice");
                Err(GpuError::Invalid(format!("buffer {index} released while free")))
            }
            None => {
                tracing::error!(index, "release of an index outside the pool");
                Err(GpuError::Invalid(format!("buffer {index} is not in this pool of {}", self.items.len())))
            }
        }
    }

    /// The item behind a slot.
    pub fn get(&self, slot: &Slot) -> &T {
        &self.items[slot.0]
    }

    /// The item at `index`, in use or not.
    pub fn item(&self, index: usize) -> Option<&T> {
        self.items.get(index)
    }

    /// All items (for registering each with NVENC once).
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// Items currently free.
    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    /// Pool size.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Never true (a pool has at least one item); for clippy's len/is_empty pairing.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
