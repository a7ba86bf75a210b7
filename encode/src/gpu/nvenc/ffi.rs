//! The parts of NVIDIA's `nvEncodeAPI.h` (Video Codec SDK 12.1, MIT-licensed header) that lumen uses:
//! version macros, the function list returned by `NvEncodeAPICreateInstance`, the session-open parameters,
//! codec GUIDs and status codes. Layouts are C (`repr(C)`); sizes are checked by tests.

use std::ffi::{c_char, c_void};

/// NVENCAPI_MAJOR_VERSION of the header these layouts come from.
pub const API_MAJOR: u32 = 12;
/// NVENCAPI_MINOR_VERSION.
pub const API_MINOR: u32 = 1;
/// NVENCAPI_VERSION: major | minor << 24.
pub const API_VERSION: u32 = API_MAJOR | (API_MINOR << 24);

/// NVENCAPI_STRUCT_VERSION(ver).
pub const fn struct_version(ver: u32) -> u32 {
    API_VERSION | (ver << 16) | (0x7 << 28)
}

/// NV_ENCODE_API_FUNCTION_LIST_VER.
pub const FUNCTION_LIST_VER: u32 = struct_version(2);
/// NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER.
pub const OPEN_SESSION_EX_VER: u32 = struct_version(1);
/// NV_ENC_DEVICE_TYPE_CUDA.
pub const DEVICE_TYPE_CUDA: u32 = 1;

/// NVENCSTATUS.
pub type Status = u32;

/// The GUID layout of the API.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Guid {
    /// Data1.
    pub data1: u32,
    /// Data2.
    pub data2: u16,
    /// Data3.
    pub data3: u16,
    /// Data4.
    pub data4: [u8; 8],
}

/// NV_ENC_CODEC_H264_GUID {6BC82762-4E63-4ca4-AA85-1E50F321F6BF}.
pub const CODEC_H264: Guid = Guid { data1: 0x6bc8_2762, data2: 0x4e63, data3: 0x4ca4, data4: [0xaa, 0x85, 0x1e, 0x50, 0xf3, 0x21, 0xf6, 0xbf] };
/// NV_ENC_CODEC_HEVC_GUID {790CDC88-4522-4d7b-9425-BDA9975F7603}.
pub const CODEC_HEVC: Guid = Guid { data1: 0x790c_dc88, data2: 0x4522, data3: 0x4d7b, data4: [0x94, 0x25, 0xbd, 0xa9, 0x97, 0x5f, 0x76, 0x03] };
/// NV_ENC_CODEC_AV1_GUID {0A352289-0AA7-4759-862D-5D15CD16D254}.
pub const CODEC_AV1: Guid = Guid { data1: 0x0a35_2289, data2: 0x0aa7, data3: 0x4759, data4: [0x86, 0x2d, 0x5d, 0x15, 0xcd, 0x16, 0xd2, 0x54] };

type Fp = Option<unsafe extern "C" fn()>;

/// NV_ENCODE_API_FUNCTION_LIST: filled by `NvEncodeAPICreateInstance`. Entries lumen does not call are
/// kept as untyped pointers so the layout stays exact.
#[repr(C)]
pub struct FunctionList {
    /// NV_ENCODE_API_FUNCTION_LIST_VER.
    pub version: u32,
    /// Reserved, 0.
    pub reserved: u32,
    /// nvEncOpenEncodeSession (deprecated).
    pub open_encode_session: Fp,
    /// nvEncGetEncodeGUIDCount.
    pub get_encode_guid_count: Option<unsafe extern "C" fn(*mut c_void, *mut u32) -> Status>,
    /// nvEncGetEncodeProfileGUIDCount.
    pub get_encode_profile_guid_count: Fp,
    /// nvEncGetEncodeProfileGUIDs.
    pub get_encode_profile_guids: Fp,
    /// nvEncGetEncodeGUIDs.
    pub get_encode_guids: Option<unsafe extern "C" fn(*mut c_void, *mut Guid, u32, *mut u32) -> Status>,
    /// nvEncGetInputFormatCount, nvEncGetInputFormats, nvEncGetEncodeCaps, nvEncGetEncodePresetCount,
    /// nvEncGetEncodePresetGUIDs, nvEncGetEncodePresetConfig, nvEncInitializeEncoder,
    /// nvEncCreateInputBuffer, nvEncDestroyInputBuffer, nvEncCreateBitstreamBuffer,
    /// nvEncDestroyBitstreamBuffer, nvEncEncodePicture, nvEncLockBitstream, nvEncUnlockBitstream,
    /// nvEncLockInputBuffer, nvEncUnlockInputBuffer, nvEncGetEncodeStats, nvEncGetSequenceParams,
    /// nvEncRegisterAsyncEvent, nvEncUnregisterAsyncEvent, nvEncMapInputResource, nvEncUnmapInputResource.
    pub middle: [Fp; 22],
    /// nvEncDestroyEncoder.
    pub destroy_encoder: Option<unsafe extern "C" fn(*mut c_void) -> Status>,
    /// nvEncInvalidateRefFrames.
    pub invalidate_ref_frames: Option<unsafe extern "C" fn(*mut c_void, u64) -> Status>,
    /// nvEncOpenEncodeSessionEx.
    pub open_encode_session_ex: Option<unsafe extern "C" fn(*mut OpenSessionExParams, *mut *mut c_void) -> Status>,
    /// nvEncRegisterResource, nvEncUnregisterResource, nvEncReconfigureEncoder, reserved1,
    /// nvEncCreateMVBuffer, nvEncDestroyMVBuffer, nvEncRunMotionEstimationOnly.
    pub tail: [Fp; 7],
    /// nvEncGetLastErrorString.
    pub get_last_error_string: Option<unsafe extern "C" fn(*mut c_void) -> *const c_char>,
    /// nvEncSetIOCudaStreams, nvEncGetEncodePresetConfigEx, nvEncGetSequenceParamEx,
    /// nvEncRestoreEncoderState, nvEncLookaheadPicture.
    pub newer: [Fp; 5],
    /// reserved2[275].
    pub reserved2: [*mut c_void; 275],
}

/// NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS.
#[repr(C)]
pub struct OpenSessionExParams {
    /// OPEN_SESSION_EX_VER.
    pub version: u32,
    /// NV_ENC_DEVICE_TYPE.
    pub device_type: u32,
    /// The CUDA context (CUcontext).
    pub device: *mut c_void,
    /// Reserved, null.
    pub reserved: *mut c_void,
    /// API_VERSION.
    pub api_version: u32,
    /// Reserved, 0.
    pub reserved1: [u32; 253],
    /// Reserved, null.
    pub reserved2: [*mut c_void; 64],
}

/// The NVENCSTATUS name of a code.
pub fn status_name(s: Status) -> &'static str {
    const NAMES: [&str; 27] = [
        "NV_ENC_SUCCESS",
        "NV_ENC_ERR_NO_ENCODE_DEVICE",
        "NV_ENC_ERR_UNSUPPORTED_DEVICE",
        "NV_ENC_ERR_INVALID_ENCODERDEVICE",
        "NV_ENC_ERR_INVALID_DEVICE",
        "NV_ENC_ERR_DEVICE_NOT_EXIST",
        "NV_ENC_ERR_INVALID_PTR",
        "NV_ENC_ERR_INVALID_EVENT",
        "NV_ENC_ERR_INVALID_PARAM",
        "NV_ENC_ERR_INVALID_CALL",
        "NV_ENC_ERR_OUT_OF_MEMORY",
        "NV_ENC_ERR_ENCODER_NOT_INITIALIZED",
        "NV_ENC_ERR_UNSUPPORTED_PARAM",
        "NV_ENC_ERR_LOCK_BUSY",
        "NV_ENC_ERR_NOT_ENOUGH_BUFFER",
        "NV_ENC_ERR_INVALID_VERSION",
        "NV_ENC_ERR_MAP_FAILED",
        "NV_ENC_ERR_NEED_MORE_INPUT",
        "NV_ENC_ERR_ENCODER_BUSY",
        "NV_ENC_ERR_EVENT_NOT_REGISTERD",
        "NV_ENC_ERR_GENERIC",
        "NV_ENC_ERR_INCOMPATIBLE_CLIENT_KEY",
        "NV_ENC_ERR_UNIMPLEMENTED",
        "NV_ENC_ERR_RESOURCE_REGISTER_FAILED",
        "NV_ENC_ERR_RESOURCE_NOT_REGISTERED",
        "NV_ENC_ERR_RESOURCE_NOT_MAPPED",
        "NV_ENC_ERR_NEED_MORE_OUTPUT",
    ];
    NAMES.get(s as usize).copied().unwrap_or("NV_ENC_ERR_(unknown)")
}
