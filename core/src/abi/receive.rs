//! The C receive path: an opaque `LumenReceiver` that takes video datagrams and hands out whole access
//! units, plus `LumenSender`, the matching packetizer (so native clients and C tests can round-trip a
//! frame without a host).
//!
//! Every entry point is null-safe, catches panics at the boundary and returns 0/positive values or a
//! negative `LUMEN_WIRE_ERR_*` code. A polled frame's bytes are borrowed until the next call on the same
//! receiver; `lumen_receiver_copy_frame` copies them into a caller buffer instead.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::config::*;
use crate::transport::{derive_video_key, SealedVideoReceiver, SealedVideoSender, TransportError, TransportSalt};
use crate::video::lumen::{LumenFrame, LumenHeader, LumenPacketizer, LumenReassembler};
use crate::video::{
    FrameMeta, FrameType, GcmVideo, PacketBatch, PushOutcome, Reassembled, VideoError, VideoPacketizer,
    VideoReassembler,
};

/// `lumen_receiver_push`: stored, frame not complete yet.
pub const LUMEN_PUSH_STORED: i32 = 0;
/// `lumen_receiver_push`: a frame became ready; poll it.
pub const LUMEN_PUSH_FRAME_READY: i32 = 1;
/// `lumen_receiver_push`: duplicate datagram, ignored.
pub const LUMEN_PUSH_DUPLICATE: i32 = 2;
/// `lumen_receiver_push`: datagram of a frame already delivered or lost, ignored.
pub const LUMEN_PUSH_STALE: i32 = 3;

/// `lumen_receiver_poll`: nothing to report.
pub const LUMEN_POLL_NONE: i32 = 0;
/// `lumen_receiver_poll`: a frame; `info.data`/`info.data_len` describe it.
pub const LUMEN_POLL_FRAME: i32 = 1;
/// `lumen_receiver_poll`: frames `info.lost_first..=info.lost_last` are lost.
pub const LUMEN_POLL_LOST: i32 = 2;

/// What `lumen_receiver_poll` reports.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LumenFrameInfo {
    /// Frame index.
    pub frame_index: u32,
    /// 1 P-frame, 2 IDR, 4 intra refresh, 5 after reference invalidation.
    pub frame_type: u32,
    /// Host processing latency, 0.1 ms units.
    pub host_latency: u32,
    /// RTP timestamp (90 kHz).
    pub rtp_timestamp: u32,
    /// Data shards rebuilt from parity.
    pub recovered_shards: u32,
    /// First lost frame (`LUMEN_POLL_LOST`).
    pub lost_first: u32,
    /// Last lost frame (`LUMEN_POLL_LOST`).
    pub lost_last: u32,
    /// The access unit, valid until the next call on the receiver.
    pub data: *const u8,
    /// Its length.
    pub data_len: usize,
}

impl LumenFrameInfo {
    const EMPTY: Self = Self {
        frame_index: 0,
        frame_type: 0,
        host_latency: 0,
        rtp_timestamp: 0,
        recovered_shards: 0,
        lost_first: 0,
        lost_last: 0,
        data: core::ptr::null(),
        data_len: 0,
    };
}

enum Rx {
    Moonlight(Box<VideoReassembler>),
    Lumen { r: LumenRx, ready: Option<LumenFrameInfo>, buf: Vec<u8> },
}

/// The lumen framing bare, or the lumen transport's sealed datagrams (with a scratch copy to open in place).
enum LumenRx {
    Plain(Box<LumenReassembler>),
    Sealed(Box<SealedVideoReceiver>, Vec<u8>),
}

fn transport_code(e: &TransportError) -> i32 {
    match e {
        TransportError::Video(v) => video_code(v),
        TransportError::Crypto(_) => LUMEN_WIRE_ERR_CRYPTO,
        TransportError::BadLength { .. } => LUMEN_WIRE_ERR_MALFORMED,
    }
}

/// Copies a finished lumen frame into `buf` and describes it.
fn lumen_ready(f: &LumenFrame<'_>, buf: &mut Vec<u8>) -> LumenFrameInfo {
    buf.clear();
    buf.extend_from_slice(f.data);
    LumenFrameInfo {
        frame_index: f.header.frame_index,
        frame_type: f.header.frame_type as u32,
        host_latency: u32::from(f.header.host_latency),
        rtp_timestamp: f.header.timestamp,
        recovered_shards: f.recovered_shards as u32,
        ..LumenFrameInfo::EMPTY
    }
}

fn sealed_key(cfg: &LumenConfig) -> [u8; 32] {
    derive_video_key(&cfg.key, &TransportSalt(cfg.transport_salt))
}

enum Tx {
    Moonlight(Box<VideoPacketizer>),
    Lumen(Box<LumenPacketizer>),
    Sealed(Box<SealedVideoSender>),
}

/// Opaque receiver of one video stream.
pub struct LumenReceiver {
    rx: Rx,
    last: Vec<u8>,
    has_last: bool,
}

/// Opaque packetizer of one video stream.
pub struct LumenSender {
    tx: Tx,
    batch: PacketBatch,
}

fn video_code(e: &VideoError) -> i32 {
    match e {
        VideoError::Crypto(_) => LUMEN_WIRE_ERR_CRYPTO,
        VideoError::FrameTooLarge { .. } => LUMEN_WIRE_ERR_RANGE,
        VideoError::Backlog => LUMEN_WIRE_ERR_BACKLOG,
        VideoError::Fec(_) => LUMEN_WIRE_ERR_INTERNAL,
        VideoError::BadParams(_) => LUMEN_WIRE_ERR_CONFIG,
        _ => LUMEN_WIRE_ERR_MALFORMED,
    }
}

fn guard(f: impl FnOnce() -> i32) -> i32 {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        tracing::error!("panic caught at the C ABI boundary");
        LUMEN_WIRE_ERR_INTERNAL
    })
}

/// Creates a receiver for `cfg`; null when `cfg` is null or unusable.
///
/// # Safety
/// `cfg` must be null or point to a `LumenConfig` of at least `cfg->struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn lumen_receiver_new(cfg: *const LumenConfig) -> *mut LumenReceiver {
    // SAFETY: forwarded contract.
    let Some(cfg) = (unsafe { LumenConfig::read(cfg) }) else { return core::ptr::null_mut() };
    catch_unwind(|| {
        let rx = match cfg.fec_field_bits {
            LUMEN_FEC_FIELD_MOONLIGHT => {
                let mut r = VideoReassembler::new(cfg.video_params()?).ok()?;
                if cfg.encrypted != 0 {
                    r = r.with_opener(Box::new(GcmVideo::new(&cfg.key)));
                }
                Rx::Moonlight(Box::new(r))
            }
            LUMEN_FEC_FIELD_LUMEN if cfg.encrypted == 0 => Rx::Lumen {
                r: LumenRx::Plain(Box::new(LumenReassembler::new(cfg.lumen_params()?).ok()?)),
                ready: None,
                buf: Vec::new(),
            },
            LUMEN_FEC_FIELD_LUMEN => Rx::Lumen {
                r: LumenRx::Sealed(
                    Box::new(SealedVideoReceiver::new(&sealed_key(&cfg), cfg.packet_size as usize).ok()?),
                    Vec::new(),
                ),
                ready: None,
                buf: Vec::new(),
            },
            _ => return None,
        };
        Some(Box::into_raw(Box::new(LumenReceiver { rx, last: Vec::new(), has_last: false })))
    })
    .ok()
    .flatten()
    .unwrap_or(core::ptr::null_mut())
}

/// Destroys a receiver (null is ignored).
///
/// # Safety
/// `r` must be null or a pointer from `lumen_receiver_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn lumen_receiver_free(r: *mut LumenReceiver) {
    if !r.is_null() {
        // SAFETY: `r` came from `Box::into_raw` in `lumen_receiver_new` and is freed once.
        drop(unsafe { Box::from_raw(r) });
    }
}

/// Feeds one datagram. Returns a `LUMEN_PUSH_*` value or a negative error code.
///
/// # Safety
/// `r` must be null or a live receiver; `data` must be null or point to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn lumen_receiver_push(r: *mut LumenReceiver, data: *const u8, len: usize) -> i32 {
    if r.is_null() || (data.is_null() && len > 0) {
        return LUMEN_WIRE_ERR_NULL;
    }
    // SAFETY: `r` is a live receiver (contract); `data` holds `len` bytes (contract); an empty slice
    // needs no valid pointer.
    let (r, d) = unsafe { (&mut *r, if len == 0 { &[][..] } else { core::slice::from_raw_parts(data, len) }) };
    guard(|| match &mut r.rx {
        Rx::Moonlight(v) => match v.push(d) {
            Ok(PushOutcome::Stored) => LUMEN_PUSH_STORED,
            Ok(PushOutcome::FrameReady) => LUMEN_PUSH_FRAME_READY,
            Ok(PushOutcome::Duplicate) => LUMEN_PUSH_DUPLICATE,
            Ok(PushOutcome::Stale) => LUMEN_PUSH_STALE,
            Err(e) => video_code(&e),
        },
        Rx::Lumen { r: lr, ready, buf } => {
            if let Some(done) = ready {
                // A finished frame waits to be polled: later datagrams of it (parity) are stale.
                return match LumenHeader::parse(d) {
                    Ok(h) if (done.frame_index.wrapping_sub(h.frame_index) as i32) >= 0 => LUMEN_PUSH_STALE,
                    Ok(_) => LUMEN_WIRE_ERR_BACKLOG,
                    Err(e) => video_code(&e),
                };
            }
            let info = match lr {
                LumenRx::Plain(p) => p.push(d).map(|f| f.map(|f| lumen_ready(&f, buf))).map_err(|e| video_code(&e)),
                LumenRx::Sealed(p, scratch) => {
                    scratch.clear();
                    scratch.extend_from_slice(d);
                    p.push(scratch).map(|f| f.map(|f| lumen_ready(&f.frame, buf))).map_err(|e| transport_code(&e))
                }
            };
            match info {
                Ok(Some(i)) => {
                    *ready = Some(i);
                    LUMEN_PUSH_FRAME_READY
                }
                Ok(None) => LUMEN_PUSH_STORED,
                Err(code) => code,
            }
        }
    })
}

/// Takes the next result: `LUMEN_POLL_NONE`, `LUMEN_POLL_FRAME` (the frame's bytes stay valid until the
/// next call on this receiver) or `LUMEN_POLL_LOST`; negative on error.
///
/// # Safety
/// `r` must be null or a live receiver; `info` must be null or point to a writable `LumenFrameInfo`.
#[no_mangle]
pub unsafe extern "C" fn lumen_receiver_poll(r: *mut LumenReceiver, info: *mut LumenFrameInfo) -> i32 {
    if r.is_null() || info.is_null() {
        return LUMEN_WIRE_ERR_NULL;
    }
    // SAFETY: both pointers are live and exclusive for this call (contract).
    let (r, info) = unsafe { (&mut *r, &mut *info) };
    guard(|| {
        *info = LumenFrameInfo::EMPTY;
        r.has_last = false;
        let out = match &mut r.rx {
            Rx::Moonlight(v) => match v.poll() {
                None => return LUMEN_POLL_NONE,
                Some(Reassembled::Lost { first, last }) => {
                    info.lost_first = first;
                    info.lost_last = last;
                    return LUMEN_POLL_LOST;
                }
                Some(Reassembled::Frame(f)) => {
                    *info = LumenFrameInfo {
                        frame_index: f.frame_index,
                        frame_type: f.frame_type as u32,
                        host_latency: u32::from(f.host_latency),
                        rtp_timestamp: f.rtp_timestamp,
                        recovered_shards: f.recovered_shards as u32,
                        ..LumenFrameInfo::EMPTY
                    };
                    r.last.clear();
                    r.last.extend_from_slice(f.data);
                    &r.last
                }
            },
            Rx::Lumen { ready, buf, .. } => match ready.take() {
                None => return LUMEN_POLL_NONE,
                Some(i) => {
                    *info = i;
                    core::mem::swap(&mut r.last, buf);
                    &r.last
                }
            },
        };
        info.data = out.as_ptr();
        info.data_len = out.len();
        r.has_last = true;
        LUMEN_POLL_FRAME
    })
}

/// Copies the frame returned by the last successful `lumen_receiver_poll` into `buf`. Returns its length,
/// `LUMEN_WIRE_ERR_BUFFER` when `cap` is too small, `LUMEN_WIRE_ERR_RANGE` when no frame is held.
///
/// # Safety
/// `r` must be null or a live receiver; `buf` must be null or point to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn lumen_receiver_copy_frame(r: *const LumenReceiver, buf: *mut u8, cap: usize) -> i64 {
    if r.is_null() || buf.is_null() {
        return i64::from(LUMEN_WIRE_ERR_NULL);
    }
    // SAFETY: live receiver (contract).
    let r = unsafe { &*r };
    if !r.has_last {
        return i64::from(LUMEN_WIRE_ERR_RANGE);
    }
    if r.last.len() > cap {
        return i64::from(LUMEN_WIRE_ERR_BUFFER);
    }
    // SAFETY: `buf` holds `cap` ≥ `last.len()` writable bytes (contract) and cannot overlap our own Vec.
    unsafe { core::ptr::copy_nonoverlapping(r.last.as_ptr(), buf, r.last.len()) };
    r.last.len() as i64
}

/// Creates a packetizer for `cfg`; null when `cfg` is null or unusable.
///
/// # Safety
/// As `lumen_receiver_new`.
#[no_mangle]
pub unsafe extern "C" fn lumen_sender_new(cfg: *const LumenConfig) -> *mut LumenSender {
    // SAFETY: forwarded contract.
    let Some(cfg) = (unsafe { LumenConfig::read(cfg) }) else { return core::ptr::null_mut() };
    catch_unwind(|| {
        let tx = match cfg.fec_field_bits {
            LUMEN_FEC_FIELD_MOONLIGHT => {
                let mut p = VideoPacketizer::new(cfg.video_params()?).ok()?;
                if cfg.encrypted != 0 {
                    p = p.with_sealer(Box::new(GcmVideo::new(&cfg.key)));
                }
                Tx::Moonlight(Box::new(p))
            }
            LUMEN_FEC_FIELD_LUMEN if cfg.encrypted == 0 => {
                Tx::Lumen(Box::new(LumenPacketizer::new(cfg.lumen_params()?).ok()?))
            }
            LUMEN_FEC_FIELD_LUMEN => Tx::Sealed(Box::new(
                SealedVideoSender::new(
                    &sealed_key(&cfg),
                    cfg.packet_size as usize,
                    u16::try_from(cfg.fec_percentage).ok()?,
                    u16::try_from(cfg.min_fec_packets).ok()?,
                )
                .ok()?,
            )),
            _ => return None,
        };
        Some(Box::into_raw(Box::new(LumenSender { tx, batch: PacketBatch::new() })))
    })
    .ok()
    .flatten()
    .unwrap_or(core::ptr::null_mut())
}

/// Destroys a packetizer (null is ignored).
///
/// # Safety
/// `s` must be null or a pointer from `lumen_sender_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn lumen_sender_free(s: *mut LumenSender) {
    if !s.is_null() {
        // SAFETY: from `Box::into_raw` in `lumen_sender_new`, freed once.
        drop(unsafe { Box::from_raw(s) });
    }
}

/// Packetizes one access unit (`frame_type` 1, 2, 4 or 5). Returns the number of datagrams, readable with
/// `lumen_sender_datagram` until the next call, or a negative error code.
///
/// # Safety
/// `s` must be null or a live packetizer; `au` must be null or point to `au_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn lumen_sender_packetize(
    s: *mut LumenSender,
    frame_index: u32,
    frame_type: u32,
    host_latency: u32,
    rtp_timestamp: u32,
    au: *const u8,
    au_len: usize,
) -> i32 {
    if s.is_null() || (au.is_null() && au_len > 0) {
        return LUMEN_WIRE_ERR_NULL;
    }
    // SAFETY: live packetizer and `au_len` readable bytes (contract).
    let (s, au) = unsafe { (&mut *s, if au_len == 0 { &[][..] } else { core::slice::from_raw_parts(au, au_len) }) };
    guard(|| {
        let Ok(frame_type) =
            u8::try_from(frame_type).map_err(|_| ()).and_then(|t| FrameType::from_byte(t).map_err(|_| ()))
        else {
            return LUMEN_WIRE_ERR_RANGE;
        };
        let meta = FrameMeta {
            frame_index,
            frame_type,
            host_latency: host_latency.min(u32::from(u16::MAX)) as u16,
            rtp_timestamp,
        };
        let r = match &mut s.tx {
            Tx::Moonlight(p) => p.packetize(&meta, au, &mut s.batch).map(|_| ()).map_err(|e| video_code(&e)),
            Tx::Lumen(p) => p.packetize(&meta, au, &mut s.batch).map(|_| ()).map_err(|e| video_code(&e)),
            // The C sender has no capture clock: the capture time field is 0 ("unknown").
            Tx::Sealed(p) => p.packetize(&meta, 0, au, &mut s.batch).map(|_| ()).map_err(|e| transport_code(&e)),
        };
        match r {
            Ok(()) => i32::try_from(s.batch.len()).unwrap_or(LUMEN_WIRE_ERR_RANGE),
            Err(code) => code,
        }
    })
}

/// Points `*data`/`*len` at datagram `index` of the last packetized frame. Returns 0 or a negative code.
///
/// # Safety
/// `s` must be null or a live packetizer; `data` and `len` must be null or writable.
#[no_mangle]
pub unsafe extern "C" fn lumen_sender_datagram(
    s: *const LumenSender,
    index: u32,
    data: *mut *const u8,
    len: *mut usize,
) -> i32 {
    if s.is_null() || data.is_null() || len.is_null() {
        return LUMEN_WIRE_ERR_NULL;
    }
    // SAFETY: live packetizer (contract).
    let s = unsafe { &*s };
    let i = index as usize;
    if i >= s.batch.len() {
        return LUMEN_WIRE_ERR_RANGE;
    }
    let d = s.batch.get(i);
    // SAFETY: both out-pointers are non-null and writable (contract).
    unsafe {
        *data = d.as_ptr();
        *len = d.len();
    }
    LUMEN_WIRE_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(cfg: LumenConfig) {
        // SAFETY: handles come from the matching _new call and are freed once; other pointers are null or live locals.
        unsafe {
            let s = lumen_sender_new(&cfg);
            let r = lumen_receiver_new(&cfg);
            assert!(!s.is_null() && !r.is_null());
            let au: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
            let n = lumen_sender_packetize(s, 1, 2, 15, 900, au.as_ptr(), au.len());
            assert!(n > 0);
            for i in 0..n as u32 {
                if i % 7 == 3 {
                    continue; // drop a few (fewer than the parity)
                }
                let (mut p, mut l) = (core::ptr::null(), 0usize);
                assert_eq!(lumen_sender_datagram(s, i, &mut p, &mut l), 0);
                assert!(lumen_receiver_push(r, p, l) >= 0);
            }
            let mut info = LumenFrameInfo::EMPTY;
            assert_eq!(lumen_receiver_poll(r, &mut info), LUMEN_POLL_FRAME);
            assert_eq!((info.frame_index, info.frame_type, info.host_latency, info.rtp_timestamp), (1, 2, 15, 900));
            assert!(info.recovered_shards > 0);
            assert_eq!(core::slice::from_raw_parts(info.data, info.data_len), &au[..]);
            let mut copy = vec![0u8; au.len()];
            assert_eq!(lumen_receiver_copy_frame(r, copy.as_mut_ptr(), copy.len()), au.len() as i64);
            assert_eq!(copy, au);
            assert_eq!(lumen_receiver_copy_frame(r, copy.as_mut_ptr(), 10), i64::from(LUMEN_WIRE_ERR_BUFFER));
            assert_eq!(lumen_receiver_poll(r, &mut info), LUMEN_POLL_NONE);
            lumen_sender_free(s);
            lumen_receiver_free(r);
        }
    }

    #[test]
    fn round_trips_through_the_abi() {
        round_trip(LumenConfig::DEFAULT);
        round_trip(LumenConfig { encrypted: 1, key: [5; 16], ..LumenConfig::DEFAULT });
        round_trip(LumenConfig { fec_field_bits: 16, ..LumenConfig::DEFAULT });
        let sealed = LumenConfig {
            fec_field_bits: 16,
            encrypted: 1,
            key: [5; 16],
            transport_salt: [6; 16],
            ..LumenConfig::DEFAULT
        };
        round_trip(sealed);
    }

    #[test]
    fn sealed_datagrams_need_the_same_key_and_salt() {
        let cfg = LumenConfig {
            fec_field_bits: 16,
            encrypted: 1,
            key: [5; 16],
            transport_salt: [6; 16],
            ..LumenConfig::DEFAULT
        };
        // SAFETY: handles come from the matching _new call and are freed once; other pointers are live locals.
        unsafe {
            let s = lumen_sender_new(&cfg);
            let other = lumen_receiver_new(&LumenConfig { transport_salt: [7; 16], ..cfg });
            let au = [1u8; 3000];
            assert!(lumen_sender_packetize(s, 1, 2, 0, 0, au.as_ptr(), au.len()) > 0);
            let (mut p, mut l) = (core::ptr::null(), 0usize);
            assert_eq!(lumen_sender_datagram(s, 0, &mut p, &mut l), 0);
            assert_eq!(lumen_receiver_push(other, p, l), LUMEN_WIRE_ERR_CRYPTO);
            let mut tampered = core::slice::from_raw_parts(p, l).to_vec();
            tampered[40] ^= 1;
            let r = lumen_receiver_new(&cfg);
            assert_eq!(lumen_receiver_push(r, tampered.as_ptr(), tampered.len()), LUMEN_WIRE_ERR_CRYPTO);
            assert_eq!(lumen_receiver_push(r, p, l), LUMEN_PUSH_STORED);
            lumen_receiver_free(r);
            lumen_receiver_free(other);
            lumen_sender_free(s);
        }
    }

    #[test]
    fn null_and_bad_arguments() {
        // SAFETY: handles come from the matching _new call and are freed once; other pointers are null or live locals.
        unsafe {
            assert!(lumen_receiver_new(core::ptr::null()).is_null());
            assert!(lumen_receiver_new(&LumenConfig { fec_field_bits: 9, ..LumenConfig::DEFAULT }).is_null());
            assert!(lumen_sender_new(&LumenConfig { packet_size: 1, ..LumenConfig::DEFAULT }).is_null());
            lumen_receiver_free(core::ptr::null_mut());
            lumen_sender_free(core::ptr::null_mut());
            assert_eq!(lumen_receiver_push(core::ptr::null_mut(), core::ptr::null(), 0), LUMEN_WIRE_ERR_NULL);
            let mut info = LumenFrameInfo::EMPTY;
            assert_eq!(lumen_receiver_poll(core::ptr::null_mut(), &mut info), LUMEN_WIRE_ERR_NULL);
            let r = lumen_receiver_new(&LumenConfig::DEFAULT);
            assert_eq!(lumen_receiver_push(r, core::ptr::null(), 5), LUMEN_WIRE_ERR_NULL);
            assert_eq!(lumen_receiver_push(r, [1u8, 2, 3].as_ptr(), 3), LUMEN_WIRE_ERR_MALFORMED);
            assert_eq!(lumen_receiver_poll(r, core::ptr::null_mut()), LUMEN_WIRE_ERR_NULL);
            assert_eq!(lumen_receiver_copy_frame(r, [0u8; 4].as_mut_ptr(), 4), i64::from(LUMEN_WIRE_ERR_RANGE));
            lumen_receiver_free(r);
            let s = lumen_sender_new(&LumenConfig::DEFAULT);
            assert_eq!(lumen_sender_packetize(s, 1, 3, 0, 0, [0u8].as_ptr(), 1), LUMEN_WIRE_ERR_RANGE);
            let (mut p, mut l) = (core::ptr::null(), 0usize);
            assert_eq!(lumen_sender_datagram(s, 0, &mut p, &mut l), LUMEN_WIRE_ERR_RANGE);
            assert_eq!(lumen_sender_datagram(s, 0, core::ptr::null_mut(), &mut l), LUMEN_WIRE_ERR_NULL);
            lumen_sender_free(s);
        }
    }
}
