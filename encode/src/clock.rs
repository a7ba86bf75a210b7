//! [`Ticker`], the fixed-rate clock of the loops that produce media on their own schedule: the audio
//! encoder (an absolute clock: packets never drift) and the test-pattern video source (which restarts
//! its clock after falling behind instead of bursting).

use std::time::{Duration, Instant};

/// A fixed-rate clock for a producer loop.
pub struct Ticker {
    period: Duration,
    next: Instant,
    resync: bool,
}

impl Ticker {
    /// Ticks every `period` from now. With `resync`, a loop that fell more than a period behind restarts
    /// the clock from now instead of running the missed ticks back to back.
    pub fn new(period: Duration, resync: bool) -> Self {
        Self { period, next: Instant::now(), resync }
    }

    /// Sleeps until the next tick.
    pub fn wait(&mut self) {
        let now = Instant::now();
        if self.next > now {
            std::thread::sleep(self.next - now);
        }
        self.next += self.period;
        if self.resync && Instant::now() > self.next + self.period {
            self.next = Instant::now() + self.period;
        }
    }
}
