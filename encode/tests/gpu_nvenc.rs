//! The NVENC parameter images: struct sizes, field offsets (as in the SDK 12.1 header) and the settings
//! lumen writes into NV_ENC_CONFIG for each codec. Runs without a GPU (a session cannot open here).

use lumen_encode::gpu::nvenc::encoder::{apply_settings, NvencOptions};
use lumen_encode::gpu::nvenc::ffi::{self, config, Params};
use lumen_encode::gpu::PixelFormat;
use lumen_encode::{Codec, ColourSpace, EncoderConfig, Range};

fn cfg(codec: Codec) -> EncoderConfig {
    EncoderConfig {
        width: 1920,
        height: 1080,
        fps: 60,
        bitrate_kbps: 12_000,
        codec,
        colour_space: ColourSpace::Bt709,
        range: Range::Limited,
        slices: 4,
    }
}

#[test]
fn params_images_have_the_header_sizes_and_alignment() {
    assert_eq!(std::mem::size_of::<Params<{ config::SIZE }>>(), 3584);
    assert_eq!(std::mem::align_of::<Params<{ ffi::pic::SIZE }>>(), 8);
    assert_eq!(ffi::init::SIZE, 1808);
    assert_eq!(ffi::preset_config::SIZE, ffi::preset_config::CONFIG + config::SIZE + 4 * 256 + 8 * 64);
    assert_eq!(ffi::reconfigure::INIT + ffi::init::SIZE, ffi::reconfigure::FLAGS);
}

#[test]
fn bit_fields_and_guids_are_written_in_place() {
    let mut p = Params::<16>::zeroed();
    p.set_bits(0, 12, 1, 1);
    p.set_bits(0, 9, 2, 3);
    p.set_bits(0, 9, 2, 1);
    assert_eq!(p.u32_at(0), (1 << 12) | (1 << 9));
    p.set_guid(0, ffi::CODEC_H264);
    assert_eq!(&p.0[..4], &0x6bc8_2762u32.to_ne_bytes());
    assert_eq!(&p.0[8..16], &[0xaa, 0x85, 0x1e, 0x50, 0xf3, 0x21, 0xf6, 0xbf]);
}

#[test]
fn h264_settings_low_latency_cbr_infinite_gop_repeated_parameter_sets() {
    let mut c = Params::<{ config::SIZE }>::zeroed();
    apply_settings(&mut c, &cfg(Codec::H264), &NvencOptions::default());
    assert_eq!(c.u32_at(0), ffi::CONFIG_VER);
    assert_eq!(c.u32_at(20), 0xffff_ffff, "gopLength");
    assert_eq!(c.u32_at(24), 1, "frameIntervalP: no B frames");
    let rc = 40;
    assert_eq!(c.u32_at(rc + 4), 2, "CBR");
    assert_eq!(c.u32_at(rc + 20), 12_000_000);
    assert_eq!(c.u32_at(rc + 24), 12_000_000);
    assert_eq!(c.u32_at(rc + 28), 200_000, "one frame of VBV");
    assert_eq!(c.u32_at(rc + 36) >> 9 & 1, 1, "zeroReorderDelay");
    let h = 168;
    assert_eq!(c.u32_at(h + 8), 0xffff_ffff, "idrPeriod");
    assert_eq!(c.u32_at(h) >> 12 & 1, 1, "repeatSPSPPS");
    assert_eq!(c.u32_at(h) >> 10 & 1, 0, "no intra refresh by default");
    assert_eq!((c.u32_at(h + 64), c.u32_at(h + 68)), (3, 4), "4 slices per frame");
    let vui = h + 72;
    assert_eq!((c.u32_at(vui + 24), c.u32_at(vui + 28), c.u32_at(vui + 32)), (1, 1, 1), "BT.709");
    assert_eq!(c.u32_at(vui + 16), 0, "limited range");
}

#[test]
fn hevc_and_av1_settings() {
    let mut c = Params::<{ config::SIZE }>::zeroed();
    let opts = NvencOptions { format: PixelFormat::P010, intra_refresh_period: 60 };
    apply_settings(&mut c, &EncoderConfig { range: Range::Full, ..cfg(Codec::Hevc) }, &opts);
    let h = 168;
    let flags = c.u32_at(h + 16);
    assert_eq!(flags >> 7 & 1, 1, "repeatSPSPPS");
    assert_eq!(flags >> 8 & 1, 1, "intra refresh");
    assert_eq!(flags >> 9 & 3, 1, "4:2:0");
    assert_eq!(flags >> 11 & 7, 2, "10-bit");
    assert_eq!(c.u32_at(h + 20), 0xffff_ffff);
    assert_eq!(c.u32_at(h + 24), 60);
    assert_eq!(c.u32_at(h + 64 + 16), 1, "full range in VUI");

    let mut a = Params::<{ config::SIZE }>::zeroed();
    let opts = NvencOptions { format: PixelFormat::Yuv444, intra_refresh_period: 0 };
    apply_settings(&mut a, &EncoderConfig { colour_space: ColourSpace::Bt2020, ..cfg(Codec::Av1) }, &opts);
    let flags = a.u32_at(h + 16);
    assert_eq!(flags >> 5 & 1, 1, "repeatSeqHdr");
    assert_eq!(flags >> 7 & 3, 0, "AV1 chroma format left to the preset");
    assert_eq!((a.u32_at(h + 68), a.u32_at(h + 72), a.u32_at(h + 76)), (9, 14, 9), "BT.2020");
}

#[test]
fn yuv444_h264_selects_chroma_format_3() {
    let mut c = Params::<{ config::SIZE }>::zeroed();
    let opts = NvencOptions { format: PixelFormat::Yuv444, intra_refresh_period: 0 };
    apply_settings(&mut c, &cfg(Codec::H264), &opts);
    assert_eq!(c.u32_at(168 + 192), 3);
}
