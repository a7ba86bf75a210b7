//! Output retrieval off the encoder thread: the CPU-side bookkeeping of NVENC's pipelined mode.
//!
//! NVENC's event-driven async mode (`enableEncodeAsync` + `nvEncRegisterAsyncEvent`) exists only on Windows;
//! on Linux `NV_ENC_CAPS_ASYNC_ENCODE_SUPPORT` is 0 and the documented pattern is several output bitstream
//! buffers in flight, locked in submission order by a second thread whose `nvEncLockBitstream` blocks until
//! the picture is coded. This file holds what that needs, independent of the driver so CI tests it:
//! - [`OutputRing`]: which output buffer each submitted frame uses, strictly in submission order, bounded;
//! - [`BufferPool`]: reusable byte buffers the retrieval thread copies finished bitstreams into, cycled
//!   through a bounded channel (no allocation in steady state: a buffer's capacity is kept);
//! - [`Retrieval`]: the thread itself, driven by a `lock` function (the encoder passes one that locks,
//!   copies out and unlocks one NVENC output buffer), answering through a bounded channel.
//!
//! Where the thread cannot be used the encoder stays synchronous (lock on the encoder thread).

use std::sync::mpsc::{sync_channel, Receiver, RecvError, SyncSender};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::encoder::FrameKind;
use crate::gpu::error::{GpuError, GpuResult};

/// One submitted frame waiting for its bitstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    /// Output buffer (index into the encoder's bitstream buffers).
    pub output: usize,
    /// Input pool slot the picture was read from (released when the frame is retrieved).
    pub input: usize,
    /// Frame index (also NVENC's timestamp).
    pub index: u64,
}

/// Output buffers in flight, in submission order (NVENC completes pictures in order).
#[derive(Debug)]
pub struct OutputRing {
    capacity: usize,
    /// Next output buffer to hand out.
    head: usize,
    /// Number in flight; the oldest is `(head + capacity - len) % capacity`.
    len: usize,
    /// Frame index per buffer while it is in flight.
    index: Vec<u64>,
}

impl OutputRing {
    /// A ring of `capacity` output buffers (at least 1).
    pub fn new(capacity: usize) -> GpuResult<OutputRing> {
        if capacity == 0 {
            return Err(GpuError::Invalid("an output ring needs at least one buffer".into()));
        }
        Ok(OutputRing { capacity, head: 0, len: 0, index: vec![0; capacity] })
    }

    /// Takes the next output buffer for frame `index`; `PoolExhausted` when every buffer is in flight
    /// (the caller must retrieve first: the encoder never blocks on a full ring by itself).
    pub fn begin(&mut self, index: u64) -> GpuResult<usize> {
        if self.len == self.capacity {
            return Err(GpuError::PoolExhausted(self.capacity));
        }
        let out = self.head;
        self.index[out] = index;
        self.head = (self.head + 1) % self.capacity;
        self.len += 1;
        Ok(out)
    }

    /// The oldest buffer in flight and its frame index.
    pub fn oldest(&self) -> Option<(usize, u64)> {
        if self.len == 0 {
            return None;
        }
        let o = (self.head + self.capacity - self.len) % self.capacity;
        Some((o, self.index[o]))
    }

    /// Marks buffer `output` retrieved; it must be the oldest (bitstreams are read in order).
    pub fn finish(&mut self, output: usize) -> GpuResult<u64> {
        match self.oldest() {
            Some((o, index)) if o == output => {
                self.len -= 1;
                Ok(index)
            }
            Some((o, _)) => {
                tracing::warn!(output, oldest = o, "output buffer retrieved out of order");
                Err(GpuError::Invalid(format!("output buffer {output} retrieved before the oldest, {o}")))
            }
            None => {
                tracing::warn!(output, "output buffer retrieved with nothing in flight");
                Err(GpuError::Invalid(format!("output buffer {output} is not in flight")))
            }
        }
    }

    /// Buffers in flight.
    pub fn in_flight(&self) -> usize {
        self.len
    }

    /// Total buffers.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Reusable byte buffers for finished bitstreams, cycled through a bounded channel.
pub struct BufferPool {
    tx: SyncSender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
}

impl BufferPool {
    /// `count` buffers of `capacity` bytes each, made once.
    pub fn new(count: usize, capacity: usize) -> BufferPool {
        let (tx, rx) = sync_channel(count.max(1));
        for _ in 0..count {
            // Cannot fail: the channel holds exactly `count`.
            let _ = tx.try_send(Vec::with_capacity(capacity));
        }
        BufferPool { tx, rx }
    }

    /// A handle that returns buffers to this pool (for the consumer side).
    pub fn returner(&self) -> SyncSender<Vec<u8>> {
        self.tx.clone()
    }

    /// Waits for a free buffer (the consumer returns them); `None` when every returner is gone.
    pub fn take(&self) -> Option<Vec<u8>> {
        self.rx.recv().ok()
    }

    /// A free buffer if one is there now.
    pub fn try_take(&self) -> Option<Vec<u8>> {
        self.rx.try_recv().ok()
    }
}

/// A finished frame's bitstream, copied out of NVENC.
#[derive(Debug)]
pub struct Retrieved {
    pub job: Job,
    pub kind: FrameKind,
    /// The access unit's bytes (a pool buffer: give it back with [`Retrieval::recycle`]).
    pub data: Vec<u8>,
    /// When the lock returned (the picture was coded).
    pub coded_at: Instant,
}

/// The retrieval thread and its channels.
pub struct Retrieval {
    jobs: Option<SyncSender<Job>>,
    results: Receiver<GpuResult<Retrieved>>,
    returner: SyncSender<Vec<u8>>,
    thread: Option<JoinHandle<()>>,
}

impl Retrieval {
    /// Starts the thread with `depth` jobs and buffers in flight. `lock(output, buf)` must block until
    /// output buffer `output` holds a coded picture, copy it into `buf` (cleared first) and release it,
    /// returning the picture's kind.
    pub fn spawn<L>(depth: usize, buffer_capacity: usize, mut lock: L) -> GpuResult<Retrieval>
    where
        L: FnMut(usize, &mut Vec<u8>) -> GpuResult<FrameKind> + Send + 'static,
    {
        let depth = depth.max(1);
        let (jobs_tx, jobs_rx) = sync_channel::<Job>(depth);
        let (res_tx, res_rx) = sync_channel::<GpuResult<Retrieved>>(depth);
        let pool = BufferPool::new(depth, buffer_capacity);
        let returner = pool.returner();
        let thread = std::thread::Builder::new()
            .name("nvenc-retrieve".into())
            .spawn(move || {
                while let Ok(job) = jobs_rx.recv() {
                    let Some(mut buf) = pool.take() else { break };
                    buf.clear();
                    let r = lock(job.output, &mut buf).map(|kind| Retrieved { job, kind, data: buf, coded_at: Instant::now() });
                    if let Err(e) = &r {
                        tracing::warn!(output = job.output, index = job.index, error = %e, "bitstream retrieval failed");
                    }
                    if res_tx.send(r).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| GpuError::Invalid(format!("cannot start the retrieval thread: {e}")))?;
        Ok(Retrieval { jobs: Some(jobs_tx), results: res_rx, returner, thread: Some(thread) })
    }

    /// Queues a submitted frame for retrieval; never blocks (the ring bounds what is in flight).
    pub fn submit(&self, job: Job) -> GpuResult<()> {
        let jobs = self.jobs.as_ref().ok_or_else(|| GpuError::Invalid("retrieval stopped".into()))?;
        jobs.try_send(job).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => GpuError::PoolExhausted(0),
            std::sync::mpsc::TrySendError::Disconnected(_) => GpuError::Invalid("retrieval thread gone".into()),
        })
    }

    /// The next finished frame, waiting for it.
    pub fn recv(&self) -> GpuResult<Retrieved> {
        self.results.recv().map_err(|RecvError| GpuError::Invalid("retrieval thread gone".into()))?
    }

    /// The next finished frame if there is one now.
    pub fn try_recv(&self) -> Option<GpuResult<Retrieved>> {
        self.results.try_recv().ok()
    }

    /// Gives a frame's buffer back for reuse (its capacity is kept).
    pub fn recycle(&self, data: Vec<u8>) {
        let _ = self.returner.try_send(data);
    }
}

impl Drop for Retrieval {
    fn drop(&mut self) {
        self.jobs = None; // ends the thread's loop once queued jobs are done
        let Some(t) = self.thread.take() else { return };
        // Unblock a thread waiting on a full result channel (drain) or for a buffer the consumer kept (an
        // empty one, allocated only here) until it has finished what was queued.
        while !t.is_finished() {
            while self.results.try_recv().is_ok() {}
            let _ = self.returner.try_send(Vec::new());
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let _ = t.join();
    }
}
