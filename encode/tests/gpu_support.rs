//! The fallback logic: which encoder the host builds from the probe's steps, with the reason logged.
//! The steps are fed real error values; `probe()` itself runs too (software here: no NVIDIA driver).

use std::cell::Cell;

use lumen_encode::gpu::nvenc::{codecs_from_guids, ffi};
use lumen_encode::gpu::support::decide;
use lumen_encode::gpu::{cuda, Codec, FallbackReason, GpuError, GpuSupport, NvencCaps};

#[test]
fn no_cuda_driver_falls_back_without_touching_nvenc() {
    let called = Cell::new(false);
    let s = decide(Err(GpuError::NoCudaDriver), || {
        called.set(true);
        Ok(NvencCaps::default())
    });
    assert!(!called.get());
    assert_eq!(s, GpuSupport::Software { reason: FallbackReason::NoCudaDriver, cuda_device: None });
    assert_eq!(s.encoder_name(), "software");
    assert!(s.nvenc_codecs().is_empty());
}

#[test]
fn cuda_errors_are_reported_with_the_call() {
    let e = GpuError::Cuda { call: "cuInit", name: "CUDA_ERROR_NO_DEVICE".into(), code: 100 };
    match decide(Err(e), || unreachable!()) {
        GpuSupport::Software { reason: FallbackReason::Cuda(m), cuda_device: None } => {
            assert!(m.contains("cuInit") && m.contains("CUDA_ERROR_NO_DEVICE"), "{m}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unsupported_device_is_a_session_fallback_naming_the_status() {
    let s = decide(Ok("NVIDIA H200".into()), || {
        Err(GpuError::Nvenc {
            call: "nvEncOpenEncodeSessionEx",
            name: ffi::status_name(2),
            code: 2,
            detail: ": NVIDIA H200 has no NVENC engine".into(),
        })
    });
    match &s {
        GpuSupport::Software { reason: FallbackReason::NvencSession(m), cuda_device: Some(d) } => {
            assert_eq!(d, "NVIDIA H200");
            assert!(m.contains("NV_ENC_ERR_UNSUPPORTED_DEVICE"), "{m}");
            assert!(s.to_owned().encoder_name() == "software");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_library_and_empty_codec_lists_fall_back() {
    let s = decide(Ok("GPU".into()), || {
        Err(GpuError::Load { library: "libnvidia-encode.so.1", reason: "not found".into() })
    });
    assert!(matches!(s, GpuSupport::Software { reason: FallbackReason::NvencLibrary(_), .. }));
    let s = decide(Ok("GPU".into()), || Ok(NvencCaps { codecs: vec![], max_api: (13, 0) }));
    assert!(matches!(s, GpuSupport::Software { reason: FallbackReason::NoCodecs, .. }));
}

#[test]
fn a_working_session_selects_nvenc_with_its_codecs() {
    let caps = NvencCaps { codecs: vec![Codec::H264, Codec::Hevc], max_api: (13, 0) };
    let s = decide(Ok("RTX 4090".into()), || Ok(caps.clone()));
    assert_eq!(s.encoder_name(), "nvenc");
    assert_eq!(s.nvenc_codecs(), &[Codec::H264, Codec::Hevc]);
}

#[test]
fn codec_guids_map_in_offer_order() {
    let g = [ffi::CODEC_AV1, ffi::Guid::default(), ffi::CODEC_H264];
    assert_eq!(codecs_from_guids(&g), vec![Codec::H264, Codec::Av1]);
    assert!(codecs_from_guids(&[]).is_empty());
}

#[test]
fn probe_never_panics_and_matches_the_driver_presence() {
    let s = lumen_encode::gpu::probe();
    if !cuda::driver_present() {
        assert_eq!(s, GpuSupport::Software { reason: FallbackReason::NoCudaDriver, cuda_device: None });
    }
}

#[test]
fn nvenc_struct_layouts_and_versions() {
    // Sizes of the SDK 12.1 header's structs on LP64.
    assert_eq!(std::mem::size_of::<ffi::FunctionList>(), 2552);
    assert_eq!(std::mem::size_of::<ffi::OpenSessionExParams>(), 1552);
    assert_eq!(ffi::API_VERSION, 0x0100_000C);
    assert_eq!(ffi::FUNCTION_LIST_VER, 0x7102_000C);
    assert_eq!(ffi::OPEN_SESSION_EX_VER, 0x7101_000C);
    assert_eq!(ffi::status_name(2), "NV_ENC_ERR_UNSUPPORTED_DEVICE");
    assert_eq!(ffi::status_name(999), "NV_ENC_ERR_(unknown)");
}
