//! The parts of NVIDIA's `nvEncodeAPI.h` (Video Codec SDK 12.1, MIT-licensed header) that lumen uses:
//! version macros, the function list returned by `NvEncodeAPICreateInstance`, the session-open parameters,
//! codec GUIDs and status codes. Layouts are C (`repr(C)`); sizes are checked by tests.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

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
pub const CODEC_H264: Guid =
    Guid { data1: 0x6bc8_2762, data2: 0x4e63, data3: 0x4ca4, data4: [0xaa, 0x85, 0x1e, 0x50, 0xf3, 0x21, 0xf6, 0xbf] };
/// NV_ENC_CODEC_HEVC_GUID {790CDC88-4522-4d7b-9425-BDA9975F7603}.
pub const CODEC_HEVC: Guid =
    Guid { data1: 0x790c_dc88, data2: 0x4522, data3: 0x4d7b, data4: [0x94, 0x25, 0xbd, 0xa9, 0x97, 0x5f, 0x76, 0x03] };
/// NV_ENC_CODEC_AV1_GUID {0A352289-0AA7-4759-862D-5D15CD16D254}.
pub const CODEC_AV1: Guid =
    Guid { data1: 0x0a35_2289, data2: 0x0aa7, data3: 0x4759, data4: [0x86, 0x2d, 0x5d, 0x15, 0xcd, 0x16, 0xd2, 0x54] };

type Fp = Option<unsafe extern "C" fn()>;
/// The common shape `NVENCSTATUS f(void *encoder, void *arg)` (struct pointer or handle argument).
pub type EncFn = Option<unsafe extern "C" fn(*mut c_void, *mut c_void) -> Status>;
/// nvEncGetEncodePresetConfigEx.
pub type PresetConfigExFn = Option<unsafe extern "C" fn(*mut c_void, Guid, Guid, u32, *mut c_void) -> Status>;
/// nvEncSetIOCudaStreams (pointers to CUstream values).
pub type SetIoStreamsFn = Option<unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_void) -> Status>;

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
    /// nvEncGetEncodePresetGUIDs, nvEncGetEncodePresetConfig.
    pub unused1: [Fp; 6],
    /// nvEncInitializeEncoder(encoder, NV_ENC_INITIALIZE_PARAMS*).
    pub initialize_encoder: EncFn,
    /// nvEncCreateInputBuffer, nvEncDestroyInputBuffer.
    pub unused2: [Fp; 2],
    /// nvEncCreateBitstreamBuffer(encoder, NV_ENC_CREATE_BITSTREAM_BUFFER*).
    pub create_bitstream_buffer: EncFn,
    /// nvEncDestroyBitstreamBuffer(encoder, NV_ENC_OUTPUT_PTR).
    pub destroy_bitstream_buffer: EncFn,
    /// nvEncEncodePicture(encoder, NV_ENC_PIC_PARAMS*).
    pub encode_picture: EncFn,
    /// nvEncLockBitstream(encoder, NV_ENC_LOCK_BITSTREAM*).
    pub lock_bitstream: EncFn,
    /// nvEncUnlockBitstream(encoder, NV_ENC_OUTPUT_PTR).
    pub unlock_bitstream: EncFn,
    /// nvEncLockInputBuffer, nvEncUnlockInputBuffer, nvEncGetEncodeStats, nvEncGetSequenceParams,
    /// nvEncRegisterAsyncEvent, nvEncUnregisterAsyncEvent.
    pub unused3: [Fp; 6],
    /// nvEncMapInputResource(encoder, NV_ENC_MAP_INPUT_RESOURCE*).
    pub map_input_resource: EncFn,
    /// nvEncUnmapInputResource(encoder, NV_ENC_INPUT_PTR).
    pub unmap_input_resource: EncFn,
    /// nvEncDestroyEncoder.
    pub destroy_encoder: Option<unsafe extern "C" fn(*mut c_void) -> Status>,
    /// nvEncInvalidateRefFrames.
    pub invalidate_ref_frames: Option<unsafe extern "C" fn(*mut c_void, u64) -> Status>,
    /// nvEncOpenEncodeSessionEx.
    pub open_encode_session_ex: Option<unsafe extern "C" fn(*mut OpenSessionExParams, *mut *mut c_void) -> Status>,
    /// nvEncRegisterResource(encoder, NV_ENC_REGISTER_RESOURCE*).
    pub register_resource: EncFn,
    /// nvEncUnregisterResource(encoder, NV_ENC_REGISTERED_PTR).
    pub unregister_resource: EncFn,
    /// nvEncReconfigureEncoder(encoder, NV_ENC_RECONFIGURE_PARAMS*).
    pub reconfigure_encoder: EncFn,
    /// reserved1, nvEncCreateMVBuffer, nvEncDestroyMVBuffer, nvEncRunMotionEstimationOnly.
    pub unused4: [Fp; 4],
    /// nvEncGetLastErrorString.
    pub get_last_error_string: Option<unsafe extern "C" fn(*mut c_void) -> *const c_char>,
    /// nvEncSetIOCudaStreams.
    pub set_io_cuda_streams: SetIoStreamsFn,
    /// nvEncGetEncodePresetConfigEx.
    pub get_encode_preset_config_ex: PresetConfigExFn,
    /// nvEncGetSequenceParamEx, nvEncRestoreEncoderState, nvEncLookaheadPicture.
    pub unused5: [Fp; 3],
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

/// NV_ENC_PRESET_P1_GUID {FC0A8D3E-45F8-4CF8-80C7-298871590EBF}: fastest preset.
pub const PRESET_P1: Guid =
    Guid { data1: 0xfc0a_8d3e, data2: 0x45f8, data3: 0x4cf8, data4: [0x80, 0xc7, 0x29, 0x88, 0x71, 0x59, 0x0e, 0xbf] };
/// NV_ENC_TUNING_INFO_ULTRA_LOW_LATENCY.
pub const TUNING_ULTRA_LOW_LATENCY: u32 = 3;
/// NVENC_INFINITE_GOPLENGTH.
pub const INFINITE_GOP: u32 = 0xffff_ffff;
/// NV_ENC_PARAMS_RC_CBR.
pub const RC_CBR: u32 = 2;
/// NV_ENC_PIC_FLAG_FORCEIDR.
pub const PIC_FLAG_FORCEIDR: u32 = 0x2;
/// NV_ENC_PIC_FLAG_OUTPUT_SPSPPS.
pub const PIC_FLAG_OUTPUT_SPSPPS: u32 = 0x4;
/// NV_ENC_PIC_STRUCT_FRAME.
pub const PIC_STRUCT_FRAME: u32 = 1;
/// NV_ENC_PIC_TYPE_IDR.
pub const PIC_TYPE_IDR: u32 = 3;
/// NV_ENC_PIC_TYPE_I.
pub const PIC_TYPE_I: u32 = 2;
/// NV_ENC_INPUT_RESOURCE_TYPE_CUDADEVICEPTR.
pub const RESOURCE_CUDA_DEVICEPTR: u32 = 1;
/// NV_ENC_INPUT_IMAGE.
pub const USAGE_INPUT_IMAGE: u32 = 0;
/// NV_ENC_BUFFER_FORMAT_NV12.
pub const BUFFER_NV12: u32 = 0x1;
/// NV_ENC_BUFFER_FORMAT_IYUV (I420: chroma planes at half the luma pitch).
pub const BUFFER_IYUV: u32 = 0x100;
/// NV_ENC_BUFFER_FORMAT_YUV444.
pub const BUFFER_YUV444: u32 = 0x1000;
/// NV_ENC_BUFFER_FORMAT_YUV420_10BIT (P010).
pub const BUFFER_YUV420_10BIT: u32 = 0x10000;
/// NV_ENC_ERR_NEED_MORE_INPUT.
pub const ERR_NEED_MORE_INPUT: Status = 17;

/// NV_ENC_CONFIG_VER.
pub const CONFIG_VER: u32 = struct_version(8) | (1 << 31);
/// NV_ENC_INITIALIZE_PARAMS_VER.
pub const INITIALIZE_PARAMS_VER: u32 = struct_version(6) | (1 << 31);
/// NV_ENC_PRESET_CONFIG_VER.
pub const PRESET_CONFIG_VER: u32 = struct_version(4) | (1 << 31);
/// NV_ENC_PIC_PARAMS_VER.
pub const PIC_PARAMS_VER: u32 = struct_version(6) | (1 << 31);
/// NV_ENC_LOCK_BITSTREAM_VER.
pub const LOCK_BITSTREAM_VER: u32 = struct_version(1) | (1 << 31);
/// NV_ENC_MAP_INPUT_RESOURCE_VER.
pub const MAP_INPUT_RESOURCE_VER: u32 = struct_version(4);
/// NV_ENC_REGISTER_RESOURCE_VER.
pub const REGISTER_RESOURCE_VER: u32 = struct_version(4);
/// NV_ENC_CREATE_BITSTREAM_BUFFER_VER.
pub const CREATE_BITSTREAM_BUFFER_VER: u32 = struct_version(1);
/// NV_ENC_RC_PARAMS_VER.
pub const RC_PARAMS_VER: u32 = struct_version(1);
/// NV_ENC_RECONFIGURE_PARAMS_VER.
pub const RECONFIGURE_PARAMS_VER: u32 = struct_version(1) | (1 << 31);

/// A parameter struct of the API kept as its exact byte image (size and 8-byte alignment of the C struct),
/// written through the field offsets below. The structs are large and mostly reserved words; this keeps
/// the Rust side to the fields lumen sets, with every offset checked against the SDK header's layout.
#[repr(C, align(8))]
pub struct Params<const N: usize>(pub [u8; N]);

impl<const N: usize> Params<N> {
    /// All zero (what the API wants for every field not set).
    pub fn zeroed() -> Box<Self> {
        Box::new(Params([0; N]))
    }
    /// Zeroes it again (per-frame reuse without allocating).
    pub fn clear(&mut self) {
        self.0.fill(0);
    }
    /// Writes a u32 at `off`.
    pub fn set_u32(&mut self, off: usize, v: u32) {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }
    /// Reads a u32 at `off`.
    pub fn u32_at(&self, off: usize) -> u32 {
        u32::from_ne_bytes(self.0[off..off + 4].try_into().expect("4 bytes"))
    }
    /// Writes a u64 at `off`.
    pub fn set_u64(&mut self, off: usize, v: u64) {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    }
    /// Reads a u64 at `off`.
    pub fn u64_at(&self, off: usize) -> u64 {
        u64::from_ne_bytes(self.0[off..off + 8].try_into().expect("8 bytes"))
    }
    /// Writes a pointer at `off`.
    pub fn set_ptr(&mut self, off: usize, p: *mut c_void) {
        self.set_u64(off, p as u64);
    }
    /// Reads a pointer at `off`.
    pub fn ptr_at(&self, off: usize) -> *mut c_void {
        self.u64_at(off) as *mut c_void
    }
    /// Writes a GUID at `off`.
    pub fn set_guid(&mut self, off: usize, g: Guid) {
        self.set_u32(off, g.data1);
        self.0[off + 4..off + 6].copy_from_slice(&g.data2.to_ne_bytes());
        self.0[off + 6..off + 8].copy_from_slice(&g.data3.to_ne_bytes());
        self.0[off + 8..off + 16].copy_from_slice(&g.data4);
    }
    /// Sets bit-field `[shift, shift + width)` of the u32 at `off` to `v`.
    pub fn set_bits(&mut self, off: usize, shift: u32, width: u32, v: u32) {
        let mask = ((1u64 << width) - 1) as u32;
        let w = (self.u32_at(off) & !(mask << shift)) | ((v & mask) << shift);
        self.set_u32(off, w);
    }
    /// Pointer to the struct for the API.
    pub fn as_mut_ptr(&mut self) -> *mut c_void {
        self.0.as_mut_ptr() as *mut c_void
    }
}

/// NV_ENC_CONFIG (3584 bytes) field offsets.
pub mod config {
    /// Size.
    pub const SIZE: usize = 3584;
    pub const VERSION: usize = 0;
    pub const GOP_LENGTH: usize = 20;
    pub const FRAME_INTERVAL_P: usize = 24;
    /// NV_ENC_RC_PARAMS (128 bytes) starts here.
    pub const RC: usize = 40;
    /// The codec union (NV_ENC_CONFIG_H264 / _HEVC / _AV1) starts here.
    pub const CODEC: usize = 168;
}

/// NV_ENC_RC_PARAMS offsets (relative to `config::RC`).
pub mod rc {
    pub const VERSION: usize = 0;
    pub const MODE: usize = 4;
    pub const AVERAGE_BITRATE: usize = 20;
    pub const MAX_BITRATE: usize = 24;
    pub const VBV_BUFFER_SIZE: usize = 28;
    pub const VBV_INITIAL_DELAY: usize = 32;
    /// Bit-field word: enableMinQP:1 enableMaxQP:1 enableInitialRCQP:1 enableAQ:1 reserved:1
    /// enableLookahead:1 disableIadapt:1 disableBadapt:1 enableTemporalAQ:1 zeroReorderDelay:1 ...
    pub const FLAGS: usize = 36;
    pub const ZERO_REORDER_DELAY_BIT: u32 = 9;
}

/// NV_ENC_CONFIG_H264 offsets (relative to `config::CODEC`).
pub mod h264 {
    /// Bit-field word: ... enableIntraRefresh (bit 10) ... repeatSPSPPS (bit 12) ...
    pub const FLAGS: usize = 0;
    pub const INTRA_REFRESH_BIT: u32 = 10;
    pub const REPEAT_SPSPPS_BIT: u32 = 12;
    pub const IDR_PERIOD: usize = 8;
    pub const INTRA_REFRESH_PERIOD: usize = 52;
    pub const INTRA_REFRESH_CNT: usize = 56;
    pub const SLICE_MODE: usize = 64;
    pub const SLICE_MODE_DATA: usize = 68;
    /// NV_ENC_CONFIG_H264_VUI_PARAMETERS (112 bytes).
    pub const VUI: usize = 72;
    pub const CHROMA_FORMAT_IDC: usize = 192;
}

/// NV_ENC_CONFIG_HEVC offsets (relative to `config::CODEC`).
pub mod hevc {
    /// Bit-field word: ... repeatSPSPPS (bit 7), enableIntraRefresh (bit 8), chromaFormatIDC (bits 9-10),
    /// pixelBitDepthMinus8 (bits 11-13) ...
    pub const FLAGS: usize = 16;
    pub const REPEAT_SPSPPS_BIT: u32 = 7;
    pub const INTRA_REFRESH_BIT: u32 = 8;
    pub const CHROMA_FORMAT_SHIFT: u32 = 9;
    pub const BIT_DEPTH_SHIFT: u32 = 11;
    pub const IDR_PERIOD: usize = 20;
    pub const INTRA_REFRESH_PERIOD: usize = 24;
    pub const INTRA_REFRESH_CNT: usize = 28;
    pub const SLICE_MODE: usize = 52;
    pub const SLICE_MODE_DATA: usize = 56;
    /// Same layout as the H.264 VUI block.
    pub const VUI: usize = 64;
}

/// NV_ENC_CONFIG_AV1 offsets (relative to `config::CODEC`).
pub mod av1 {
    /// Bit-field word: ... repeatSeqHdr (bit 5), enableIntraRefresh (bit 6), chromaFormatIDC (bits 7-8),
    /// ..., inputPixelBitDepthMinus8 (bits 12-14), pixelBitDepthMinus8 (bits 15-17).
    pub const FLAGS: usize = 16;
    pub const REPEAT_SEQ_HDR_BIT: u32 = 5;
    pub const INTRA_REFRESH_BIT: u32 = 6;
    pub const INPUT_BIT_DEPTH_SHIFT: u32 = 12;
    pub const BIT_DEPTH_SHIFT: u32 = 15;
    pub const IDR_PERIOD: usize = 20;
    pub const INTRA_REFRESH_PERIOD: usize = 24;
    pub const INTRA_REFRESH_CNT: usize = 28;
    pub const COLOR_PRIMARIES: usize = 68;
    pub const TRANSFER: usize = 72;
    pub const MATRIX: usize = 76;
    pub const COLOR_RANGE: usize = 80;
}

/// NV_ENC_CONFIG_H264_VUI_PARAMETERS offsets (relative to the VUI block).
pub mod vui {
    pub const VIDEO_SIGNAL_TYPE_PRESENT: usize = 8;
    pub const VIDEO_FORMAT: usize = 12;
    pub const FULL_RANGE: usize = 16;
    pub const COLOUR_DESCRIPTION_PRESENT: usize = 20;
    pub const COLOUR_PRIMARIES: usize = 24;
    pub const TRANSFER: usize = 28;
    pub const MATRIX: usize = 32;
}

/// NV_ENC_PRESET_CONFIG (5128 bytes).
pub mod preset_config {
    pub const SIZE: usize = 5128;
    pub const VERSION: usize = 0;
    /// The embedded NV_ENC_CONFIG.
    pub const CONFIG: usize = 8;
}

/// NV_ENC_INITIALIZE_PARAMS (1808 bytes).
pub mod init {
    pub const SIZE: usize = 1808;
    pub const VERSION: usize = 0;
    pub const ENCODE_GUID: usize = 4;
    pub const PRESET_GUID: usize = 20;
    pub const WIDTH: usize = 36;
    pub const HEIGHT: usize = 40;
    pub const DAR_WIDTH: usize = 44;
    pub const DAR_HEIGHT: usize = 48;
    pub const FRAME_RATE_NUM: usize = 52;
    pub const FRAME_RATE_DEN: usize = 56;
    pub const ENABLE_ENCODE_ASYNC: usize = 60;
    pub const ENABLE_PTD: usize = 64;
    pub const ENCODE_CONFIG: usize = 88;
    pub const MAX_WIDTH: usize = 96;
    pub const MAX_HEIGHT: usize = 100;
    pub const TUNING_INFO: usize = 136;
    pub const BUFFER_FORMAT: usize = 140;
}

/// NV_ENC_RECONFIGURE_PARAMS (1824 bytes).
pub mod reconfigure {
    pub const SIZE: usize = 1824;
    pub const VERSION: usize = 0;
    /// The embedded NV_ENC_INITIALIZE_PARAMS.
    pub const INIT: usize = 8;
    /// Bit-field word after it: resetEncoder:1 forceIDR:1.
    pub const FLAGS: usize = 1816;
}

/// NV_ENC_REGISTER_RESOURCE (1536 bytes).
pub mod register {
    pub const SIZE: usize = 1536;
    pub const VERSION: usize = 0;
    pub const RESOURCE_TYPE: usize = 4;
    pub const WIDTH: usize = 8;
    pub const HEIGHT: usize = 12;
    pub const PITCH: usize = 16;
    pub const RESOURCE: usize = 24;
    pub const REGISTERED: usize = 32;
    pub const BUFFER_FORMAT: usize = 40;
    pub const BUFFER_USAGE: usize = 44;
}

/// NV_ENC_MAP_INPUT_RESOURCE (1544 bytes).
pub mod map {
    pub const SIZE: usize = 1544;
    pub const VERSION: usize = 0;
    pub const REGISTERED: usize = 16;
    pub const MAPPED: usize = 24;
    pub const MAPPED_FORMAT: usize = 32;
}

/// NV_ENC_CREATE_BITSTREAM_BUFFER (776 bytes).
pub mod bitstream {
    pub const SIZE: usize = 776;
    pub const VERSION: usize = 0;
    pub const BUFFER: usize = 16;
}

/// NV_ENC_PIC_PARAMS (3360 bytes).
pub mod pic {
    pub const SIZE: usize = 3360;
    pub const VERSION: usize = 0;
    pub const INPUT_WIDTH: usize = 4;
    pub const INPUT_HEIGHT: usize = 8;
    pub const INPUT_PITCH: usize = 12;
    pub const FLAGS: usize = 16;
    pub const FRAME_IDX: usize = 20;
    pub const TIMESTAMP: usize = 24;
    pub const INPUT_BUFFER: usize = 40;
    pub const OUTPUT_BITSTREAM: usize = 48;
    pub const BUFFER_FORMAT: usize = 64;
    pub const PICTURE_STRUCT: usize = 68;
}

/// NV_ENC_LOCK_BITSTREAM (1552 bytes).
pub mod lock {
    pub const SIZE: usize = 1552;
    pub const VERSION: usize = 0;
    /// doNotWait:1 ltrFrame:1 getRCStats:1.
    pub const FLAGS: usize = 4;
    pub const OUTPUT_BITSTREAM: usize = 8;
    pub const SIZE_IN_BYTES: usize = 36;
    pub const TIMESTAMP: usize = 40;
    pub const DATA_PTR: usize = 56;
    pub const PICTURE_TYPE: usize = 64;
}
