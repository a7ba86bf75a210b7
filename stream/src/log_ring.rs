//! The host's recent log lines, kept in memory for the admin page and `lumen-session logs`: a tracing
//! [`Layer`] that formats every event the filter lets through as one line (time, level, target, message and
//! fields) into a ring of the last [`KEEP`] lines, each with a sequence number so a reader asks for what is
//! new.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// Lines kept.
pub const KEEP: usize = 500;
/// Longest line kept (longer ones are cut).
const MAX_LINE: usize = 2000;

/// One kept line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogLine {
    pub seq: u64,
    pub text: String,
}

#[derive(Default)]
struct Ring {
    lines: VecDeque<LogLine>,
    next_seq: u64,
}

fn ring() -> &'static Mutex<Ring> {
    static RING: OnceLock<Mutex<Ring>> = OnceLock::new();
    RING.get_or_init(Mutex::default)
}

/// The kept lines with a sequence number above `after`, oldest first.
pub fn lines_after(after: u64) -> Vec<LogLine> {
    let r = crate::host::lock(ring());
    r.lines.iter().filter(|l| l.seq > after).cloned().collect()
}

fn push(text: String) {
    let mut r = crate::host::lock(ring());
    r.next_seq += 1;
    let seq = r.next_seq;
    if r.lines.len() == KEEP {
        r.lines.pop_front();
    }
    r.lines.push_back(LogLine { seq, text });
}

/// The layer that fills the ring; add it to the process's subscriber.
pub fn layer() -> RingLayer {
    RingLayer
}

/// See [`layer`].
pub struct RingLayer;

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let secs = now.as_secs() % 86_400;
        let mut text = format!(
            "{:02}:{:02}:{:02}.{:03} {:>5} {}:",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            now.subsec_millis(),
            meta.level(),
            meta.target()
        );
        event.record(&mut Fields(&mut text));
        if text.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        push(text);
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn events_become_numbered_lines() {
        let sub = tracing_subscriber::registry().with(super::layer());
        tracing::subscriber::with_default(sub, || {
            tracing::info!(client = "tv", n = 3, "hello there");
            tracing::warn!("second");
        });
        let lines = super::lines_after(0);
        let hello = lines.iter().find(|l| l.text.contains("hello there")).expect("the line is kept");
        assert!(hello.text.contains("INFO") && hello.text.contains("client=\"tv\"") && hello.text.contains("n=3"));
        assert!(super::lines_after(hello.seq).iter().any(|l| l.text.contains("second")));
    }
}
