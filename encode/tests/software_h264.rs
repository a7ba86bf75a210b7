//! The software H.264 encoder end to end through a real decoder (OpenH264's): IDR first with parameter
//! sets, P frames after, IDR on request, the test-pattern counter readable and the picture close.

use lumen_encode::colour::Yuv420;
use lumen_encode::openh264_enc::{OpenH264Encoder, Speed};
use lumen_encode::quality::psnr;
use lumen_encode::source::read_counter;
use lumen_encode::{
    AccessUnit, Codec, ColourSpace, Encoder, EncoderConfig, FrameKind, FrameSource, Range, TestPattern,
};
use openh264::decoder::Decoder;
use openh264::formats::YUVSource;

fn nal_types(au: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    let mut i = 0;
    while i + 3 < au.len() {
        if au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1 {
            t.push(au[i + 3] & 0x1f);
            i += 3;
        } else {
            i += 1;
        }
    }
    t
}

/// A 640x360@60 H.264 encoder at 8 Mbit/s, BT.601 limited, one slice.
fn encoder_640x360() -> OpenH264Encoder {
    let cfg = EncoderConfig {
        width: 640,
        height: 360,
        fps: 60,
        bitrate_kbps: 8000,
        codec: Codec::H264,
        colour_space: ColourSpace::Bt601,
        range: Range::Limited,
        slices: 1,
    };
    OpenH264Encoder::new(cfg, Speed::Fast).unwrap()
}

#[test]
fn encodes_decodable_h264_with_idr_on_request() {
    let mut enc = encoder_640x360();
    let mut src = TestPattern::new(640, 360);
    let mut dec = Decoder::new().unwrap();
    let mut au = AccessUnit::default();
    let mut kinds = Vec::new();
    let mut reference = Yuv420::default();
    for i in 0..30u64 {
        if i == 20 {
            enc.request_idr();
        }
        let frame = src.next_frame().unwrap();
        enc.encode(&frame, &mut au).unwrap();
        reference.clone_from(enc.last_yuv());
        kinds.push(au.kind.unwrap());
        let types = nal_types(&au.data);
        if au.is_idr() {
            assert!(types.contains(&7) && types.contains(&8) && types.contains(&5), "IDR NALs {types:?}");
        } else {
            assert!(!types.contains(&5), "P frame NALs {types:?}");
        }
        let pic = dec.decode(&au.data).unwrap().expect("a picture per access unit");
        let (w, h) = pic.dimensions();
        assert_eq!((w, h), (640, 360));
        let (ys, _, _) = pic.strides();
        assert_eq!(read_counter(pic.y(), ys), i);
        let p = psnr(pic.y(), ys, &reference.y, 640, w, h);
        assert!(p > 30.0, "frame {i}: PSNR {p:.1} dB");
    }
    assert_eq!(kinds[0], FrameKind::Idr);
    assert!(kinds[1..20].iter().all(|k| *k == FrameKind::P));
    assert_eq!(kinds[20], FrameKind::Idr);
    assert!(kinds[21..].iter().all(|k| *k == FrameKind::P));
}

#[test]
fn rejects_wrong_sizes_and_codecs() {
    let mut cfg = EncoderConfig {
        width: 320,
        height: 240,
        fps: 30,
        bitrate_kbps: 1000,
        codec: Codec::Hevc,
        colour_space: ColourSpace::Bt709,
        range: Range::Full,
        slices: 1,
    };
    assert!(OpenH264Encoder::new(cfg.clone(), Speed::Fast).is_err());
    cfg.codec = Codec::H264;
    let mut enc = OpenH264Encoder::new(cfg, Speed::Fast).unwrap();
    let mut src = TestPattern::new(640, 360);
    let frame = src.next_frame().unwrap();
    let mut au = AccessUnit::default();
    assert!(enc.encode(&frame, &mut au).is_err());
}

#[test]
fn live_bitrate_change_needs_no_idr_and_lowers_the_rate() {
    let mut enc = encoder_640x360();
    let mut src = TestPattern::new(640, 360);
    let mut noisy = vec![0u8; 640 * 360 * 4];
    let mut rng = 1u64;
    let mut au = AccessUnit::default();
    let mut bytes = [0usize; 2];
    for i in 0..240u64 {
        if i == 120 {
            enc.set_bitrate(2000).unwrap();
        }
        // Noise so the encoder needs every bit it is given.
        src.render(i);
        for (d, s) in noisy.iter_mut().zip(src.pixels().data) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            *d = (*s as i32 + (rng & 31) as i32 - 16).clamp(0, 255) as u8;
        }
        let px = lumen_encode::CpuPixels {
            data: &noisy,
            width: 640,
            height: 360,
            stride: 640 * 4,
            format: lumen_encode::PixelFormat::Bgrx,
        };
        let frame = lumen_encode::Frame {
            pixels: lumen_encode::FramePixels::Cpu(px),
            index: i,
            ready_at: std::time::Instant::now(),
        };
        enc.encode(&frame, &mut au).unwrap();
        if i > 0 {
            assert_ne!(au.kind, Some(FrameKind::Idr), "frame {i}: no IDR from a bitrate change");
        }
        // Skip the settling second after each change.
        if (60..120).contains(&i) {
            bytes[0] += au.data.len();
        } else if i >= 180 {
            bytes[1] += au.data.len();
        }
    }
    let (before, after) = (bytes[0] as f64 * 8.0 / 1000.0, bytes[1] as f64 * 8.0 / 1000.0);
    assert!(after < before * 0.5, "kbit per second before {before:.0}, after {after:.0}");
}

/// The GPU route's input: I420 in the layout of the CUDA kernel's pinned host copy (luma pitch padded past
/// the width, chroma planes at half of it; made here by the kernel's CPU reference) coded by OpenH264 as 4
/// slices on 4 threads, decoded to the same picture; mis-sized planes are refused.
#[test]
fn encodes_gpu_layout_i420_on_several_threads() {
    use lumen_encode::gpu::colour::convert_cpu;
    use lumen_encode::gpu::{Conversion, Matrix, PixelFormat as GpuFormat, Range as GpuRange, SourceOrder};
    use lumen_encode::openh264_enc::I420Planes;
    let (w, h) = (640u32, 360u32);
    let cfg = EncoderConfig {
        width: w,
        height: h,
        fps: 60,
        bitrate_kbps: 8000,
        codec: Codec::H264,
        colour_space: ColourSpace::Bt709,
        range: Range::Limited,
        slices: 1,
    };
    let mut enc = OpenH264Encoder::new(cfg, Speed::Threads(4)).unwrap();
    assert_eq!(enc.speed(), Speed::Threads(4));
    let conv = Conversion {
        order: SourceOrder::Bgra,
        format: GpuFormat::I420,
        matrix: Matrix::Bt709,
        range: GpuRange::Limited,
    };
    let pitch = 768; // like cuMemAllocPitch's padding
    let mut src = TestPattern::new(w, h);
    let mut dec = Decoder::new().unwrap();
    let mut au = AccessUnit::default();
    let mut buf = vec![0u8; pitch * GpuFormat::I420.total_rows(h)];
    let (hu, cp) = (h as usize, pitch / 2);
    for i in 0..5u64 {
        let frame = src.next_frame().unwrap();
        let lumen_encode::FramePixels::Cpu(px) = frame.pixels else { panic!("CPU test pattern") };
        convert_cpu(&conv, px.data, px.stride, w, h, &mut buf, pitch).unwrap();
        let y = &buf[..pitch * hu];
        let u = &buf[pitch * hu..pitch * hu + cp * hu / 2];
        let v = &buf[pitch * hu + cp * hu / 2..pitch * hu + cp * hu];
        let planes = I420Planes { y, u, v, strides: (pitch, cp, cp) };
        enc.encode_i420(&planes, &frame, std::time::Instant::now(), &mut au).unwrap();
        assert_eq!(au.frame_index, frame.index);
        if i == 0 {
            assert!(au.is_idr());
        }
        if i == 1 {
            // The slices apply from the second frame (OpenH264 is initialised on the first).
            let slices = nal_types(&au.data).iter().filter(|t| **t == 5 || **t == 1).count();
            assert_eq!(slices, 4, "a fixed count of 4 slices on 4 threads");
        }
        let pic = dec.decode(&au.data).unwrap().expect("a picture per access unit");
        assert_eq!(pic.dimensions(), (640, 360));
        let (ys, _, _) = pic.strides();
        let p = psnr(pic.y(), ys, y, pitch, 640, 360);
        assert!(p > 30.0, "frame {i}: PSNR {p:.1} dB");
        assert_eq!(read_counter(pic.y(), ys), i);
        let bad = I420Planes { y: &y[..pitch * (hu - 1)], ..planes };
        assert!(enc.encode_i420(&bad, &frame, std::time::Instant::now(), &mut au).is_err());
    }
}

/// Without CUDA (this machine, CI) the GPU-fed software encoder fails to build with a reason, never panics.
#[test]
fn gpu_software_encoder_needs_cuda() {
    if lumen_encode::gpu::cuda::driver_present() {
        return;
    }
    let e = lumen_encode::gpu::open_device().map(|_| ()).expect_err("no CUDA driver here");
    assert!(e.to_string().to_lowercase().contains("cuda"), "{e}");
}
