//! The composited cursor: the client's cursor surface, or lumen's default arrow for named cursors
//! (cursor-shape) and before any client set one; hideable (Moonlight clients usually draw their own).

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::element::memory::{MemoryRenderBuffer, MemoryRenderBufferRenderElement};
use smithay::backend::renderer::element::surface::{render_elements_from_surface_tree, WaylandSurfaceRenderElement};
use smithay::backend::renderer::element::Kind;
use smithay::backend::renderer::{ImportAll, ImportMem, Renderer};
use smithay::input::pointer::{CursorImageStatus, CursorImageSurfaceData};
use smithay::utils::{Logical, Physical, Point, Transform};
use smithay::wayland::compositor::with_states;

/// Width and height of the default arrow, in pixels.
const ARROW_W: usize = 12;
const ARROW_H: usize = 19;
/// The default arrow: `#` black outline, `.` white fill, ` ` transparent.
const ARROW: [&str; ARROW_H] = [
    "#           ",
    "##          ",
    "#.#         ",
    "#..#        ",
    "#...#       ",
    "#....#      ",
    "#.....#     ",
    "#......#    ",
    "#.......#   ",
    "#........#  ",
    "#.........# ",
    "#......#####",
    "#...#..#    ",
    "#..# #..#   ",
    "#.#  #..#   ",
    "##    #..#  ",
    "#     #..#  ",
    "       #..# ",
    "        ##  ",
];

pub struct CursorState {
    pub image: CursorImageStatus,
    /// Hidden by the session (independent of what clients ask for).
    pub visible: bool,
    arrow: MemoryRenderBuffer,
}

impl Default for CursorState {
    fn default() -> Self {
        Self::new()
    }
}

impl CursorState {
    pub fn new() -> Self {
        let mut px = Vec::with_capacity(ARROW_W * ARROW_H * 4);
        for row in ARROW {
            for c in row.bytes() {
                // ARGB8888 little-endian: B, G, R, A (premultiplied).
                let v: [u8; 4] = match c {
                    b'#' => [0, 0, 0, 255],
                    b'.' => [255, 255, 255, 255],
                    _ => [0, 0, 0, 0],
                };
                px.extend_from_slice(&v);
            }
        }
        let arrow = MemoryRenderBuffer::from_slice(
            &px,
            Fourcc::Argb8888,
            (ARROW_W as i32, ARROW_H as i32),
            1,
            Transform::Normal,
            None,
        );
        CursorState { image: CursorImageStatus::default_named(), visible: true, arrow }
    }

    pub fn set_image(&mut self, image: CursorImageStatus) {
        self.image = image;
    }

    /// Render elements for a cursor at `pos` (output-local, logical = physical at scale 1).
    pub fn elements<R, E>(&self, renderer: &mut R, pos: Point<f64, Logical>, out: &mut Vec<E>)
    where
        R: Renderer + ImportAll + ImportMem,
        R::TextureId: Send + Clone + 'static,
        E: From<WaylandSurfaceRenderElement<R>> + From<MemoryRenderBufferRenderElement<R>>,
    {
        if !self.visible {
            return;
        }
        match &self.image {
            CursorImageStatus::Hidden => {}
            CursorImageStatus::Named(_) => {
                let loc: Point<f64, Physical> = (pos.x.round(), pos.y.round()).into();
                match MemoryRenderBufferRenderElement::from_buffer(
                    renderer,
                    loc,
                    &self.arrow,
                    None,
                    None,
                    None,
                    Kind::Cursor,
                ) {
                    Ok(e) => out.push(E::from(e)),
                    Err(e) => tracing::debug!("cursor element: {e:?}"),
                }
            }
            CursorImageStatus::Surface(surface) => {
                if !surface.is_alive() {
                    return;
                }
                let hotspot = with_states(surface, |states| {
                    states
                        .data_map
                        .get::<CursorImageSurfaceData>()
                        .and_then(|d| d.lock().ok().map(|a| a.hotspot))
                        .unwrap_or_default()
                });
                let loc = (pos.to_i32_round::<i32>() - hotspot).to_physical(1);
                let elems: Vec<WaylandSurfaceRenderElement<R>> =
                    render_elements_from_surface_tree(renderer, surface, loc, 1.0, 1.0, Kind::Cursor);
                out.extend(elems.into_iter().map(E::from));
            }
        }
    }
}

use smithay::reexports::wayland_server::Resource;
