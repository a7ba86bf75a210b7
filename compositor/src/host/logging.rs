//! `lumen-session`'s logging: tracing to stderr filtered by `RUST_LOG` (default `info`, as
//! `lumen_stream::cli::init_logging`), plus a note of when the last log line was written, so that the ready
//! block waits for the startup lines to settle ([`settle`]) and comes last on screen; the recent lines are
//! also kept for the admin page (`lumen_stream::log_ring`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The process's reference instant; [`LAST`] counts milliseconds from it.
static EPOCH: OnceLock<Instant> = OnceLock::new();
/// When the last event that passed the filter was logged (ms since [`EPOCH`]).
static LAST: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Notes the time of every event it sees (only those the filter lets through reach it).
struct Activity;

impl<S: tracing::Subscriber> Layer<S> for Activity {
    fn on_event(&self, _event: &tracing::Event<'_>, _ctx: tracing_subscriber::layer::Context<'_, S>) {
        LAST.store(now_ms(), Ordering::Relaxed);
    }
}

/// Logs to stderr (`RUST_LOG`, default `info`; colours only when stderr is a terminal).
pub fn init() {
    let _ = EPOCH.get_or_init(Instant::now);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(Activity)
        .with(lumen_stream::log_ring::layer())
        .try_init();
}

/// Blocks until nothing was logged for `quiet`, or `max` has passed.
pub fn settle(quiet: Duration, max: Duration) {
    let quiet_ms = quiet.as_millis() as u64;
    let deadline = Instant::now() + max;
    loop {
        let since = now_ms().saturating_sub(LAST.load(Ordering::Relaxed));
        if since >= quiet_ms || Instant::now() >= deadline {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        std::thread::sleep(Duration::from_millis(quiet_ms - since).min(left));
    }
}
