//! Where access units go in the video ring: a shared memory area (a memfd both processes map once) that the
//! worker writes each unit's bytes into and the host copies them out of, told by a small [`RingUnit`]
//! notice on the video link. Positions only grow (byte counts since the start); a unit never wraps (it
//! starts over at the beginning when it would not fit before the end) and never overwrites bytes the host
//! has not consumed (`read_pos`, kept by the host in the ring's header). This file is the arithmetic only.

/// Bytes at the start of the shared area before the data: the host's read position (a `u64`) and padding.
pub const RING_HEADER_LEN: usize = 64;

/// The data area's size and the placement rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingPlan {
    cap: u64,
}

impl RingPlan {
    /// A data area of `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self { cap: cap as u64 }
    }

    /// The data area's size.
    pub fn capacity(&self) -> usize {
        self.cap as usize
    }

    /// The largest unit the ring takes (half of it, so one unit in flight never blocks the next).
    pub fn max_unit(&self) -> usize {
        (self.cap / 2) as usize
    }

    /// Where a unit of `len` bytes starts, given the writer's and the reader's positions; `None` when it does
    /// not fit (too large, or the reader has not consumed enough).
    pub fn place(&self, write_pos: u64, read_pos: u64, len: usize) -> Option<u64> {
        let len = len as u64;
        if len > self.cap / 2 || read_pos > write_pos {
            return None;
        }
        let off = write_pos % self.cap;
        let start = if off + len > self.cap { write_pos.checked_add(self.cap - off)? } else { write_pos };
        let end = start.checked_add(len)?;
        (end - read_pos <= self.cap).then_some(start)
    }

    /// The offset in the data area of position `pos`, when a unit of `len` bytes there lies inside it
    /// without wrapping (the host checks every notice before reading).
    pub fn offset(&self, pos: u64, len: usize) -> Option<usize> {
        let off = pos % self.cap;
        (len as u64 <= self.cap && off + len as u64 <= self.cap).then_some(off as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_never_wrap_nor_overwrite_unread_bytes() {
        let r = RingPlan::new(1000);
        assert_eq!(r.place(0, 0, 400), Some(0));
        assert_eq!(r.place(400, 0, 400), Some(400));
        // 800 + 400 would wrap: it starts over at 1000, but the reader is still at 0.
        assert_eq!(r.place(800, 0, 400), None);
        assert_eq!(r.place(800, 400, 400), Some(1000));
        assert_eq!(r.offset(1000, 400), Some(0));
        // Too large for the ring.
        assert_eq!(r.place(0, 0, 501), None);
        // A reader ahead of the writer is a lie.
        assert_eq!(r.place(10, 20, 1), None);
        assert_eq!(r.offset(900, 200), None);
        assert_eq!(r.offset(0, 0), Some(0));
        // Positions near the end of u64 never overflow (a fuzzed notice found it).
        assert_eq!(r.place(u64::MAX - 10, u64::MAX - 20, 400), None);
        assert_eq!(r.place(u64::MAX - 500, u64::MAX - 500, 400), Some(u64::MAX - 500));
        assert_eq!(r.place(u64::MAX - 100, u64::MAX - 100, 400), None, "its end would pass u64::MAX");
        assert_eq!(r.offset(u64::MAX, 400), None, "u64::MAX % 1000 = 615: 400 bytes would wrap");
    }

    #[test]
    fn notices_round_trip_and_bad_ones_are_errors() {
        use crate::link::{AuMeta, RingUnit, RING_UNIT_LEN};
        let u = RingUnit {
            meta: AuMeta { idr: true, frame_no: 7, ready_ns: 1 << 50, sent_ns: (1 << 50) + 9, encode_us: 812 },
            start: (1 << 40) + 3,
            len: 40_960,
        };
        let b = u.encode();
        assert_eq!(RingUnit::decode(&b), Ok(u));
        assert!(RingUnit::decode(&b[..RING_UNIT_LEN - 1]).is_err());
        let mut bad = b;
        bad[0] = 2;
        assert!(RingUnit::decode(&bad).is_err());
    }

    #[test]
    fn a_full_cycle_reuses_the_area() {
        let r = RingPlan::new(1 << 20);
        let (mut w, mut rd) = (0u64, 0u64);
        for k in 0..10_000u64 {
            let len = (k * 7919 % 300_000) as usize;
            let start = r.place(w, rd, len).expect("fits once the previous unit is read");
            let off = r.offset(start, len).expect("inside the area");
            assert!(off + len <= r.capacity());
            w = start + len as u64;
            rd = w;
        }
    }
}
