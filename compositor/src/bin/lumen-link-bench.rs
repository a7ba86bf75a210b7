//! `lumen-link-bench`: the cost of the host ↔ worker hop, measured with the real code on both ends — the
//! worker's `LinkWriter` (frame header + bytes, plain socket writes) and the host's `WorkerLink` reader,
//! which reads each access unit straight into a free buffer of the video sender's pool. The figure is the
//! time from the worker's stamp (just before the write) to the unit arriving in the sender's channel.
//! Prints a table per payload size (a 1080p P-frame, a 4K P-frame, a 1 MB IDR). Run it with
//! `cargo run --release -p lumen-compositor --bin lumen-link-bench`.

use std::os::unix::net::UnixStream;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lumen_compositor::worker::link_out::{monotonic_ns, LinkWriter};
use lumen_core::link::{AuMeta, ToHost};
use lumen_encode::AccessUnit;
use lumen_stream::media::feed::{FeedPool, Job, VideoFeed};
use lumen_stream::media::shared::Shared;
use lumen_stream::worker::{LinkFeed, WorkerLink};

fn percentile(v: &mut [u64], q: f64) -> u64 {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let (host_end, worker_end) = UnixStream::pair()?;
    let link = WorkerLink::start(host_end, 1, Box::new(|_| {}))?;
    let writer = LinkWriter::new(worker_end);
    writer.send(&ToHost::Ready { version: lumen_core::link::LINK_VERSION, pid: std::process::id() })?;
    link.wait_status(Duration::from_secs(5), |s| s.ready.then_some(()));
    let shared = Arc::new(Shared::new(20_000, Box::new(|_| {}), Arc::new(|_| {})));
    let (full_tx, full_rx) = sync_channel::<Job>(3);
    let (free_tx, free_rx) = sync_channel::<AccessUnit>(3);
    for _ in 0..3 {
        free_tx.send(AccessUnit::default())?;
    }
    Box::new(LinkFeed { link: link.clone() }).start(shared, FeedPool { free_rx, full_tx })?;
    println!("{:<28} {:>7} {:>9} {:>9} {:>9} {:>10}", "payload", "units", "p50 us", "p99 us", "max us", "GB/s p50");
    for (what, size, n) in [
        ("1080p P-frame (40 KB)", 40 * 1024, 3000),
        ("4K P-frame (150 KB)", 150 * 1024, 2000),
        ("1 MB IDR", 1024 * 1024, 500),
    ] {
        let data = vec![0x5au8; size];
        let mut hops = Vec::with_capacity(n);
        for i in 0..n + 50 {
            let now = monotonic_ns();
            let meta = AuMeta { idr: false, frame_no: i as u64, ready_ns: now, sent_ns: 0, encode_us: 0 };
            writer.send_au(meta, &data)?;
            let job = full_rx.recv_timeout(Duration::from_secs(5))?;
            let hop = job.ready_at.elapsed();
            assert_eq!(job.au.data.len(), size);
            free_tx.send(job.au)?;
            if i >= 50 {
                hops.push(hop.as_nanos() as u64);
            }
            // Paced like frames (one at a time), not a throughput test.
            let t = Instant::now();
            while t.elapsed() < Duration::from_micros(200) {
                std::hint::spin_loop();
            }
        }
        let (p50, p99) = (percentile(&mut hops, 0.5), percentile(&mut hops, 0.99));
        let max = *hops.last().unwrap_or(&0);
        println!(
            "{:<28} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>10.2}",
            what,
            n,
            p50 as f64 / 1000.0,
            p99 as f64 / 1000.0,
            max as f64 / 1000.0,
            size as f64 / p50 as f64
        );
    }
    Ok(())
}
