//! Thin `unsafe` wrappers for the OpenH264 options the `openh264` crate has no safe call for: changing
//! the target bitrate of a running encoder (`ENCODER_OPTION_BITRATE`), which avoids the IDR frame a
//! re-initialisation would cost, and a fixed number of slices coded on as many threads (set once, before
//! the first frame, through `ENCODER_OPTION_SVC_ENCODE_PARAM_EXT`).
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use openh264::encoder::Encoder as OhEncoder;
use openh264_sys2::{
    SBitrateInfo, SEncParamExt, ENCODER_OPTION_BITRATE, ENCODER_OPTION_SVC_ENCODE_PARAM_EXT, SM_FIXEDSLCNUM_SLICE,
    SPATIAL_LAYER_ALL,
};

use crate::EncodeError;

/// Sets the target bitrate (bits per second) of all spatial layers of `enc`.
pub fn set_target_bitrate(enc: &mut OhEncoder, bps: u32) -> Result<(), EncodeError> {
    let mut info = SBitrateInfo { iLayer: SPATIAL_LAYER_ALL, iBitrate: bps.min(i32::MAX as u32) as i32 };
    // SAFETY: `raw_api` gives the initialised encoder of `enc` (it is initialised on creation); the option
    // id and the pointer type match OpenH264's contract for ENCODER_OPTION_BITRATE (a pointer to an
    // SBitrateInfo that lives for the duration of the call); the call changes no parameter the crate
    // relies on (it tracks only dimensions).
    let rc = unsafe { enc.raw_api().set_option(ENCODER_OPTION_BITRATE, (&raw mut info).cast()) };
    if rc != 0 {
        tracing::warn!(rc, bps, "openh264: live bitrate change refused");
        return Err(EncodeError::Library(format!("ENCODER_OPTION_BITRATE returned {rc}")));
    }
    Ok(())
}

/// Re-initialises `enc` (before its first frame) to code every picture as `n` slices of a fixed count on `n`
/// threads (`SM_FIXEDSLCNUM_SLICE`, `iMultipleThreadIdc = n`), the rest of its parameters unchanged.
pub fn set_fixed_slices(enc: &mut OhEncoder, n: u16) -> Result<(), EncodeError> {
    // SAFETY: SEncParamExt is a plain C struct for which all-zero bytes are a valid value; it is filled by
    // GetOption below before it is read.
    let mut p: SEncParamExt = unsafe { std::mem::zeroed() };
    // SAFETY: the encoder is initialised (the crate does it on creation); ENCODER_OPTION_SVC_ENCODE_PARAM_EXT
    // takes a pointer to an SEncParamExt that lives for the duration of the call.
    let rc = unsafe { enc.raw_api().get_option(ENCODER_OPTION_SVC_ENCODE_PARAM_EXT, (&raw mut p).cast()) };
    if rc != 0 {
        return Err(EncodeError::Library(format!("GetOption(SVC_ENCODE_PARAM_EXT) returned {rc}")));
    }
    p.iMultipleThreadIdc = n;
    p.uiMaxNalSize = 0;
    p.sSpatialLayers[0].sSliceArgument.uiSliceMode = SM_FIXEDSLCNUM_SLICE;
    p.sSpatialLayers[0].sSliceArgument.uiSliceNum = u32::from(n);
    // SAFETY: as above; the parameters came from this encoder and only the slice and thread fields changed
    // (the crate tracks only the picture size, which stays).
    let rc = unsafe { enc.raw_api().set_option(ENCODER_OPTION_SVC_ENCODE_PARAM_EXT, (&raw mut p).cast()) };
    if rc != 0 {
        return Err(EncodeError::Library(format!("SetOption(SVC_ENCODE_PARAM_EXT, {n} slices) returned {rc}")));
    }
    Ok(())
}
