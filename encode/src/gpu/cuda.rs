//! Thin safe wrappers over the CUDA driver API (cudarc's dynamically loaded `sys` bindings): the device's
//! primary context, streams, events, pitched device buffers, texture objects over CUDA arrays, and PTX
//! modules with kernel launch. Every creation is counted (see `counters`). This is the only file besides
//! `interop.rs` and `nvenc/` that calls the driver.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::ffi::{c_void, CStr, CString};
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::Arc;

use cudarc::driver::sys;

use super::colour::PixelFormat;
use super::counters;
use super::error::{GpuError, GpuResult};

/// Turns a `CUresult` into a `GpuError` naming the call (and logs it).
pub(crate) fn check(r: sys::CUresult, call: &'static str) -> GpuResult<()> {
    if r == sys::CUresult::CUDA_SUCCESS {
        return Ok(());
    }
    let mut name: *const std::ffi::c_char = ptr::null();
    // SAFETY: cuGetErrorName writes a pointer to a static string (or leaves it null for unknown codes).
    unsafe { sys::cuGetErrorName(r, &mut name) };
    let name = if name.is_null() {
        format!("{r:?}")
    } else {
        // SAFETY: non-null names are NUL-terminated static strings owned by the driver.
        unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned()
    };
    tracing::error!(call, %name, code = r as i32, "CUDA call failed");
    Err(GpuError::Cuda { call, name, code: r as i32 })
}

/// True when the CUDA driver library can be loaded.
pub fn driver_present() -> bool {
    // SAFETY: only tries to dlopen the library and drops it again.
    unsafe { sys::is_culib_present() }
}

/// `LUMEN_CUDA_SCHED=spin|yield|blocking|auto`: how the host thread waits for the GPU (`CU_CTX_SCHED_*`);
/// unset leaves the driver's default (auto).
fn sched_flags() -> Option<u32> {
    match std::env::var("LUMEN_CUDA_SCHED").ok()?.as_str() {
        "auto" => Some(0),
        "spin" => Some(1),
        "yield" => Some(2),
        "blocking" => Some(4),
        other => {
            tracing::warn!(value = other, "LUMEN_CUDA_SCHED: expected spin, yield, blocking or auto");
            None
        }
    }
}

/// A CUDA device with its retained primary context (shared with NVENC and the interop layer).
#[derive(Debug)]
pub struct CudaDevice {
    dev: sys::CUdevice,
    ctx: sys::CUcontext,
    name: String,
}

// SAFETY: a CUDA context handle may be used from any thread once made current there (`bind`).
unsafe impl Send for CudaDevice {}
// SAFETY: as above; the handle itself is immutable.
unsafe impl Sync for CudaDevice {}

impl CudaDevice {
    /// Initialises CUDA, retains device `ordinal`'s primary context and makes it current on this thread.
    pub fn open(ordinal: i32) -> GpuResult<Arc<CudaDevice>> {
        if !driver_present() {
            tracing::info!("libcuda.so.1 not present");
            return Err(GpuError::NoCudaDriver);
        }
        // SAFETY: the library is present (checked above); every out-pointer is a valid local.
        unsafe {
            check(sys::cuInit(0), "cuInit")?;
            let mut dev = 0;
            check(sys::cuDeviceGet(&mut dev, ordinal), "cuDeviceGet")?;
            let mut buf = [0 as std::ffi::c_char; 256];
            check(sys::cuDeviceGetName(buf.as_mut_ptr(), buf.len() as i32, dev), "cuDeviceGetName")?;
            let name = CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned();
            if let Some(flags) = sched_flags() {
                // Best effort: a context already active in this process keeps its flags.
                let r = sys::cuDevicePrimaryCtxSetFlags_v2(dev, flags);
                tracing::info!(
                    flags,
                    ok = r == sys::CUresult::CUDA_SUCCESS,
                    "CUDA scheduling flags (LUMEN_CUDA_SCHED)"
                );
            }
            let mut ctx = ptr::null_mut();
            check(sys::cuDevicePrimaryCtxRetain(&mut ctx, dev), "cuDevicePrimaryCtxRetain")?;
            let d = CudaDevice { dev, ctx, name };
            d.bind()?;
            Ok(Arc::new(d))
        }
    }

    /// Makes the context current on the calling thread.
    pub fn bind(&self) -> GpuResult<()> {
        // SAFETY: ctx is a retained primary context, valid until drop.
        check(unsafe { sys::cuCtxSetCurrent(self.ctx) }, "cuCtxSetCurrent")
    }

    /// The device's name ("NVIDIA H200").
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw context (for NVENC's `device` field).
    pub fn raw_context(&self) -> *mut c_void {
        self.ctx as *mut c_void
    }

    /// Blocks until all work of the context is done (teardown and the naive comparison only).
    pub fn synchronize(&self) -> GpuResult<()> {
        // SAFETY: plain driver call on the current context.
        check(unsafe { sys::cuCtxSynchronize() }, "cuCtxSynchronize")
    }
}

impl Drop for CudaDevice {
    fn drop(&mut self) {
        // SAFETY: releases the retain taken in `open`.
        let _ = check(unsafe { sys::cuDevicePrimaryCtxRelease_v2(self.dev) }, "cuDevicePrimaryCtxRelease");
    }
}

/// A CUDA stream (non-blocking with respect to the legacy default stream).
#[derive(Debug)]
pub struct Stream {
    raw: sys::CUstream,
    _dev: Arc<CudaDevice>,
}

// SAFETY: stream handles may be used from any thread with the context current.
unsafe impl Send for Stream {}

impl Stream {
    /// Creates a stream on the device's context.
    pub fn new(dev: &Arc<CudaDevice>) -> GpuResult<Stream> {
        let mut raw = ptr::null_mut();
        // SAFETY: out-pointer valid; flag 1 = CU_STREAM_NON_BLOCKING.
        check(unsafe { sys::cuStreamCreate(&mut raw, 1) }, "cuStreamCreate")?;
        Ok(Stream { raw, _dev: dev.clone() })
    }
    /// The raw handle.
    pub fn raw(&self) -> sys::CUstream {
        self.raw
    }
    /// Blocks until the stream's work is done.
    pub fn synchronize(&self) -> GpuResult<()> {
        // SAFETY: valid stream.
        check(unsafe { sys::cuStreamSynchronize(self.raw) }, "cuStreamSynchronize")
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // SAFETY: valid stream, destroyed once.
        let _ = check(unsafe { sys::cuStreamDestroy_v2(self.raw) }, "cuStreamDestroy");
    }
}

/// A CUDA event (timing disabled: cheapest to record and wait on).
#[derive(Debug)]
pub struct Event {
    raw: sys::CUevent,
}

// SAFETY: event handles may be used from any thread with the context current.
unsafe impl Send for Event {}

impl Event {
    /// Creates an event; `timing` enables `elapsed_ms`.
    pub fn new(timing: bool) -> GpuResult<Event> {
        let mut raw = ptr::null_mut();
        let flags = if timing { 0 } else { 2 }; // CU_EVENT_DISABLE_TIMING
                                                // SAFETY: out-pointer valid.
        check(unsafe { sys::cuEventCreate(&mut raw, flags) }, "cuEventCreate")?;
        Ok(Event { raw })
    }
    /// Records the event at the current end of `stream`.
    pub fn record(&self, stream: &Stream) -> GpuResult<()> {
        // SAFETY: valid event and stream.
        check(unsafe { sys::cuEventRecord(self.raw, stream.raw) }, "cuEventRecord")
    }
    /// Blocks the calling thread until the event completes.
    pub fn synchronize(&self) -> GpuResult<()> {
        // SAFETY: valid event.
        check(unsafe { sys::cuEventSynchronize(self.raw) }, "cuEventSynchronize")
    }
    /// Whether the work before the event has completed (`cuEventQuery`; never blocks).
    pub fn done(&self) -> GpuResult<bool> {
        // SAFETY: valid event.
        let r = unsafe { sys::cuEventQuery(self.raw) };
        if r == sys::CUresult::CUDA_ERROR_NOT_READY {
            return Ok(false);
        }
        check(r, "cuEventQuery").map(|()| true)
    }
    /// Waits for the event by polling `cuEventQuery` for up to `spin` (no sleep, no driver wake-up
    /// latency), then blocks in `cuEventSynchronize` if it is still not done.
    pub fn spin_wait(&self, spin: std::time::Duration) -> GpuResult<()> {
        let start = std::time::Instant::now();
        while !self.done()? {
            if start.elapsed() >= spin {
                return self.synchronize();
            }
            std::hint::spin_loop();
        }
        Ok(())
    }
    /// Milliseconds between `start` and this event (both recorded with timing).
    pub fn elapsed_ms(&self, start: &Event) -> GpuResult<f32> {
        let mut ms = 0f32;
        // SAFETY: valid events, out-pointer valid.
        check(unsafe { sys::cuEventElapsedTime_v2(&mut ms, start.raw, self.raw) }, "cuEventElapsedTime")?;
        Ok(ms)
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: valid event, destroyed once.
        let _ = check(unsafe { sys::cuEventDestroy_v2(self.raw) }, "cuEventDestroy");
    }
}

/// One pitched device allocation holding a whole frame in `format` (all planes at one pitch).
#[derive(Debug)]
pub struct PitchedBuffer {
    ptr: sys::CUdeviceptr,
    pitch: usize,
    width: u32,
    height: u32,
    format: PixelFormat,
}

// SAFETY: a device pointer is a plain address valid in the context from any thread.
unsafe impl Send for PitchedBuffer {}
// SAFETY: the wrapper has no interior mutability on the host side.
unsafe impl Sync for PitchedBuffer {}

impl PitchedBuffer {
    /// Allocates a frame buffer (counted).
    pub fn new(format: PixelFormat, width: u32, height: u32) -> GpuResult<PitchedBuffer> {
        if width == 0 || height == 0 {
            return Err(GpuError::Invalid(format!("empty frame {width}x{height}")));
        }
        let mut ptr = 0;
        let mut pitch = 0usize;
        check(
            // SAFETY: out-pointers valid; element size 16 gives the widest alignment NVENC may want.
            unsafe {
                sys::cuMemAllocPitch_v2(&mut ptr, &mut pitch, format.row_bytes(width), format.total_rows(height), 16)
            },
            "cuMemAllocPitch",
        )?;
        counters::allocation();
        Ok(PitchedBuffer { ptr, pitch, width, height, format })
    }
    /// Device address of the first plane.
    pub fn device_ptr(&self) -> u64 {
        self.ptr
    }
    /// Row pitch in bytes.
    pub fn pitch(&self) -> usize {
        self.pitch
    }
    /// Frame width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Frame height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Layout.
    pub fn format(&self) -> PixelFormat {
        self.format
    }
    /// Bytes of the whole buffer (pitch × all rows).
    pub fn len(&self) -> usize {
        self.pitch * self.format.total_rows(self.height)
    }
    /// Never true (buffers are non-empty).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fills the buffer with `byte` on `stream` (to poison it before a check).
    pub fn fill(&self, byte: u8, stream: &Stream) -> GpuResult<()> {
        // SAFETY: the range lies inside this allocation.
        check(unsafe { sys::cuMemsetD8Async(self.ptr, byte, self.len(), stream.raw) }, "cuMemsetD8Async")
    }
    /// Copies the whole buffer to host memory (verification only; blocks).
    pub fn download(&self, out: &mut Vec<u8>) -> GpuResult<()> {
        out.resize(self.len(), 0);
        // SAFETY: `out` holds len() bytes; the device range lies inside this allocation.
        check(unsafe { sys::cuMemcpyDtoH_v2(out.as_mut_ptr() as *mut c_void, self.ptr, self.len()) }, "cuMemcpyDtoH")
    }
}

impl Drop for PitchedBuffer {
    fn drop(&mut self) {
        // SAFETY: allocated by cuMemAllocPitch, freed once.
        let _ = check(unsafe { sys::cuMemFree_v2(self.ptr) }, "cuMemFree");
        counters::free();
    }
}

/// A texture object over a CUDA array of 8-bit RGBA texels: point sampling, unnormalised coordinates,
/// integer reads (what the conversion kernels sample).
#[derive(Debug)]
pub struct TextureObject {
    raw: sys::CUtexObject,
    array: sys::CUarray,
}

// SAFETY: texture object handles are plain 64-bit values valid in the context from any thread.
unsafe impl Send for TextureObject {}

impl TextureObject {
    /// Creates a texture object over `array` (counted).
    pub fn new(array: sys::CUarray) -> GpuResult<TextureObject> {
        // SAFETY: zeroed descriptors are valid starting points (all-zero = defaults) for these C structs.
        let mut res: sys::CUDA_RESOURCE_DESC = unsafe { MaybeUninit::zeroed().assume_init() };
        res.resType = sys::CUresourcetype::CU_RESOURCE_TYPE_ARRAY;
        res.res.array.hArray = array;
        // SAFETY: as above.
        let mut tex: sys::CUDA_TEXTURE_DESC = unsafe { MaybeUninit::zeroed().assume_init() };
        tex.addressMode = [sys::CUaddress_mode::CU_TR_ADDRESS_MODE_CLAMP; 3];
        tex.filterMode = sys::CUfilter_mode::CU_TR_FILTER_MODE_POINT;
        tex.flags = 0x01; // CU_TRSF_READ_AS_INTEGER
        let mut raw = 0;
        // SAFETY: descriptors fully initialised above; a null view descriptor is allowed.
        check(unsafe { sys::cuTexObjectCreate(&mut raw, &res, &tex, ptr::null()) }, "cuTexObjectCreate")?;
        counters::texture_object();
        Ok(TextureObject { raw, array })
    }
    /// The handle passed to kernels.
    pub fn raw(&self) -> u64 {
        self.raw
    }
    /// The array it reads.
    pub fn array(&self) -> sys::CUarray {
        self.array
    }
}

impl Drop for TextureObject {
    fn drop(&mut self) {
        // SAFETY: created by cuTexObjectCreate, destroyed once.
        let _ = check(unsafe { sys::cuTexObjectDestroy(self.raw) }, "cuTexObjectDestroy");
    }
}

/// A loaded PTX module.
#[derive(Debug)]
pub struct Module {
    raw: sys::CUmodule,
}

// SAFETY: a module handle belongs to the context, not to a thread; it is used with that context current.
unsafe impl Send for Module {}

impl Module {
    /// JIT-loads PTX text into the current context.
    pub fn from_ptx(ptx: &str) -> GpuResult<Module> {
        let text = CString::new(ptx).map_err(|_| GpuError::Invalid("PTX contains a NUL byte".into()))?;
        let mut raw = ptr::null_mut();
        // SAFETY: text is NUL-terminated and outlives the call.
        check(unsafe { sys::cuModuleLoadData(&mut raw, text.as_ptr() as *const c_void) }, "cuModuleLoadData")?;
        Ok(Module { raw })
    }
    /// Looks up a kernel.
    pub fn function(&self, name: &str) -> GpuResult<Function> {
        let cname = CString::new(name).map_err(|_| GpuError::Invalid("kernel name contains NUL".into()))?;
        let mut raw = ptr::null_mut();
        // SAFETY: valid module and NUL-terminated name.
        check(unsafe { sys::cuModuleGetFunction(&mut raw, self.raw, cname.as_ptr()) }, "cuModuleGetFunction")?;
        Ok(Function { raw })
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        // SAFETY: loaded by cuModuleLoadData, unloaded once (functions are not used after the module).
        let _ = check(unsafe { sys::cuModuleUnload(self.raw) }, "cuModuleUnload");
    }
}

/// A kernel of a [`Module`].
#[derive(Debug, Clone, Copy)]
pub struct Function {
    raw: sys::CUfunction,
}

// SAFETY: function handles are immutable and usable from any thread with the context current.
unsafe impl Send for Function {}

impl Function {
    /// Launches the kernel on `stream`.
    ///
    /// # Safety
    /// `params` must point to values whose types and order match the kernel's parameter list exactly, and
    /// every device address among them must be valid for what the kernel reads and writes.
    pub unsafe fn launch(
        &self,
        grid: (u32, u32),
        block: (u32, u32),
        stream: &Stream,
        params: &mut [*mut c_void],
    ) -> GpuResult<()> {
        // SAFETY: the caller guarantees `params` matches the kernel's parameter list and every device address is
        // valid; `self.raw` is a loaded function and `stream.raw` a live stream of this context.
        let result = unsafe {
            sys::cuLaunchKernel(
                self.raw,
                grid.0,
                grid.1,
                1,
                block.0,
                block.1,
                1,
                0,
                stream.raw,
                params.as_mut_ptr(),
                ptr::null_mut(),
            )
        };
        check(result, "cuLaunchKernel")
    }
}

/// A pitched device image of 8-bit RGBA/BGRA texels: the upload target for CPU-rendered frames
/// (allocated once per encoder, counted).
#[derive(Debug)]
pub struct RgbaBuffer {
    ptr: sys::CUdeviceptr,
    pitch: usize,
    width: u32,
    height: u32,
}

// SAFETY: a device pointer is a plain address valid in the context from any thread.
unsafe impl Send for RgbaBuffer {}

impl RgbaBuffer {
    /// Allocates a `width`×`height` image.
    pub fn new(width: u32, height: u32) -> GpuResult<RgbaBuffer> {
        if width == 0 || height == 0 {
            return Err(GpuError::Invalid(format!("empty image {width}x{height}")));
        }
        let (mut ptr, mut pitch) = (0, 0usize);
        check(
            // SAFETY: out-pointers valid.
            unsafe { sys::cuMemAllocPitch_v2(&mut ptr, &mut pitch, width as usize * 4, height as usize, 16) },
            "cuMemAllocPitch",
        )?;
        counters::allocation();
        Ok(RgbaBuffer { ptr, pitch, width, height })
    }
    /// Device address.
    pub fn device_ptr(&self) -> u64 {
        self.ptr
    }
    /// Row pitch in bytes.
    pub fn pitch(&self) -> usize {
        self.pitch
    }
    /// Queues a copy of `height` rows of `width * 4` bytes from host memory (`stride` bytes apart).
    pub fn upload(&self, data: &[u8], stride: usize, stream: &Stream) -> GpuResult<()> {
        let row = self.width as usize * 4;
        if stride < row || data.len() < stride * (self.height as usize - 1) + row {
            return Err(GpuError::Invalid(format!(
                "{} bytes at stride {stride} for {}x{}",
                data.len(),
                self.width,
                self.height
            )));
        }
        // SAFETY: zeroed is a valid CUDA_MEMCPY2D (null pointers, zero sizes) before the fields are set.
        let mut c: sys::CUDA_MEMCPY2D = unsafe { MaybeUninit::zeroed().assume_init() };
        c.srcMemoryType = sys::CUmemorytype::CU_MEMORYTYPE_HOST;
        c.srcHost = data.as_ptr() as *const c_void;
        c.srcPitch = stride;
        c.dstMemoryType = sys::CUmemorytype::CU_MEMORYTYPE_DEVICE;
        c.dstDevice = self.ptr;
        c.dstPitch = self.pitch;
        c.WidthInBytes = row;
        c.Height = self.height as usize;
        // SAFETY: source range checked above; destination is this allocation. Pageable host memory makes
        // the copy complete before the call returns, so `data` may be reused afterwards.
        check(unsafe { sys::cuMemcpy2DAsync_v2(&c, stream.raw()) }, "cuMemcpy2DAsync")
    }
}

impl Drop for RgbaBuffer {
    fn drop(&mut self) {
        // SAFETY: allocated by cuMemAllocPitch, freed once.
        let _ = check(unsafe { sys::cuMemFree_v2(self.ptr) }, "cuMemFree");
        counters::free();
    }
}

/// Page-locked host memory (`cuMemAllocHost`), allocated once: the destination of the one device → host
/// copy per frame on the GPU-conversion route of the software encoder (DMA straight into it, no staging).
#[derive(Debug)]
pub struct PinnedBuffer {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the allocation is plain host memory owned by this value; access goes through `&`/`&mut self`.
unsafe impl Send for PinnedBuffer {}

impl PinnedBuffer {
    /// Allocates `len` bytes (counted).
    pub fn new(len: usize) -> GpuResult<PinnedBuffer> {
        if len == 0 {
            return Err(GpuError::Invalid("empty pinned buffer".into()));
        }
        let mut p: *mut c_void = ptr::null_mut();
        // SAFETY: out-pointer valid; the context is current (caller's contract, like every allocation here).
        check(unsafe { sys::cuMemAllocHost_v2(&mut p, len) }, "cuMemAllocHost")?;
        counters::allocation();
        Ok(PinnedBuffer { ptr: p as *mut u8, len })
    }
    /// The bytes (valid once the copy that filled them has completed).
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len` bytes allocated in `new`, alive until drop; writes happen only through copies queued
        // by `&mut self` methods, which callers wait for before reading.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
    /// Bytes allocated.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Never true.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Queues a copy of the whole of `src` (all planes, padding included) into this buffer on `stream`.
    pub fn copy_from(&mut self, src: &PitchedBuffer, stream: &Stream) -> GpuResult<()> {
        if src.len() > self.len {
            return Err(GpuError::Invalid(format!("{} byte frame into a {} byte pinned buffer", src.len(), self.len)));
        }
        // SAFETY: the destination holds at least src.len() bytes and stays allocated (it is borrowed mutably
        // until the caller waits for the stream); the source range lies inside the device allocation.
        check(
            unsafe { sys::cuMemcpyDtoHAsync_v2(self.ptr as *mut c_void, src.device_ptr(), src.len(), stream.raw()) },
            "cuMemcpyDtoHAsync",
        )
    }
}

impl Drop for PinnedBuffer {
    fn drop(&mut self) {
        // SAFETY: allocated by cuMemAllocHost, freed once.
        let _ = check(unsafe { sys::cuMemFreeHost(self.ptr as *mut c_void) }, "cuMemFreeHost");
        counters::free();
    }
}
