//! Desktop audio for `--nested --desktop-audio`: the session's sound comes from the user's own PulseAudio or
//! PipeWire-pulse server instead of a server of the session's own. At start a null sink, `lumen_<pid>`, is
//! loaded there (libpulse), the session's apps get `PULSE_SINK` naming it (the user can move any other
//! stream onto it, as with Sunshine's sink), and its monitor is recorded (libpulse-simple) into a [`Mixer`]
//! stream that the session's audio clock pulls, as the session server's streams are. The sink goes when the
//! session ends. Silence still costs nothing: a packet of zeros counts as nothing playing.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context as _;
use libpulse_binding as pulse;
use libpulse_simple_binding::Simple;
use lumen_encode::audio::AudioSource;
use pulse::context::{Context, FlagSet, State};
use pulse::mainloop::standard::{IterateResult, Mainloop};

use super::mixer::{Mixer, SampleFormat, StreamSpec, RATE};
use super::pulse::Consumer;

/// The mixer stream the monitor feeds.
const MONITOR: (u32, u32) = (0, 0);
/// Frames read from the monitor at a time (5 ms).
const READ_FRAMES: usize = 240;
/// Channels of the null sink (the mixer remixes to the client's layout).
const CHANNELS: u8 = 2;
/// The most the monitor queue may hold before older samples are dropped (latency cap): 100 ms.
const MAX_QUEUED_MS: usize = 100;

/// The session's sink in the user's server: `lumen_<pid>` (apps get it as `PULSE_SINK`).
pub fn sink_name() -> String {
    format!("lumen_{}", std::process::id())
}

/// Runs `f` with a context connected to the user's server (the environment's `PULSE_SERVER`, else the
/// default), iterating the main loop until `f`'s operation is done.
fn with_server<T>(what: &str, f: impl FnOnce(&mut Context, &mut Mainloop) -> anyhow::Result<T>) -> anyhow::Result<T> {
    let mut mainloop = Mainloop::new().context("libpulse main loop")?;
    let mut ctx = Context::new(&mainloop, "lumen").context("libpulse context")?;
    ctx.connect(None, FlagSet::NOAUTOSPAWN, None)
        .with_context(|| format!("{what}: connecting to the user's audio server"))?;
    loop {
        match mainloop.iterate(true) {
            IterateResult::Success(_) => {}
            IterateResult::Quit(_) | IterateResult::Err(_) => {
                anyhow::bail!("{what}: the audio server's main loop failed")
            }
        }
        match ctx.get_state() {
            State::Ready => break,
            State::Failed | State::Terminated => {
                anyhow::bail!("{what}: no PulseAudio/PipeWire-pulse server of the user's answers")
            }
            _ => {}
        }
    }
    let out = f(&mut ctx, &mut mainloop);
    ctx.disconnect();
    out
}

/// Iterates `mainloop` until `done` holds a value.
fn wait_for<T: Clone>(mainloop: &mut Mainloop, done: &Rc<RefCell<Option<T>>>) -> anyhow::Result<T> {
    loop {
        if let Some(v) = done.borrow().clone() {
            return Ok(v);
        }
        if !matches!(mainloop.iterate(true), IterateResult::Success(_)) {
            anyhow::bail!("the audio server's main loop failed");
        }
    }
}

/// Loads the null sink `name`; returns the module's index.
fn load_null_sink(name: &str) -> anyhow::Result<u32> {
    with_server("loading the session's null sink", |ctx, mainloop| {
        let args = format!(
            "sink_name={name} rate={RATE} channels={CHANNELS} sink_properties=device.description=lumen-session"
        );
        let done = Rc::new(RefCell::new(None));
        let d = done.clone();
        let _op = ctx.introspect().load_module("module-null-sink", &args, move |index| {
            *d.borrow_mut() = Some(index);
        });
        let index = wait_for(mainloop, &done)?;
        if index == u32::MAX {
            anyhow::bail!("the user's audio server refused module-null-sink {args}");
        }
        Ok(index)
    })
}

fn unload(index: u32) -> anyhow::Result<()> {
    with_server("unloading the session's null sink", |ctx, mainloop| {
        let done = Rc::new(RefCell::new(None));
        let d = done.clone();
        let _op = ctx.introspect().unload_module(index, move |ok| *d.borrow_mut() = Some(ok));
        if !wait_for(mainloop, &done)? {
            anyhow::bail!("the user's audio server did not unload module {index}");
        }
        Ok(())
    })
}

/// The session's null sink in the user's server and the thread recording its monitor.
pub struct DesktopAudio {
    sink: String,
    module: u32,
    mixer: Arc<Mixer>,
    consumer: Arc<Consumer>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DesktopAudio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesktopAudio").field("sink", &self.sink).field("module", &self.module).finish()
    }
}

impl DesktopAudio {
    /// Loads the sink [`sink_name`] and starts recording its monitor.
    pub fn start() -> anyhow::Result<Self> {
        let sink = sink_name();
        let module = load_null_sink(&sink)?;
        let spec = pulse::sample::Spec { format: pulse::sample::Format::S16le, channels: CHANNELS, rate: RATE };
        let frame_bytes = 2 * usize::from(CHANNELS);
        let attr = pulse::def::BufferAttr {
            maxlength: u32::MAX,
            tlength: u32::MAX,
            prebuf: u32::MAX,
            minreq: u32::MAX,
            fragsize: (READ_FRAMES * frame_bytes) as u32,
        };
        let monitor = format!("{sink}.monitor");
        let record = Simple::new(
            None,
            "lumen",
            pulse::stream::Direction::Record,
            Some(&monitor),
            "session stream",
            &spec,
            None,
            Some(&attr),
        );
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let _ = unload(module);
                anyhow::bail!("recording {monitor}: {e}");
            }
        };
        let mixer = Arc::new(Mixer::new(usize::from(CHANNELS)));
        mixer.add(MONITOR, StreamSpec { format: SampleFormat::S16Le, channels: usize::from(CHANNELS), rate: RATE });
        mixer.set_playing(MONITOR, true);
        let consumer = Arc::new(Consumer::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (m, c, s) = (mixer.clone(), consumer.clone(), stop.clone());
        let max_queued = MAX_QUEUED_MS * RATE as usize / 1000 * frame_bytes;
        let thread = std::thread::Builder::new()
            .name("lumen-desktop-audio".into())
            .spawn(move || record_loop(record, &m, &c, &s, READ_FRAMES * frame_bytes, max_queued))
            .context("starting the desktop audio thread")?;
        tracing::info!(sink, monitor, "desktop audio: the session's apps play into this sink of the user's server");
        Ok(Self { sink, module, mixer, consumer, stop, thread: Some(thread) })
    }

    /// The sink's name (apps get `PULSE_SINK` = this).
    pub fn sink(&self) -> &str {
        &self.sink
    }

    /// The source the audio clock encodes from while a client streams.
    pub fn source(&self, channels: usize) -> MonitorSource {
        self.mixer.set_channels(channels);
        self.consumer.attached.store(true, Ordering::Relaxed);
        MonitorSource { mixer: self.mixer.clone(), consumer: self.consumer.clone(), silent: true, heard_ns: 0 }
    }
}

fn record_loop(record: Simple, mixer: &Mixer, consumer: &Consumer, stop: &AtomicBool, chunk: usize, max_queued: usize) {
    let mut buf = vec![0u8; chunk];
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = record.read(&mut buf) {
            tracing::error!(error = %e, "desktop audio: recording the monitor failed; the session goes silent");
            return;
        }
        if !consumer.attached.load(Ordering::Relaxed) {
            continue; // nobody streams: the samples go nowhere
        }
        if mixer.queued_bytes(MONITOR) > max_queued {
            mixer.flush(MONITOR);
        }
        mixer.write(MONITOR, &buf, lumen_stream::media::timing::monotonic_ns());
    }
}

impl Drop for DesktopAudio {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // The recorder returns within one read (5 ms of the monitor's clock).
            let _ = t.join();
        }
        match unload(self.module) {
            Ok(()) => tracing::info!(sink = self.sink, "desktop audio: the session's sink is gone"),
            Err(e) => tracing::warn!(sink = self.sink, error = %e, "desktop audio: the sink was not unloaded"),
        }
    }
}

/// The monitor's samples as an `AudioSource`; a packet of zeros is nothing playing.
pub struct MonitorSource {
    mixer: Arc<Mixer>,
    consumer: Arc<Consumer>,
    silent: bool,
    heard_ns: u64,
}

impl AudioSource for MonitorSource {
    fn channels(&self) -> u16 {
        self.mixer.channels() as u16
    }

    fn fill(&mut self, out: &mut [i16]) {
        let (streams, heard) = self.mixer.pull(out);
        self.heard_ns = heard;
        self.silent = streams == 0 || out.iter().all(|s| *s == 0);
    }

    fn nothing_plays(&self) -> bool {
        self.silent
    }

    fn heard_ns(&self) -> u64 {
        self.heard_ns
    }
}

impl Drop for MonitorSource {
    fn drop(&mut self) {
        self.consumer.attached.store(false, Ordering::Relaxed);
    }
}
