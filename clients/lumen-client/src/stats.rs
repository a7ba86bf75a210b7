//! What the client prints: one JSON line per frame, and a summary line with the capture → decoded latency
//! percentiles (the latency probe; host and client on one machine read the same `CLOCK_REALTIME`).

use serde_json::json;

/// One frame's line.
pub struct FrameLine {
    pub index: u32,
    pub idr: bool,
    pub bytes: usize,
    pub recovered: usize,
    pub decoded: bool,
    /// The host's processing latency field, 0.1 ms.
    pub host_latency: u16,
    /// Host capture → decoded here, µs (lumen transport only).
    pub latency_us: Option<u64>,
}

impl FrameLine {
    pub fn print(&self) {
        println!(
            "{}",
            json!({
                "frame": self.index, "idr": self.idr, "bytes": self.bytes, "recovered": self.recovered,
                "decoded": self.decoded, "host_latency_ms": f64::from(self.host_latency) / 10.0,
                "latency_ms": self.latency_us.map(|u| u as f64 / 1000.0),
            })
        );
    }
}

/// Latency samples, µs.
#[derive(Default)]
pub struct Latencies {
    samples: Vec<u64>,
}

impl Latencies {
    pub fn push(&mut self, us: u64) {
        self.samples.push(us);
    }

    /// The `q` quantile (0..=1), ms.
    fn quantile(sorted: &[u64], q: f64) -> Option<f64> {
        let last = sorted.len().checked_sub(1)?;
        Some(sorted[((last as f64) * q).round() as usize] as f64 / 1000.0)
    }

    /// The summary line.
    pub fn summary(&self, frames: u64, extra: serde_json::Value) -> serde_json::Value {
        let mut s = self.samples.clone();
        s.sort_unstable();
        json!({
            "summary": true, "frames": frames, "latency_samples": s.len(),
            "latency_p50_ms": Self::quantile(&s, 0.5), "latency_p99_ms": Self::quantile(&s, 0.99),
            "latency_max_ms": s.last().map(|u| *u as f64 / 1000.0), "transport": extra,
        })
    }
}
