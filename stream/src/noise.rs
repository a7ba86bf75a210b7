//! Hostile and junk traffic in the log without the log becoming the attack (issue 11, item 5).
//!
//! Every place that refuses a message from the network (a malformed query, an unpaired certificate, a junk
//! datagram on a media port, a failed RTSP or TLS exchange) calls [`record`] with the source address and a
//! short static kind instead of logging one line per message. The first message of each (source, kind) in a
//! window is logged with its detail — as long as the window has logged fewer than [`DETAIL_LINES`] such
//! lines — and everything is counted; when the window ([`WINDOW`]) is over, one summary line per source gives
//! the counts. Memory is bounded: beyond [`MAX_SOURCES`] distinct sources in one window the rest are
//! counted together.

use std::collections::HashMap;
use std::fmt::Display;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Length of one counting window.
pub const WINDOW: Duration = Duration::from_secs(5);
/// Detail lines logged per window (the first message of a new source or kind).
pub const DETAIL_LINES: u32 = 8;
/// Distinct sources tracked per window.
pub const MAX_SOURCES: usize = 256;
/// Characters of a message's detail that reach the log.
const MAX_DETAIL: usize = 160;

#[derive(Debug)]
struct Window {
    start: Instant,
    /// Per source: per kind, how many.
    counts: HashMap<IpAddr, HashMap<&'static str, u64>>,
    /// Messages from sources beyond `MAX_SOURCES`.
    overflow: u64,
    details: u32,
}

impl Window {
    fn new(now: Instant) -> Self {
        Window { start: now, counts: HashMap::new(), overflow: 0, details: 0 }
    }
}

/// The per-source counter (one per process: [`global`]).
#[derive(Debug)]
pub struct NoiseLog {
    window: Mutex<Option<Window>>,
    period: Duration,
}

impl NoiseLog {
    /// A counter with windows of `period`.
    pub fn new(period: Duration) -> Self {
        NoiseLog { window: Mutex::new(None), period }
    }

    /// Counts one hostile or junk message of `kind` from `source`; logs its detail only if it is the first
    /// of its (source, kind) in this window and the window's detail budget is not spent.
    pub fn record(&self, source: IpAddr, kind: &'static str, detail: &dyn Display) {
        let now = Instant::now();
        let mut guard = crate::host::lock(&self.window);
        let w = guard.get_or_insert_with(|| Window::new(now));
        if now.saturating_duration_since(w.start) >= self.period {
            let done = std::mem::replace(w, Window::new(now));
            summarize(done, now);
        }
        let tracked = w.counts.len() < MAX_SOURCES || w.counts.contains_key(&source);
        if !tracked {
            w.overflow += 1;
            return;
        }
        let kinds = w.counts.entry(source).or_default();
        let n = kinds.entry(kind).or_insert(0);
        *n += 1;
        if *n == 1 && w.details < DETAIL_LINES {
            w.details += 1;
            let detail: String = detail.to_string().chars().take(MAX_DETAIL).collect();
            tracing::warn!(%source, kind, %detail,
                "refused a hostile or malformed message (more from this source are counted, summary every {} s)",
                self.period.as_secs());
        }
    }

    /// Logs the summary of the current window if it is over (called periodically so the last burst of a
    /// flood is reported too).
    pub fn flush_if_due(&self) {
        let now = Instant::now();
        let mut guard = crate::host::lock(&self.window);
        if guard.as_ref().is_some_and(|w| now.saturating_duration_since(w.start) >= self.period) {
            if let Some(done) = guard.take() {
                summarize(done, now);
            }
        }
    }
}

fn summarize(w: Window, now: Instant) {
    let secs = now.saturating_duration_since(w.start).as_secs_f64();
    let mut sources: Vec<_> = w.counts.into_iter().collect();
    sources.sort_by_key(|(_, kinds)| std::cmp::Reverse(kinds.values().sum::<u64>()));
    for (source, kinds) in sources {
        let total: u64 = kinds.values().sum();
        if total <= 1 {
            continue; // its only message was logged in full already
        }
        let mut kinds: Vec<_> = kinds.into_iter().collect();
        kinds.sort();
        let by_kind = kinds.iter().map(|(k, n)| format!("{k}={n}")).collect::<Vec<_>>().join(" ");
        tracing::warn!(%source, total, %by_kind, over_secs = format_args!("{secs:.1}"),
            "hostile or malformed messages refused (summary)");
    }
    if w.overflow > 0 {
        tracing::warn!(messages = w.overflow, "hostile or malformed messages from further sources refused (summary)");
    }
}

/// The process-wide counter.
pub fn global() -> &'static NoiseLog {
    static G: OnceLock<NoiseLog> = OnceLock::new();
    G.get_or_init(|| NoiseLog::new(WINDOW))
}

/// [`NoiseLog::record`] on the process-wide counter.
pub fn record(source: IpAddr, kind: &'static str, detail: &dyn Display) {
    global().record(source, kind, detail);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_many_logs_few_and_bounds_sources() {
        let n = NoiseLog::new(Duration::from_secs(3600));
        for i in 0..10_000u32 {
            let ip = IpAddr::from([10, 0, (i % 300 / 256) as u8, (i % 300 % 256) as u8]);
            n.record(ip, "junk", &"x");
        }
        let g = n.window.lock().unwrap();
        let w = g.as_ref().unwrap();
        assert_eq!(w.counts.len(), MAX_SOURCES);
        assert!(w.overflow > 0);
        assert_eq!(w.details, DETAIL_LINES);
        let total: u64 = w.counts.values().flat_map(|k| k.values()).sum::<u64>() + w.overflow;
        assert_eq!(total, 10_000);
    }
}
