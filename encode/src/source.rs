//! Frame sources behind the `FrameSource` trait, and the moving test pattern with an embedded frame
//! counter (the compositor implements the same trait with real Wayland output later).
//!
//! Test pattern, frame `n`, pixel `(x, y)` (the end-to-end test recomputes it; keep both in sync and
//! documented in `docs/media-plane.md`):
//! - rows `0..32`: the counter stripe. Block `i = x / 32` for `i < 16` is white (255) when bit `15 - i`
//!   of `n` is set, else black (0); the rest of the stripe is grey 128.
//! - below: `R = tri((x + 4n) mod 512)`, `G = tri((y + 2n) mod 512)`, `B = tri((x/2 + y/2 + 3n) mod 512)`
//!   with `tri(v) = v < 256 ? v : 511 - v`;
//! - a white 96×96 box at `x0 = 6n mod (W - 96)`, `y0 = 32 + 3n mod (H - 128)` drawn over it.

use std::time::Instant;

use crate::frame::{CpuPixels, Frame, FramePixels, PixelFormat};

/// Errors of a frame source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("frame source ended")]
    Ended,
    #[error("frame source failed: {0}")]
    Failed(String),
    /// No new frame now (a source polled on a clock of its own): nothing to encode this time.
    #[error("no new frame")]
    NotReady,
}

/// Something that produces frames to stream.
pub trait FrameSource: Send {
    /// Picture size in pixels.
    fn size(&self) -> (u32, u32);
    /// Produces the next frame; it borrows the source's buffer until the next call.
    fn next_frame(&mut self) -> Result<Frame<'_>, SourceError>;
}

/// Height of the counter stripe at the top of the test pattern.
pub const COUNTER_ROWS: u32 = 32;
/// Width of one counter bit block.
pub const COUNTER_BLOCK: u32 = 32;
/// Number of counter bits.
pub const COUNTER_BITS: u32 = 16;
/// Side of the moving box.
pub const BOX: u32 = 96;

#[inline(always)]
fn tri(v: u32) -> u8 {
    let v = v & 511;
    if v < 256 {
        v as u8
    } else {
        (511 - v) as u8
    }
}

/// The moving test pattern (BGRX pixels).
pub struct TestPattern {
    width: u32,
    height: u32,
    index: u64,
    buf: Vec<u8>,
    r_row: Vec<u8>,
}

impl TestPattern {
    /// A pattern of `width`×`height` (at least 96×160) whose first frame has index `start`.
    pub fn new(width: u32, height: u32) -> Self {
        let width = width.max(2 * BOX);
        let height = height.max(COUNTER_ROWS + BOX + 32);
        Self {
            width,
            height,
            index: 0,
            buf: vec![0; width as usize * height as usize * 4],
            r_row: vec![0; width as usize],
        }
    }

    /// Renders frame `n` into the internal buffer.
    pub fn render(&mut self, n: u64) {
        let (w, h) = (self.width as usize, self.height as usize);
        let stride = w * 4;
        let nn = (n & 0xffff_ffff) as u32;
        for (x, r) in self.r_row.iter_mut().enumerate() {
            *r = tri(x as u32 + 4 * nn);
        }
        for y in 0..h {
            let row = &mut self.buf[y * stride..(y + 1) * stride];
            if (y as u32) < COUNTER_ROWS {
                for (x, px) in row.chunks_exact_mut(4).enumerate() {
                    let i = x as u32 / COUNTER_BLOCK;
                    let v = if i < COUNTER_BITS {
                        if (n >> (COUNTER_BITS - 1 - i)) & 1 == 1 {
                            255
                        } else {
                            0
                        }
                    } else {
                        128
                    };
                    px.copy_from_slice(&[v, v, v, 0]);
                }
                continue;
            }
            let g = tri(y as u32 + 2 * nn);
            let bbase = (y as u32 / 2).wrapping_add(3 * nn);
            for (x, (px, &r)) in row.chunks_exact_mut(4).zip(self.r_row.iter()).enumerate() {
                let b = tri((x as u32 / 2).wrapping_add(bbase));
                px[0] = b;
                px[1] = g;
                px[2] = r;
                px[3] = 0;
            }
        }
        let x0 = (6 * n % (w as u64 - BOX as u64)) as usize;
        let y0 = COUNTER_ROWS as usize + (3 * n % (h as u64 - COUNTER_ROWS as u64 - BOX as u64)) as usize;
        for y in y0..y0 + BOX as usize {
            self.buf[y * stride + x0 * 4..y * stride + (x0 + BOX as usize) * 4].fill(255);
        }
    }

    /// The pixels of the last rendered frame.
    pub fn pixels(&self) -> CpuPixels<'_> {
        CpuPixels {
            data: &self.buf,
            width: self.width,
            height: self.height,
            stride: self.width as usize * 4,
            format: PixelFormat::Bgrx,
        }
    }
}

impl FrameSource for TestPattern {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn next_frame(&mut self) -> Result<Frame<'_>, SourceError> {
        let n = self.index;
        self.index += 1;
        self.render(n);
        Ok(Frame { pixels: FramePixels::Cpu(self.pixels()), index: n, ready_at: Instant::now() })
    }
}

/// Reads the frame counter back from a decoded luma plane (`stride` bytes per row).
pub fn read_counter(luma: &[u8], stride: usize) -> u64 {
    let y = (COUNTER_ROWS / 2) as usize;
    let mut n = 0u64;
    for i in 0..COUNTER_BITS {
        let x = (i * COUNTER_BLOCK + COUNTER_BLOCK / 2) as usize;
        n = (n << 1) | u64::from(luma[y * stride + x] > 128);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::colour::{ColourSpace, Converter, Range, Yuv420};

    #[test]
    fn counter_round_trips_through_conversion() {
        let mut p = TestPattern::new(1280, 720);
        let c = Converter::new(ColourSpace::Bt601, Range::Limited);
        let mut yuv = Yuv420::default();
        for n in [0u64, 1, 77, 12345, (1 << 16) - 1] {
            p.render(n);
            c.convert(&p.pixels(), &mut yuv);
            assert_eq!(read_counter(&yuv.y, 1280), n);
        }
    }

    #[test]
    fn pattern_moves() {
        let mut p = TestPattern::new(640, 360);
        p.render(10);
        let a = p.buf.clone();
        p.render(11);
        assert_ne!(a[640 * 4 * 100..], p.buf[640 * 4 * 100..]);
        // Documented pixel formula at (100, 200) of frame 11.
        let px = &p.buf[(200 * 640 + 100) * 4..][..4];
        assert_eq!(px, &[tri(50 + 100 + 33), tri(200 + 22), tri(100 + 44), 0]);
    }
}
