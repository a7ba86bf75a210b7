//! Drawing the nested output's newest frame into the host window: the read-back RGBA goes into one reused
//! texture of the window's GLES renderer, which is drawn over the whole window and swapped.

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::{Color32F, Frame, ImportMem, Renderer};
use smithay::utils::{Physical, Rectangle, Size, Transform};
use tracing::{trace, warn};

use crate::state::State;

/// Show the nested output's newest frame in the window (no-op until it has rendered one).
pub fn present(state: &mut State) {
    let State { nested, outputs, .. } = state;
    let Some(n) = nested.as_mut() else { return };
    let Some(out) = outputs.get(&n.output) else { return };
    let Some(pixels) = out.mirror.as_deref() else { return };
    let (w, h) = (out.mode.width, out.mode.height);
    if pixels.len() != (w * h * 4) as usize {
        trace!("nested output has no frame at its current size yet");
        return;
    }
    if let Err(e) = draw(n, pixels, w, h) {
        warn!("nested window: {e}");
    }
}

fn draw(n: &mut super::Nested, pixels: &[u8], w: u32, h: u32) -> Result<(), String> {
    let t0 = std::time::Instant::now();
    let size_buf: Size<i32, smithay::utils::Buffer> = (w as i32, h as i32).into();
    let renderer = n.backend.renderer();
    match &n.texture {
        Some((tex, dims)) if *dims == (w, h) => {
            renderer.update_memory(tex, pixels, Rectangle::from_size(size_buf)).map_err(|e| e.to_string())?
        }
        _ => {
            let tex = renderer.import_memory(pixels, Fourcc::Abgr8888, size_buf, false).map_err(|e| e.to_string())?;
            n.texture = Some((tex, (w, h)));
        }
    }
    let Some((tex, _)) = n.texture.as_ref() else { return Ok(()) };
    let window: Size<i32, Physical> = n.backend.window_size();
    let whole = Rectangle::from_size(window);
    // The frame keeps its pixel size, anchored top-left (a resize makes a new frame at the new size).
    let dst = Rectangle::from_size((w as i32, h as i32).into());
    {
        let (renderer, mut fb) = n.backend.bind().map_err(|e| e.to_string())?;
        let mut frame = renderer.render(&mut fb, window, Transform::Flipped180).map_err(|e| e.to_string())?;
        frame.clear(Color32F::BLACK, &[whole]).map_err(|e| e.to_string())?;
        // The trait method (GlesFrame's inherent one takes a shader program too).
        let src = Rectangle::from_size(size_buf.to_f64());
        Frame::render_texture_from_to(&mut frame, tex, src, dst, &[dst], &[], Transform::Normal, 1.0)
            .map_err(|e| e.to_string())?;
        let _sync = frame.finish().map_err(|e| e.to_string())?;
    }
    n.backend.submit(None).map_err(|e| e.to_string())?;
    n.presented += 1;
    n.present_ns_total += t0.elapsed().as_nanos() as u64;
    Ok(())
}
