//! CPU reference of the colour conversion kernels: known values, accuracy against the floating-point
//! definition, plane layout, odd sizes, BGRA order, and the kernel ABI (PTX entry points and the size of
//! the coefficient block). Runs without a GPU.

use lumen_encode::gpu::colour::{convert_cpu, ideal_ycbcr};
use lumen_encode::gpu::convert::PTX;
use lumen_encode::gpu::{Coeffs, Conversion, Matrix, PixelFormat, Range, SourceOrder};

const MATRICES: [Matrix; 3] = [Matrix::Bt601, Matrix::Bt709, Matrix::Bt2020];
const RANGES: [Range; 2] = [Range::Limited, Range::Full];

fn conv(format: PixelFormat, matrix: Matrix, range: Range) -> Conversion {
    Conversion { order: SourceOrder::Rgba, format, matrix, range }
}

/// Converts one uniform 2x2 image of `rgb` and returns (Y, Cb, Cr) as sample values.
fn uniform(c: &Conversion, rgb: [u8; 3]) -> [u32; 3] {
    let src: Vec<u8> = (0..4).flat_map(|_| [rgb[0], rgb[1], rgb[2], 255]).collect();
    let pitch = 8;
    let mut dst = vec![0u8; pitch * c.format.total_rows(2)];
    convert_cpu(c, &src, 8, 2, 2, &mut dst, pitch).unwrap();
    let get = |off: usize| -> u32 {
        if c.format == PixelFormat::P010 {
            u32::from(u16::from_le_bytes([dst[off], dst[off + 1]]) >> 6)
        } else {
            u32::from(dst[off])
        }
    };
    let bps = c.format.bytes_per_sample();
    match c.format {
        PixelFormat::Yuv444 => [get(0), get(2 * pitch), get(4 * pitch)],
        PixelFormat::I420 => [get(0), get(2 * pitch), get(2 * pitch + pitch / 2)],
        _ => [get(0), get(2 * pitch), get(2 * pitch + bps)],
    }
}

#[test]
fn white_black_grey_hit_the_range_ends_and_the_chroma_offset() {
    for m in MATRICES {
        for f in [PixelFormat::Nv12, PixelFormat::Yuv444] {
            let l = conv(f, m, Range::Limited);
            assert_eq!(uniform(&l, [255, 255, 255]), [235, 128, 128], "{m:?} {f:?}");
            assert_eq!(uniform(&l, [0, 0, 0]), [16, 128, 128]);
            let full = conv(f, m, Range::Full);
            assert_eq!(uniform(&full, [255, 255, 255]), [255, 128, 128]);
            assert_eq!(uniform(&full, [0, 0, 0]), [0, 128, 128]);
            for g in [1u8, 77, 128, 200, 254] {
                let [_, u, v] = uniform(&l, [g, g, g]);
                assert_eq!((u, v), (128, 128), "grey {g} must have neutral chroma");
            }
        }
        let p = conv(PixelFormat::P010, m, Range::Limited);
        assert_eq!(uniform(&p, [255, 255, 255]), [940, 512, 512]);
        assert_eq!(uniform(&p, [0, 0, 0]), [64, 512, 512]);
        let pf = conv(PixelFormat::P010, m, Range::Full);
        assert_eq!(uniform(&pf, [255, 255, 255]), [1023, 512, 512]);
    }
}

#[test]
fn bt709_primaries_match_the_published_studio_values() {
    // BT.709 limited-range 8-bit: red (63, 102, 240), green (173, 42, 26), blue (32, 240, 118).
    let c = conv(PixelFormat::Yuv444, Matrix::Bt709, Range::Limited);
    assert_eq!(uniform(&c, [255, 0, 0]), [63, 102, 240]);
    assert_eq!(uniform(&c, [0, 255, 0]), [173, 42, 26]);
    assert_eq!(uniform(&c, [0, 0, 255]), [32, 240, 118]);
    // BT.601 full range (JPEG): red (76, 85, 255).
    let j = conv(PixelFormat::Yuv444, Matrix::Bt601, Range::Full);
    assert_eq!(uniform(&j, [255, 0, 0]), [76, 85, 255]);
}

#[test]
fn fixed_point_is_within_rounding_of_the_ideal_formula() {
    for m in MATRICES {
        for r in RANGES {
            for f in [PixelFormat::Yuv444, PixelFormat::P010] {
                let c = conv(f, m, r);
                let mut worst = 0f64;
                for rr in (0..=255u32).step_by(5) {
                    for gg in (0..=255u32).step_by(7) {
                        for bb in (0..=255u32).step_by(11) {
                            let rgb = [rr as u8, gg as u8, bb as u8];
                            let got = uniform(&c, rgb);
                            let ideal = ideal_ycbcr(&c, rgb);
                            for k in 0..3 {
                                worst = worst.max((f64::from(got[k]) - ideal[k]).abs());
                            }
                        }
                    }
                }
                assert!(worst <= 0.51, "{m:?} {r:?} {f:?}: worst error {worst}");
            }
        }
    }
}

#[test]
fn chroma_420_is_the_rounded_average_of_the_block() {
    let c = conv(PixelFormat::Nv12, Matrix::Bt709, Range::Limited);
    let px = [[255u8, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];
    let src: Vec<u8> = px.iter().flat_map(|p| [p[0], p[1], p[2], 255]).collect();
    let mut dst = vec![0u8; 4 * c.format.total_rows(2)];
    // 2x2 image laid out as rows of 2 pixels: pitch 8 bytes source, 4 bytes destination.
    convert_cpu(&c, &src, 8, 2, 2, &mut dst, 4).unwrap();
    let ideal: Vec<[f64; 3]> = px.iter().map(|p| ideal_ycbcr(&c, *p)).collect();
    let mean = |k: usize| ideal.iter().map(|v| v[k]).sum::<f64>() / 4.0;
    assert!((f64::from(dst[8]) - mean(1)).abs() <= 0.51, "Cb {} vs {}", dst[8], mean(1));
    assert!((f64::from(dst[9]) - mean(2)).abs() <= 0.51, "Cr {} vs {}", dst[9], mean(2));
    for (i, y) in [0usize, 1, 4, 5].iter().enumerate() {
        assert!((f64::from(dst[*y]) - ideal[i][0]).abs() <= 0.51);
    }
}

#[test]
fn planes_sit_at_pitch_strides_and_padding_is_untouched() {
    let (w, h, pitch) = (6u32, 4u32, 16usize);
    let src: Vec<u8> = (0..w * h).flat_map(|i| [(i * 10) as u8, (i * 3) as u8, (255 - i) as u8, 255]).collect();
    for f in [PixelFormat::Nv12, PixelFormat::P010, PixelFormat::Yuv444] {
        let c = conv(f, Matrix::Bt709, Range::Limited);
        let mut dst = vec![0xEEu8; pitch * f.total_rows(h)];
        convert_cpu(&c, &src, w as usize * 4, w, h, &mut dst, pitch).unwrap();
        for r in 0..f.total_rows(h) {
            let used = f.row_bytes(w);
            assert!(dst[r * pitch + used..(r + 1) * pitch].iter().all(|&b| b == 0xEE), "{f:?} row {r} padding");
            assert!(dst[r * pitch..r * pitch + used].iter().any(|&b| b != 0xEE), "{f:?} row {r} written");
        }
    }
}

#[test]
fn odd_sizes_repeat_the_edge() {
    let c = conv(PixelFormat::Nv12, Matrix::Bt601, Range::Full);
    let (w, h) = (3u32, 3u32);
    // Column 2 and row 2 red, the rest black: the edge blocks average red with itself.
    let src: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .flat_map(|(x, y)| if x == 2 || y == 2 { [255, 0, 0, 255] } else { [0, 0, 0, 255] })
        .collect();
    let pitch = 4;
    let mut dst = vec![0u8; pitch * c.format.total_rows(h)];
    convert_cpu(&c, &src, 12, w, h, &mut dst, pitch).unwrap();
    let red = ideal_ycbcr(&c, [255, 0, 0]);
    // Bottom-right block is all red (edge repeated): its chroma pair sits in chroma row 1 at bytes 2, 3.
    let uv = pitch * 3 + pitch;
    assert!((f64::from(dst[uv + 2]) - red[1]).abs() <= 0.51);
    assert!((f64::from(dst[uv + 3]) - red[2]).abs() <= 0.51);
    assert_eq!(dst[2 * pitch + 2], red[0].round() as u8);
}

#[test]
fn bgra_order_swaps_red_and_blue() {
    let rgba: Vec<u8> = (0..16u32).flat_map(|i| [(i * 16) as u8, (i * 5) as u8, (250 - i * 9) as u8, 255]).collect();
    let bgra: Vec<u8> = rgba.chunks(4).flat_map(|p| [p[2], p[1], p[0], p[3]]).collect();
    for f in [PixelFormat::Nv12, PixelFormat::Yuv444, PixelFormat::P010] {
        let a = conv(f, Matrix::Bt2020, Range::Limited);
        let b = Conversion { order: SourceOrder::Bgra, ..a };
        let (mut da, mut db) = (vec![0u8; 16 * f.total_rows(4)], vec![0u8; 16 * f.total_rows(4)]);
        convert_cpu(&a, &rgba, 16, 4, 4, &mut da, 16).unwrap();
        convert_cpu(&b, &bgra, 16, 4, 4, &mut db, 16).unwrap();
        assert_eq!(da, db, "{f:?}");
    }
}

#[test]
fn undersized_buffers_are_errors_not_panics() {
    let c = conv(PixelFormat::Nv12, Matrix::Bt709, Range::Limited);
    let src = vec![0u8; 4 * 4 * 4];
    let mut dst = vec![0u8; 4 * 6];
    assert!(convert_cpu(&c, &src[..20], 16, 4, 4, &mut dst, 4).is_err());
    assert!(convert_cpu(&c, &src, 16, 4, 4, &mut dst[..10], 4).is_err());
    assert!(convert_cpu(&c, &src, 16, 4, 4, &mut dst, 3).is_err());
    assert!(convert_cpu(&c, &src, 16, 0, 4, &mut dst, 4).is_err());
    assert!(convert_cpu(&c, &src, 16, 4, 4, &mut dst, 4).is_ok());
}

#[test]
fn kernel_abi_matches_the_embedded_ptx() {
    // struct Coeffs in convert.cu: 14 ints passed by value.
    assert_eq!(std::mem::size_of::<Coeffs>(), 56);
    for name in ["nv12", "p010", "yuv444", "i420"] {
        for src in ["tex", "ptr"] {
            let entry = format!(".entry lumen_{src}_to_{name}(");
            assert!(PTX.contains(&entry), "PTX lacks {entry}");
        }
        assert!(PTX.contains(&format!(".param .align 4 .b8 lumen_tex_to_{name}_param_5[56]")));
        assert!(PTX.contains(&format!(".param .align 4 .b8 lumen_ptr_to_{name}_param_6[56]")));
    }
}

#[test]
fn embedded_ptx_was_built_from_the_current_kernel_source() {
    let src = include_bytes!("../kernels/convert.cu");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in src.iter() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let stamp = format!("// lumen convert.cu fnv1a64 {h:016x}");
    assert_eq!(PTX.lines().next(), Some(stamp.as_str()), "rebuild the PTX: scripts/gpu/build-ptx.py");
}

/// I420 holds exactly NV12's samples: the same luma rows, and NV12's interleaved chroma split into a Cb
/// plane and a Cr plane at half the pitch (odd sizes and both texel orders, every matrix and range).
#[test]
fn i420_is_nv12_with_split_chroma_planes() {
    let mut seed = 0x1234_5678u32;
    for (w, h) in [(2u32, 2u32), (641, 361), (64, 36), (3, 5)] {
        let src_pitch = w as usize * 4 + 12;
        let src: Vec<u8> = (0..src_pitch * h as usize)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 24) as u8
            })
            .collect();
        for order in [SourceOrder::Rgba, SourceOrder::Bgra] {
            for m in MATRICES {
                for r in RANGES {
                    let nv = Conversion { order, format: PixelFormat::Nv12, matrix: m, range: r };
                    let i4 = Conversion { format: PixelFormat::I420, ..nv };
                    let pitch = PixelFormat::I420.row_bytes(w) + 32;
                    let rows = PixelFormat::I420.total_rows(h);
                    assert_eq!(rows, PixelFormat::Nv12.total_rows(h));
                    let (mut a, mut b) = (vec![7u8; pitch * rows], vec![7u8; pitch * rows]);
                    convert_cpu(&nv, &src, src_pitch, w, h, &mut a, pitch).unwrap();
                    convert_cpu(&i4, &src, src_pitch, w, h, &mut b, pitch).unwrap();
                    let (wu, hu, cw, ch) = (w as usize, h as usize, w.div_ceil(2) as usize, h.div_ceil(2) as usize);
                    for y in 0..hu {
                        assert_eq!(a[y * pitch..y * pitch + wu], b[y * pitch..y * pitch + wu], "luma row {y}");
                    }
                    let cp = pitch / 2;
                    for y in 0..ch {
                        for x in 0..cw {
                            let nv12 = pitch * hu + y * pitch + 2 * x;
                            let u = pitch * hu + y * cp + x;
                            assert_eq!(b[u], a[nv12], "Cb ({x},{y}) {w}x{h}");
                            assert_eq!(b[u + cp * ch], a[nv12 + 1], "Cr ({x},{y}) {w}x{h}");
                        }
                    }
                }
            }
        }
    }
    let i4 = conv(PixelFormat::I420, Matrix::Bt709, Range::Limited);
    let mut dst = vec![0u8; 9 * 3];
    assert!(convert_cpu(&i4, &[0u8; 16], 8, 2, 2, &mut dst, 9).is_err(), "odd pitch refused");
}
