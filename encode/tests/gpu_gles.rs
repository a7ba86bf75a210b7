//! The GL side of the GPU path on whatever EGL the machine has (Mesa llvmpipe in CI, NVIDIA on the device
//! machine): surfaceless context, the known scene, and the NV12 GL pass checked against the CPU reference.

use lumen_encode::gpu::colour::convert_cpu;
use lumen_encode::gpu::gles::{current_context_gl, gl_fence_wait, GlComputeNv12, Gles};
use lumen_encode::gpu::{Conversion, Matrix, PixelFormat, Range, SourceOrder};

#[test]
fn scene_and_gl_nv12_pass_match_the_cpu_reference() {
    let gles = Gles::new().expect("surfaceless EGL + GLES 3 (libegl1 + libegl-mesa0)");
    let (w, h) = (96u32, 64u32);
    let target = gles.target(w, h).unwrap();
    let mut rgba = Vec::new();
    gles.draw(&target, 5);
    gles.finish();
    gles.read(&target, &mut rgba);
    // The scene is exact integer colours: check a few texels against its definition.
    for (x, y) in [(0usize, 0usize), (17, 3), (95, 63)] {
        let o = (y * w as usize + x) * 4;
        assert_eq!(rgba[o] as usize, (x + 5) & 255);
        assert_eq!(rgba[o + 1] as usize, (y * 3 + 35) & 255);
        assert_eq!(rgba[o + 2] as usize, (x ^ y) & 255);
        assert_eq!(rgba[o + 3], 255);
    }
    for order in [SourceOrder::Rgba, SourceOrder::Bgra] {
        let c = Conversion { order, format: PixelFormat::Nv12, matrix: Matrix::Bt709, range: Range::Limited };
        let pass = gles.nv12_pass(w, h).unwrap();
        gles.convert_nv12(&pass, &target, &c.coeffs());
        gles.finish();
        let mut img = Vec::new();
        gles.read(&pass.target, &mut img);
        let gl: Vec<u8> = img.chunks_exact(4).map(|p| p[0]).collect();
        let mut cpu = vec![0u8; w as usize * c.format.total_rows(h)];
        convert_cpu(&c, &rgba, w as usize * 4, w, h, &mut cpu, w as usize).unwrap();
        let worst = gl.iter().zip(&cpu).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        assert!(worst <= 1, "{order:?}: GL pass differs from the reference by {worst}");
        gles.destroy_target(pass.target);
    }
    gles.destroy_target(target);
}

#[test]
fn gl_compute_nv12_pass_matches_the_cpu_reference() {
    let gles = Gles::new().expect("surfaceless EGL + GLES 3 (libegl1 + libegl-mesa0)");
    // The function table of whatever context is current (here `gles`'s; in gpu-pipeline the renderer's).
    let gl = &current_context_gl().expect("a current EGL context");
    // Even sizes and a width that is no multiple of 4 with an odd height (edge clamping, padding).
    for (w, h) in [(96u32, 64u32), (37, 23)] {
        let target = gles.target(w, h).unwrap();
        gles.draw(&target, 9);
        gles.finish();
        let mut rgba = Vec::new();
        gles.read(&target, &mut rgba);
        // `gles` made its context current on this thread: the pass lives on it.
        let pass = GlComputeNv12::new(gl, w, h).expect("GLES 3.1 compute shaders");
        assert_eq!(pass.pitch() % 4, 0);
        for order in [SourceOrder::Rgba, SourceOrder::Bgra] {
            for (matrix, range) in [(Matrix::Bt709, Range::Limited), (Matrix::Bt601, Range::Full)] {
                let c = Conversion { order, format: PixelFormat::Nv12, matrix, range };
                let mut out = Vec::new();
                pass.dispatch(gl, target.texture_name(), &c.coeffs()).unwrap();
                gl_fence_wait(gl).unwrap();
                pass.read(gl, &mut out).unwrap();
                assert_eq!(out.len(), pass.len());
                let p = pass.pitch();
                let mut cpu = vec![0u8; p * c.format.total_rows(h)];
                convert_cpu(&c, &rgba, w as usize * 4, w, h, &mut cpu, p).unwrap();
                for r in 0..c.format.total_rows(h) {
                    let n = if r < h as usize { w as usize } else { 2 * w.div_ceil(2) as usize };
                    assert_eq!(&out[r * p..r * p + n], &cpu[r * p..r * p + n], "{w}x{h} {c:?}: row {r} differs");
                }
            }
        }
        pass.destroy(gl);
        gles.destroy_target(target);
    }
}

#[test]
fn render_node_detection_rejects_non_drm_devices() {
    use lumen_encode::gpu::gles::{is_drm_node, render_node};
    assert!(!is_drm_node(std::path::Path::new("/dev/null")), "a char device that is not DRM");
    assert!(!is_drm_node(std::path::Path::new("/nonexistent/renderD128")));
    match render_node() {
        Some(p) => assert!(is_drm_node(&p) && p.to_string_lossy().contains("renderD")),
        None => assert!(
            !std::path::Path::new("/dev/dri/renderD128").exists()
                || !is_drm_node(std::path::Path::new("/dev/dri/renderD128"))
        ),
    }
}

#[test]
fn dmabuf_import_of_a_bad_fd_is_an_error() {
    use lumen_encode::gpu::gles::Dmabuf;
    let gles = Gles::new().expect("surfaceless EGL");
    let d = Dmabuf {
        fd: -1,
        width: 64,
        height: 64,
        fourcc: u32::from_le_bytes(*b"AR24"),
        offset: 0,
        stride: 256,
        modifier: 0,
    };
    assert!(gles.import_dmabuf(&d).is_err());
}
