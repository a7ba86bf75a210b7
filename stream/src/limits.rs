//! What a paired client may ask for (issue 11, item 7): the launch mode and the ANNOUNCE stream settings are
//! checked against what the encoder and the machine can do *before* a session is built.
//!
//! Frame rate and bitrate are clamped (the stream still works, at what the host can give); a resolution or
//! a video packet size the host cannot produce is refused with the protocol's error — `/launch` answers an
//! XML `status_code="400"` with a message, ANNOUNCE an RTSP `400` — instead of a session that fails later.

use serde::Serialize;

use crate::stream_config::StreamConfig;

/// The host's limits; a media plane reports its own with [`crate::MediaPlane::limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StreamLimits {
    /// Largest width and height.
    pub max_width: u32,
    pub max_height: u32,
    /// Largest frame area (H.264 level 5.2: 36 864 macroblocks).
    pub max_pixels: u64,
    /// Highest frame rate.
    pub max_fps: u32,
    /// Highest video bitrate.
    pub max_bitrate_kbps: u32,
    /// Lowest video bitrate the encoders take.
    pub min_bitrate_kbps: u32,
    /// Video payload bytes per packet: at least this …
    pub min_packet_size: u32,
    /// … and at most this (a 1500-byte Ethernet MTU less the IP, UDP and RTP headers and the video header).
    pub max_packet_size: u32,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            max_width: 4096,
            max_height: 4096,
            max_pixels: 36_864 * 256,
            max_fps: 240,
            max_bitrate_kbps: 500_000,
            min_bitrate_kbps: 100,
            min_packet_size: 256,
            max_packet_size: 1452,
        }
    }
}

/// A request beyond the limits that cannot be clamped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitError {
    #[error(
        "{width}x{height} is beyond what this host can stream (at most {max_width}x{max_height}, {max_pixels} pixels)"
    )]
    Resolution { width: u32, height: u32, max_width: u32, max_height: u32, max_pixels: u64 },
    #[error("video packet size {0} is outside {1}..={2} bytes")]
    PacketSize(u32, u32, u32),
}

/// What a clamp changed, for the log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Clamped {
    pub fps: Option<(u32, u32)>,
    pub bitrate_kbps: Option<(u32, u32)>,
}

impl Clamped {
    /// Whether anything changed.
    pub fn any(&self) -> bool {
        self.fps.is_some() || self.bitrate_kbps.is_some()
    }
}

impl StreamLimits {
    /// Checks a resolution.
    pub fn check_resolution(&self, width: u32, height: u32) -> Result<(), LimitError> {
        if width > self.max_width || height > self.max_height || u64::from(width) * u64::from(height) > self.max_pixels
        {
            return Err(LimitError::Resolution {
                width,
                height,
                max_width: self.max_width,
                max_height: self.max_height,
                max_pixels: self.max_pixels,
            });
        }
        Ok(())
    }

    /// A frame rate within the limit.
    pub fn clamp_fps(&self, fps: u32) -> u32 {
        fps.clamp(1, self.max_fps)
    }

    /// Checks and clamps an ANNOUNCE configuration in place.
    pub fn apply(&self, c: &mut StreamConfig) -> Result<Clamped, LimitError> {
        self.check_resolution(c.width, c.height)?;
        if !(self.min_packet_size..=self.max_packet_size).contains(&c.packet_size) {
            return Err(LimitError::PacketSize(c.packet_size, self.min_packet_size, self.max_packet_size));
        }
        let mut out = Clamped::default();
        let fps = self.clamp_fps(c.fps);
        if fps != c.fps {
            out.fps = Some((c.fps, fps));
            c.fps = fps;
        }
        let bitrate = c.bitrate_kbps.clamp(self.min_bitrate_kbps, self.max_bitrate_kbps);
        if bitrate != c.bitrate_kbps {
            out.bitrate_kbps = Some((c.bitrate_kbps, bitrate));
            c.bitrate_kbps = bitrate;
        }
        if let Some(b) = c.configured_bitrate_kbps.as_mut() {
            *b = (*b).clamp(self.min_bitrate_kbps, self.max_bitrate_kbps);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_and_packet_size_refused_rates_clamped() {
        let l = StreamLimits::default();
        assert!(l.check_resolution(1920, 1080).is_ok() && l.check_resolution(3840, 2160).is_ok());
        assert!(l.check_resolution(8192, 8192).is_err() && l.check_resolution(4096, 4096).is_err());
        assert_eq!(l.clamp_fps(1000), 240);
        let mut c = crate::sdp::parse_announce(
            b"a=x-nv-video[0].clientViewportWd:1280 \r\na=x-nv-video[0].clientViewportHt:720 \r\n\
a=x-nv-video[0].maxFPS:60 \r\na=x-nv-video[0].packetSize:1392 \r\n\
a=x-nv-vqos[0].bw.maximumBitrateKbps:4294967295 \r\n",
        )
        .unwrap();
        let done = l.apply(&mut c).unwrap();
        assert_eq!(done.bitrate_kbps, Some((u32::MAX, 500_000)));
        assert_eq!(c.bitrate_kbps, 500_000);
        c.packet_size = 65_000;
        assert_eq!(l.apply(&mut c), Err(LimitError::PacketSize(65_000, 256, 1452)));
    }
}
