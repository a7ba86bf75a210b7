//! The video ring's memory: a memfd the host creates and both processes map once ([`SharedRing`]), laid out
//! and placed by `lumen_core::link::RingPlan` — a header with the host's read position (an atomic `u64`), then
//! the data area. The worker copies each access unit in ([`SharedRing::write`]); the host copies it out
//! into its own buffer ([`SharedRing::read_into`]) before the sender touches it, so nothing the worker does
//! later can change bytes the host is sending.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::os::fd::{AsFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use lumen_core::link::{RingPlan, RING_HEADER_LEN};
use rustix::fs::{fstat, ftruncate, memfd_create, MemfdFlags};
use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};

/// Data area of a session's ring: room for several 4K IDRs.
pub const RING_CAPACITY: usize = 32 << 20;

/// One mapping of a ring.
pub struct SharedRing {
    base: NonNull<u8>,
    total: usize,
    plan: RingPlan,
}

// SAFETY: the mapping is plain shared memory owned by this value; every access goes through the methods
// below, which touch the header only atomically and the data area only in ranges the placement rules give
// to one side at a time (the worker writes beyond the host's read position, the host reads below the
// worker's notices).
unsafe impl Send for SharedRing {}
// SAFETY: as above; `&self` methods are safe to call from several threads.
unsafe impl Sync for SharedRing {}

impl SharedRing {
    /// Creates a ring of `capacity` data bytes (host side); returns it and the memfd to pass to the worker.
    pub fn create(capacity: usize) -> std::io::Result<(Self, OwnedFd)> {
        let fd = memfd_create("lumen-video-ring", MemfdFlags::CLOEXEC)?;
        ftruncate(&fd, (RING_HEADER_LEN + capacity) as u64)?;
        let ring = Self::map(&fd, RING_HEADER_LEN + capacity)?;
        Ok((ring, fd))
    }

    /// Maps the ring the host passed (worker side).
    pub fn open(fd: &OwnedFd) -> std::io::Result<Self> {
        let size = fstat(fd)?.st_size as usize;
        if size <= RING_HEADER_LEN {
            return Err(std::io::Error::other(format!("video ring of {size} bytes is too small")));
        }
        Self::map(fd, size)
    }

    fn map(fd: &OwnedFd, total: usize) -> std::io::Result<Self> {
        // SAFETY: a fresh shared mapping of `total` bytes of the memfd (its size is at least that: set by
        // `ftruncate` or read by `fstat`); no existing memory is affected, and the mapping lives until `Drop`.
        let ptr = unsafe {
            mmap(std::ptr::null_mut(), total, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED, fd.as_fd(), 0)?
        };
        let base = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| std::io::Error::other("mmap returned null"))?;
        Ok(Self { base, total, plan: RingPlan::new(total - RING_HEADER_LEN) })
    }

    /// The placement rules of this ring.
    pub fn plan(&self) -> RingPlan {
        self.plan
    }

    fn read_pos_cell(&self) -> &AtomicU64 {
        // SAFETY: the header is at the start of the mapping, page-aligned (so aligned for a u64), and lives as
        // long as `self`; it is only ever accessed atomically, by both processes.
        unsafe { &*self.base.as_ptr().cast::<AtomicU64>() }
    }

    /// The host's read position.
    pub fn read_pos(&self) -> u64 {
        self.read_pos_cell().load(Ordering::Acquire)
    }

    /// Sets the host's read position (everything before it may be overwritten).
    pub fn set_read_pos(&self, pos: u64) {
        self.read_pos_cell().store(pos, Ordering::Release);
    }

    /// Copies `data` to ring position `start` (worker side; `start` from [`RingPlan::place`]). `false` when
    /// the range is not inside the data area.
    pub fn write(&self, start: u64, data: &[u8]) -> bool {
        let Some(off) = self.plan.offset(start, data.len()) else { return false };
        // SAFETY: `off + data.len()` lies inside the data area (checked by `offset`), which lies inside the
        // mapping; the placement rules keep the host from reading this range until the notice is sent.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.base.as_ptr().add(RING_HEADER_LEN + off), data.len());
        }
        true
    }

    /// Copies `len` bytes at ring position `start` into `out` (host side). `false` when the range is not
    /// inside the data area (a bad notice).
    pub fn read_into(&self, start: u64, len: usize, out: &mut Vec<u8>) -> bool {
        let Some(off) = self.plan.offset(start, len) else { return false };
        out.clear();
        out.reserve(len);
        // SAFETY: the source range lies inside the mapping (checked by `offset`); `out` has room for `len`
        // bytes (reserved above) and is set to that length only after they are written.
        unsafe {
            std::ptr::copy_nonoverlapping(self.base.as_ptr().add(RING_HEADER_LEN + off), out.as_mut_ptr(), len);
            out.set_len(len);
        }
        true
    }
}

impl Drop for SharedRing {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, unmapped once; no reference into it outlives `self`.
        let _ = unsafe { munmap(self.base.as_ptr().cast(), self.total) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_mappings_see_the_same_bytes_and_position() {
        let (host, fd) = SharedRing::create(1 << 20).unwrap();
        let worker = SharedRing::open(&fd).unwrap();
        let data: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
        let start = worker.plan().place(0, worker.read_pos(), data.len()).unwrap();
        assert!(worker.write(start, &data));
        let mut out = Vec::new();
        assert!(host.read_into(start, data.len(), &mut out));
        assert_eq!(out, data);
        host.set_read_pos(start + data.len() as u64);
        assert_eq!(worker.read_pos(), 70_000);
        assert!(!host.read_into((1 << 20) - 10, 20, &mut out), "a notice that wraps is refused");
    }
}
