//! `NvencEncoder`: the [`Encoder`](crate::Encoder) on NVENC. One CUDA stream carries upload (CPU frames) or
//! nothing (GPU targets), the conversion kernel into a pooled pitched buffer registered with NVENC once,
//! and — through `nvEncSetIOCudaStreams` — NVENC's read of that buffer, so no host wait sits between
//! conversion and encode. Low-latency preset P1 with ultra-low-latency tuning, CBR with a one-frame VBV,
//! infinite GOP (IDR only on request, parameter sets repeated on each IDR), reference-frame invalidation,
//! optional intra refresh.
//!
//! Output retrieval: `Encoder::encode` is synchronous (`nvEncLockBitstream` on the calling thread blocks
//! until the frame is coded; the trait returns each frame's access unit from `encode`). The pipelined mode
//! (`enable_retrieval_thread` → `submit_texture` / `retrieve`) keeps several output buffers in flight and
//! locks them on a retrieval thread (`retrieve.rs`), so conversion and submission of the next frame never
//! wait for the previous one's bitstream.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::ffi::c_void;
use std::sync::Arc;
use std::time::Instant;

use super::ffi::{self, config, init, Params};
use super::retrieve::{Job, OutputRing, Retrieval};
use super::{Nvenc, Session};
use crate::encoder::{AccessUnit, Codec, EncodeError, Encoder, EncoderConfig, FrameKind};
use crate::frame::{Frame, FramePixels};
use crate::gpu::colour::{Conversion, PixelFormat};
use crate::gpu::convert::Converter;
use crate::gpu::cuda::{CudaDevice, RgbaBuffer, Stream, TextureObject};
use crate::gpu::error::{GpuError, GpuResult};
use crate::gpu::pool::Slot;
use crate::gpu::{counters, frame_pool, FramePool, SourceOrder};

const POOL_SIZE: usize = 3;
const MAX_RFI_SPAN: u64 = 16;

/// Options beyond the stream configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NvencOptions {
    /// Input layout (NV12; YUV444 or P010 where the session and codec take them).
    pub format: PixelFormat,
    /// Intra refresh period in frames (0 = off): spreads intra blocks instead of full IDR frames.
    pub intra_refresh_period: u32,
}

impl Default for NvencOptions {
    fn default() -> Self {
        NvencOptions { format: PixelFormat::Nv12, intra_refresh_period: 0 }
    }
}

fn lib_err(e: GpuError) -> EncodeError {
    EncodeError::Library(e.to_string())
}

/// An NVENC encode session with its registered input pool and output buffer.
pub struct NvencEncoder {
    cfg: EncoderConfig,
    opts: NvencOptions,
    // Field order is drop order: NVENC resources (in Drop) before the session, the session before CUDA.
    /// Pipelined output (retrieval thread); `None` = synchronous.
    pipeline: Option<Pipeline>,
    session: Session,
    registered: Vec<*mut c_void>,
    bitstream: *mut c_void,
    init: Box<Params<{ init::SIZE }>>,
    config: Box<Params<{ config::SIZE }>>,
    pic: Box<Params<{ ffi::pic::SIZE }>>,
    lock: Box<Params<{ ffi::lock::SIZE }>>,
    map: Box<Params<{ ffi::map::SIZE }>>,
    pool: FramePool,
    staging: Option<RgbaBuffer>,
    converter: Converter,
    // Boxed so the address handed to nvEncSetIOCudaStreams stays put.
    io_stream: Box<cudarc::driver::sys::CUstream>,
    stream: Stream,
    device: Arc<CudaDevice>,
    idr_pending: bool,
}

// SAFETY: the raw NVENC handles are only used by the thread that owns the encoder.
unsafe impl Send for NvencEncoder {}

fn codec_guid(c: Codec) -> ffi::Guid {
    match c {
        Codec::H264 => ffi::CODEC_H264,
        Codec::Hevc => ffi::CODEC_HEVC,
        Codec::Av1 => ffi::CODEC_AV1,
    }
}

fn buffer_format(f: PixelFormat) -> u32 {
    match f {
        PixelFormat::Nv12 => ffi::BUFFER_NV12,
        PixelFormat::P010 => ffi::BUFFER_YUV420_10BIT,
        PixelFormat::Yuv444 => ffi::BUFFER_YUV444,
        PixelFormat::I420 => ffi::BUFFER_IYUV,
    }
}

/// ISO/IEC 23091-2 (H.273) colour description codes: (primaries, transfer, matrix).
fn colour_codes(cfg: &EncoderConfig) -> (u32, u32, u32) {
    match cfg.colour_space {
        crate::colour::ColourSpace::Bt601 => (6, 6, 6),
        crate::colour::ColourSpace::Bt709 => (1, 1, 1),
        crate::colour::ColourSpace::Bt2020 => (9, 14, 9),
    }
}

/// Applies lumen's streaming settings to a preset's NV_ENC_CONFIG.
pub fn apply_settings(c: &mut Params<{ config::SIZE }>, cfg: &EncoderConfig, opts: &NvencOptions) {
    use ffi::{av1, h264, hevc, rc, vui};
    c.set_u32(config::VERSION, ffi::CONFIG_VER);
    c.set_u32(config::GOP_LENGTH, ffi::INFINITE_GOP);
    c.set_u32(config::FRAME_INTERVAL_P, 1);
    let bps = cfg.bitrate_kbps.saturating_mul(1000);
    let frame_bits = bps / cfg.fps.max(1);
    c.set_u32(config::RC + rc::VERSION, ffi::RC_PARAMS_VER);
    c.set_u32(config::RC + rc::MODE, ffi::RC_CBR);
    c.set_u32(config::RC + rc::AVERAGE_BITRATE, bps);
    c.set_u32(config::RC + rc::MAX_BITRATE, bps);
    c.set_u32(config::RC + rc::VBV_BUFFER_SIZE, frame_bits);
    c.set_u32(config::RC + rc::VBV_INITIAL_DELAY, frame_bits);
    c.set_bits(config::RC + rc::FLAGS, rc::ZERO_REORDER_DELAY_BIT, 1, 1);
    let full = u32::from(cfg.range == crate::colour::Range::Full);
    let (prim, transfer, matrix) = colour_codes(cfg);
    let set_vui = |c: &mut Params<{ config::SIZE }>, base: usize| {
        c.set_u32(base + vui::VIDEO_SIGNAL_TYPE_PRESENT, 1);
        c.set_u32(base + vui::VIDEO_FORMAT, 5); // unspecified
        c.set_u32(base + vui::FULL_RANGE, full);
        c.set_u32(base + vui::COLOUR_DESCRIPTION_PRESENT, 1);
        c.set_u32(base + vui::COLOUR_PRIMARIES, prim);
        c.set_u32(base + vui::TRANSFER, transfer);
        c.set_u32(base + vui::MATRIX, matrix);
    };
    let slices = cfg.slices.max(1);
    let ir = opts.intra_refresh_period;
    let chroma444 = opts.format == PixelFormat::Yuv444;
    let ten_bit = u32::from(opts.format == PixelFormat::P010) * 2;
    let b = config::CODEC;
    match cfg.codec {
        Codec::H264 => {
            c.set_u32(b + h264::IDR_PERIOD, ffi::INFINITE_GOP);
            c.set_bits(b + h264::FLAGS, h264::REPEAT_SPSPPS_BIT, 1, 1);
            c.set_u32(b + h264::SLICE_MODE, 3);
            c.set_u32(b + h264::SLICE_MODE_DATA, slices);
            if ir > 0 {
                c.set_bits(b + h264::FLAGS, h264::INTRA_REFRESH_BIT, 1, 1);
                c.set_u32(b + h264::INTRA_REFRESH_PERIOD, ir);
                c.set_u32(b + h264::INTRA_REFRESH_CNT, ir.min(10));
            }
            if chroma444 {
                c.set_u32(b + h264::CHROMA_FORMAT_IDC, 3);
            }
            set_vui(c, b + h264::VUI);
        }
        Codec::Hevc => {
            c.set_u32(b + hevc::IDR_PERIOD, ffi::INFINITE_GOP);
            c.set_bits(b + hevc::FLAGS, hevc::REPEAT_SPSPPS_BIT, 1, 1);
            c.set_u32(b + hevc::SLICE_MODE, 3);
            c.set_u32(b + hevc::SLICE_MODE_DATA, slices);
            if ir > 0 {
                c.set_bits(b + hevc::FLAGS, hevc::INTRA_REFRESH_BIT, 1, 1);
                c.set_u32(b + hevc::INTRA_REFRESH_PERIOD, ir);
                c.set_u32(b + hevc::INTRA_REFRESH_CNT, ir.min(10));
            }
            c.set_bits(b + hevc::FLAGS, hevc::CHROMA_FORMAT_SHIFT, 2, if chroma444 { 3 } else { 1 });
            c.set_bits(b + hevc::FLAGS, hevc::BIT_DEPTH_SHIFT, 3, ten_bit);
            set_vui(c, b + hevc::VUI);
        }
        Codec::Av1 => {
            c.set_u32(b + av1::IDR_PERIOD, ffi::INFINITE_GOP);
            c.set_bits(b + av1::FLAGS, av1::REPEAT_SEQ_HDR_BIT, 1, 1);
            if ir > 0 {
                c.set_bits(b + av1::FLAGS, av1::INTRA_REFRESH_BIT, 1, 1);
                c.set_u32(b + av1::INTRA_REFRESH_PERIOD, ir);
                c.set_u32(b + av1::INTRA_REFRESH_CNT, ir.min(10));
            }
            c.set_bits(b + av1::FLAGS, av1::INPUT_BIT_DEPTH_SHIFT, 3, ten_bit);
            c.set_bits(b + av1::FLAGS, av1::BIT_DEPTH_SHIFT, 3, ten_bit);
            c.set_u32(b + av1::COLOR_PRIMARIES, prim);
            c.set_u32(b + av1::TRANSFER, transfer);
            c.set_u32(b + av1::MATRIX, matrix);
            c.set_u32(b + av1::COLOR_RANGE, full);
        }
    }
}

impl NvencEncoder {
    /// Opens a session on `device` for `cfg`, builds and registers the input pool and the output buffer.
    pub fn new(cfg: EncoderConfig, opts: NvencOptions, device: Arc<CudaDevice>) -> GpuResult<NvencEncoder> {
        if cfg.width == 0 || cfg.height == 0 || cfg.fps == 0 {
            return Err(GpuError::Invalid(format!("{}x{} at {} fps", cfg.width, cfg.height, cfg.fps)));
        }
        device.bind()?;
        let nvenc = Arc::new(Nvenc::load()?);
        let session = Session::open(&nvenc, &device)?;
        let codecs = session.codecs()?;
        if !codecs.contains(&cfg.codec) {
            return Err(GpuError::Invalid(format!("{:?} not offered by this GPU (has {codecs:?})", cfg.codec)));
        }
        let stream = Stream::new(&device)?;
        let mut io_stream = Box::new(stream.raw());
        let set_io = session.fns().set_io_cuda_streams.ok_or(GpuError::MissingSymbol {
            library: "libnvidia-encode.so.1",
            symbol: "nvEncSetIOCudaStreams",
            reason: "null".into(),
        })?;
        let io = &mut *io_stream as *mut _ as *mut c_void;
        // SAFETY: both arguments point to the boxed CUstream, which lives as long as the session.
        let s = unsafe { set_io(session.raw(), io, io) };
        if s != 0 {
            return Err(super::nvenc_err("nvEncSetIOCudaStreams", s, session.last_error()));
        }

        // Preset P1 + ultra-low-latency tuning, then lumen's settings on top.
        let mut preset = Params::<{ ffi::preset_config::SIZE }>::zeroed();
        preset.set_u32(ffi::preset_config::VERSION, ffi::PRESET_CONFIG_VER);
        preset.set_u32(ffi::preset_config::CONFIG + config::VERSION, ffi::CONFIG_VER);
        let get = session.fns().get_encode_preset_config_ex.ok_or(GpuError::MissingSymbol {
            library: "libnvidia-encode.so.1",
            symbol: "nvEncGetEncodePresetConfigEx",
            reason: "null".into(),
        })?;
        // SAFETY: versioned preset struct of the right size; GUIDs by value as the header declares.
        let s = unsafe {
            get(
                session.raw(),
                codec_guid(cfg.codec),
                ffi::PRESET_P1,
                ffi::TUNING_ULTRA_LOW_LATENCY,
                preset.as_mut_ptr(),
            )
        };
        if s != 0 {
            return Err(super::nvenc_err("nvEncGetEncodePresetConfigEx", s, session.last_error()));
        }
        let mut config = Params::<{ config::SIZE }>::zeroed();
        let pc = ffi::preset_config::CONFIG;
        config.0.copy_from_slice(&preset.0[pc..pc + config::SIZE]);
        apply_settings(&mut config, &cfg, &opts);

        let mut init = Params::<{ init::SIZE }>::zeroed();
        init.set_u32(init::VERSION, ffi::INITIALIZE_PARAMS_VER);
        init.set_guid(init::ENCODE_GUID, codec_guid(cfg.codec));
        init.set_guid(init::PRESET_GUID, ffi::PRESET_P1);
        init.set_u32(init::WIDTH, cfg.width);
        init.set_u32(init::HEIGHT, cfg.height);
        init.set_u32(init::DAR_WIDTH, cfg.width);
        init.set_u32(init::DAR_HEIGHT, cfg.height);
        init.set_u32(init::FRAME_RATE_NUM, cfg.fps);
        init.set_u32(init::FRAME_RATE_DEN, 1);
        init.set_u32(init::ENABLE_ENCODE_ASYNC, 0);
        init.set_u32(init::ENABLE_PTD, 1);
        init.set_ptr(init::ENCODE_CONFIG, config.as_mut_ptr());
        init.set_u32(init::MAX_WIDTH, cfg.width);
        init.set_u32(init::MAX_HEIGHT, cfg.height);
        init.set_u32(init::TUNING_INFO, ffi::TUNING_ULTRA_LOW_LATENCY);
        init.set_u32(init::BUFFER_FORMAT, buffer_format(opts.format));
        session.call(session.fns().initialize_encoder, "nvEncInitializeEncoder", init.as_mut_ptr())?;

        let pool = frame_pool(opts.format, cfg.width, cfg.height, POOL_SIZE)?;
        let mut registered = Vec::with_capacity(POOL_SIZE);
        for buf in pool.items() {
            let mut r = Params::<{ ffi::register::SIZE }>::zeroed();
            r.set_u32(ffi::register::VERSION, ffi::REGISTER_RESOURCE_VER);
            r.set_u32(ffi::register::RESOURCE_TYPE, ffi::RESOURCE_CUDA_DEVICEPTR);
            r.set_u32(ffi::register::WIDTH, cfg.width);
            r.set_u32(ffi::register::HEIGHT, cfg.height);
            r.set_u32(ffi::register::PITCH, buf.pitch() as u32);
            r.set_u64(ffi::register::RESOURCE, buf.device_ptr());
            r.set_u32(ffi::register::BUFFER_FORMAT, buffer_format(opts.format));
            r.set_u32(ffi::register::BUFFER_USAGE, ffi::USAGE_INPUT_IMAGE);
            session.call(session.fns().register_resource, "nvEncRegisterResource", r.as_mut_ptr())?;
            counters::registration();
            registered.push(r.ptr_at(ffi::register::REGISTERED));
        }
        let mut bs = Params::<{ ffi::bitstream::SIZE }>::zeroed();
        bs.set_u32(ffi::bitstream::VERSION, ffi::CREATE_BITSTREAM_BUFFER_VER);
        session.call(session.fns().create_bitstream_buffer, "nvEncCreateBitstreamBuffer", bs.as_mut_ptr())?;
        let bitstream = bs.ptr_at(ffi::bitstream::BUFFER);
        tracing::info!(codec = ?cfg.codec, width = cfg.width, height = cfg.height, fps = cfg.fps, "NVENC encoder ready");
        Ok(NvencEncoder {
            cfg,
            opts,
            session,
            registered,
            bitstream,
            init,
            config,
            pic: Params::zeroed(),
            lock: Params::zeroed(),
            map: Params::zeroed(),
            pool,
            staging: None,
            converter: Converter::new()?,
            io_stream,
            stream,
            device,
            idr_pending: true,
            pipeline: None,
        })
    }

    /// The zero-copy entry: converts the render target behind `src` (registered once, texture object
    /// cached by the caller) straight into a registered input buffer and encodes it.
    pub fn encode_texture(
        &mut self,
        src: &TextureObject,
        order: SourceOrder,
        index: u64,
        out: &mut AccessUnit,
    ) -> GpuResult<()> {
        let start = Instant::now();
        let slot = self.pool.acquire()?;
        let coeffs = self.conversion(order).coeffs();
        let r = self
            .converter
            .from_texture(&self.stream, src, &coeffs, self.pool.get(&slot))
            .and_then(|_| self.encode_slot(slot.index(), index, out));
        self.pool.release(slot)?;
        out.encode_time = start.elapsed();
        r
    }

    /// Encodes a registered render target (the GPU frame input): size-checked, then as `encode_texture`.
    pub fn encode_target(
        &mut self,
        target: &crate::gpu::targets::GpuTarget<'_>,
        index: u64,
        out: &mut AccessUnit,
    ) -> GpuResult<()> {
        if target.width != self.cfg.width || target.height != self.cfg.height {
            tracing::warn!(w = target.width, h = target.height, "GPU target size differs from the encoder's");
            return Err(GpuError::Invalid(format!(
                "{}x{} target for a {}x{} encoder",
                target.width, target.height, self.cfg.width, self.cfg.height
            )));
        }
        self.encode_texture(target.texture, target.order, index, out)
    }

    fn conversion(&self, order: SourceOrder) -> Conversion {
        Conversion {
            order,
            format: self.opts.format,
            matrix: self.cfg.colour_space.into(),
            range: self.cfg.range.into(),
        }
    }

    /// Map → encode (ordered after the conversion on the shared stream) → lock (blocks until coded) → copy
    /// out → unlock → unmap.
    fn encode_slot(&mut self, slot: usize, index: u64, out: &mut AccessUnit) -> GpuResult<()> {
        use ffi::lock;
        let fns = self.session.fns();
        let (lock_bs, unlock_bs, unmap_in) = (fns.lock_bitstream, fns.unlock_bitstream, fns.unmap_input_resource);
        let mapped = self.submit_picture(slot, index, self.bitstream)?;
        let r = {
            self.lock.clear();
            self.lock.set_u32(lock::VERSION, ffi::LOCK_BITSTREAM_VER);
            self.lock.set_ptr(lock::OUTPUT_BITSTREAM, self.bitstream);
            self.session.call(lock_bs, "nvEncLockBitstream", self.lock.as_mut_ptr()).and_then(|_| {
                let kind = copy_locked(&self.lock, &mut out.data);
                out.kind = Some(kind);
                out.frame_index = index;
                self.session.call(unlock_bs, "nvEncUnlockBitstream", self.bitstream)
            })
        };
        let u = self.session.call(unmap_in, "nvEncUnmapInputResource", mapped);
        r?;
        u?;
        Ok(())
    }

    /// Maps input slot `slot` and submits it for encoding into `bitstream`; returns the mapped input
    /// (unmapped once the picture's bitstream has been read).
    fn submit_picture(&mut self, slot: usize, index: u64, bitstream: *mut c_void) -> GpuResult<*mut c_void> {
        use ffi::{map, pic};
        let fns = self.session.fns();
        let (enc_pic, map_in, unmap_in) = (fns.encode_picture, fns.map_input_resource, fns.unmap_input_resource);
        self.map.clear();
        self.map.set_u32(map::VERSION, ffi::MAP_INPUT_RESOURCE_VER);
        self.map.set_ptr(map::REGISTERED, self.registered[slot]);
        self.session.call(map_in, "nvEncMapInputResource", self.map.as_mut_ptr())?;
        let mapped = self.map.ptr_at(map::MAPPED);
        let buf = self.pool.item(slot).ok_or_else(|| GpuError::Invalid(format!("slot {slot}")))?;
        self.pic.clear();
        self.pic.set_u32(pic::VERSION, ffi::PIC_PARAMS_VER);
        self.pic.set_u32(pic::INPUT_WIDTH, self.cfg.width);
        self.pic.set_u32(pic::INPUT_HEIGHT, self.cfg.height);
        self.pic.set_u32(pic::INPUT_PITCH, buf.pitch() as u32);
        if self.idr_pending {
            self.pic.set_u32(pic::FLAGS, ffi::PIC_FLAG_FORCEIDR | ffi::PIC_FLAG_OUTPUT_SPSPPS);
        }
        self.pic.set_u32(pic::FRAME_IDX, index as u32);
        self.pic.set_u64(pic::TIMESTAMP, index);
        self.pic.set_ptr(pic::INPUT_BUFFER, mapped);
        self.pic.set_ptr(pic::OUTPUT_BITSTREAM, bitstream);
        self.pic.set_u32(pic::BUFFER_FORMAT, buffer_format(self.opts.format));
        self.pic.set_u32(pic::PICTURE_STRUCT, ffi::PIC_STRUCT_FRAME);
        if let Err(e) = self.session.call(enc_pic, "nvEncEncodePicture", self.pic.as_mut_ptr()) {
            let _ = self.session.call(unmap_in, "nvEncUnmapInputResource", mapped);
            return Err(e);
        }
        self.idr_pending = false;
        Ok(mapped)
    }

    /// Switches to pipelined output: `depth` output bitstream buffers (made here, once) and a retrieval
    /// thread that locks finished bitstreams in order and copies them into reusable buffers
    /// ([`retrieve`](super::retrieve)). NVENC's event-driven async mode is Windows-only; on Linux this is
    /// the documented way to keep the lock off the encoder thread. Afterwards use
    /// [`submit_texture`](Self::submit_texture) + [`retrieve`](Self::retrieve); `Encoder::encode` stays
    /// synchronous (its own buffer, lock on the calling thread) and must not be mixed with frames in flight.
    pub fn enable_retrieval_thread(&mut self, depth: usize) -> GpuResult<()> {
        if self.pipeline.is_some() {
            return Ok(());
        }
        let depth = depth.clamp(1, POOL_SIZE);
        let mut outputs = Vec::with_capacity(depth);
        for _ in 0..depth {
            let mut bs = Params::<{ ffi::bitstream::SIZE }>::zeroed();
            bs.set_u32(ffi::bitstream::VERSION, ffi::CREATE_BITSTREAM_BUFFER_VER);
            match self.session.call(
                self.session.fns().create_bitstream_buffer,
                "nvEncCreateBitstreamBuffer",
                bs.as_mut_ptr(),
            ) {
                Ok(()) => outputs.push(bs.ptr_at(ffi::bitstream::BUFFER)),
                Err(e) => {
                    for b in outputs {
                        let _ = self.session.call(
                            self.session.fns().destroy_bitstream_buffer,
                            "nvEncDestroyBitstreamBuffer",
                            b,
                        );
                    }
                    return Err(e);
                }
            }
        }
        let fns = self.session.fns();
        let mut ctx = LockCtx {
            encoder: self.session.raw(),
            lock: fns.lock_bitstream,
            unlock: fns.unlock_bitstream,
            outputs: outputs.clone(),
            params: Params::zeroed(),
        };
        let frame_bytes = (self.cfg.width as usize * self.cfg.height as usize).max(1 << 16);
        let retrieval = match Retrieval::spawn(depth, frame_bytes, move |output, buf| ctx.lock_copy(output, buf)) {
            Ok(r) => r,
            Err(e) => {
                for b in outputs {
                    let _ = self.session.call(
                        self.session.fns().destroy_bitstream_buffer,
                        "nvEncDestroyBitstreamBuffer",
                        b,
                    );
                }
                return Err(e);
            }
        };
        self.pipeline = Some(Pipeline {
            ring: OutputRing::new(depth)?,
            inputs: (0..depth).map(|_| None).collect(),
            outputs,
            retrieval,
        });
        Ok(())
    }

    /// Pipelined zero-copy entry: converts the target behind `src` into an input buffer and submits it;
    /// returns at once. `PoolExhausted` when `depth` frames are in flight (call [`retrieve`](Self::retrieve)).
    pub fn submit_texture(&mut self, src: &TextureObject, order: SourceOrder, index: u64) -> GpuResult<()> {
        let Some(p) = self.pipeline.as_mut() else {
            return Err(GpuError::Invalid("submit_texture needs enable_retrieval_thread first".into()));
        };
        let output = p.ring.begin(index)?;
        let bitstream = p.outputs[output];
        let r = (|| {
            let slot = self.pool.acquire()?;
            let coeffs = self.conversion(order).coeffs();
            let mapped = match self
                .converter
                .from_texture(&self.stream, src, &coeffs, self.pool.get(&slot))
                .and_then(|_| self.submit_picture(slot.index(), index, bitstream))
            {
                Ok(m) => m,
                Err(e) => {
                    self.pool.release(slot)?;
                    return Err(e);
                }
            };
            let input = slot.index();
            let p = self.pipeline.as_mut().ok_or_else(|| GpuError::Invalid("pipeline".into()))?;
            p.inputs[output] = Some((slot, mapped));
            p.retrieval.submit(Job { output, input, index })
        })();
        if r.is_err() {
            if let Some(p) = self.pipeline.as_mut() {
                if p.inputs[output].is_none() {
                    // Nothing was submitted for this output buffer: give it back.
                    let _ = p.ring.finish(output);
                }
            }
        }
        r
    }

    /// The oldest finished frame (waiting for it when `wait`): its bitstream is swapped into `out.data`
    /// (no copy; the previous buffer of `out` goes back to the retrieval pool), its input buffer is
    /// unmapped and returned to the pool. `Ok(false)`: nothing finished yet (only without `wait`).
    pub fn retrieve(&mut self, wait: bool, out: &mut AccessUnit) -> GpuResult<bool> {
        let unmap_in = self.session.fns().unmap_input_resource;
        let p = self
            .pipeline
            .as_mut()
            .ok_or_else(|| GpuError::Invalid("retrieve needs enable_retrieval_thread first".into()))?;
        if p.ring.in_flight() == 0 {
            return Ok(false);
        }
        let got = if wait {
            p.retrieval.recv()
        } else {
            match p.retrieval.try_recv() {
                Some(r) => r,
                None => return Ok(false),
            }
        };
        let (output, result) = match got {
            Ok(r) => (r.job.output, Ok(r)),
            // The thread reports failures in order too: the oldest in flight failed.
            Err(e) => (p.ring.oldest().map_or(0, |(o, _)| o), Err(e)),
        };
        p.ring.finish(output)?;
        let input = p.inputs[output].take();
        if let Some((slot, mapped)) = input {
            let u = self.session.call(unmap_in, "nvEncUnmapInputResource", mapped);
            self.pool.release(slot)?;
            u?;
        }
        let mut r = result?;
        std::mem::swap(&mut out.data, &mut r.data);
        out.kind = Some(r.kind);
        out.frame_index = r.job.index;
        if let Some(p) = self.pipeline.as_ref() {
            p.retrieval.recycle(r.data);
        }
        Ok(true)
    }

    /// Frames submitted and not yet retrieved.
    pub fn in_flight(&self) -> usize {
        self.pipeline.as_ref().map_or(0, |p| p.ring.in_flight())
    }
}

/// The pipelined mode's state (see [`NvencEncoder::enable_retrieval_thread`]).
struct Pipeline {
    ring: OutputRing,
    /// Per output buffer: the input slot and its mapped handle while the picture is in flight.
    inputs: Vec<Option<(Slot, *mut c_void)>>,
    outputs: Vec<*mut c_void>,
    retrieval: Retrieval,
}

/// What the retrieval thread needs to lock one output buffer: raw handles of the open session.
struct LockCtx {
    encoder: *mut c_void,
    lock: ffi::EncFn,
    unlock: ffi::EncFn,
    outputs: Vec<*mut c_void>,
    params: Box<Params<{ ffi::lock::SIZE }>>,
}

// SAFETY: NVENC allows nvEncLockBitstream/nvEncUnlockBitstream on a thread other than the one submitting
// pictures (the SDK's Linux samples retrieve on a second thread); the handles stay valid until the encoder
// joins this thread (Pipeline is dropped before the buffers and the session).
unsafe impl Send for LockCtx {}

impl LockCtx {
    fn call(&self, f: ffi::EncFn, name: &'static str, arg: *mut c_void) -> GpuResult<()> {
        let f = f.ok_or(GpuError::MissingSymbol {
            library: "libnvidia-encode.so.1",
            symbol: name,
            reason: "null in function list".into(),
        })?;
        // SAFETY: `arg` is the struct or handle the entry point takes; the session is open (see Send above).
        let s = unsafe { f(self.encoder, arg) };
        if s != 0 {
            return Err(super::nvenc_err(name, s, String::new()));
        }
        Ok(())
    }

    fn lock_copy(&mut self, output: usize, buf: &mut Vec<u8>) -> GpuResult<FrameKind> {
        use ffi::lock;
        let bitstream =
            *self.outputs.get(output).ok_or_else(|| GpuError::Invalid(format!("output buffer {output}")))?;
        self.params.clear();
        self.params.set_u32(lock::VERSION, ffi::LOCK_BITSTREAM_VER);
        self.params.set_ptr(lock::OUTPUT_BITSTREAM, bitstream);
        let p = self.params.as_mut_ptr();
        self.call(self.lock, "nvEncLockBitstream", p)?;
        let kind = copy_locked(&self.params, buf);
        self.call(self.unlock, "nvEncUnlockBitstream", bitstream)?;
        Ok(kind)
    }
}

/// Copies a locked bitstream out of `NV_ENC_LOCK_BITSTREAM` into `out` (cleared first); the picture kind.
fn copy_locked(lock_params: &Params<{ ffi::lock::SIZE }>, out: &mut Vec<u8>) -> FrameKind {
    use ffi::lock;
    let size = lock_params.u32_at(lock::SIZE_IN_BYTES) as usize;
    let data = lock_params.ptr_at(lock::DATA_PTR) as *const u8;
    out.clear();
    if !data.is_null() && size > 0 {
        // SAFETY: while locked, the driver guarantees `size` readable bytes at `data`.
        out.extend_from_slice(unsafe { std::slice::from_raw_parts(data, size) });
    }
    let ty = lock_params.u32_at(lock::PICTURE_TYPE);
    if ty == ffi::PIC_TYPE_IDR || ty == ffi::PIC_TYPE_I {
        FrameKind::Idr
    } else {
        FrameKind::P
    }
}

impl Encoder for NvencEncoder {
    fn config(&self) -> &EncoderConfig {
        &self.cfg
    }

    fn encode(&mut self, frame: &Frame<'_>, out: &mut AccessUnit) -> Result<(), EncodeError> {
        let start = Instant::now();
        let px = match frame.pixels {
            FramePixels::Cpu(px) => px,
            // Zero-copy: the registered render target is converted straight into an NVENC input buffer.
            FramePixels::Gpu(target) => return self.encode_target(&target, frame.index, out).map_err(lib_err),
            #[allow(unreachable_patterns)]
            _ => return Err(EncodeError::BadFrame("NVENC cannot take this kind of frame".into())),
        };
        px.validate()?;
        if px.width != self.cfg.width || px.height != self.cfg.height {
            return Err(EncodeError::BadFrame(format!(
                "{}x{} frame for a {}x{} encoder",
                px.width, px.height, self.cfg.width, self.cfg.height
            )));
        }
        if self.staging.is_none() {
            self.staging = Some(RgbaBuffer::new(self.cfg.width, self.cfg.height).map_err(lib_err)?);
        }
        let staging = self.staging.as_ref().ok_or_else(|| EncodeError::Library("staging buffer".into()))?;
        staging.upload(px.data, px.stride, &self.stream).map_err(lib_err)?;
        let slot = self.pool.acquire().map_err(lib_err)?;
        let coeffs = self.conversion(px.format.into()).coeffs();
        // SAFETY: the staging buffer holds the whole frame at its pitch and outlives the queued work.
        let r = unsafe {
            self.converter.from_pitched(
                &self.stream,
                staging.device_ptr(),
                staging.pitch(),
                &coeffs,
                self.pool.get(&slot),
            )
        }
        .and_then(|_| self.encode_slot(slot.index(), frame.index, out));
        self.pool.release(slot).map_err(lib_err)?;
        out.encode_time = start.elapsed();
        r.map_err(lib_err)
    }

    fn request_idr(&mut self) {
        self.idr_pending = true;
    }

    fn invalidate_refs(&mut self, first: u64, last: u64) -> bool {
        if last < first || last - first >= MAX_RFI_SPAN {
            return false;
        }
        (first..=last).all(|ts| match self.session.invalidate_ref_frames(ts) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "reference invalidation failed; an IDR frame is needed");
                false
            }
        })
    }

    fn set_bitrate(&mut self, kbps: u32) -> Result<(), EncodeError> {
        self.cfg.bitrate_kbps = kbps;
        apply_settings(&mut self.config, &self.cfg, &self.opts);
        let mut re = Params::<{ ffi::reconfigure::SIZE }>::zeroed();
        re.set_u32(ffi::reconfigure::VERSION, ffi::RECONFIGURE_PARAMS_VER);
        re.0[ffi::reconfigure::INIT..ffi::reconfigure::INIT + init::SIZE].copy_from_slice(&self.init.0);
        self.session
            .call(self.session.fns().reconfigure_encoder, "nvEncReconfigureEncoder", re.as_mut_ptr())
            .map_err(lib_err)
    }
}

impl Drop for NvencEncoder {
    fn drop(&mut self) {
        let _ = self.device.bind();
        let _ = self.stream.synchronize();
        if let Some(p) = self.pipeline.take() {
            let Pipeline { inputs, outputs, retrieval, .. } = p;
            drop(retrieval); // joins the thread: no lock in progress after this
            let unmap_in = self.session.fns().unmap_input_resource;
            for (_, mapped) in inputs.into_iter().flatten() {
                let _ = self.session.call(unmap_in, "nvEncUnmapInputResource", mapped);
            }
            let destroy_bs = self.session.fns().destroy_bitstream_buffer;
            for b in outputs {
                let _ = self.session.call(destroy_bs, "nvEncDestroyBitstreamBuffer", b);
            }
        }
        let fns = self.session.fns();
        let (unreg, destroy_bs) = (fns.unregister_resource, fns.destroy_bitstream_buffer);
        for r in self.registered.drain(..) {
            if self.session.call(unreg, "nvEncUnregisterResource", r).is_ok() {
                counters::unregistration();
            }
        }
        let _ = self.session.call(destroy_bs, "nvEncDestroyBitstreamBuffer", self.bitstream);
        let _ = &self.io_stream;
    }
}
