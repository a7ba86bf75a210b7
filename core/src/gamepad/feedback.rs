//! What a session's game tells a client controller (`../shared/notes/sessions-audio-gamepads-login.md` §D.3):
//! rumble, the light bar's colour, motion reports on or off, adaptive trigger effects. The worker's pads
//! produce these, the worker link carries them ([`PadFeedback::encode`] / [`PadFeedback::decode`]), and the
//! host sends each as its control message ([`PadFeedback::to_control`]).

use crate::control::ControlMessage;

/// Bytes of one adaptive-trigger effect block (`DS_EFFECT_PAYLOAD_SIZE`).
pub const TRIGGER_EFFECT_LEN: usize = 10;

/// One piece of feedback for the client's controller `controller` (its own slot, 0..=15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadFeedback {
    /// Motor levels 0..=0xFFFF (both 0: stop); `low` is the strong, heavy motor (`0x010b`).
    Rumble {
        /// The client's controller slot.
        controller: u16,
        /// Low-frequency (strong) motor.
        low: u16,
        /// High-frequency (weak) motor.
        high: u16,
    },
    /// The light bar's colour (`0x5502`).
    Led {
        /// The client's controller slot.
        controller: u16,
        /// Red.
        r: u8,
        /// Green.
        g: u8,
        /// Blue.
        b: u8,
    },
    /// Motion reports of one sensor on (`rate_hz` > 0) or off (`0x5501`).
    Motion {
        /// The client's controller slot.
        controller: u16,
        /// Report rate in Hz; 0 stops them.
        rate_hz: u16,
        /// 1 accelerometer, 2 gyroscope.
        sensor: u8,
    },
    /// DualSense adaptive trigger effects (`0x5503`).
    Triggers {
        /// The client's controller slot.
        controller: u16,
        /// 0x04: the right effect is set, 0x08: the left one.
        flags: u8,
        /// Left effect type.
        type_left: u8,
        /// Right effect type.
        type_right: u8,
        /// Left effect parameters.
        left: [u8; TRIGGER_EFFECT_LEN],
        /// Right effect parameters.
        right: [u8; TRIGGER_EFFECT_LEN],
    },
}

/// Bytes [`PadFeedback::encode`] writes (the largest variant).
pub const ENCODED_LEN: usize = 1 + 2 + 3 + 2 * TRIGGER_EFFECT_LEN;

mod tag {
    pub const RUMBLE: u8 = 1;
    pub const LED: u8 = 2;
    pub const MOTION: u8 = 3;
    pub const TRIGGERS: u8 = 4;
}

impl PadFeedback {
    /// The controller slot it is for.
    pub fn controller(&self) -> u16 {
        match *self {
            Self::Rumble { controller, .. }
            | Self::Led { controller, .. }
            | Self::Motion { controller, .. }
            | Self::Triggers { controller, .. } => controller,
        }
    }

    /// The control message that carries it to the client.
    pub fn to_control(&self) -> ControlMessage {
        match *self {
            Self::Rumble { controller, low, high } => {
                ControlMessage::Rumble { controller, low_freq: low, high_freq: high }
            }
            Self::Led { controller, r, g, b } => ControlMessage::SetRgbLed { controller, r, g, b },
            Self::Motion { controller, rate_hz, sensor } => {
                ControlMessage::SetMotionEvent { controller, report_rate_hz: rate_hz, motion_type: sensor }
            }
            Self::Triggers { controller, flags, type_left, type_right, left, right } => {
                ControlMessage::AdaptiveTriggers { controller, event_flags: flags, type_left, type_right, left, right }
            }
        }
    }

    /// Appends the link encoding: a tag byte, the controller (LE) and the variant's fields.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Self::Rumble { controller, low, high } => {
                out.push(tag::RUMBLE);
                for v in [controller, low, high] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            Self::Led { controller, r, g, b } => {
                out.push(tag::LED);
                out.extend_from_slice(&controller.to_le_bytes());
                out.extend_from_slice(&[r, g, b]);
            }
            Self::Motion { controller, rate_hz, sensor } => {
                out.push(tag::MOTION);
                out.extend_from_slice(&controller.to_le_bytes());
                out.extend_from_slice(&rate_hz.to_le_bytes());
                out.push(sensor);
            }
            Self::Triggers { controller, flags, type_left, type_right, left, right } => {
                out.push(tag::TRIGGERS);
                out.extend_from_slice(&controller.to_le_bytes());
                out.extend_from_slice(&[flags, type_left, type_right]);
                out.extend_from_slice(&left);
                out.extend_from_slice(&right);
            }
        }
    }

    /// Reads what [`encode`](Self::encode) wrote; `None` for an unknown tag or a short body.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let u16at = |i: usize| -> Option<u16> { Some(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?])) };
        let controller = u16at(1)?;
        Some(match *b.first()? {
            tag::RUMBLE => Self::Rumble { controller, low: u16at(3)?, high: u16at(5)? },
            tag::LED => Self::Led { controller, r: *b.get(3)?, g: *b.get(4)?, b: *b.get(5)? },
            tag::MOTION => Self::Motion { controller, rate_hz: u16at(3)?, sensor: *b.get(5)? },
            tag::TRIGGERS => {
                let blocks = b.get(6..6 + 2 * TRIGGER_EFFECT_LEN)?;
                let mut left = [0; TRIGGER_EFFECT_LEN];
                let mut right = [0; TRIGGER_EFFECT_LEN];
                left.copy_from_slice(&blocks[..TRIGGER_EFFECT_LEN]);
                right.copy_from_slice(&blocks[TRIGGER_EFFECT_LEN..]);
                Self::Triggers {
                    controller,
                    flags: *b.get(3)?,
                    type_left: *b.get(4)?,
                    type_right: *b.get(5)?,
                    left,
                    right,
                }
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_survives_the_link_encoding() {
        let all = [
            PadFeedback::Rumble { controller: 3, low: 0xC000, high: 0x4000 },
            PadFeedback::Led { controller: 1, r: 0, g: 0, b: 128 },
            PadFeedback::Motion { controller: 15, rate_hz: 100, sensor: 2 },
            PadFeedback::Triggers {
                controller: 0,
                flags: 0x0C,
                type_left: 0x21,
                type_right: 0x26,
                left: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                right: [10, 9, 8, 7, 6, 5, 4, 3, 2, 1],
            },
        ];
        for f in all {
            let mut out = Vec::new();
            f.encode(&mut out);
            assert!(out.len() <= ENCODED_LEN);
            assert_eq!(PadFeedback::decode(&out), Some(f));
            assert_eq!(PadFeedback::decode(&out[..out.len() - 1]), None, "{f:?} truncated");
        }
        assert_eq!(PadFeedback::decode(&[9, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(PadFeedback::decode(&[]), None);
    }

    #[test]
    fn control_messages_carry_the_fields() {
        let m = PadFeedback::Rumble { controller: 2, low: 7, high: 9 }.to_control();
        assert_eq!(m, ControlMessage::Rumble { controller: 2, low_freq: 7, high_freq: 9 });
        let m = PadFeedback::Motion { controller: 1, rate_hz: 100, sensor: 1 }.to_control();
        assert_eq!(m, ControlMessage::SetMotionEvent { controller: 1, report_rate_hz: 100, motion_type: 1 });
    }
}
