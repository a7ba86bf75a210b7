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

/// The encoder and renderer the session uses.
#[derive(Clone)]
pub struct Resolved {
    /// "nvenc" or "software".
    pub encoder_name: &'static str,
    pub encoder: EncoderFactory,
    pub renderer: RendererChoice,
    pub codecs: CodecSupport,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("encoder", &self.encoder_name)
            .field("renderer", &self.renderer)
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
    // `auto` stays on Pixman: both encoders take CPU frames today, and a GLES target would cost a readback
    // per frame. `gles` renders with GLES and reads each frame back on the compositor thread.
    let renderer = match renderer {
        RendererChoice::Gles => RendererChoice::Gles,
        RendererChoice::Auto | RendererChoice::Pixman => RendererChoice::Pixman,
    };
    let r = Resolved { encoder_name: name, encoder: factory, renderer, codecs: CodecSupport::H264_ONLY };
    tracing::info!(encoder = r.encoder_name, ?encoder, renderer = r.renderer_name(), codecs = ?r.codecs,
        "session encoder and renderer chosen");
    Ok(r)
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

    #[test]
    fn software_needs_no_gpu_and_gles_is_kept_when_asked() {
        let r = resolve(EncoderChoice::Software, RendererChoice::Auto).unwrap();
        assert_eq!(r.encoder_name, "software");
        assert_eq!((r.renderer, r.renderer_name()), (RendererChoice::Pixman, "pixman"));
        assert_eq!(r.codecs.server_codec_mode_support(), 0x1);
        let g = resolve(EncoderChoice::Software, RendererChoice::Gles).unwrap();
        assert_eq!((g.renderer, g.renderer_name()), (RendererChoice::Gles, "gles"));
    }
}
