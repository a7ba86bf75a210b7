//! The software encoder fed by the GPU, for a GPU **without NVENC** (the H200): a frame's registered render
//! target is converted to I420 by one CUDA kernel (encode/kernels/convert.cu, bit-exact with
//! `colour::convert_cpu`), the I420 buffer is copied to a page-locked host buffer in one DMA, and OpenH264
//! codes it on several threads. No RGBA readback, no CPU colour conversion; every buffer is made once in
//! [`GpuSoftwareEncoder::new`], so the steady state allocates and registers nothing.
//!
//! CPU frames (the test pattern, a Pixman session) are still accepted: they take OpenH264's own CPU
//! conversion, exactly like the plain software encoder.

use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use super::colour::{Coeffs, Conversion, PixelFormat, SourceOrder};
use super::convert::Converter;
use super::cuda::{CudaDevice, Event, PinnedBuffer, PitchedBuffer, Stream};
use super::error::GpuResult;
use crate::encoder::{AccessUnit, EncodeError, Encoder, EncoderConfig};
use crate::frame::{Frame, FramePixels};
use crate::openh264_enc::{I420Planes, OpenH264Encoder, Speed};

/// How long the encoder thread polls the copy's completion event before it blocks (the copy of a 4K I420
/// frame takes ~1 ms over PCIe; polling avoids the driver's wake-up latency of a blocking wait).
const SPIN: Duration = Duration::from_millis(4);

/// OpenH264 with GPU colour conversion (see the module docs).
pub struct GpuSoftwareEncoder {
    inner: OpenH264Encoder,
    // Field order is drop order: the kernels and buffers before the stream and the device they live in.
    converter: Converter,
    yuv: PitchedBuffer,
    host: PinnedBuffer,
    done: Event,
    stream: Stream,
    coeffs: [Coeffs; 2],
    bound: Option<ThreadId>,
    dev: Arc<CudaDevice>,
}

fn lib_err(e: super::GpuError) -> EncodeError {
    EncodeError::Library(e.to_string())
}

impl GpuSoftwareEncoder {
    /// An encoder for `cfg` on `dev` (the CUDA context is made current on the calling thread, and again on
    /// the first frame of whichever thread encodes).
    pub fn new(cfg: EncoderConfig, dev: Arc<CudaDevice>) -> Result<GpuSoftwareEncoder, EncodeError> {
        let speed = Speed::threads_for_machine();
        let inner = OpenH264Encoder::new(cfg.clone(), speed)?;
        let made = (|| -> GpuResult<_> {
            dev.bind()?;
            let converter = Converter::new()?;
            let yuv = PitchedBuffer::new(PixelFormat::I420, cfg.width, cfg.height)?;
            let host = PinnedBuffer::new(yuv.len())?;
            Ok((converter, yuv, host, Event::new(false)?, Stream::new(&dev)?))
        })();
        let (converter, yuv, host, done, stream) = made.map_err(lib_err)?;
        let conv = |order| Conversion {
            order,
            format: PixelFormat::I420,
            matrix: cfg.colour_space.into(),
            range: cfg.range.into(),
        };
        tracing::info!(
            device = dev.name(),
            w = cfg.width,
            h = cfg.height,
            ?speed,
            pitch = yuv.pitch(),
            "software encoder fed by GPU colour conversion (I420 kernel + one pinned copy)"
        );
        Ok(GpuSoftwareEncoder {
            inner,
            converter,
            yuv,
            host,
            done,
            stream,
            coeffs: [conv(SourceOrder::Rgba).coeffs(), conv(SourceOrder::Bgra).coeffs()],
            bound: Some(std::thread::current().id()),
            dev,
        })
    }

    /// Converts the GPU target into the pinned host buffer and waits for the copy: after this the host buffer
    /// holds the I420 picture ("encoder input ready"; [`Encoder::encode`] calls it, the device test times it).
    pub fn upload_input(&mut self, t: &super::targets::GpuTarget<'_>) -> GpuResult<()> {
        let here = std::thread::current().id();
        if self.bound != Some(here) {
            self.dev.bind()?;
            self.bound = Some(here);
        }
        let coeffs = &self.coeffs[usize::from(t.order == SourceOrder::Bgra)];
        self.converter.from_texture(&self.stream, t.texture, coeffs, &self.yuv)?;
        self.host.copy_from(&self.yuv, &self.stream)?;
        self.done.record(&self.stream)?;
        self.done.spin_wait(SPIN)
    }

    /// The last picture copied to the host (I420 at [`Self::pitch`]; for tests).
    pub fn host_i420(&self) -> &[u8] {
        self.host.bytes()
    }

    /// Luma pitch of the I420 buffer (chroma planes use half of it).
    pub fn pitch(&self) -> usize {
        self.yuv.pitch()
    }
}

impl Encoder for GpuSoftwareEncoder {
    fn config(&self) -> &EncoderConfig {
        self.inner.config()
    }

    fn encode(&mut self, frame: &Frame<'_>, out: &mut AccessUnit) -> Result<(), EncodeError> {
        let t = match frame.pixels {
            FramePixels::Gpu(t) => t,
            _ => return self.inner.encode(frame, out),
        };
        let started = Instant::now();
        let (w, h) = (self.inner.config().width, self.inner.config().height);
        if (t.width, t.height) != (w, h) {
            return Err(EncodeError::BadFrame(format!("{}x{} target for a {w}x{h} encoder", t.width, t.height)));
        }
        self.upload_input(&t).map_err(lib_err)?;
        let (h, p) = (h as usize, self.yuv.pitch());
        let (cp, ch) = (p / 2, h.div_ceil(2));
        let bytes = self.host.bytes();
        let y = &bytes[..p * h];
        let u = &bytes[p * h..p * h + cp * (h / 2)];
        let v = &bytes[p * h + cp * ch..p * h + cp * ch + cp * (h / 2)];
        let planes = I420Planes { y, u, v, strides: (p, cp, cp) };
        self.inner.encode_i420(&planes, frame, started, out)
    }

    fn request_idr(&mut self) {
        self.inner.request_idr();
    }

    fn invalidate_refs(&mut self, first: u64, last: u64) -> bool {
        self.inner.invalidate_refs(first, last)
    }

    fn set_bitrate(&mut self, kbps: u32) -> Result<(), EncodeError> {
        self.inner.set_bitrate(kbps)
    }
}
