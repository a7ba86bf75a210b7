//! Where decoded client input goes: the `InputSink` trait (the compositor implements it later) and two
//! sinks of our own: one that logs, one that appends each event as a JSON line to a file (tests read it).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use lumen_core::input::InputEvent;

/// Receives every input event of a session, in the order the client sent them.
pub trait InputSink: Send + Sync {
    fn input(&self, event: InputEvent);
}

/// Logs each event at debug level.
#[derive(Debug, Default)]
pub struct LogSink;

impl InputSink for LogSink {
    fn input(&self, event: InputEvent) {
        tracing::debug!(?event, "input");
    }
}

/// Appends `{"event": "<Debug form>"}` lines to a file, flushed per event.
pub struct JsonLinesSink {
    out: Mutex<BufWriter<File>>,
}

impl JsonLinesSink {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self { out: Mutex::new(BufWriter::new(f)) })
    }
}

impl InputSink for JsonLinesSink {
    fn input(&self, event: InputEvent) {
        let line = serde_json::json!({ "event": format!("{event:?}") });
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
            tracing::warn!(error = %e, "input log write failed");
        }
    }
}
