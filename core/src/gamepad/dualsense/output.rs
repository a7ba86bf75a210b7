//! The DualSense's USB output report 0x02, as `hid-playstation` (or a game through hidraw) writes it, turned
//! into feedback for the client (`../shared/notes/sessions-audio-gamepads-login.md` §D.2): rumble when a
//! vibration flag is set (left = strong motor → Moonlight's low frequency), the light bar colour, and the
//! adaptive trigger effects. Byte offsets count the report id as byte 0.

use super::device::OUTPUT_REPORT_ID;
use crate::gamepad::feedback::{PadFeedback, TRIGGER_EFFECT_LEN};

const FLAG0_COMPATIBLE_VIBRATION: u8 = 0x01;
const FLAG0_RIGHT_TRIGGER: u8 = 0x04;
const FLAG0_LEFT_TRIGGER: u8 = 0x08;
const FLAG1_LIGHTBAR: u8 = 0x04;
const FLAG2_COMPATIBLE_VIBRATION2: u8 = 0x04;
const MOTOR_RIGHT: usize = 3;
const MOTOR_LEFT: usize = 4;
const RIGHT_TRIGGER: usize = 11;
const LEFT_TRIGGER: usize = 22;
const FLAG2: usize = 39;
const LIGHTBAR: usize = 45;
/// The shortest report that reaches the light bar.
const MIN_LEN: usize = LIGHTBAR + 3;

/// Calls `out` with what output report `r` asks of controller `controller` (nothing for another report id
/// or a report too short to hold the fields).
pub fn feedback(controller: u16, r: &[u8], mut out: impl FnMut(PadFeedback)) {
    if r.len() < MIN_LEN || r[0] != OUTPUT_REPORT_ID {
        return;
    }
    let (flag0, flag1, flag2) = (r[1], r[2], r[FLAG2]);
    if flag0 & FLAG0_COMPATIBLE_VIBRATION != 0 || flag2 & FLAG2_COMPATIBLE_VIBRATION2 != 0 {
        let level = |b: u8| u16::from(b) * 257;
        out(PadFeedback::Rumble { controller, low: level(r[MOTOR_LEFT]), high: level(r[MOTOR_RIGHT]) });
    }
    if flag1 & FLAG1_LIGHTBAR != 0 {
        out(PadFeedback::Led { controller, r: r[LIGHTBAR], g: r[LIGHTBAR + 1], b: r[LIGHTBAR + 2] });
    }
    let triggers = flag0 & (FLAG0_RIGHT_TRIGGER | FLAG0_LEFT_TRIGGER);
    if triggers != 0 {
        let block = |at: usize| {
            let mut b = [0u8; TRIGGER_EFFECT_LEN];
            b.copy_from_slice(&r[at + 1..at + 1 + TRIGGER_EFFECT_LEN]);
            b
        };
        out(PadFeedback::Triggers {
            controller,
            flags: triggers,
            type_left: r[LEFT_TRIGGER],
            type_right: r[RIGHT_TRIGGER],
            left: block(LEFT_TRIGGER),
            right: block(RIGHT_TRIGGER),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(r: &[u8]) -> Vec<PadFeedback> {
        let mut v = Vec::new();
        feedback(1, r, |f| v.push(f));
        v
    }

    #[test]
    fn rumble_as_the_driver_sends_it() {
        // An FF_RUMBLE play (strong 0xFFFF, weak 0x4000) as hid-playstation wrote it in the VM: flag0 0x03.
        let mut r = [0u8; 63];
        r[0] = 2;
        r[1] = 0x03;
        r[MOTOR_RIGHT] = 64;
        r[MOTOR_LEFT] = 255;
        assert_eq!(collect(&r), [PadFeedback::Rumble { controller: 1, low: 0xFFFF, high: 64 * 257 }]);
        r[1] = 0x02;
        assert!(collect(&r).is_empty(), "haptics select alone is no rumble");
        r[FLAG2] = 0x04;
        assert_eq!(collect(&r).len(), 1, "vibration v2 flag");
    }

    #[test]
    fn light_bar_and_triggers() {
        let mut r = [0u8; 63];
        r[0] = 2;
        r[1] = 0x0C;
        r[2] = 0x04;
        r[LIGHTBAR..LIGHTBAR + 3].copy_from_slice(&[0, 0, 128]);
        r[RIGHT_TRIGGER] = 0x26;
        r[RIGHT_TRIGGER + 1..RIGHT_TRIGGER + 11].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        r[LEFT_TRIGGER] = 0x21;
        r[LEFT_TRIGGER + 10] = 0x55;
        let got = collect(&r);
        assert_eq!(got[0], PadFeedback::Led { controller: 1, r: 0, g: 0, b: 128 });
        let PadFeedback::Triggers { flags, type_left, type_right, left, right, .. } = got[1] else { panic!("{got:?}") };
        assert_eq!((flags, type_left, type_right), (0x0C, 0x21, 0x26));
        assert_eq!((left[9], right), (0x55, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    }

    #[test]
    fn other_or_short_reports_say_nothing() {
        assert!(collect(&[2, 0xFF, 0xFF]).is_empty());
        let mut r = [0xFFu8; 63];
        r[0] = 0x31;
        assert!(collect(&r).is_empty());
        assert!(collect(&[]).is_empty());
    }
}
