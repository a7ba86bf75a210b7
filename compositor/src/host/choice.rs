//! `--encoder auto|nvenc|software`, `--renderer auto|gles|pixman` and `--video-source desktop|test-pattern`
//! of `lumen-session`, and their resolution at start (GPU probe), logged once.

use std::str::FromStr;
use std::sync::Arc;

use lumen_encode::{EncodeError, EncoderConfig};

use crate::encoding::{software_encoder, EncoderFactory};
use lumen_render::RendererChoice;
use lumen_stream::CodecSupport;

/// What `--encoder` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncoderChoice {
    #[default]
    Auto,
    Nvenc,
    Software,
}

impl FromStr for EncoderChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "nvenc" => Ok(Self::Nvenc),
            "software" => Ok(Self::Software),
            other => Err(format!("unknown encoder {other:?} (expected auto, nvenc or software)")),
        }
    }
}

impl EncoderChoice {
    /// The command-line spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Nvenc => "nvenc",
            Self::Software => "software",
        }
    }
}

/// What the video of a session shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VideoSource {
    /// A virtual output of the compositor at the client's mode (the product).
    #[default]
    Desktop,
    /// The media plane's moving test pattern (lumen-encode `TestPattern`), no output (media-plane tests).
    TestPattern,
}

impl FromStr for VideoSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "desktop" => Ok(Self::Desktop),
            "test-pattern" => Ok(Self::TestPattern),
            other => Err(format!("unknown video source {other:?} (expected desktop or test-pattern)")),
        }
    }
}

impl VideoSource {
    /// The command-line spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Desktop => "desktop",
            Self::TestPattern => "test-pattern",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChoiceError {
    #[error("--encoder nvenc: NVENC is not usable here: {0}")]
    NvencUnavailable(String),
}

/// How a rendered frame reaches the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramePath {
    /// Pixman's CPU target, converted on the CPU by the software encoder.
    Cpu,
    /// A GLES target read back to the CPU on the compositor thread (no CUDA here).
    Readback,
    /// A GLES target registered with CUDA once; a kernel writes I420, one pinned copy feeds OpenH264.
    GpuConvert,
    /// A GLES target registered with CUDA once, read by NVENC on the GPU (no copy at all).
    GpuNvenc,
}

impl FramePath {
    /// Whether frames travel as `FramePixels::Gpu` (the output's targets are registered with CUDA).
    pub fn gpu_frames(self) -> bool {
        matches!(self, FramePath::GpuConvert | FramePath::GpuNvenc)
    }

    /// The name in logs and in the host's status.
    pub fn name(self) -> &'static str {
        match self {
            FramePath::Cpu => "cpu",
            FramePath::Readback => "gl-readback",
            FramePath::GpuConvert => "gpu-convert",
            FramePath::GpuNvenc => "gpu-nvenc",
        }
    }
}

/// The encoder and renderer the session uses.
#[derive(Clone)]
pub struct Resolved {
    /// "nvenc" or "software".
    pub encoder_name: &'static str,
    pub encoder: EncoderFactory,
    pub renderer: RendererChoice,
    /// Why this renderer (the GPU probe's verdict for `auto`).
    pub renderer_reason: String,
    pub frames: FramePath,
    pub codecs: CodecSupport,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("encoder", &self.encoder_name)
            .field("renderer", &self.renderer)
            .field("renderer_reason", &self.renderer_reason)
            .field("frames", &self.frames)
            .field("codecs", &self.codecs)
            .finish()
    }
}

impl Resolved {
    /// "gles" or "pixman".
    pub fn renderer_name(&self) -> &'static str {
        match self.renderer {
            RendererChoice::Gles => "gles",
            _ => "pixman",
        }
    }
}

fn nvenc() -> EncoderFactory {
    Arc::new(|cfg: &EncoderConfig| {
        let dev = lumen_encode::gpu::open_device().map_err(|e| EncodeError::Library(e.to_string()))?;
        let enc = lumen_encode::gpu::nvenc::encoder::NvencEncoder::new(cfg.clone(), Default::default(), dev)
            .map_err(|e| EncodeError::Library(e.to_string()))?;
        Ok(Box::new(enc) as Box<dyn lumen_encode::Encoder>)
    })
}

/// Resolves the choices (probing the GPU unless `--encoder software`) and logs the verdict.
///
/// The media plane streams H.264 only, so the codec support is H.264 whichever encoder runs (NVENC is used
/// only when its session lists H.264).
pub fn resolve(encoder: EncoderChoice, renderer: RendererChoice) -> Result<Resolved, ChoiceError> {
    let (name, factory) = match encoder {
        EncoderChoice::Software => ("software", software_encoder()),
        EncoderChoice::Nvenc | EncoderChoice::Auto => {
            let support = lumen_encode::gpu::probe();
            let h264 = support.nvenc_codecs().contains(&lumen_encode::Codec::H264);
            match (&support, h264) {
                (lumen_encode::gpu::GpuSupport::Nvenc { .. }, true) => ("nvenc", nvenc()),
                (lumen_encode::gpu::GpuSupport::Software { reason, .. }, _) if encoder == EncoderChoice::Nvenc => {
                    return Err(ChoiceError::NvencUnavailable(reason.to_string()));
                }
                (_, false) if encoder == EncoderChoice::Nvenc => {
                    return Err(ChoiceError::NvencUnavailable("its session lists no H.264".into()));
                }
                _ => ("software", software_encoder()),
            }
        }
    };
    let (renderer, renderer_reason) = match renderer {
        RendererChoice::Gles => (RendererChoice::Gles, "--renderer gles".to_string()),
        RendererChoice::Pixman => (RendererChoice::Pixman, "--renderer pixman".to_string()),
        RendererChoice::Auto => match std::env::var(ENV_NO_GPU_PROBE).ok().filter(|v| v == "1") {
            Some(_) => (RendererChoice::Pixman, format!("auto: {ENV_NO_GPU_PROBE}=1")),
            None => match lumen_render::probe_gpu() {
                Ok(gpu) => (RendererChoice::Gles, format!("auto: a GPU renders ({gpu})")),
                Err(why) => (RendererChoice::Pixman, format!("auto: no usable GPU ({why})")),
            },
        },
    };
    let frames = match (renderer, name) {
        (RendererChoice::Pixman, _) | (RendererChoice::Auto, _) => FramePath::Cpu,
        (RendererChoice::Gles, "nvenc") => FramePath::GpuNvenc,
        (RendererChoice::Gles, _) => gpu_convert_available(),
    };
    let factory = if frames == FramePath::GpuConvert { gpu_software() } else { factory };
    let r = Resolved {
        encoder_name: name,
        encoder: factory,
        renderer,
        renderer_reason,
        frames,
        codecs: CodecSupport::H264_ONLY,
    };
    tracing::info!(encoder = r.encoder_name, ?encoder, renderer = r.renderer_name(), reason = %r.renderer_reason,
        frames = r.frames.name(), codecs = ?r.codecs, "session encoder and renderer chosen");
    Ok(r)
}

/// `LUMEN_NO_GPU_PROBE=1`: `--renderer auto` takes Pixman without probing EGL (tests that start many hosts).
pub const ENV_NO_GPU_PROBE: &str = "LUMEN_NO_GPU_PROBE";
/// `LUMEN_GPU_CONVERT=0`: a GLES session with the software encoder reads frames back instead of converting
/// them with CUDA (for comparisons).
pub const ENV_GPU_CONVERT: &str = "LUMEN_GPU_CONVERT";

/// The software encoder's frame path on a GLES session: CUDA conversion when a CUDA device opens, else
/// readback.
fn gpu_convert_available() -> FramePath {
    if std::env::var(ENV_GPU_CONVERT).is_ok_and(|v| v == "0") {
        tracing::info!("{ENV_GPU_CONVERT}=0: GLES frames are read back for the software encoder");
        return FramePath::Readback;
    }
    match lumen_encode::gpu::open_device() {
        Ok(dev) => {
            tracing::info!(device = dev.name(), "CUDA works: GLES frames are converted on the GPU");
            FramePath::GpuConvert
        }
        Err(e) => {
            tracing::info!(reason = %e, "no CUDA: GLES frames are read back for the software encoder");
            FramePath::Readback
        }
    }
}

fn gpu_software() -> EncoderFactory {
    Arc::new(|cfg: &EncoderConfig| {
        let dev = lumen_encode::gpu::open_device().map_err(|e| EncodeError::Library(e.to_string()))?;
        let enc = lumen_encode::gpu::software::GpuSoftwareEncoder::new(cfg.clone(), dev)?;
        Ok(Box::new(enc) as Box<dyn lumen_encode::Encoder>)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_choices() {
        assert_eq!("auto".parse::<EncoderChoice>(), Ok(EncoderChoice::Auto));
        assert_eq!("nvenc".parse::<EncoderChoice>(), Ok(EncoderChoice::Nvenc));
        assert_eq!("software".parse::<EncoderChoice>(), Ok(EncoderChoice::Software));
        assert!("x264".parse::<EncoderChoice>().is_err());
        assert_eq!("test-pattern".parse::<VideoSource>(), Ok(VideoSource::TestPattern));
        assert!("camera".parse::<VideoSource>().is_err());
    }

    /// On this machine (no GPU: Mesa llvmpipe at most, no CUDA) `auto` keeps Pixman and says why; `gles` is
    /// kept when asked and, without CUDA, reads frames back.
    #[test]
    fn software_needs_no_gpu_and_gles_is_kept_when_asked() {
        let r = resolve(EncoderChoice::Software, RendererChoice::Auto).unwrap();
        assert_eq!(r.encoder_name, "software");
        assert_eq!((r.renderer, r.renderer_name()), (RendererChoice::Pixman, "pixman"));
        assert!(r.renderer_reason.starts_with("auto: no usable GPU"), "{}", r.renderer_reason);
        assert_eq!(r.frames, FramePath::Cpu);
        assert_eq!(r.codecs.server_codec_mode_support(), 0x1);
        let g = resolve(EncoderChoice::Software, RendererChoice::Gles).unwrap();
        assert_eq!((g.renderer, g.renderer_name()), (RendererChoice::Gles, "gles"));
        assert_eq!(g.frames, FramePath::Readback);
        assert!(!g.frames.gpu_frames() && FramePath::GpuConvert.gpu_frames());
    }
}
