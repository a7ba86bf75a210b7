//! The software H.264 encoder (default without a GPU): Cisco's OpenH264 through the `openh264` crate.
//!
//! Low-latency settings: constrained baseline (no B-frames), one slice, SPS/PPS in-band with every IDR
//! (OpenH264 always emits them), no periodic IDR (infinite GOP, IDR on request), bitrate rate control at
//! the client's bitrate (frame skipping on: OpenH264 enforces the rate only so), VUI signalling of the client's colour space and range.

use std::time::Instant;

use openh264::encoder::{
    BitRate, Complexity, Encoder as OhEncoder, EncoderConfig as OhConfig, FrameRate, FrameType, IntraFramePeriod,
    RateControlMode, UsageType, VuiConfig,
};
use openh264::formats::YUVSlices;
use openh264::OpenH264API;

use crate::colour::{ColourSpace, Converter, Range, Yuv420};
use crate::encoder::{AccessUnit, Codec, EncodeError, Encoder, EncoderConfig, FrameKind};
use crate::frame::{Frame, FramePixels};

/// Speed/quality knob of OpenH264.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speed {
    /// Complexity Low, one thread, one slice (the default: lowest latency per core).
    Fast,
    /// Complexity Medium, one thread, one slice.
    Medium,
    /// Complexity Low on two threads: slices of at most ~32 KiB so OpenH264 can encode them in parallel
    /// (more than one slice per frame; for large pictures on machines with spare cores).
    FastTwoThreads,
    /// Complexity Low, `n` slices per picture (a fixed count) coded on `n` threads: the GPU-conversion route,
    /// where the CPU only does motion search and coding.
    Threads(u16),
}

impl Speed {
    /// Threads for [`Speed::Threads`] on this machine: `LUMEN_OPENH264_THREADS`, else half the cores (at most
    /// 8, at least 1).
    pub fn threads_for_machine() -> Speed {
        let n = std::env::var("LUMEN_OPENH264_THREADS")
            .ok()
            .and_then(|v| v.parse::<u16>().ok())
            .unwrap_or_else(|| (std::thread::available_parallelism().map_or(1, |n| n.get()) / 2).clamp(1, 8) as u16);
        Speed::Threads(n.max(1))
    }

    fn threads(self) -> u16 {
        match self {
            Speed::Fast | Speed::Medium => 1,
            Speed::FastTwoThreads => 2,
            Speed::Threads(n) => n.max(1),
        }
    }
}

/// OpenH264-backed [`Encoder`].
pub struct OpenH264Encoder {
    cfg: EncoderConfig,
    speed: Speed,
    enc: OhEncoder,
    conv: Converter,
    yuv: Yuv420,
    idr_pending: bool,
    /// `Speed::Threads(n)`: the fixed slice count still to apply. The crate initialises OpenH264 on the
    /// first frame, so the slices are set right after it (the re-initialisation makes frame 2 an IDR too).
    slices_pending: Option<u16>,
}

fn oh_config(cfg: &EncoderConfig, speed: Speed) -> OhConfig {
    let vui = match cfg.colour_space {
        ColourSpace::Bt601 => VuiConfig::bt601(),
        ColourSpace::Bt709 => VuiConfig::bt709(),
        ColourSpace::Bt2020 => VuiConfig::bt2020(),
    }
    .full_range(cfg.range == Range::Full);
    let mut c = OhConfig::new()
        .bitrate(BitRate::from_bps(cfg.bitrate_kbps.saturating_mul(1000)))
        .max_frame_rate(FrameRate::from_hz(cfg.fps as f32))
        .rate_control_mode(RateControlMode::Bitrate)
        // OpenH264 only enforces the bitrate with frame skipping on; a skipped frame is simply not sent.
        .skip_frames(true)
        .usage_type(UsageType::CameraVideoRealTime)
        .complexity(match speed {
            Speed::Fast | Speed::FastTwoThreads | Speed::Threads(_) => Complexity::Low,
            Speed::Medium => Complexity::Medium,
        })
        .intra_frame_period(IntraFramePeriod::from_num_frames(0))
        .scene_change_detect(false)
        .background_detection(false)
        .num_threads(speed.threads())
        .vui(vui);
    if speed == Speed::FastTwoThreads {
        c = c.max_slice_len(32 * 1024);
    }
    if cfg.slices > 1 {
        // OpenH264 cuts by size only through the crate; one slice is what low latency wants anyway.
        tracing::debug!(slices = cfg.slices, "openh264: using one slice");
    }
    c = c.adaptive_quantization(false);
    c
}

impl OpenH264Encoder {
    /// Creates an encoder for `cfg` (H.264 only).
    pub fn new(cfg: EncoderConfig, speed: Speed) -> Result<Self, EncodeError> {
        if cfg.codec != Codec::H264 {
            return Err(EncodeError::Unsupported(format!("{:?} in the software encoder", cfg.codec)));
        }
        if cfg.width == 0
            || cfg.height == 0
            || !cfg.width.is_multiple_of(2)
            || !cfg.height.is_multiple_of(2)
            || cfg.fps == 0
        {
            return Err(EncodeError::Unsupported(format!("{}x{}@{}", cfg.width, cfg.height, cfg.fps)));
        }
        let enc = OhEncoder::with_api_config(OpenH264API::from_source(), oh_config(&cfg, speed))
            .map_err(|e| EncodeError::Library(e.to_string()))?;

        let conv = Converter::new(cfg.colour_space, cfg.range);
        let mut yuv = Yuv420::default();
        yuv.resize(cfg.width as usize, cfg.height as usize);
        let slices_pending = match speed {
            Speed::Threads(n @ 2..) => Some(n),
            _ => None,
        };
        Ok(Self { cfg, speed, enc, conv, yuv, idr_pending: false, slices_pending })
    }

    /// The speed setting in force.
    pub fn speed(&self) -> Speed {
        self.speed
    }

    /// The last converted picture (for tests and benches that measure quality).
    pub fn last_yuv(&self) -> &Yuv420 {
        &self.yuv
    }
}

impl Encoder for OpenH264Encoder {
    fn config(&self) -> &EncoderConfig {
        &self.cfg
    }

    fn encode(&mut self, frame: &Frame<'_>, out: &mut AccessUnit) -> Result<(), EncodeError> {
        let started = Instant::now();
        let FramePixels::Cpu(px) = frame.pixels else {
            return Err(EncodeError::BadFrame(
                "the software encoder takes CPU frames; read GPU targets back first".into(),
            ));
        };
        px.validate()?;
        if px.width != self.cfg.width || px.height != self.cfg.height {
            return Err(EncodeError::BadFrame(format!(
                "{}x{} frame for a {}x{} encoder",
                px.width, px.height, self.cfg.width, self.cfg.height
            )));
        }
        self.conv.convert(&px, &mut self.yuv);
        let cw = self.yuv.chroma_width();
        let (y, u, v) = (&self.yuv.y, &self.yuv.u, &self.yuv.v);
        let planes = I420Planes { y, u, v, strides: (self.yuv.width, cw, cw) };
        Self::encode_with(&mut self.enc, &mut self.idr_pending, &self.cfg, &planes, frame, started, out)?;
        self.apply_slices();
        Ok(())
    }

    fn request_idr(&mut self) {
        self.idr_pending = true;
    }

    fn invalidate_refs(&mut self, _first: u64, _last: u64) -> bool {
        // One reference frame and no long-term references: recovery needs an IDR.
        false
    }

    fn set_bitrate(&mut self, kbps: u32) -> Result<(), EncodeError> {
        if kbps == self.cfg.bitrate_kbps {
            return Ok(());
        }
        let kbps = kbps.max(100);
        // Live change (no IDR); the encoder's maximum stays at the negotiated rate, which callers never
        // exceed.
        crate::openh264_live::set_target_bitrate(&mut self.enc, kbps.saturating_mul(1000))?;
        self.cfg.bitrate_kbps = kbps;
        Ok(())
    }
}

/// An I420 picture already converted elsewhere (the GPU route): planes of exactly `height` and
/// `height / 2` rows at the given strides (bytes per row of Y, U, V).
#[derive(Debug, Clone, Copy)]
pub struct I420Planes<'a> {
    pub y: &'a [u8],
    pub u: &'a [u8],
    pub v: &'a [u8],
    pub strides: (usize, usize, usize),
}

impl OpenH264Encoder {
    /// Encodes an I420 picture of the configured size (converted by the caller), with `frame`'s index;
    /// `started` is when the frame's encode began (for `encode_time`).
    pub fn encode_i420(
        &mut self,
        planes: &I420Planes<'_>,
        frame: &Frame<'_>,
        started: Instant,
        out: &mut AccessUnit,
    ) -> Result<(), EncodeError> {
        let (w, h) = (self.cfg.width as usize, self.cfg.height as usize);
        let (sy, su, sv) = planes.strides;
        if sy < w
            || su < w / 2
            || sv < w / 2
            || planes.y.len() != h * sy
            || planes.u.len() != h / 2 * su
            || planes.v.len() != h / 2 * sv
        {
            return Err(EncodeError::BadFrame(format!(
                "I420 planes do not fit {w}x{h} at strides {:?}",
                planes.strides
            )));
        }
        Self::encode_with(&mut self.enc, &mut self.idr_pending, &self.cfg, planes, frame, started, out)?;
        self.apply_slices();
        Ok(())
    }

    /// Once, after the first frame: `n` slices of a fixed count on `n` threads (see `slices_pending`).
    fn apply_slices(&mut self) {
        let Some(n) = self.slices_pending.take() else { return };
        match crate::openh264_live::set_fixed_slices(&mut self.enc, n) {
            Ok(()) => tracing::debug!(slices = n, "openh264: fixed slices on as many threads"),
            Err(e) => tracing::warn!(error = %e, threads = n, "openh264: fixed slices refused; one slice per picture"),
        }
    }

    fn encode_with(
        enc: &mut OhEncoder,
        idr_pending: &mut bool,
        cfg: &EncoderConfig,
        planes: &I420Planes<'_>,
        frame: &Frame<'_>,
        started: Instant,
        out: &mut AccessUnit,
    ) -> Result<(), EncodeError> {
        if *idr_pending {
            enc.force_intra_frame();
            *idr_pending = false;
        }
        let src =
            YUVSlices::new((planes.y, planes.u, planes.v), (cfg.width as usize, cfg.height as usize), planes.strides);
        let bs = enc.encode(&src).map_err(|e| EncodeError::Library(e.to_string()))?;
        out.data.clear();
        out.kind = match bs.frame_type() {
            FrameType::IDR | FrameType::I => Some(FrameKind::Idr),
            FrameType::P | FrameType::IPMixed => Some(FrameKind::P),
            FrameType::Skip | FrameType::Invalid => None,
        };
        if out.kind.is_some() {
            bs.write_vec(&mut out.data);
        }
        out.frame_index = frame.index;
        out.encode_time = started.elapsed();
        Ok(())
    }
}
