//! CPU copies of GPU-rendered frames for CPU encoders: a [`ReadbackPool`] of reusable byte buffers per
//! output and the [`Readback`] a frame carries. The compositor fills a buffer on its own thread (where the
//! GL context is current) right after rendering; dropping the frame gives the buffer back to the pool, so
//! once every buffer in flight exists (the mailbox's and the encoder's, about three) nothing is allocated.

use std::sync::{Arc, Mutex};

use crate::target::CpuPixels;

/// Reusable readback buffers of one output.
#[derive(Debug, Clone, Default)]
pub struct ReadbackPool {
    free: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl ReadbackPool {
    pub fn new() -> Self {
        Self::default()
    }

    /// A buffer for a `width`×`height` tightly packed 4-byte-per-pixel image, filled by `fill` (which gets
    /// an empty `Vec` with room for the image and must leave exactly `width * height * 4` bytes in it).
    /// A pooled buffer is reused; a new one is made only while the pool is still growing.
    pub fn fill<E>(
        &self,
        width: u32,
        height: u32,
        fill: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<Readback, ReadbackError<E>> {
        let len = width as usize * height as usize * 4;
        let mut buf = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default();
        buf.clear();
        buf.reserve(len);
        let filled = fill(&mut buf);
        let rb = Readback { buf, width, height, pool: self.free.clone() };
        filled.map_err(ReadbackError::Fill)?;
        if rb.buf.len() != len {
            return Err(ReadbackError::Size { got: rb.buf.len(), want: len });
        }
        Ok(rb)
    }

    /// Buffers waiting in the pool (for tests and statistics).
    pub fn idle(&self) -> usize {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadbackError<E> {
    #[error("readback failed: {0}")]
    Fill(E),
    #[error("readback gave {got} bytes, expected {want}")]
    Size { got: usize, want: usize },
}

/// The CPU pixels of one frame: tightly packed, top-down, R,G,B,A bytes (DRM `Abgr8888`). Goes back to its
/// pool when dropped.
#[derive(Debug)]
pub struct Readback {
    buf: Vec<u8>,
    width: u32,
    height: u32,
    pool: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Readback {
    pub fn pixels(&self) -> CpuPixels<'_> {
        CpuPixels { data: &self.buf, width: self.width, height: self.height, stride: self.width as usize * 4 }
    }
}

impl Drop for Readback {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).push(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_sizes_checked() {
        let pool = ReadbackPool::new();
        let a = pool.fill::<()>(4, 2, |b| {
            b.extend_from_slice(&[7u8; 32]);
            Ok(())
        });
        let a = a.unwrap();
        assert_eq!(a.pixels().stride, 16);
        assert_eq!(a.pixels().data[31], 7);
        let ptr = a.pixels().data.as_ptr();
        drop(a);
        assert_eq!(pool.idle(), 1);
        let b = pool
            .fill::<()>(4, 2, |b| {
                b.extend_from_slice(&[9u8; 32]);
                Ok(())
            })
            .unwrap();
        assert_eq!(b.pixels().data.as_ptr(), ptr, "the pooled buffer is reused");
        assert_eq!(pool.idle(), 0);
        drop(b);
        assert!(matches!(
            pool.fill::<()>(4, 2, |b| {
                b.push(1);
                Ok(())
            }),
            Err(ReadbackError::Size { got: 1, want: 32 })
        ));
        assert!(matches!(pool.fill(4, 2, |_| Err("gl")), Err(ReadbackError::Fill("gl"))));
        assert_eq!(pool.idle(), 1, "a failed readback still returns its buffer");
    }
}
