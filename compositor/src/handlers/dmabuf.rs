//! linux-dmabuf: v4 with default feedback when the renderer sits on a render node, v3 otherwise.

use lumen_render::Renderer;
use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::renderer::ImportDma;
use smithay::delegate_dmabuf;
use smithay::wayland::dmabuf::{DmabufFeedbackBuilder, DmabufGlobal, DmabufHandler, DmabufState, ImportNotifier};

use crate::state::State;

impl DmabufHandler for State {
    fn dmabuf_state(&mut self) -> &mut DmabufState {
        &mut self.dmabuf_state
    }

    fn dmabuf_imported(&mut self, _global: &DmabufGlobal, dmabuf: Dmabuf, notifier: ImportNotifier) {
        let ok = match &mut self.renderer {
            Renderer::Pixman(r) => r.import_dmabuf(&dmabuf, None).map(|_| ()).map_err(|e| e.to_string()),
            Renderer::Gles(g) => g.renderer.import_dmabuf(&dmabuf, None).map(|_| ()).map_err(|e| e.to_string()),
        };
        match ok.map(|_| ()) {
            Ok(()) => {
                let _ = notifier.successful::<State>();
            }
            Err(e) => {
                tracing::warn!("dmabuf import failed: {e}");
                notifier.failed();
            }
        }
    }
}

/// Create the dmabuf global that fits the renderer.
pub fn create_global(state: &mut State) {
    let (formats, node) = match &state.renderer {
        Renderer::Pixman(r) => (r.dmabuf_formats(), None),
        Renderer::Gles(g) => (g.renderer.dmabuf_formats(), g.node),
    };
    let formats: Vec<_> = formats.into_iter().collect();
    if let Some(node) = node {
        match DmabufFeedbackBuilder::new(node.dev_id(), formats.clone()).build() {
            Ok(feedback) => {
                let g = state.dmabuf_state.create_global_with_default_feedback::<State>(&state.dh, &feedback);
                tracing::info!(%node, formats = formats.len(), "linux-dmabuf v4 with feedback");
                state.dmabuf_global = Some(g);
                return;
            }
            Err(e) => tracing::warn!("dmabuf feedback: {e}; falling back to linux-dmabuf v3"),
        }
    }
    let n = formats.len();
    let g = state.dmabuf_state.create_global::<State>(&state.dh, formats);
    tracing::info!(formats = n, "linux-dmabuf v3 (no render node)");
    state.dmabuf_global = Some(g);
}

delegate_dmabuf!(State);
