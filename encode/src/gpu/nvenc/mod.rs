//! Our thin NVENC layer: `libnvidia-encode.so.1` opened at run time (the workspace builds and runs with no
//! NVIDIA driver), the API version checked against the driver's, the function list fetched, and encode
//! sessions opened on the CUDA context. [`Session::open`] is also the probe: opening a session is the only
//! reliable NVENC test (the H100/H200 load the library, create the instance, and then answer
//! `NV_ENC_ERR_UNSUPPORTED_DEVICE`).
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

pub mod encoder;
pub mod ffi;
pub mod retrieve;

use std::ffi::{c_void, CStr};
use std::ptr;
use std::sync::Arc;

use super::cuda::CudaDevice;
use super::error::{GpuError, GpuResult};
use super::support::{Codec, NvencCaps};

const LIBRARY: &str = "libnvidia-encode.so.1";

/// The loaded library and its function list.
pub struct Nvenc {
    _lib: libloading::Library,
    fns: Box<ffi::FunctionList>,
    /// The driver's newest API version (major, minor).
    pub max_api: (u32, u32),
}

// SAFETY: the library handle and the function list are immutable after `load`; NVENC's entry points may be
// called from any thread (each session is used by one thread at a time).
unsafe impl Send for Nvenc {}
// SAFETY: as above.
unsafe impl Sync for Nvenc {}

pub(crate) fn nvenc_err(call: &'static str, code: ffi::Status, detail: String) -> GpuError {
    let name = ffi::status_name(code);
    tracing::warn!(call, name, code, %detail, "NVENC call failed");
    GpuError::Nvenc { call, name, code, detail }
}

impl Nvenc {
    /// Opens the library, checks the version and fetches the function list.
    pub fn load() -> GpuResult<Nvenc> {
        // SAFETY: loading the NVIDIA encode library runs its initialisers; nothing else is assumed.
        let lib = unsafe { libloading::Library::new(LIBRARY) }
            .map_err(|e| GpuError::Load { library: LIBRARY, reason: e.to_string() })?;
        type MaxVer = unsafe extern "C" fn(*mut u32) -> ffi::Status;
        type Create = unsafe extern "C" fn(*mut ffi::FunctionList) -> ffi::Status;
        // SAFETY: the symbol types are those of nvEncodeAPI.h; `lib` outlives the pointers (kept in Self).
        let (max_ver, create) = unsafe {
            let m: libloading::Symbol<MaxVer> =
                lib.get(b"NvEncodeAPIGetMaxSupportedVersion\0").map_err(|e| GpuError::MissingSymbol {
                    library: LIBRARY,
                    symbol: "NvEncodeAPIGetMaxSupportedVersion",
                    reason: e.to_string(),
                })?;
            let c: libloading::Symbol<Create> = lib.get(b"NvEncodeAPICreateInstance\0").map_err(|e| {
                GpuError::MissingSymbol { library: LIBRARY, symbol: "NvEncodeAPICreateInstance", reason: e.to_string() }
            })?;
            (*m, *c)
        };
        let mut v = 0u32;
        // SAFETY: out-pointer valid.
        let s = unsafe { max_ver(&mut v) };
        if s != 0 {
            return Err(nvenc_err("NvEncodeAPIGetMaxSupportedVersion", s, String::new()));
        }
        let max_api = (v >> 4, v & 0xf);
        if max_api < (ffi::API_MAJOR, ffi::API_MINOR) {
            return Err(GpuError::Load {
                library: LIBRARY,
                reason: format!(
                    "driver supports NVENC API {}.{}, lumen needs {}.{}",
                    max_api.0,
                    max_api.1,
                    ffi::API_MAJOR,
                    ffi::API_MINOR
                ),
            });
        }
        // SAFETY: FunctionList is plain data (integers, optional fn pointers, raw pointers): zero is valid.
        let mut fns: Box<ffi::FunctionList> = Box::new(unsafe { std::mem::zeroed() });
        fns.version = ffi::FUNCTION_LIST_VER;
        // SAFETY: `fns` is a correctly versioned, writable function list.
        let s = unsafe { create(&mut *fns) };
        if s != 0 {
            return Err(nvenc_err("NvEncodeAPICreateInstance", s, String::new()));
        }
        tracing::info!(major = max_api.0, minor = max_api.1, "NVENC library loaded");
        Ok(Nvenc { _lib: lib, fns, max_api })
    }
}

/// An open encode session on a CUDA context; destroyed on drop.
pub struct Session {
    nvenc: Arc<Nvenc>,
    encoder: *mut c_void,
}

// SAFETY: an NVENC session may be driven from any one thread at a time (the encoder thread owns it).
unsafe impl Send for Session {}

impl Session {
    /// `nvEncOpenEncodeSessionEx` on `device`'s context.
    pub fn open(nvenc: &Arc<Nvenc>, device: &CudaDevice) -> GpuResult<Session> {
        let open = nvenc.fns.open_encode_session_ex.ok_or_else(|| GpuError::MissingSymbol {
            library: LIBRARY,
            symbol: "nvEncOpenEncodeSessionEx",
            reason: "not in the function list".into(),
        })?;
        // SAFETY: the params struct is plain data; zero then set the required fields.
        let mut p: ffi::OpenSessionExParams = unsafe { std::mem::zeroed() };
        p.version = ffi::OPEN_SESSION_EX_VER;
        p.device_type = ffi::DEVICE_TYPE_CUDA;
        p.device = device.raw_context();
        p.api_version = ffi::API_VERSION;
        let mut encoder = ptr::null_mut();
        // SAFETY: valid params and out-pointer; the context outlives the session (caller holds the device).
        let s = unsafe { open(&mut p, &mut encoder) };
        if s != 0 {
            let detail = if s == 2 { format!(": {} has no NVENC engine", device.name()) } else { String::new() };
            // A failed open may still return an encoder handle that must be destroyed.
            if !encoder.is_null() {
                if let Some(d) = nvenc.fns.destroy_encoder {
                    // SAFETY: handle returned by the failed open, destroyed once.
                    unsafe { d(encoder) };
                }
            }
            return Err(nvenc_err("nvEncOpenEncodeSessionEx", s, detail));
        }
        Ok(Session { nvenc: nvenc.clone(), encoder })
    }

    /// The codecs this session can encode (of H.264, HEVC, AV1).
    pub fn codecs(&self) -> GpuResult<Vec<Codec>> {
        let f = &self.nvenc.fns;
        let (count_f, list_f) = match (f.get_encode_guid_count, f.get_encode_guids) {
            (Some(a), Some(b)) => (a, b),
            _ => {
                return Err(GpuError::MissingSymbol {
                    library: LIBRARY,
                    symbol: "nvEncGetEncodeGUIDs",
                    reason: "null".into(),
                })
            }
        };
        let mut n = 0u32;
        // SAFETY: open session, valid out-pointer.
        let s = unsafe { count_f(self.encoder, &mut n) };
        if s != 0 {
            return Err(nvenc_err("nvEncGetEncodeGUIDCount", s, self.last_error()));
        }
        let mut guids = vec![ffi::Guid::default(); n as usize];
        let mut got = 0u32;
        // SAFETY: the array holds n GUIDs.
        let s = unsafe { list_f(self.encoder, guids.as_mut_ptr(), n, &mut got) };
        if s != 0 {
            return Err(nvenc_err("nvEncGetEncodeGUIDs", s, self.last_error()));
        }
        guids.truncate(got as usize);
        Ok(codecs_from_guids(&guids))
    }

    /// Reference-frame invalidation: frames from `timestamp` on are not used as references.
    pub fn invalidate_ref_frames(&self, timestamp: u64) -> GpuResult<()> {
        let f = self.nvenc.fns.invalidate_ref_frames.ok_or_else(|| GpuError::MissingSymbol {
            library: LIBRARY,
            symbol: "nvEncInvalidateRefFrames",
            reason: "null".into(),
        })?;
        // SAFETY: open session.
        let s = unsafe { f(self.encoder, timestamp) };
        if s != 0 {
            return Err(nvenc_err("nvEncInvalidateRefFrames", s, self.last_error()));
        }
        Ok(())
    }

    /// The raw encoder handle.
    pub fn raw(&self) -> *mut c_void {
        self.encoder
    }

    /// The function list.
    pub fn fns(&self) -> &ffi::FunctionList {
        &self.nvenc.fns
    }

    /// Calls an `(encoder, arg)` entry point, turning its status into an error with the driver's message.
    pub(crate) fn call(&self, f: ffi::EncFn, name: &'static str, arg: *mut c_void) -> GpuResult<()> {
        let f = f.ok_or(GpuError::MissingSymbol {
            library: LIBRARY,
            symbol: name,
            reason: "null in function list".into(),
        })?;
        // SAFETY: `arg` is what the entry point takes (the caller passes the struct or handle it names);
        // the session is open.
        let s = unsafe { f(self.encoder, arg) };
        if s != 0 {
            return Err(nvenc_err(name, s, self.last_error()));
        }
        Ok(())
    }

    /// The driver's last error message for this session (": message" or empty).
    pub fn last_error(&self) -> String {
        match self.nvenc.fns.get_last_error_string {
            Some(f) => {
                // SAFETY: open session; the driver returns a NUL-terminated string or null.
                let p = unsafe { f(self.encoder) };
                if p.is_null() {
                    String::new()
                } else {
                    // SAFETY: non-null, NUL-terminated, owned by the driver.
                    format!(": {}", unsafe { CStr::from_ptr(p) }.to_string_lossy())
                }
            }
            None => String::new(),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(d) = self.nvenc.fns.destroy_encoder {
            // SAFETY: opened by `open`, destroyed once.
            unsafe { d(self.encoder) };
        }
    }
}

/// Maps encode GUIDs to lumen's codecs, in H.264, HEVC, AV1 order.
pub fn codecs_from_guids(guids: &[ffi::Guid]) -> Vec<Codec> {
    [(ffi::CODEC_H264, Codec::H264), (ffi::CODEC_HEVC, Codec::Hevc), (ffi::CODEC_AV1, Codec::Av1)]
        .into_iter()
        .filter(|(g, _)| guids.contains(g))
        .map(|(_, c)| c)
        .collect()
}

/// Loads NVENC, opens a session on `device` and lists its codecs.
pub fn probe_session(device: &CudaDevice) -> GpuResult<NvencCaps> {
    let nvenc = Arc::new(Nvenc::load()?);
    let session = Session::open(&nvenc, device)?;
    let codecs = session.codecs()?;
    Ok(NvencCaps { codecs, max_api: nvenc.max_api })
}
