//! The host's port map: every port is an offset from the HTTP base port, exactly as Sunshine lays them out,
//! so `--port BASE` moves them all and several hosts can share one machine.

use serde::Serialize;

/// The default base (nvhttp HTTP) port.
pub const DEFAULT_BASE: u16 = 47989;

/// All ports of one host, derived from the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ports {
    pub http: u16,
    pub https: u16,
    pub rtsp: u16,
    pub video: u16,
    pub control: u16,
    pub audio: u16,
}

/// Why a base port cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("port base {0} is out of range: every port BASE-5 .. BASE+21 must fit in 1..=65535")]
pub struct PortRangeError(pub u16);

impl Ports {
    /// Ports for `base`: HTTP = BASE, HTTPS = BASE−5, RTSP = BASE+21, video = +9, control = +10, audio = +11.
    pub fn from_base(base: u16) -> Result<Self, PortRangeError> {
        if !(6..=u16::MAX - 21).contains(&base) {
            return Err(PortRangeError(base));
        }
        Ok(Ports {
            http: base,
            https: base - 5,
            rtsp: base + 21,
            video: base + 9,
            control: base + 10,
            audio: base + 11,
        })
    }
}

impl Default for Ports {
    fn default() -> Self {
        Ports::from_base(DEFAULT_BASE).expect("the default base is in range")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_match_sunshine() {
        let p = Ports::default();
        assert_eq!((p.http, p.https, p.rtsp, p.video, p.control, p.audio), (47989, 47984, 48010, 47998, 47999, 48000));
    }

    #[test]
    fn base_shifts_everything() {
        let p = Ports::from_base(20000).unwrap();
        assert_eq!((p.http, p.https, p.rtsp, p.video, p.control, p.audio), (20000, 19995, 20021, 20009, 20010, 20011));
        assert!(Ports::from_base(5).is_err());
        assert!(Ports::from_base(65530).is_err());
    }
}
