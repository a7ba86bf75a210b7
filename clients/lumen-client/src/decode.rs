//! H.264 decoding with OpenH264 (the `openh264` crate, Cisco's BSD source built in) into a reused RGB buffer,
//! and saving a decoded picture (PNG, or raw RGB24 for any other extension).

use std::path::Path;

use anyhow::Context;
use openh264::decoder::Decoder;
use openh264::formats::YUVSource;

/// The decoder and the last picture, as RGB24.
pub struct H264 {
    decoder: Decoder,
    rgb: Vec<u8>,
    dims: (usize, usize),
}

impl H264 {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self { decoder: Decoder::new().context("OpenH264 decoder")?, rgb: Vec::new(), dims: (0, 0) })
    }

    /// Decodes one access unit; `true` when it produced a picture (now in [`H264::rgb`]).
    pub fn decode(&mut self, au: &[u8]) -> bool {
        match self.decoder.decode(au) {
            Ok(Some(yuv)) => {
                let (w, h) = yuv.dimensions();
                self.rgb.resize(w * h * 3, 0);
                yuv.write_rgb8(&mut self.rgb);
                self.dims = (w, h);
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(error = %e, bytes = au.len(), "H.264 decode failed");
                false
            }
        }
    }

    /// The last picture (RGB24, rows top to bottom) and its width and height.
    pub fn rgb(&self) -> (&[u8], usize, usize) {
        (&self.rgb, self.dims.0, self.dims.1)
    }

    /// Writes the last picture to `path`: PNG for `.png`, raw RGB24 otherwise.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let (rgb, w, h) = self.rgb();
        anyhow::ensure!(w > 0, "no frame was decoded");
        if path.extension().is_some_and(|e| e == "png") {
            let f = std::io::BufWriter::new(std::fs::File::create(path)?);
            let mut enc = png::Encoder::new(f, w as u32, h as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            enc.write_header()?.write_image_data(rgb)?;
        } else {
            std::fs::write(path, rgb)?;
        }
        Ok(())
    }
}
