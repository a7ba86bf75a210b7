//! Sans-IO pacing of a frame's datagrams: given a pacing rate, a time budget per frame and `now`
//! (nanoseconds on any monotonic clock the caller owns), says when each burst of datagrams may go.
//!
//! A frame is sent in bursts of `burst_packets` (one GSO/sendmmsg call each), bursts spaced so the
//! frame goes out at `max(rate, frame bytes / budget)`: never slower than the budget allows, never
//! faster than the rate unless the budget demands it. A frame starts when the previous one's last
//! burst slot has passed, so back-to-back frames do not burst on top of each other (Sunshine's rule).

use core::ops::Range;

/// Pacer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacerConfig {
    /// Pacing rate in bits per second (well above the video bitrate, e.g. 80 % of the link).
    pub rate_bps: u64,
    /// Datagrams per burst (≤ 64 for UDP GSO).
    pub burst_packets: usize,
    /// Longest time one frame may take to send, in ns (e.g. half a frame interval); 0 = no budget.
    pub frame_budget_ns: u64,
}

impl PacerConfig {
    /// Sunshine-like defaults: 800 Mbit/s, bursts of up to 64 KiB (at most 64 datagrams), and half
    /// the frame interval of `fps` as the budget.
    pub fn for_stream(datagram_len: usize, fps: u32) -> Self {
        let burst = (64 * 1024 / datagram_len.max(1)).clamp(1, 64);
        Self { rate_bps: 800_000_000, burst_packets: burst, frame_budget_ns: 500_000_000 / u64::from(fps.max(1)) }
    }
}

/// When the datagrams of one frame may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Time the first burst may go.
    pub start_ns: u64,
    /// Datagrams of the frame.
    pub packets: usize,
    /// Datagrams per burst.
    pub burst_packets: usize,
    /// Time between burst starts.
    pub burst_interval_ns: u64,
}

impl Schedule {
    /// Number of bursts.
    pub fn bursts(&self) -> usize {
        self.packets.div_ceil(self.burst_packets)
    }

    /// Time burst `k` may go.
    pub fn burst_due(&self, k: usize) -> u64 {
        self.start_ns + k as u64 * self.burst_interval_ns
    }

    /// Datagram range of burst `k`.
    pub fn burst_range(&self, k: usize) -> Range<usize> {
        let a = k * self.burst_packets;
        a.min(self.packets)..(a + self.burst_packets).min(self.packets)
    }

    /// Time the last burst may go.
    pub fn end_ns(&self) -> u64 {
        self.burst_due(self.bursts().saturating_sub(1))
    }

    /// How many datagrams (counted from the first) may have gone by `now`.
    pub fn allowed_by(&self, now_ns: u64) -> usize {
        if now_ns < self.start_ns {
            return 0;
        }
        let k = match (now_ns - self.start_ns).checked_div(self.burst_interval_ns) {
            Some(q) => q as usize + 1,
            None => self.bursts(),
        };
        (k * self.burst_packets).min(self.packets)
    }

    /// The next datagrams to send after `sent` have gone, and when: `(range, due_ns)`; `None` when done.
    pub fn next_burst(&self, sent: usize) -> Option<(Range<usize>, u64)> {
        if sent >= self.packets {
            return None;
        }
        let k = sent / self.burst_packets;
        Some((sent..self.burst_range(k).end, self.burst_due(k)))
    }
}

/// The pacer of one stream.
#[derive(Debug, Clone)]
pub struct Pacer {
    cfg: PacerConfig,
    next_start_ns: u64,
}

impl Pacer {
    /// A pacer with `cfg` (a zero burst size is taken as 1).
    pub fn new(mut cfg: PacerConfig) -> Self {
        cfg.burst_packets = cfg.burst_packets.max(1);
        Self { cfg, next_start_ns: 0 }
    }

    /// The settings.
    pub fn config(&self) -> &PacerConfig {
        &self.cfg
    }

    /// Plans a frame of `packets` datagrams of `datagram_len` bytes handed over at `now_ns`.
    pub fn plan(&mut self, now_ns: u64, packets: usize, datagram_len: usize) -> Schedule {
        let start = now_ns.max(self.next_start_ns);
        let burst = self.cfg.burst_packets;
        let burst_bits = (burst * datagram_len * 8) as u128;
        let mut interval =
            if self.cfg.rate_bps == 0 { 0 } else { (burst_bits * 1_000_000_000 / self.cfg.rate_bps as u128) as u64 };
        let bursts = packets.div_ceil(burst) as u64;
        if self.cfg.frame_budget_ns > 0 && bursts > 0 && interval * bursts > self.cfg.frame_budget_ns {
            interval = self.cfg.frame_budget_ns / bursts;
        }
        let s = Schedule { start_ns: start, packets, burst_packets: burst, burst_interval_ns: interval };
        // The next frame may start once this frame's last burst has had its slot.
        self.next_start_ns = start + bursts * interval;
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_spread_at_the_rate() {
        // 1 Gbit/s, bursts of 10 × 1250 B = 100 µs per burst.
        let mut p = Pacer::new(PacerConfig { rate_bps: 1_000_000_000, burst_packets: 10, frame_budget_ns: 0 });
        let s = p.plan(1_000, 35, 1250);
        assert_eq!(s.bursts(), 4);
        assert_eq!(s.burst_interval_ns, 100_000);
        assert_eq!(s.burst_due(0), 1_000);
        assert_eq!(s.burst_due(3), 301_000);
        assert_eq!(s.burst_range(3), 30..35);
        assert_eq!(s.allowed_by(999), 0);
        assert_eq!(s.allowed_by(1_000), 10);
        assert_eq!(s.allowed_by(101_000), 20);
        assert_eq!(s.allowed_by(10_000_000), 35);
        assert_eq!(s.next_burst(0), Some((0..10, 1_000)));
        assert_eq!(s.next_burst(12), Some((12..20, 101_000)));
        assert_eq!(s.next_burst(35), None);
        // A frame handed over immediately after waits for the previous frame's slots.
        let s2 = p.plan(2_000, 5, 1250);
        assert_eq!(s2.start_ns, 401_000);
        // One handed over later starts at once.
        let s3 = p.plan(5_000_000, 5, 1250);
        assert_eq!(s3.start_ns, 5_000_000);
    }

    #[test]
    fn budget_caps_the_frame_time() {
        // 100 Mbit/s would need 10 ms for 100 × 1250 B; a 4 ms budget compresses it.
        let mut p = Pacer::new(PacerConfig { rate_bps: 100_000_000, burst_packets: 10, frame_budget_ns: 4_000_000 });
        let s = p.plan(0, 100, 1250);
        assert_eq!(s.burst_interval_ns, 400_000);
        assert!(s.end_ns() < 4_000_000);
        // Simulate a sender with synthetic time: every datagram goes no earlier than allowed.
        let mut now = 0;
        let mut sent = 0;
        let mut times = Vec::new();
        while let Some((r, due)) = s.next_burst(sent) {
            now = now.max(due);
            assert!(s.allowed_by(now) >= r.end);
            times.push(now);
            sent = r.end;
            now += 1_000;
        }
        assert_eq!(times.len(), 10);
        assert!(times.windows(2).all(|w| w[1] - w[0] >= 400_000));
    }

    #[test]
    fn defaults_fit_gso() {
        let c = PacerConfig::for_stream(1408, 60);
        assert_eq!(c.burst_packets, 46);
        assert_eq!(c.frame_budget_ns, 8_333_333);
        let c = PacerConfig::for_stream(100, 60);
        assert_eq!(c.burst_packets, 64);
    }
}
