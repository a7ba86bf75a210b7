//! Audio sources behind the `AudioSource` trait (a tone for now; the session's real audio later) and the
//! Opus encoder (libopus through the `opus` crate): 48 kHz stereo, packets of the negotiated duration.

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
}

/// Silence (stereo): what a session streams until it has a real audio source, so clients hear nothing
/// rather than a test tone.
#[derive(Debug, Default, Clone, Copy)]
pub struct SilenceSource;

impl AudioSource for SilenceSource {
    fn channels(&self) -> u16 {
        2
    }
    fn fill(&mut self, out: &mut [i16]) {
        out.fill(0);
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

/// Opus encoder for one stereo stream at a fixed packet duration.
pub struct OpusEncoder {
    enc: opus::Encoder,
    samples_per_packet: usize,
    pcm: Vec<i16>,
}

impl OpusEncoder {
    /// `packet_ms` is the negotiated packet duration (5 ms unless the client asked otherwise).
    pub fn new(packet_ms: u32, bitrate_bps: i32) -> Result<Self, AudioError> {
        if ![5, 10, 20].contains(&packet_ms) {
            return Err(AudioError::Unsupported(format!("{packet_ms} ms packets")));
        }
        let mut enc = opus::Encoder::new(SAMPLE_RATE, opus::Channels::Stereo, opus::Application::LowDelay)?;
        enc.set_bitrate(opus::Bitrate::Bits(bitrate_bps))?;
        // Constant bitrate: equal-sized packets let the client use the 4+2 audio FEC.
        enc.set_vbr(false)?;
        let samples_per_packet = (SAMPLE_RATE / 1000 * packet_ms) as usize;
        Ok(Self { enc, samples_per_packet, pcm: vec![0; samples_per_packet * 2] })
    }

    /// Samples per channel in one packet.
    pub fn samples_per_packet(&self) -> usize {
        self.samples_per_packet
    }

    /// Pulls one packet of audio from `src` and encodes it into `out`; returns the packet length.
    pub fn encode_from(&mut self, src: &mut dyn AudioSource, out: &mut [u8]) -> Result<usize, AudioError> {
        src.fill(&mut self.pcm);
        Ok(self.enc.encode(&self.pcm, out)?)
    }
}

/// Encodes `source` into Opus packets on an absolute clock of `packet_ms` (packets never drift), handing
/// each to `emit`, until `emit` returns `false` or `stop` returns `true`. Returns the packets encoded.
pub fn encode_on_clock(
    enc: &mut OpusEncoder,
    source: &mut dyn AudioSource,
    packet_ms: u32,
    stop: &dyn Fn() -> bool,
    emit: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<u64, AudioError> {
    let mut ticker = crate::clock::Ticker::new(std::time::Duration::from_millis(u64::from(packet_ms)), false);
    let mut pkt = [0u8; lumen_core::audio::MAX_OPUS_LEN];
    let mut n = 0u64;
    while !stop() {
        ticker.wait();
        let len = enc.encode_from(source, &mut pkt)?;
        n += 1;
        if !emit(&pkt[..len]) {
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

    #[test]
    fn rejects_odd_durations() {
        assert!(OpusEncoder::new(7, 64_000).is_err());
    }
}
