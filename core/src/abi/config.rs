//! `LumenConfig`: the stream parameters a C caller hands to the sender and receiver entry points, and the
//! status codes those entry points return.
//!
//! The struct carries its own size in its first field so later versions can append fields: a caller
//! compiled against an older header passes a smaller `struct_size` and gets defaults for the rest.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use crate::video::lumen::LumenParams;
use crate::video::VideoParams;

/// Success (or "nothing to report" from a poll).
pub const LUMEN_WIRE_OK: i32 = 0;
/// A required pointer is null.
pub const LUMEN_WIRE_ERR_NULL: i32 = -1;
/// The configuration is unusable (size, packet size, FEC field).
pub const LUMEN_WIRE_ERR_CONFIG: i32 = -2;
/// A malformed, truncated or inconsistent datagram.
pub const LUMEN_WIRE_ERR_MALFORMED: i32 = -3;
/// Encryption or decryption failed (wrong key or tampered bytes).
pub const LUMEN_WIRE_ERR_CRYPTO: i32 = -4;
/// The caller's buffer is too small.
pub const LUMEN_WIRE_ERR_BUFFER: i32 = -5;
/// An internal failure (a caught panic or an FEC codec error).
pub const LUMEN_WIRE_ERR_INTERNAL: i32 = -6;
/// An index or size out of range (frame too large, datagram index past the end, nothing polled).
pub const LUMEN_WIRE_ERR_RANGE: i32 = -7;
/// The receiver holds finished frames that were not polled.
pub const LUMEN_WIRE_ERR_BACKLOG: i32 = -8;

/// Moonlight framing with GF(2⁸) FEC (what stock clients speak).
pub const LUMEN_FEC_FIELD_MOONLIGHT: u32 = 8;
/// lumen-transport framing with GF(2¹⁶) FEC.
pub const LUMEN_FEC_FIELD_LUMEN: u32 = 16;

/// Stream parameters for the C ABI.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LumenConfig {
    /// `sizeof(LumenConfig)` as the caller was compiled; must be at least the size of this version 1.
    pub struct_size: u32,
    /// Moonlight `packetSize` (1392 for stock clients) or the lumen-transport datagram size.
    pub packet_size: u32,
    /// FEC percentage.
    pub fec_percentage: u32,
    /// Minimum parity shards per FEC block.
    pub min_fec_packets: u32,
    /// 8: Moonlight framing and GF(2⁸); 16: lumen-transport framing and GF(2¹⁶).
    pub fec_field_bits: u32,
    /// Non-zero: encrypted video. Moonlight framing: AES-128-GCM with `key`. lumen framing: the lumen
    /// transport's sealed datagrams (ChaCha20-Poly1305, key = HKDF-SHA256 of `key` with `transport_salt`;
    /// `docs/wire.md` §12).
    pub encrypted: u32,
    /// The session key (`rikey`).
    pub key: [u8; 16],
    /// Version 2: the salt of the host's `a=x-lumen-transport` offer (encrypted lumen framing only).
    pub transport_salt: [u8; 16],
}

/// `struct_size` of version 1 (no `transport_salt`): still accepted, the salt reads as zeros.
pub const LUMEN_CONFIG_V1_SIZE: u32 = 40;

impl LumenConfig {
    /// Defaults: stock-client packet size, 20 % FEC, 2 parity minimum, Moonlight framing, no encryption.
    pub const DEFAULT: Self = Self {
        struct_size: core::mem::size_of::<Self>() as u32,
        packet_size: 1392,
        fec_percentage: 20,
        min_fec_packets: 2,
        fec_field_bits: LUMEN_FEC_FIELD_MOONLIGHT,
        encrypted: 0,
        key: [0; 16],
        transport_salt: [0; 16],
    };

    /// Moonlight parameters, if this config asks for them and they are usable.
    pub(crate) fn video_params(&self) -> Option<VideoParams> {
        let p = VideoParams {
            packet_size: self.packet_size as usize,
            fec_percentage: u8::try_from(self.fec_percentage).ok()?,
            min_fec_packets: u16::try_from(self.min_fec_packets).ok()?,
        };
        p.validate().ok()?;
        Some(p)
    }

    /// lumen-transport parameters, if usable.
    pub(crate) fn lumen_params(&self) -> Option<LumenParams> {
        LumenParams::for_datagram(
            self.packet_size as usize,
            u16::try_from(self.fec_percentage).ok()?,
            u16::try_from(self.min_fec_packets).ok()?,
        )
        .ok()
    }

    /// Reads a caller's config: copies `struct_size` bytes (at most ours) over the defaults.
    ///
    /// # Safety
    /// `cfg` must be null or point to at least `struct_size` readable bytes (its first field).
    pub(crate) unsafe fn read(cfg: *const LumenConfig) -> Option<Self> {
        if cfg.is_null() {
            return None;
        }
        // SAFETY: `cfg` is non-null and, by the caller's contract, points to a config whose first field
        // (a u32) is readable; read it unaligned in case the caller packed the struct.
        let size = unsafe { core::ptr::read_unaligned(cfg.cast::<u32>()) } as usize;
        let ours = core::mem::size_of::<Self>();
        if size < LUMEN_CONFIG_V1_SIZE as usize {
            tracing::warn!(size, ours, "LumenConfig.struct_size smaller than version 1");
            return None;
        }
        let mut c = Self::DEFAULT;
        // SAFETY: the caller promises `struct_size` readable bytes; we copy at most that many, and at most
        // our own size, into a local of our type (every byte pattern is a valid LumenConfig: plain integers).
        unsafe {
            core::ptr::copy_nonoverlapping(cfg.cast::<u8>(), (&mut c as *mut Self).cast::<u8>(), size.min(ours));
        }
        c.struct_size = ours as u32;
        Some(c)
    }
}

/// Fills `*out` with the defaults (and the right `struct_size`). Returns 0, or `LUMEN_WIRE_ERR_NULL`.
///
/// # Safety
/// `out` must be null or point to a writable `LumenConfig`.
#[no_mangle]
pub unsafe extern "C" fn lumen_config_init(out: *mut LumenConfig) -> i32 {
    if out.is_null() {
        return LUMEN_WIRE_ERR_NULL;
    }
    // SAFETY: non-null and writable per the contract above.
    unsafe { out.write_unaligned(LumenConfig::DEFAULT) };
    LUMEN_WIRE_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_and_read() {
        let mut c = LumenConfig { struct_size: 0, ..LumenConfig::DEFAULT };
        // SAFETY: null (refused by contract) or a live local LumenConfig.
        assert_eq!(unsafe { lumen_config_init(&mut c) }, 0);
        assert_eq!(c, LumenConfig::DEFAULT);
        // SAFETY: null (refused by contract) or a live local LumenConfig.
        assert_eq!(unsafe { lumen_config_init(core::ptr::null_mut()) }, LUMEN_WIRE_ERR_NULL);
        // SAFETY: null (refused by contract) or a live local LumenConfig.
        assert_eq!(unsafe { LumenConfig::read(&c) }, Some(c));
        assert_eq!(core::mem::offset_of!(LumenConfig, transport_salt), LUMEN_CONFIG_V1_SIZE as usize);
        // A version-1 caller: the salt is not read.
        let v1 = LumenConfig { struct_size: LUMEN_CONFIG_V1_SIZE, transport_salt: [9; 16], ..c };
        // SAFETY: a live local LumenConfig of at least `struct_size` bytes.
        assert_eq!(unsafe { LumenConfig::read(&v1) }.map(|r| r.transport_salt), Some([0; 16]));
        let small = LumenConfig { struct_size: 8, ..c };
        // SAFETY: null (refused by contract) or a live local LumenConfig.
        assert_eq!(unsafe { LumenConfig::read(&small) }, None);
        // SAFETY: null (refused by contract) or a live local LumenConfig.
        assert_eq!(unsafe { LumenConfig::read(core::ptr::null()) }, None);
        assert!(c.video_params().is_some());
        assert!(LumenConfig { packet_size: 3, ..c }.video_params().is_none());
        assert!(LumenConfig { fec_percentage: 300, ..c }.video_params().is_none());
        assert_eq!(c.lumen_params().unwrap().shard_len, 1344);
    }
}
