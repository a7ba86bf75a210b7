//! The session's audio: a PulseAudio-protocol server in the worker ([`pulse`]) that the session's apps play
//! into (`PULSE_SERVER` points at its socket, so PulseAudio and PipeWire-pulse clients — paplay, SDL,
//! GStreamer, browsers — need no system audio daemon), its [`mixer::Mixer`], and [`MixSource`], the
//! `AudioSource` the worker's audio clock encodes from. While no client streams the session the server plays
//! the samples to nowhere at real-time pace, so apps never stall.

pub mod desktop;
pub mod mixer;
pub mod pulse;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use lumen_encode::audio::AudioSource;

use mixer::Mixer;
use pulse::Consumer;

/// A session's audio server.
pub struct SessionAudio {
    socket: PathBuf,
    mixer: Arc<Mixer>,
    consumer: Arc<Consumer>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SessionAudio {
    /// Starts the server at `socket` (e.g. `$XDG_RUNTIME_DIR/lumen-<pid>/pulse/native`) with a stereo sink
    /// (each stream sets the sink to the client's channel count).
    pub fn start(socket: &Path) -> std::io::Result<Self> {
        let listener = pulse::bind(socket)?;
        let mixer = Arc::new(Mixer::new(2));
        let consumer = Arc::new(Consumer::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (m, c, s) = (mixer.clone(), consumer.clone(), stop.clone());
        let thread =
            std::thread::Builder::new().name("lumen-pulse".into()).spawn(move || pulse::serve(listener, m, c, s))?;
        tracing::info!(socket = %socket.display(), "session audio server listening");
        Ok(Self { socket: socket.to_owned(), mixer, consumer, stop, thread: Some(thread) })
    }

    /// The environment the session's apps get: the server, and the hints that make SDL and Proton use it.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        let mut server = OsString::from("unix:");
        server.push(&self.socket);
        vec![
            ("PULSE_SERVER".into(), server),
            ("SDL_AUDIODRIVER".into(), "pulseaudio".into()),
            ("PROTON_USE_PIPEWIRE".into(), "0".into()),
        ]
    }

    /// The source the audio clock encodes from while a client streams (it holds the consumer flag: while it
    /// lives, samples go to the client instead of nowhere).
    pub fn source(&self, channels: usize) -> MixSource {
        self.mixer.set_channels(channels);
        self.consumer.attached.store(true, Ordering::Relaxed);
        MixSource { mixer: self.mixer.clone(), consumer: self.consumer.clone(), playing: 0, heard_ns: 0 }
    }
}

impl Drop for SessionAudio {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// The session sink's mix as an `AudioSource` (the sink's channels, in Moonlight's order).
pub struct MixSource {
    mixer: Arc<Mixer>,
    consumer: Arc<Consumer>,
    /// Streams that contributed to the last packet.
    playing: usize,
    /// When the last packet's oldest sample arrived.
    heard_ns: u64,
}

impl AudioSource for MixSource {
    fn channels(&self) -> u16 {
        self.mixer.channels() as u16
    }

    fn fill(&mut self, out: &mut [i16]) {
        (self.playing, self.heard_ns) = self.mixer.pull(out);
    }

    fn nothing_plays(&self) -> bool {
        self.playing == 0
    }

    fn heard_ns(&self) -> u64 {
        self.heard_ns
    }
}

impl Drop for MixSource {
    fn drop(&mut self) {
        self.consumer.attached.store(false, Ordering::Relaxed);
    }
}
