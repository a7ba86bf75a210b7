//! The GPU route of a session's frames (`FramePath::GpuConvert` / `GpuNvenc`): a [`GpuSink`] wraps the
//! output's mailbox sink and registers each pool target with CUDA **once**, when the compositor announces it
//! (`FrameSink::target_created`, renderer's EGL context current), through
//! `lumen_encode::gpu::targets::TargetRegistry`. Each submitted frame gets its target's registration
//! attached (a reference count, no allocation, no driver call) and goes into the mailbox; the encoder side
//! ([`super::frames::DesktopSource`]) turns it into `FramePixels::Gpu`. `output_removed` releases the
//! registrations (a frame still in flight keeps its own until it is dropped). No readback is asked for.

use lumen_encode::gpu::targets::TargetRegistry;
use lumen_render::{Frame, FrameSink, MailboxSink, OutputId, Target};

/// A mailbox sink whose targets are registered with CUDA (see the module docs).
pub struct GpuSink {
    inner: MailboxSink,
    registry: TargetRegistry,
    unregistered: u64,
}

impl GpuSink {
    /// Opens CUDA device 0 and loads libEGL for the registrations.
    pub fn new(inner: MailboxSink) -> anyhow::Result<GpuSink> {
        let dev = lumen_encode::gpu::open_device()?;
        let registry = TargetRegistry::with_device(dev)?;
        Ok(GpuSink { inner, registry, unregistered: 0 })
    }
}

impl FrameSink for GpuSink {
    fn target_created(&mut self, output: OutputId, index: u32, target: &Target) {
        match self.registry.target_created(output, index, target) {
            Ok(()) => tracing::info!(%output, index, "render target registered with CUDA (once)"),
            Err(e) => tracing::error!(%output, index, error = %e, "render target not registered with CUDA"),
        }
    }

    fn output_removed(&mut self, output: OutputId) {
        self.registry.output_removed(output);
        self.inner.output_removed(output);
    }

    fn submit(&mut self, mut frame: Frame) {
        match self.registry.shared(frame.output, frame.target_index()) {
            Some(reg) => frame.set_attachment(reg),
            None => {
                self.unregistered += 1;
                if self.unregistered.is_power_of_two() {
                    tracing::error!(output = %frame.output, index = frame.target_index(), n = self.unregistered,
                        "frame of an unregistered target: the encoder cannot read it");
                }
            }
        }
        self.inner.submit(frame);
    }
}
