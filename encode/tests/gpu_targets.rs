//! `TargetRegistry` against the compositor's real renderer (lumen_render) on whatever EGL the machine has
//! (Mesa llvmpipe in CI, no CUDA there): CPU targets are refused, and a GL texture target whose CUDA
//! registration cannot be made leaves nothing registered (the EGLImage made for it is released) and says why.

use lumen_encode::gpu::targets::TargetRegistry;
use lumen_encode::gpu::GpuError;
use lumen_render::{OutputId, Renderer, RendererChoice};

#[test]
fn cpu_targets_are_not_registered() {
    let mut renderer = lumen_render::select(RendererChoice::Pixman).expect("pixman renderer");
    let target = renderer.create_target(64, 32).unwrap();
    let mut reg = TargetRegistry::new().expect("libEGL.so.1 (libegl1)");
    let err = reg.target_created(OutputId(1), 0, &target).unwrap_err();
    assert!(matches!(err, GpuError::Invalid(_)), "{err}");
    assert!(reg.is_empty());
    assert!(reg.gpu_target(OutputId(1), 0).is_none());
}

#[test]
fn gl_texture_target_without_cuda_fails_cleanly() {
    let mut renderer = lumen_render::select(RendererChoice::Gles).expect("GLES on surfaceless EGL (Mesa)");
    let target = renderer.create_target(64, 32).unwrap();
    let Renderer::Gles(g) = &mut renderer else { panic!("asked for GLES") };
    let mut reg = TargetRegistry::new().expect("libEGL.so.1");
    // The hook runs with the renderer's EGL context current.
    g.renderer.with_context(|_| ()).unwrap();
    match reg.target_created(OutputId(2), 0, &target) {
        // With an NVIDIA driver present (device machine) the registration works and is found by slot.
        Ok(()) => {
            let t = reg.gpu_target(OutputId(2), 0).expect("registered slot");
            assert_eq!((t.width, t.height), (64, 32));
            reg.output_removed(OutputId(2));
        }
        // Without CUDA (CI): the error names what is missing and nothing stays registered.
        Err(e) => assert!(
            matches!(
                e,
                GpuError::NoCudaDriver | GpuError::Load { .. } | GpuError::MissingSymbol { .. } | GpuError::Cuda { .. }
            ),
            "unexpected error: {e}"
        ),
    }
    assert!(reg.is_empty());
}
