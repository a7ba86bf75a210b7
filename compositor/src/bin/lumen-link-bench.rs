//! `lumen-link-bench`: the cost of the host ↔ worker hop, measured with the real code on both ends — the
//! worker's `LinkSink` (the unit copied into the video ring, its notice sent on the `SOCK_SEQPACKET` video
//! link) on one thread, and the host's `RingSource` (the video sender's source: poll, notice, copy out of
//! the ring) on another. The figure is the time from the unit's hand-over to the sink (its `ready_at`) to
//! the sender holding its bytes. Prints a table per payload size (a 1080p P-frame, a 4K P-frame, a 1 MB
//! IDR). Run it with `cargo run --release -p lumen-compositor --bin lumen-link-bench`.

use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lumen_compositor::encoding::thread::UnitSink;
use lumen_compositor::worker::encoder::{LinkSink, VideoOut};
use lumen_compositor::worker::link_out::LinkWriter;
use lumen_core::link::ToHost;
use lumen_encode::FrameKind;
use lumen_stream::media::feed::VideoFeed;
use lumen_stream::media::shared::Shared;
use lumen_stream::worker::shm_ring::SharedRing;
use lumen_stream::worker::video_link::VideoLink;
use lumen_stream::worker::{LinkFeed, WorkerLink};

fn percentile(v: &mut [u64], q: f64) -> u64 {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn spin(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn main() -> anyhow::Result<()> {
    let (host_end, worker_end) = UnixStream::pair()?;
    let link = WorkerLink::start(host_end, 1, Box::new(|_| {}))?;
    let writer = Arc::new(LinkWriter::new(worker_end));
    writer.send(&ToHost::Ready { version: lumen_core::link::LINK_VERSION, pid: std::process::id() })?;
    link.wait_status(Duration::from_secs(5), |s| s.ready.then_some(()));
    let (video, ends) = VideoLink::create()?;
    let out = Arc::new(VideoOut::new(SharedRing::open(&ends.ring)?, ends.sock));
    let shared = Arc::new(Shared::new(20_000, Box::new(|_| {}), Arc::new(|_| {})));
    let feed = Box::new(LinkFeed { link: link.clone(), video: Arc::new(video), session: 1 });
    let mut source = feed.start(shared)?;
    println!("{:<28} {:>7} {:>9} {:>9} {:>9}", "payload", "units", "p50 us", "p99 us", "max us");
    for (what, size, n) in [
        ("1080p P-frame (40 KB)", 40 * 1024, 3000usize),
        ("4K P-frame (150 KB)", 150 * 1024, 2000),
        ("1 MB IDR", 1024 * 1024, 500),
    ] {
        let (o, w) = (out.clone(), writer.clone());
        let worker = std::thread::spawn(move || {
            let mut sink = LinkSink::new(o, w);
            for _ in 0..n + 50 {
                // Paced like frames (one at a time), not a throughput test.
                spin(Duration::from_micros(1000));
                let Ok(Some(mut au)) = sink.buffer() else { return };
                au.data.clear();
                au.data.resize(size, 0x5a);
                au.kind = Some(FrameKind::P);
                if !matches!(sink.deliver(au, Instant::now()), Ok(true)) {
                    eprintln!("unit dropped");
                }
            }
        });
        let mut hops = Vec::with_capacity(n);
        for i in 0..n + 50 {
            let job = loop {
                if let Some(j) = source.next(Duration::from_secs(5)).map_err(|_| anyhow::anyhow!("feed ended"))? {
                    break j;
                }
            };
            let hop = job.ready_at.elapsed();
            assert_eq!(job.au.data.len(), size);
            source.recycle(job.au);
            if i >= 50 {
                hops.push(hop.as_nanos() as u64);
            }
        }
        let _ = worker.join();
        let (p50, p99) = (percentile(&mut hops, 0.5), percentile(&mut hops, 0.99));
        let max = *hops.last().unwrap_or(&0);
        println!(
            "{:<28} {:>7} {:>9.1} {:>9.1} {:>9.1}",
            what,
            n,
            p50 as f64 / 1000.0,
            p99 as f64 / 1000.0,
            max as f64 / 1000.0
        );
    }
    Ok(())
}
