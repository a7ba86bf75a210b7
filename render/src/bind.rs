//! Binding a pool [`Target`] on the renderer that created it.

use smithay::backend::renderer::gles::GlesRenderer;
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::backend::renderer::{Bind, Renderer};

use crate::target::Target;

/// A renderer that can draw into lumen's pool targets.
pub trait BindTarget: Renderer {
    fn bind_target<'a>(&mut self, target: &'a mut Target) -> Result<Self::Framebuffer<'a>, String>;
}

impl BindTarget for PixmanRenderer {
    fn bind_target<'a>(&mut self, target: &'a mut Target) -> Result<Self::Framebuffer<'a>, String> {
        match target {
            Target::Cpu(img) => self.bind(img).map_err(|e| e.to_string()),
            Target::Dmabuf(d) => self.bind(d).map_err(|e| e.to_string()),
            Target::GlTexture(_) => Err("pixman cannot render into a GL texture".into()),
        }
    }
}

impl BindTarget for GlesRenderer {
    fn bind_target<'a>(&mut self, target: &'a mut Target) -> Result<Self::Framebuffer<'a>, String> {
        match target {
            Target::GlTexture(t) => self.bind(t).map_err(|e| e.to_string()),
            Target::Dmabuf(d) => self.bind(d).map_err(|e| e.to_string()),
            Target::Cpu(_) => Err("GLES cannot render into a CPU image".into()),
        }
    }
}
