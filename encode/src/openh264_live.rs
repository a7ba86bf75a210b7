//! Thin `unsafe` wrapper for the one OpenH264 option the `openh264` crate has no safe call for: changing
//! the target bitrate of a running encoder (`ENCODER_OPTION_BITRATE`), which avoids the IDR frame a
//! re-initialisation would cost.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use openh264::encoder::Encoder as OhEncoder;
use openh264_sys2::{SBitrateInfo, ENCODER_OPTION_BITRATE, SPATIAL_LAYER_ALL};

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
