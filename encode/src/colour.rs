//! RGB → YUV 4:2:0 (I420) conversion with the client's colour space (BT.601/709/2020) and range.
//!
//! Integer fixed point (16 fractional bits) with coefficients computed once per configuration; the inner
//! loops are branch-free over plain slices so the compiler can vectorise them. Chroma is the conversion of
//! the average of each 2×2 block of RGB pixels.

use crate::frame::CpuPixels;

/// The colour matrix the client asked for (`colorSpace` in the stream configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColourSpace {
    #[default]
    Bt601,
    Bt709,
    Bt2020,
}

/// Limited (16–235/240) or full (0–255) range (`colorRange`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Range {
    #[default]
    Limited,
    Full,
}

impl ColourSpace {
    /// Moonlight's `colorSpace` field: 0 Rec.601, 1 Rec.709, 2 Rec.2020.
    pub fn from_moonlight(v: u32) -> Self {
        match v {
            1 => ColourSpace::Bt709,
            2 => ColourSpace::Bt2020,
            _ => ColourSpace::Bt601,
        }
    }
    /// (Kr, Kb) luma weights.
    fn kr_kb(self) -> (f64, f64) {
        match self {
            ColourSpace::Bt601 => (0.299, 0.114),
            ColourSpace::Bt709 => (0.2126, 0.0722),
            ColourSpace::Bt2020 => (0.2627, 0.0593),
        }
    }
}

impl Range {
    /// Moonlight's `colorRange` field: 0 limited, 1 full.
    pub fn from_moonlight(v: u32) -> Self {
        if v == 1 {
            Range::Full
        } else {
            Range::Limited
        }
    }
}

const SHIFT: u32 = 16;
const ONE: f64 = (1u32 << SHIFT) as f64;

/// Precomputed fixed-point matrix for one colour space and range.
#[derive(Debug, Clone, Copy)]
pub struct Converter {
    y: [i32; 3],
    u: [i32; 3],
    v: [i32; 3],
    y_off: i32,
    c_off: i32,
    y_max: i32,
    c_min: i32,
    c_max: i32,
    y_min: i32,
}

impl Converter {
    pub fn new(space: ColourSpace, range: Range) -> Self {
        let (kr, kb) = space.kr_kb();
        let kg = 1.0 - kr - kb;
        let (ys, cs, y0, ymin, ymax, cmin, cmax) = match range {
            Range::Limited => (219.0 / 255.0, 224.0 / 255.0, 16, 16, 235, 16, 240),
            Range::Full => (1.0, 1.0, 0, 0, 255, 0, 255),
        };
        let q = |f: f64| (f * ONE).round() as i32;
        let cb = |k: f64| k / (2.0 * (1.0 - kb));
        let cr = |k: f64| k / (2.0 * (1.0 - kr));
        Converter {
            y: [q(kr * ys), q(kg * ys), q(kb * ys)],
            // Cb = (B - Y) / (2(1-Kb)), Cr = (R - Y) / (2(1-Kr))
            u: [q(-cb(kr) * cs), q(-cb(kg) * cs), q(cb(1.0 - kb) * cs)],
            v: [q(cr(1.0 - kr) * cs), q(-cr(kg) * cs), q(-cr(kb) * cs)],
            y_off: (y0 << SHIFT) + (1 << (SHIFT - 1)),
            c_off: (128 << SHIFT) + (1 << (SHIFT - 1)),
            y_min: ymin,
            y_max: ymax,
            c_min: cmin,
            c_max: cmax,
        }
    }

    /// Converts one RGB triple (0–255) to (Y, Cb, Cr).
    #[inline(always)]
    pub fn pixel(&self, r: i32, g: i32, b: i32) -> (u8, u8, u8) {
        (self.luma(r, g, b), self.cb(r, g, b), self.cr(r, g, b))
    }

    #[inline(always)]
    fn luma(&self, r: i32, g: i32, b: i32) -> u8 {
        ((self.y[0] * r + self.y[1] * g + self.y[2] * b + self.y_off) >> SHIFT).clamp(self.y_min, self.y_max) as u8
    }
    #[inline(always)]
    fn cb(&self, r: i32, g: i32, b: i32) -> u8 {
        ((self.u[0] * r + self.u[1] * g + self.u[2] * b + self.c_off) >> SHIFT).clamp(self.c_min, self.c_max) as u8
    }
    #[inline(always)]
    fn cr(&self, r: i32, g: i32, b: i32) -> u8 {
        ((self.v[0] * r + self.v[1] * g + self.v[2] * b + self.c_off) >> SHIFT).clamp(self.c_min, self.c_max) as u8
    }

    /// Converts packed RGB pixels into `out` (resized once; reused afterwards). Odd sizes are handled by
    /// clamping the 2×2 block to the picture.
    pub fn convert(&self, src: &CpuPixels<'_>, out: &mut Yuv420) {
        let (w, h) = (src.width as usize, src.height as usize);
        out.resize(w, h);
        let (ro, go, bo) = src.format.rgb_offsets();
        let cw = w.div_ceil(2);
        for cy in 0..h.div_ceil(2) {
            let y0 = cy * 2;
            let y1 = (y0 + 1).min(h - 1);
            let row0 = &src.data[y0 * src.stride..y0 * src.stride + w * 4];
            let row1 = &src.data[y1 * src.stride..y1 * src.stride + w * 4];
            let (yl0, rest) = out.y[y0 * w..].split_at_mut(w);
            for (dst, px) in yl0.iter_mut().zip(row0.chunks_exact(4)) {
                *dst = self.luma(px[ro] as i32, px[go] as i32, px[bo] as i32);
            }
            if y1 != y0 {
                let yl1 = &mut rest[..w];
                for (dst, px) in yl1.iter_mut().zip(row1.chunks_exact(4)) {
                    *dst = self.luma(px[ro] as i32, px[go] as i32, px[bo] as i32);
                }
            }
            let ur = &mut out.u[cy * cw..(cy + 1) * cw];
            let vr = &mut out.v[cy * cw..(cy + 1) * cw];
            for cx in 0..cw {
                let x0 = cx * 2 * 4;
                let x1 = ((cx * 2 + 1).min(w - 1)) * 4;
                let r = row0[x0 + ro] as i32 + row0[x1 + ro] as i32 + row1[x0 + ro] as i32 + row1[x1 + ro] as i32;
                let g = row0[x0 + go] as i32 + row0[x1 + go] as i32 + row1[x0 + go] as i32 + row1[x1 + go] as i32;
                let b = row0[x0 + bo] as i32 + row0[x1 + bo] as i32 + row1[x0 + bo] as i32 + row1[x1 + bo] as i32;
                // Average with rounding: (sum + 2) / 4.
                let (r, g, b) = ((r + 2) >> 2, (g + 2) >> 2, (b + 2) >> 2);
                ur[cx] = self.cb(r, g, b);
                vr[cx] = self.cr(r, g, b);
            }
        }
    }
}

/// A reusable I420 picture: full-size Y plane, half-size U and V planes (rounded up), tightly packed.
#[derive(Debug, Default, Clone)]
pub struct Yuv420 {
    pub width: usize,
    pub height: usize,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

impl Yuv420 {
    /// Sets the size; allocates only when the size changes.
    pub fn resize(&mut self, width: usize, height: usize) {
        if self.width == width && self.height == height && !self.y.is_empty() {
            return;
        }
        self.width = width;
        self.height = height;
        let c = width.div_ceil(2) * height.div_ceil(2);
        self.y.resize(width * height, 0);
        self.u.resize(c, 0);
        self.v.resize(c, 0);
    }
    /// Chroma plane width.
    pub fn chroma_width(&self) -> usize {
        self.width.div_ceil(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::PixelFormat;

    fn one(space: ColourSpace, range: Range, rgb: (i32, i32, i32)) -> (u8, u8, u8) {
        Converter::new(space, range).pixel(rgb.0, rgb.1, rgb.2)
    }

    #[test]
    fn bt601_limited_reference_values() {
        // Reference values from ITU-R BT.601 studio-range conversion.
        assert_eq!(one(ColourSpace::Bt601, Range::Limited, (255, 255, 255)), (235, 128, 128));
        assert_eq!(one(ColourSpace::Bt601, Range::Limited, (0, 0, 0)), (16, 128, 128));
        assert_eq!(one(ColourSpace::Bt601, Range::Limited, (255, 0, 0)), (81, 90, 240));
        assert_eq!(one(ColourSpace::Bt601, Range::Limited, (0, 255, 0)), (145, 54, 34));
        assert_eq!(one(ColourSpace::Bt601, Range::Limited, (0, 0, 255)), (41, 240, 110));
    }

    #[test]
    fn bt709_limited_reference_values() {
        assert_eq!(one(ColourSpace::Bt709, Range::Limited, (255, 0, 0)), (63, 102, 240));
        assert_eq!(one(ColourSpace::Bt709, Range::Limited, (0, 255, 0)), (173, 42, 26));
        assert_eq!(one(ColourSpace::Bt709, Range::Limited, (0, 0, 255)), (32, 240, 118));
        assert_eq!(one(ColourSpace::Bt709, Range::Limited, (128, 128, 128)), (126, 128, 128));
    }

    #[test]
    fn full_range_reference_values() {
        // JPEG/JFIF (BT.601 full range).
        assert_eq!(one(ColourSpace::Bt601, Range::Full, (255, 0, 0)), (76, 85, 255));
        assert_eq!(one(ColourSpace::Bt601, Range::Full, (255, 255, 255)), (255, 128, 128));
        assert_eq!(one(ColourSpace::Bt601, Range::Full, (0, 0, 0)), (0, 128, 128));
        // BT.2020 full range red: Y = 0.2627 * 255.
        assert_eq!(one(ColourSpace::Bt2020, Range::Full, (255, 0, 0)).0, 67);
    }

    #[test]
    fn converts_planes_with_stride_and_odd_sizes() {
        // 3x3 BGRX picture, stride 16, left column red, rest blue.
        let (w, h, stride) = (3usize, 3usize, 16usize);
        let mut data = vec![0u8; stride * h];
        for y in 0..h {
            for x in 0..w {
                let p = &mut data[y * stride + x * 4..y * stride + x * 4 + 4];
                if x == 0 {
                    p.copy_from_slice(&[0, 0, 255, 0])
                } else {
                    p.copy_from_slice(&[255, 0, 0, 0])
                }
            }
        }
        let src = CpuPixels { data: &data, width: 3, height: 3, stride, format: PixelFormat::Bgrx };
        let mut out = Yuv420::default();
        let c = Converter::new(ColourSpace::Bt601, Range::Limited);
        c.convert(&src, &mut out);
        assert_eq!(out.y.len(), 9);
        assert_eq!(out.u.len(), 4);
        assert_eq!(&out.y[0..3], &[81, 41, 41]);
        assert_eq!(&out.y[6..9], &[81, 41, 41]);
        // Top-left chroma averages two red and two blue pixels: (128, 0, 128).
        let mixed = c.pixel(128, 0, 128);
        assert_eq!((out.u[0], out.v[0]), (mixed.1, mixed.2));
        // Right column: only blue.
        assert_eq!((out.u[1], out.v[1]), (240, 110));
        assert_eq!((out.u[3], out.v[3]), (240, 110));
    }
}
