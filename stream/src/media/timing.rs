//! Timing of the sender loops: per-frame host processing times (encode, packetize+send, frame ready → last datagram),
//! kept in a fixed ring and summarised as median / p99 in the log.

use std::time::Duration;

/// CLOCK_MONOTONIC now, ns (the clock both processes stamp with).
pub fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

const RING: usize = 1024;

/// A ring of the last [`RING`] frames' timings (allocated once).
pub struct Timings {
    what: &'static str,
    encode: Vec<u32>,
    send: Vec<u32>,
    total: Vec<u32>,
    n: usize,
}

/// Median and 99th percentile of a sample set, in microseconds.
pub fn median_p99(v: &mut [u32]) -> (u32, u32) {
    if v.is_empty() {
        return (0, 0);
    }
    v.sort_unstable();
    let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (p(0.5), p(0.99))
}

impl Timings {
    pub fn new(what: &'static str) -> Self {
        Self { what, encode: vec![0; RING], send: vec![0; RING], total: vec![0; RING], n: 0 }
    }

    pub fn record(&mut self, encode: Duration, send: Duration, total: Duration) {
        let i = self.n % RING;
        self.encode[i] = encode.as_micros() as u32;
        self.send[i] = send.as_micros() as u32;
        self.total[i] = total.as_micros() as u32;
        self.n += 1;
        if self.n.is_multiple_of(600) {
            self.log_summary();
        }
    }

    /// Logs median/p99 of the frames in the ring.
    pub fn log_summary(&self) {
        let k = self.n.min(RING);
        if k == 0 {
            return;
        }
        let (mut e, mut s, mut t) = (self.encode[..k].to_vec(), self.send[..k].to_vec(), self.total[..k].to_vec());
        let (e50, e99) = median_p99(&mut e);
        let (s50, s99) = median_p99(&mut s);
        let (t50, t99) = median_p99(&mut t);
        tracing::info!(
            what = self.what,
            frames = self.n,
            encode_us_p50 = e50,
            encode_us_p99 = e99,
            send_us_p50 = s50,
            send_us_p99 = s99,
            host_us_p50 = t50,
            host_us_p99 = t99,
            "host processing time"
        );
    }
}
