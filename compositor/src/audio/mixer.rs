//! The session sink's mixer: each playback stream's bytes, converted on arrival to 48 kHz interleaved `f32`
//! at the sink's channel count, wait in a queue of their own; the audio clock pulls one packet's worth from
//! every playing stream and sums them ([`Mixer::pull`]). Shared by the Pulse server thread (which writes) and
//! the audio thread (which pulls); each holds the lock only to move samples.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// The sample rate of the sink (Moonlight's).
pub const RATE: u32 = 48_000;

/// The sample formats apps may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    S16Le,
    S32Le,
    F32Le,
    U8,
}

impl SampleFormat {
    pub fn bytes(self) -> usize {
        match self {
            SampleFormat::U8 => 1,
            SampleFormat::S16Le => 2,
            SampleFormat::S32Le | SampleFormat::F32Le => 4,
        }
    }

    fn read(self, b: &[u8]) -> f32 {
        match self {
            SampleFormat::U8 => (f32::from(b[0]) - 128.0) / 128.0,
            SampleFormat::S16Le => f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0,
            SampleFormat::S32Le => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0,
            SampleFormat::F32Le => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        }
    }
}

/// What one stream writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSpec {
    pub format: SampleFormat,
    pub channels: usize,
    pub rate: u32,
}

impl StreamSpec {
    /// Bytes of one frame (one sample of every channel).
    pub fn frame_bytes(&self) -> usize {
        self.format.bytes() * self.channels
    }
}

/// A stream's place in the mixer.
pub type StreamKey = (u32, u32);

struct StreamQueue {
    spec: StreamSpec,
    /// Sink-layout samples, interleaved.
    samples: VecDeque<f32>,
    /// Bytes of a partial frame carried over to the next write.
    partial: Vec<u8>,
    /// Fractional source position (resampling by nearest sample when the rate is not 48 kHz).
    phase: f64,
    playing: bool,
    /// Frames taken out so far (the stream's read position, for latency replies).
    read_frames: u64,
    /// Frames put in so far (sink frames).
    written_frames: u64,
    /// When the samples arrived: (frames written up to then, CLOCK_MONOTONIC ns), oldest first.
    marks: VecDeque<(u64, u64)>,
}

#[derive(Default)]
struct State {
    channels: usize,
    streams: HashMap<StreamKey, StreamQueue>,
    /// Scratch for one packet's mix, grown once.
    mix: Vec<f32>,
}

/// The sink's mixer.
pub struct Mixer {
    state: Mutex<State>,
}

impl Mixer {
    /// A mixer for a sink of `channels` channels.
    pub fn new(channels: usize) -> Self {
        Self { state: Mutex::new(State { channels: channels.max(1), ..State::default() }) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The sink's channel count.
    pub fn channels(&self) -> usize {
        self.lock().channels
    }

    /// Changes the sink's channel count (a client negotiated another layout): queued samples are dropped,
    /// later writes are remixed to the new layout.
    pub fn set_channels(&self, channels: usize) {
        let mut st = self.lock();
        if st.channels == channels.max(1) {
            return;
        }
        st.channels = channels.max(1);
        for q in st.streams.values_mut() {
            q.samples.clear();
        }
    }

    /// Adds a stream (not playing until [`Mixer::set_playing`]).
    pub fn add(&self, key: StreamKey, spec: StreamSpec) {
        let q = StreamQueue {
            spec,
            samples: VecDeque::new(),
            partial: Vec::new(),
            phase: 0.0,
            playing: false,
            read_frames: 0,
            written_frames: 0,
            marks: VecDeque::new(),
        };
        self.lock().streams.insert(key, q);
    }

    /// Removes a stream.
    pub fn remove(&self, key: StreamKey) {
        self.lock().streams.remove(&key);
    }

    /// Starts or pauses (corks) a stream.
    pub fn set_playing(&self, key: StreamKey, playing: bool) {
        if let Some(q) = self.lock().streams.get_mut(&key) {
            q.playing = playing;
        }
    }

    /// Drops what a stream has queued.
    pub fn flush(&self, key: StreamKey) {
        if let Some(q) = self.lock().streams.get_mut(&key) {
            q.samples.clear();
            q.partial.clear();
        }
    }

    /// Appends bytes a client wrote to a stream, arrived at `now_ns` (CLOCK_MONOTONIC).
    pub fn write(&self, key: StreamKey, bytes: &[u8], now_ns: u64) {
        let mut st = self.lock();
        let channels = st.channels;
        let Some(q) = st.streams.get_mut(&key) else { return };
        let fb = q.spec.frame_bytes();
        if fb == 0 {
            return;
        }
        let mut data: &[u8] = bytes;
        let mut joined = Vec::new();
        if !q.partial.is_empty() {
            joined.extend_from_slice(&q.partial);
            joined.extend_from_slice(bytes);
            q.partial.clear();
            data = &joined;
        }
        let whole = data.len() / fb * fb;
        let step = f64::from(q.spec.rate) / f64::from(RATE);
        let frames = whole / fb;
        let mut frame = [0f32; 8];
        let before = q.samples.len();
        while q.phase < frames as f64 {
            let i = q.phase as usize;
            let src = &data[i * fb..(i + 1) * fb];
            let n = q.spec.channels.min(8);
            for (c, v) in frame.iter_mut().enumerate().take(n) {
                let at = c * q.spec.format.bytes();
                *v = q.spec.format.read(&src[at..at + q.spec.format.bytes()]);
            }
            remix(&frame[..n], channels, &mut q.samples);
            q.phase += step;
        }
        q.phase -= frames as f64;
        q.partial.extend_from_slice(&data[whole..]);
        let added = ((q.samples.len() - before) / channels) as u64;
        if added > 0 {
            q.written_frames += added;
            q.marks.push_back((q.written_frames, now_ns));
        }
    }

    /// Bytes queued for a stream, in the stream's own format (for flow control and latency).
    pub fn queued_bytes(&self, key: StreamKey) -> usize {
        let st = self.lock();
        let channels = st.channels;
        st.streams
            .get(&key)
            .map(|q| {
                let frames = q.samples.len() / channels;
                (frames as f64 * f64::from(q.spec.rate) / f64::from(RATE)) as usize * q.spec.frame_bytes()
            })
            .unwrap_or(0)
    }

    /// Frames played out of a stream so far.
    pub fn read_frames(&self, key: StreamKey) -> u64 {
        self.lock().streams.get(&key).map(|q| q.read_frames).unwrap_or(0)
    }

    /// Mixes `frames` frames of every playing stream into `out` (interleaved i16 at the sink's channels);
    /// returns how many streams contributed (0: silence) and when the oldest sample mixed arrived
    /// (CLOCK_MONOTONIC ns; 0 when none).
    pub fn pull(&self, out: &mut [i16]) -> (usize, u64) {
        let mut st = self.lock();
        let st = &mut *st;
        st.mix.clear();
        st.mix.resize(out.len(), 0.0);
        let mut playing = 0;
        let mut oldest = 0u64;
        for q in st.streams.values_mut().filter(|q| q.playing) {
            let n = out.len().min(q.samples.len());
            if n == 0 {
                continue;
            }
            playing += 1;
            for (m, s) in st.mix.iter_mut().zip(q.samples.drain(..n)) {
                *m += s;
            }
            q.consume((n / st.channels) as u64, &mut oldest);
        }
        for (o, m) in out.iter_mut().zip(&st.mix) {
            *o = (m.clamp(-1.0, 1.0) * 32767.0) as i16;
        }
        (playing, oldest)
    }

    /// Plays `frames` frames to nowhere (no client streams the session): apps keep their real-time pace.
    pub fn discard(&self, frames: usize) {
        let mut st = self.lock();
        let channels = st.channels;
        for q in st.streams.values_mut().filter(|q| q.playing) {
            let n = (frames * channels).min(q.samples.len());
            q.samples.drain(..n);
            q.consume((n / channels) as u64, &mut 0);
        }
    }
}

impl StreamQueue {
    /// Advances the read position by `frames`; `oldest` becomes the arrival of the first frame read if it is
    /// older (or unset).
    fn consume(&mut self, frames: u64, oldest: &mut u64) {
        if let Some(&(_, at)) = self.marks.iter().find(|(end, _)| *end > self.read_frames) {
            if *oldest == 0 || at < *oldest {
                *oldest = at;
            }
        }
        self.read_frames += frames;
        while self.marks.front().is_some_and(|(end, _)| *end <= self.read_frames) {
            self.marks.pop_front();
        }
    }
}

/// One source frame (`input`, its channels) into the sink's `channels`: the same layout is copied; mono goes to
/// every channel; more channels than the sink keep the first ones (front left and right first in every
/// Pulse map); fewer fill the rest with silence.
fn remix(input: &[f32], channels: usize, out: &mut VecDeque<f32>) {
    match input.len() {
        1 => out.extend(std::iter::repeat_n(input[0], channels)),
        _ => out.extend((0..channels).map(|c| input.get(c).copied().unwrap_or(0.0))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s16(v: &[i16]) -> Vec<u8> {
        v.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    #[test]
    fn streams_are_converted_mixed_and_drained() {
        let m = Mixer::new(2);
        let a = (1, 0);
        let b = (1, 1);
        m.add(a, StreamSpec { format: SampleFormat::S16Le, channels: 2, rate: RATE });
        m.add(b, StreamSpec { format: SampleFormat::F32Le, channels: 1, rate: RATE });
        m.write(a, &s16(&[8192, -8192, 8192, -8192]), 500);
        let f: Vec<u8> = [0.25f32, 0.25].iter().flat_map(|x| x.to_le_bytes()).collect();
        // A split write: a partial frame waits for the rest.
        m.write(b, &f[..3], 100);
        m.write(b, &f[3..], 700);
        let mut out = [0i16; 4];
        assert_eq!(m.pull(&mut out).0, 0, "nothing plays before the streams start");
        m.set_playing(a, true);
        m.set_playing(b, true);
        // The oldest sample mixed arrived at 500 (b's first frame was complete only at 700).
        assert_eq!(m.pull(&mut out), (2, 500));
        // 0.25 + 0.25 = 0.5 on the left, -0.25 + 0.25 = 0 on the right.
        assert_eq!(out, [16383, 0, 16383, 0]);
        assert_eq!(m.read_frames(a), 2);
        assert_eq!(m.pull(&mut out), (0, 0), "drained: silence");
        assert_eq!(out, [0; 4]);
    }

    #[test]
    fn other_rates_are_resampled_to_48k() {
        let m = Mixer::new(2);
        let k = (0, 0);
        m.add(k, StreamSpec { format: SampleFormat::S16Le, channels: 2, rate: 24_000 });
        m.write(k, &s16(&[100, 100, 200, 200]), 1);
        assert_eq!(m.queued_bytes(k), 8);
        m.set_playing(k, true);
        let mut out = [0i16; 8];
        m.pull(&mut out);
        assert_eq!(out.iter().filter(|s| **s != 0).count(), 8, "two frames at 24 kHz are four at 48 kHz");
    }
}
