//! C entry points for FEC in both fields: `lumen_fec_encode` and `lumen_fec_reconstruct`.
//!
//! Both return `LUMEN_FEC_OK` (0) or one of the negative `LUMEN_FEC_ERR_*` codes; they never unwind into C
//! (`catch_unwind` at the boundary) and check every pointer and count before use. Codecs come from a
//! per-thread cache and the shard lists are kept in per-thread scratch vectors, so repeated calls with a
//! known shape allocate nothing.
//!
//! Caller contract (cannot be checked): `shards` holds `data_shards + parity_shards` pointers to distinct,
//! non-overlapping buffers of `shard_len` bytes each, writable where this call writes (parity for encode,
//! missing data shards for reconstruct); `present` holds `data_shards + parity_shards` bytes.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::fec::{gf256, gf65536, FecError};

/// Success.
pub const LUMEN_FEC_OK: i32 = 0;
/// `shards`, one of its entries, or `present` is a null pointer.
pub const LUMEN_FEC_ERR_NULL: i32 = -1;
/// `field_bits` is neither 8 nor 16.
pub const LUMEN_FEC_ERR_FIELD: i32 = -2;
/// Zero data or parity shards, or more shards than the field allows (255 for GF(2⁸), 65535 for GF(2¹⁶)).
pub const LUMEN_FEC_ERR_SHARD_COUNT: i32 = -3;
/// `shard_len` is zero, or not a multiple of 64 for GF(2¹⁶).
pub const LUMEN_FEC_ERR_SHARD_LENGTH: i32 = -4;
/// More data shards are missing than parity shards are present.
pub const LUMEN_FEC_ERR_UNRECOVERABLE: i32 = -5;
/// An internal failure (a caught panic or a codec error); the shards may be partly written.
pub const LUMEN_FEC_ERR_INTERNAL: i32 = -6;

/// A caller-owned shard seen through a raw pointer (the C caller guarantees validity and disjointness).
struct RawShard {
    ptr: *mut u8,
    len: usize,
}

impl AsRef<[u8]> for RawShard {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `ptr` is non-null (checked when the shard list was built) and, by the C caller's
        // contract, valid for `len` bytes for the duration of the FEC call that owns this `RawShard`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl AsMut<[u8]> for RawShard {
    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_ref`; the buffers of distinct shards do not overlap (caller contract), so this
        // is the only live reference to these bytes.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

#[derive(Default)]
struct Scratch {
    shards: Vec<RawShard>,
    present: Vec<bool>,
    gf256: gf256::CodecCache,
    gf65536: gf65536::CodecCache,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn code(e: &FecError) -> i32 {
    match e {
        FecError::TooManyShards { .. }
        | FecError::NoDataShards
        | FecError::NoParityShards
        | FecError::ShardCount { .. } => LUMEN_FEC_ERR_SHARD_COUNT,
        FecError::ShardLength { .. } => LUMEN_FEC_ERR_SHARD_LENGTH,
        FecError::Unrecoverable { .. } => LUMEN_FEC_ERR_UNRECOVERABLE,
        FecError::TierUnavailable(_) | FecError::Codec(_) => LUMEN_FEC_ERR_INTERNAL,
    }
}

/// Validates the arguments and fills `scratch.shards` (and `scratch.present` when given).
///
/// # Safety
/// `shards` (if non-null) must point to `data + parity` readable pointers; `present` (if non-null) to
/// `data + parity` readable bytes.
unsafe fn prepare(
    scratch: &mut Scratch,
    field_bits: u32,
    data: u32,
    parity: u32,
    shard_len: usize,
    shards: *const *mut u8,
    present: Option<*const u8>,
) -> Result<(), i32> {
    let max = match field_bits {
        8 => gf256::MAX_SHARDS,
        16 => gf65536::MAX_SHARDS,
        _ => {
            tracing::debug!(field_bits, "lumen_fec: unsupported field");
            return Err(LUMEN_FEC_ERR_FIELD);
        }
    };
    let total = data as usize + parity as usize;
    if data == 0 || parity == 0 || total > max {
        tracing::debug!(data, parity, field_bits, "lumen_fec: bad shard count");
        return Err(LUMEN_FEC_ERR_SHARD_COUNT);
    }
    if shard_len == 0 || (field_bits == 16 && !shard_len.is_multiple_of(gf65536::SHARD_ALIGN)) {
        tracing::debug!(shard_len, field_bits, "lumen_fec: bad shard length");
        return Err(LUMEN_FEC_ERR_SHARD_LENGTH);
    }
    if shards.is_null() || present.is_some_and(|p| p.is_null()) {
        tracing::debug!("lumen_fec: null pointer argument");
        return Err(LUMEN_FEC_ERR_NULL);
    }
    // SAFETY: non-null, and the caller guarantees `total` readable pointers.
    let ptrs = unsafe { std::slice::from_raw_parts(shards, total) };
    scratch.shards.clear();
    for &ptr in ptrs {
        if ptr.is_null() {
            tracing::debug!("lumen_fec: null shard pointer");
            return Err(LUMEN_FEC_ERR_NULL);
        }
        scratch.shards.push(RawShard { ptr, len: shard_len });
    }
    if let Some(present) = present {
        // SAFETY: non-null, and the caller guarantees `total` readable bytes.
        let flags = unsafe { std::slice::from_raw_parts(present, total) };
        scratch.present.clear();
        scratch.present.extend(flags.iter().map(|&f| f != 0));
    }
    Ok(())
}

fn run(op: impl FnOnce(&mut Scratch) -> Result<(), i32>) -> i32 {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => op(&mut s),
            Err(_) => Err(LUMEN_FEC_ERR_INTERNAL),
        })
    }));
    match outcome {
        Ok(Ok(())) => LUMEN_FEC_OK,
        Ok(Err(code)) => code,
        Err(_) => {
            tracing::error!("lumen_fec: internal panic caught at the C boundary");
            LUMEN_FEC_ERR_INTERNAL
        }
    }
}

/// Computes `parity_shards` parity shards from `data_shards` data shards, all `shard_len` bytes, in the
/// field GF(2^`field_bits`) (8: Moonlight-compatible, ≤ 255 shards; 16: Leopard, ≤ 65535 shards,
/// `shard_len` a multiple of 64). `shards` holds `data_shards + parity_shards` pointers; the parity ones
/// (the last `parity_shards`) are written. Returns `LUMEN_FEC_OK` or a negative `LUMEN_FEC_ERR_*` code.
///
/// # Safety
/// `shards` must point to `data_shards + parity_shards` pointers to distinct buffers of `shard_len` bytes
/// (the data ones readable, the parity ones writable). Null pointers are detected and refused.
#[no_mangle]
pub unsafe extern "C" fn lumen_fec_encode(
    field_bits: u32,
    data_shards: u32,
    parity_shards: u32,
    shard_len: usize,
    shards: *const *mut u8,
) -> i32 {
    run(|s| {
        // SAFETY: forwarded from this function's contract.
        unsafe { prepare(s, field_bits, data_shards, parity_shards, shard_len, shards, None)? };
        let (d, p) = (data_shards as usize, parity_shards as usize);
        let r = if field_bits == 8 {
            s.gf256.get(d, p).and_then(|rs| rs.encode(&mut s.shards))
        } else {
            s.gf65536.get(d, p).and_then(|rs| rs.encode(&mut s.shards))
        };
        r.map_err(|e| code(&e))
    })
}

/// Rebuilds, in place, the data shards whose `present[i]` is 0, from the shards whose `present[i]` is
/// non-zero (same layout and fields as [`lumen_fec_encode`]; missing parity shards are not rebuilt).
/// Returns `LUMEN_FEC_OK`, `LUMEN_FEC_ERR_UNRECOVERABLE` when too few shards arrived, or another negative
/// `LUMEN_FEC_ERR_*` code.
///
/// # Safety
/// As [`lumen_fec_encode`], plus `present` must point to `data_shards + parity_shards` bytes and the
/// missing data shards must be writable.
#[no_mangle]
pub unsafe extern "C" fn lumen_fec_reconstruct(
    field_bits: u32,
    data_shards: u32,
    parity_shards: u32,
    shard_len: usize,
    shards: *const *mut u8,
    present: *const u8,
) -> i32 {
    run(|s| {
        // SAFETY: forwarded from this function's contract.
        unsafe { prepare(s, field_bits, data_shards, parity_shards, shard_len, shards, Some(present))? };
        let (d, p) = (data_shards as usize, parity_shards as usize);
        let Scratch { shards, present, gf256, gf65536 } = s;
        let r = if field_bits == 8 {
            gf256.get(d, p).and_then(|rs| rs.reconstruct(shards, present))
        } else {
            gf65536.get(d, p).and_then(|rs| rs.reconstruct(shards, present))
        };
        r.map_err(|e| code(&e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_arguments_give_codes() {
        let mut a = [1u8; 64];
        let mut b = [2u8; 64];
        let mut c = [0u8; 64];
        let ptrs = [a.as_mut_ptr(), b.as_mut_ptr(), c.as_mut_ptr()];
        // SAFETY: every pointer is null (refused by contract) or points into live local buffers of the stated size.
        unsafe {
            assert_eq!(lumen_fec_encode(8, 2, 1, 64, std::ptr::null()), LUMEN_FEC_ERR_NULL);
            assert_eq!(lumen_fec_encode(9, 2, 1, 64, ptrs.as_ptr()), LUMEN_FEC_ERR_FIELD);
            assert_eq!(lumen_fec_encode(8, 0, 1, 64, ptrs.as_ptr()), LUMEN_FEC_ERR_SHARD_COUNT);
            assert_eq!(lumen_fec_encode(8, 250, 10, 64, ptrs.as_ptr()), LUMEN_FEC_ERR_SHARD_COUNT);
            assert_eq!(lumen_fec_encode(8, 2, 1, 0, ptrs.as_ptr()), LUMEN_FEC_ERR_SHARD_LENGTH);
            assert_eq!(lumen_fec_encode(16, 2, 1, 63, ptrs.as_ptr()), LUMEN_FEC_ERR_SHARD_LENGTH);
            let with_null = [a.as_mut_ptr(), std::ptr::null_mut(), c.as_mut_ptr()];
            assert_eq!(lumen_fec_encode(8, 2, 1, 64, with_null.as_ptr()), LUMEN_FEC_ERR_NULL);
            assert_eq!(lumen_fec_reconstruct(8, 2, 1, 64, ptrs.as_ptr(), std::ptr::null()), LUMEN_FEC_ERR_NULL);
        }
    }

    #[test]
    fn round_trip_both_fields() {
        for field in [8u32, 16] {
            let mut bufs: Vec<Vec<u8>> = (0..6).map(|i| vec![i as u8 * 17 + 3; 128]).collect();
            let ptrs: Vec<*mut u8> = bufs.iter_mut().map(|b| b.as_mut_ptr()).collect();
            // SAFETY: every pointer is null (refused by contract) or points into live local buffers of the stated size.
            unsafe {
                assert_eq!(lumen_fec_encode(field, 4, 2, 128, ptrs.as_ptr()), LUMEN_FEC_OK);
            }
            let want = bufs.clone();
            bufs[0].fill(0);
            bufs[3].fill(0);
            let present = [0u8, 1, 1, 0, 1, 1];
            // SAFETY: every pointer is null (refused by contract) or points into live local buffers of the stated size.
            unsafe {
                assert_eq!(lumen_fec_reconstruct(field, 4, 2, 128, ptrs.as_ptr(), present.as_ptr()), LUMEN_FEC_OK);
            }
            assert_eq!(bufs, want, "field {field}");
            let present = [0u8, 0, 1, 0, 1, 1];
            // SAFETY: every pointer is null (refused by contract) or points into live local buffers of the stated size.
            unsafe {
                assert_eq!(
                    lumen_fec_reconstruct(field, 4, 2, 128, ptrs.as_ptr(), present.as_ptr()),
                    LUMEN_FEC_ERR_UNRECOVERABLE
                );
            }
        }
    }
}
