//! Colour conversion math shared by the CUDA kernels (encode/kernels/convert.cu) and the CPU reference
//! here: RGB(A) 8-bit → Y'CbCr (BT.601 / BT.709 / BT.2020 matrices, limited or full range, 8 or 10 bits),
//! written as NV12, P010, planar YUV 4:4:4 or planar 4:2:0 (I420, the software encoder's input) into a
//! pitched buffer.
//!
//! The coefficients are fixed-point integers with 16 fractional bits computed once here ([`Coeffs`]) and
//! passed to the kernel by value, so the GPU and this reference compute bit-identical results. Chroma of
//! 4:2:0 formats is taken from the sum of the 2x2 block's RGB values (18-bit shift = ÷4 with rounding);
//! blocks at an odd right/bottom edge repeat the last column/row.

/// The Y'CbCr matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Matrix {
    /// ITU-R BT.601 (Kr 0.299, Kb 0.114).
    Bt601,
    /// ITU-R BT.709 (Kr 0.2126, Kb 0.0722).
    Bt709,
    /// ITU-R BT.2020 non-constant luminance (Kr 0.2627, Kb 0.0593).
    Bt2020,
}

impl Matrix {
    /// (Kr, Kb) of the matrix.
    pub fn kr_kb(self) -> (f64, f64) {
        match self {
            Matrix::Bt601 => (0.299, 0.114),
            Matrix::Bt709 => (0.2126, 0.0722),
            Matrix::Bt2020 => (0.2627, 0.0593),
        }
    }
}

/// Quantisation range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Range {
    /// Studio swing: Y 16..235, C 16..240 (8-bit; ×4 for 10-bit).
    Limited,
    /// Full swing: 0..2^n-1.
    Full,
}

/// The encoder input layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// 8-bit 4:2:0: Y plane, then interleaved CbCr plane at half height.
    Nv12,
    /// 10-bit 4:2:0 in 16-bit containers (value in the high 10 bits), laid out like NV12.
    P010,
    /// 8-bit 4:4:4 planar: Y, Cb, Cr planes of full size.
    Yuv444,
    /// 8-bit 4:2:0 planar (IYUV): Y plane at the pitch, then the Cb and the Cr plane, `ceil(h/2)` rows each
    /// at half the pitch (the whole buffer has the size of NV12's at the same pitch).
    I420,
}

impl PixelFormat {
    /// Bytes per sample.
    pub fn bytes_per_sample(self) -> usize {
        match self {
            PixelFormat::P010 => 2,
            _ => 1,
        }
    }
    /// Bit depth of the samples.
    pub fn depth(self) -> u32 {
        match self {
            PixelFormat::P010 => 10,
            _ => 8,
        }
    }
    /// Bytes of one row of the luma plane.
    pub fn row_bytes(self, width: u32) -> usize {
        // 4:2:0 chroma rows hold ceil(w/2) pairs, which is never more than an even-rounded luma row.
        let w = match self {
            PixelFormat::Yuv444 => width as usize,
            _ => (width as usize + 1) & !1,
        };
        w * self.bytes_per_sample()
    }
    /// Rows of the whole buffer (all planes stacked at the same pitch).
    pub fn total_rows(self, height: u32) -> usize {
        let h = height as usize;
        match self {
            PixelFormat::Yuv444 => 3 * h,
            _ => h + h.div_ceil(2),
        }
    }
}

/// Byte order of the 8-bit source texels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceOrder {
    /// R, G, B, A in memory (GL_RGBA8, DRM ABGR8888).
    Rgba,
    /// B, G, R, A in memory (DRM ARGB8888 / XRGB8888).
    Bgra,
}

/// Fixed-point coefficients, laid out exactly as `struct Coeffs` in convert.cu (kernel parameter).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coeffs {
    /// R, G, B weights of Y, ×2^16.
    pub y: [i32; 3],
    /// R, G, B weights of Cb, ×2^16.
    pub u: [i32; 3],
    /// R, G, B weights of Cr, ×2^16.
    pub v: [i32; 3],
    /// (Y offset << 16) + 2^15.
    pub y_bias: i32,
    /// (C offset << 16) + 2^15.
    pub c_bias: i32,
    /// (C offset << 18) + 2^17.
    pub c_bias4: i32,
    /// Largest sample value, 2^depth − 1.
    pub max: i32,
    /// 1 when the source is BGRA.
    pub swap_rb: i32,
}

/// Everything that selects a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conversion {
    /// Source texel order.
    pub order: SourceOrder,
    /// Output layout.
    pub format: PixelFormat,
    /// Matrix.
    pub matrix: Matrix,
    /// Range.
    pub range: Range,
}

impl Conversion {
    /// The fixed-point coefficients for this conversion.
    pub fn coeffs(&self) -> Coeffs {
        let depth = self.format.depth();
        let scale = f64::from(1u32 << (depth - 8));
        let (ys, cs, yoff) = match self.range {
            Range::Limited => (219.0 * scale, 224.0 * scale, (16.0 * scale) as i32),
            Range::Full => {
                let m = f64::from((1u32 << depth) - 1);
                (m, m, 0)
            }
        };
        let coff = 1i32 << (depth - 1);
        let (kr, kb) = self.matrix.kr_kb();
        let fx = |v: f64| (v * 65536.0).round() as i32;
        // Y row: round R and B, give G the remainder so that white maps exactly to the top of the range.
        let ytot = fx(ys / 255.0);
        let (yr, yb) = (fx(kr * ys / 255.0), fx(kb * ys / 255.0));
        let y = [yr, ytot - yr - yb, yb];
        // Chroma rows sum to zero so that every grey has chroma exactly at the offset.
        let c = cs / 255.0;
        let (ur, ub) = (fx(-kr / (2.0 * (1.0 - kb)) * c), fx(0.5 * c));
        let u = [ur, -ur - ub, ub];
        let (vr, vb) = (fx(0.5 * c), fx(-kb / (2.0 * (1.0 - kr)) * c));
        let v = [vr, -vr - vb, vb];
        Coeffs {
            y,
            u,
            v,
            y_bias: (yoff << 16) + (1 << 15),
            c_bias: (coff << 16) + (1 << 15),
            c_bias4: (coff << 18) + (1 << 17),
            max: (1 << depth) - 1,
            swap_rb: i32::from(self.order == SourceOrder::Bgra),
        }
    }
}

#[inline]
fn clamp(v: i32, max: i32) -> i32 {
    v.clamp(0, max)
}

#[inline]
fn texel(src: &[u8], pitch: usize, x: usize, y: usize, swap: bool) -> [i32; 3] {
    let o = y * pitch + x * 4;
    let (r, g, b) = (src[o] as i32, src[o + 1] as i32, src[o + 2] as i32);
    if swap {
        [b, g, r]
    } else {
        [r, g, b]
    }
}

#[inline]
fn dot(c: &[i32; 3], p: &[i32; 3]) -> i32 {
    c[0] * p[0] + c[1] * p[1] + c[2] * p[2]
}

#[inline]
fn put(dst: &mut [u8], off: usize, bytes: usize, v: i32) {
    if bytes == 1 {
        dst[off] = v as u8;
    } else {
        dst[off..off + 2].copy_from_slice(&((v << 6) as u16).to_le_bytes());
    }
}

/// The CPU reference of the kernels: converts `width`×`height` 8-bit texels (`src`, rows `src_pitch`
/// bytes apart) into `dst` laid out as `conv.format` with rows `dst_pitch` bytes apart.
pub fn convert_cpu(
    conv: &Conversion,
    src: &[u8],
    src_pitch: usize,
    width: u32,
    height: u32,
    dst: &mut [u8],
    dst_pitch: usize,
) -> Result<(), crate::gpu::GpuError> {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 || src_pitch < w * 4 || src.len() < src_pitch * (h - 1) + w * 4 {
        return Err(crate::gpu::GpuError::Invalid(format!(
            "source {} bytes, pitch {src_pitch}, too small for {width}x{height}",
            src.len()
        )));
    }
    let rows = conv.format.total_rows(height);
    if dst_pitch < conv.format.row_bytes(width) || dst.len() < dst_pitch * rows {
        return Err(crate::gpu::GpuError::Invalid(format!(
            "destination {} bytes, pitch {dst_pitch}, too small for {width}x{height} {:?}",
            dst.len(),
            conv.format
        )));
    }
    if conv.format == PixelFormat::I420 && !dst_pitch.is_multiple_of(2) {
        return Err(crate::gpu::GpuError::Invalid(format!("I420 needs an even pitch, not {dst_pitch}")));
    }
    let c = conv.coeffs();
    let swap = c.swap_rb != 0;
    let bps = conv.format.bytes_per_sample();
    let luma = |p: &[i32; 3]| clamp((dot(&c.y, p) + c.y_bias) >> 16, c.max);
    for by in (0..h).step_by(2) {
        for bx in (0..w).step_by(2) {
            let (x1, y1) = ((bx + 1).min(w - 1), (by + 1).min(h - 1));
            let block = [(bx, by), (x1, by), (bx, y1), (x1, y1)];
            let px = block.map(|(x, y)| texel(src, src_pitch, x, y, swap));
            let targets = [(bx, by), (bx + 1, by), (bx, by + 1), (bx + 1, by + 1)];
            for (p, &(x, y)) in px.iter().zip(targets.iter()) {
                if x >= w || y >= h {
                    continue;
                }
                put(dst, y * dst_pitch + x * bps, bps, luma(p));
                if conv.format == PixelFormat::Yuv444 {
                    let plane = dst_pitch * h;
                    let u = clamp((dot(&c.u, p) + c.c_bias) >> 16, c.max);
                    let v = clamp((dot(&c.v, p) + c.c_bias) >> 16, c.max);
                    put(dst, plane + y * dst_pitch + x, 1, u);
                    put(dst, 2 * plane + y * dst_pitch + x, 1, v);
                }
            }
            if conv.format != PixelFormat::Yuv444 {
                let s = [0, 1, 2].map(|k| px.iter().map(|p| p[k]).sum::<i32>());
                let u = clamp((dot(&c.u, &s) + c.c_bias4) >> 18, c.max);
                let v = clamp((dot(&c.v, &s) + c.c_bias4) >> 18, c.max);
                if conv.format == PixelFormat::I420 {
                    let cp = dst_pitch / 2;
                    let off = dst_pitch * h + (by / 2) * cp + bx / 2;
                    put(dst, off, 1, u);
                    put(dst, off + cp * h.div_ceil(2), 1, v);
                } else {
                    let row = dst_pitch * h + (by / 2) * dst_pitch;
                    put(dst, row + bx * bps, bps, u);
                    put(dst, row + (bx + 1) * bps, bps, v);
                }
            }
        }
    }
    Ok(())
}

/// The ideal (floating-point) Y'CbCr of one RGB pixel, before rounding: the yardstick the fixed-point
/// math is tested against.
pub fn ideal_ycbcr(conv: &Conversion, rgb: [u8; 3]) -> [f64; 3] {
    let depth = conv.format.depth();
    let scale = f64::from(1u32 << (depth - 8));
    let (ys, cs, yoff) = match conv.range {
        Range::Limited => (219.0 * scale, 224.0 * scale, 16.0 * scale),
        Range::Full => {
            let m = f64::from((1u32 << depth) - 1);
            (m, m, 0.0)
        }
    };
    let coff = f64::from(1u32 << (depth - 1));
    let (kr, kb) = conv.matrix.kr_kb();
    let [r, g, b] = rgb.map(|v| f64::from(v) / 255.0);
    let y = kr * r + (1.0 - kr - kb) * g + kb * b;
    let max = f64::from((1u32 << depth) - 1);
    [
        (yoff + ys * y).clamp(0.0, max),
        (coff + cs * (b - y) / (2.0 * (1.0 - kb))).clamp(0.0, max),
        (coff + cs * (r - y) / (2.0 * (1.0 - kr))).clamp(0.0, max),
    ]
}

impl From<crate::colour::ColourSpace> for Matrix {
    fn from(c: crate::colour::ColourSpace) -> Matrix {
        match c {
            crate::colour::ColourSpace::Bt601 => Matrix::Bt601,
            crate::colour::ColourSpace::Bt709 => Matrix::Bt709,
            crate::colour::ColourSpace::Bt2020 => Matrix::Bt2020,
        }
    }
}

impl From<crate::colour::Range> for Range {
    fn from(r: crate::colour::Range) -> Range {
        match r {
            crate::colour::Range::Limited => Range::Limited,
            crate::colour::Range::Full => Range::Full,
        }
    }
}

impl From<crate::frame::PixelFormat> for SourceOrder {
    fn from(p: crate::frame::PixelFormat) -> SourceOrder {
        match p.rgb_offsets() {
            (0, _, _) => SourceOrder::Rgba,
            _ => SourceOrder::Bgra,
        }
    }
}
