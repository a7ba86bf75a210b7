//! Audio sources behind the `AudioSource` trait (a tone, silence; the session's mix lives in the compositor)
//! and the Opus encoder (libopus through the `opus` crate): 48 kHz, stereo or multistream surround in the
//! layouts of `lumen_core::audio::OpusLayout`, packets of the negotiated duration.

use lumen_core::audio::OpusLayout;

/// Audio failures.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),
    #[error("unsupported audio configuration: {0}")]
    Unsupported(String),
}

/// Sample rate of every Moonlight audio stream.
pub const SAMPLE_RATE: u32 = 48_000;

/// Something that produces interleaved 16-bit PCM at 48 kHz.
pub trait AudioSource: Send {
    fn channels(&self) -> u16;
    /// Fills `out` (interleaved, `channels` samples per frame) with the next samples.
    fn fill(&mut self, out: &mut [i16]);
    /// Whether the last [`AudioSource::fill`] was silence because nothing plays (not quiet sound): the
    /// encoder may then send nothing at all.
    fn nothing_plays(&self) -> bool {
        false
    }
    /// When the oldest sample of the last fill reached this source, CLOCK_MONOTONIC ns (0: not known).
    fn heard_ns(&self) -> u64 {
        0
    }
}

/// Silence: the audio of a session with no audio server of its own (`--nested`); nothing plays, so with
/// `encode_on_clock` it costs nothing and sends nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct SilenceSource;

impl AudioSource for SilenceSource {
    fn channels(&self) -> u16 {
        2
    }
    fn fill(&mut self, out: &mut [i16]) {
        out.fill(0);
    }
    fn nothing_plays(&self) -> bool {
        true
    }
}

/// A sine tone (stereo, same on both channels).
pub struct ToneSource {
    freq: f32,
    amplitude: f32,
    phase: f32,
}

impl ToneSource {
    pub fn new(freq: f32, amplitude: f32) -> Self {
        Self { freq, amplitude: amplitude.clamp(0.0, 1.0), phase: 0.0 }
    }
}

impl AudioSource for ToneSource {
    fn channels(&self) -> u16 {
        2
    }
    fn fill(&mut self, out: &mut [i16]) {
        let step = std::f32::consts::TAU * self.freq / SAMPLE_RATE as f32;
        for frame in out.chunks_exact_mut(2) {
            let s = (self.phase.sin() * self.amplitude * i16::MAX as f32) as i16;
            frame[0] = s;
            frame[1] = s;
            self.phase += step;
            if self.phase > std::f32::consts::TAU {
                self.phase -= std::f32::consts::TAU;
            }
        }
    }
}

/// The libopus encoder behind [`OpusEncoder`]: one stream for stereo, a multistream one for surround.
enum Inner {
    Stereo(opus::Encoder),
    Multi(opus::MSEncoder),
}

/// Opus encoder for one session's audio at a fixed packet duration, in a Moonlight layout
/// (`lumen_core::audio::OpusLayout`: stereo, 5.1 or 7.1; CBR).
pub struct OpusEncoder {
    enc: Inner,
    samples_per_packet: usize,
    pcm: Vec<i16>,
}

impl OpusEncoder {
    /// A stereo encoder at `bitrate_bps`; `packet_ms` is the negotiated packet duration (5 ms unless the
    /// client asked otherwise).
    pub fn new(packet_ms: u32, bitrate_bps: i32) -> Result<Self, AudioError> {
        let mut layout = OpusLayout::for_config(2, false);
        layout.bitrate_bps = bitrate_bps.max(0) as u32;
        Self::with_layout(packet_ms, &layout)
    }

    /// An encoder for `layout` (its channel count, streams, mapping and bitrate).
    pub fn with_layout(packet_ms: u32, layout: &OpusLayout) -> Result<Self, AudioError> {
        if ![5, 10, 20].contains(&packet_ms) {
            return Err(AudioError::Unsupported(format!("{packet_ms} ms packets")));
        }
        let bitrate = opus::Bitrate::Bits(layout.bitrate_bps.min(i32::MAX as u32) as i32);
        // Constant bitrate: equal-sized packets let the client use the 4+2 audio FEC.
        let enc = if layout.channels == 2 {
            let mut e = opus::Encoder::new(SAMPLE_RATE, opus::Channels::Stereo, opus::Application::LowDelay)?;
            e.set_bitrate(bitrate)?;
            e.set_vbr(false)?;
            Inner::Stereo(e)
        } else {
            let mut e = opus::MSEncoder::new(
                SAMPLE_RATE,
                layout.streams,
                layout.coupled,
                layout.mapping(),
                opus::Application::LowDelay,
            )?;
            e.set_bitrate(bitrate)?;
            e.set_vbr(false)?;
            Inner::Multi(e)
        };
        let samples_per_packet = (SAMPLE_RATE / 1000 * packet_ms) as usize;
        let pcm = vec![0; samples_per_packet * usize::from(layout.channels)];
        Ok(Self { enc, samples_per_packet, pcm })
    }

    /// Samples per channel in one packet.
    pub fn samples_per_packet(&self) -> usize {
        self.samples_per_packet
    }

    /// Pulls one packet of audio from `src` (interleaved, the layout's channels in Moonlight's order) and
    /// encodes it into `out`; returns the packet length.
    pub fn encode_from(&mut self, src: &mut dyn AudioSource, out: &mut [u8]) -> Result<usize, AudioError> {
        src.fill(&mut self.pcm);
        self.encode_filled(out)
    }

    /// Pulls one packet of audio from `src` without encoding it (see [`OpusEncoder::encode_filled`]).
    pub fn fill(&mut self, src: &mut dyn AudioSource) {
        src.fill(&mut self.pcm);
    }

    /// Encodes the packet last pulled by [`OpusEncoder::fill`] into `out`; returns the packet length.
    pub fn encode_filled(&mut self, out: &mut [u8]) -> Result<usize, AudioError> {
        Ok(match &mut self.enc {
            Inner::Stereo(e) => e.encode(&self.pcm, out)?,
            Inner::Multi(e) => e.encode(&self.pcm, out)?,
        })
    }
}

/// How long a source keeps being encoded after nothing plays any more, ms (the decoder's tail fades out).
pub const SILENCE_HANGOVER_MS: u32 = 100;
/// Packets per audio FEC block (the host's 4 + 2): sending pauses only at a block's end.
const FEC_BLOCK: u64 = 4;

/// Encodes `source` into Opus packets on an absolute clock of `packet_ms` (packets never drift), handing
/// each to `emit`, until `emit` returns `false` or `stop` returns `true`. Returns the packets encoded.
///
/// Silence costs nothing: once nothing has played for [`SILENCE_HANGOVER_MS`] (the source says so) and
/// the current FEC block is complete, packets are neither encoded nor sent until something plays again
/// (the clock keeps ticking; the client's decoder simply gets no packets).
pub fn encode_on_clock(
    enc: &mut OpusEncoder,
    source: &mut dyn AudioSource,
    packet_ms: u32,
    stop: &dyn Fn() -> bool,
    emit: &mut dyn FnMut(&[u8], u64) -> bool,
) -> Result<u64, AudioError> {
    let mut ticker = crate::clock::Ticker::new(std::time::Duration::from_millis(u64::from(packet_ms)), false);
    let mut pkt = [0u8; lumen_core::audio::MAX_OPUS_LEN];
    let mut n = 0u64;
    let hangover = u64::from(SILENCE_HANGOVER_MS / packet_ms.max(1));
    let mut quiet = 0u64;
    while !stop() {
        ticker.wait();
        enc.fill(source);
        quiet = if source.nothing_plays() { quiet + 1 } else { 0 };
        if quiet > hangover && n.is_multiple_of(FEC_BLOCK) {
            continue;
        }
        let len = enc.encode_filled(&mut pkt)?;
        n += 1;
        if !emit(&pkt[..len], source.heard_ns()) {
            break;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_encodes_and_decodes_to_a_tone() {
        let mut src = ToneSource::new(440.0, 0.5);
        let mut enc = OpusEncoder::new(5, 96_000).unwrap();
        let mut dec = opus::Decoder::new(SAMPLE_RATE, opus::Channels::Stereo).unwrap();
        let mut pkt = [0u8; 1400];
        let mut pcm = vec![0i16; 240 * 2];
        let mut energy = 0f64;
        for i in 0..100 {
            let n = enc.encode_from(&mut src, &mut pkt).unwrap();
            assert!(n > 0 && n < 400, "packet of {n} bytes");
            let got = dec.decode(&pkt[..n], &mut pcm, false).unwrap();
            assert_eq!(got, 240);
            if i > 50 {
                energy += pcm.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / pcm.len() as f64;
            }
        }
        let rms = (energy / 49.0).sqrt();
        // A 0.5-amplitude sine has RMS 0.5/sqrt(2) of full scale.
        let want = 0.5 / 2f64.sqrt() * i16::MAX as f64;
        assert!((rms - want).abs() < want * 0.2, "rms {rms} want {want}");
    }

    /// A tone of its own frequency on each channel of a 5.1 and a 7.1 layout comes out of libopus' multistream
    /// decoder — given the mapping the client reads from the offer — on the same channel.
    #[test]
    fn surround_channels_arrive_on_their_own_channels() {
        struct PerChannel {
            channels: usize,
            t: u64,
        }
        impl AudioSource for PerChannel {
            fn channels(&self) -> u16 {
                self.channels as u16
            }
            fn fill(&mut self, out: &mut [i16]) {
                for frame in out.chunks_mut(self.channels) {
                    for (c, s) in frame.iter_mut().enumerate() {
                        let f = 300.0 + 250.0 * c as f64;
                        let x = (2.0 * std::f64::consts::PI * f * self.t as f64 / 48_000.0).sin();
                        *s = (x * 8000.0) as i16;
                    }
                    self.t += 1;
                }
            }
        }
        for layout in lumen_core::audio::LAYOUTS.iter().filter(|l| l.channels > 2) {
            let c = usize::from(layout.channels);
            let mut enc = OpusEncoder::with_layout(5, layout).unwrap();
            let mut dec = opus::MSDecoder::new(SAMPLE_RATE, layout.streams, layout.coupled, layout.mapping()).unwrap();
            let mut src = PerChannel { channels: c, t: 0 };
            let mut pkt = [0u8; 1400];
            let mut pcm = vec![0i16; 240 * c];
            let mut heard = vec![Vec::new(); c];
            for i in 0..200 {
                let n = enc.encode_from(&mut src, &mut pkt).unwrap();
                assert!(n <= 1400);
                dec.decode(&pkt[..n], &mut pcm, false).unwrap();
                if i >= 100 {
                    for frame in pcm.chunks(c) {
                        for (ch, s) in frame.iter().enumerate() {
                            heard[ch].push(f64::from(*s));
                        }
                    }
                }
            }
            for (ch, x) in heard.iter().enumerate() {
                // Goertzel-style correlation at every channel's frequency: the own one must dominate.
                let power = |f: f64| {
                    let (mut re, mut im) = (0.0, 0.0);
                    for (k, v) in x.iter().enumerate() {
                        let w = 2.0 * std::f64::consts::PI * f * k as f64 / 48_000.0;
                        re += v * w.cos();
                        im += v * w.sin();
                    }
                    re * re + im * im
                };
                let own = power(300.0 + 250.0 * ch as f64);
                for other in (0..c).filter(|o| *o != ch) {
                    let p = power(300.0 + 250.0 * other as f64);
                    assert!(own > 100.0 * p, "{layout:?}: channel {ch} hears channel {other}");
                }
            }
        }
    }

    #[test]
    fn rejects_odd_durations() {
        assert!(OpusEncoder::new(7, 64_000).is_err());
    }
}
