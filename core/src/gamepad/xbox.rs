//! Moonlight's controller state → the events of an Xbox One pad as the kernel's `xpad` reports them
//! (`../shared/notes/sessions-audio-gamepads-login.md` §D.2): A B X Y → `BTN_SOUTH EAST NORTH WEST` (xpad
//! reports X as `BTN_X` = `BTN_NORTH`), sticks ±32767 with Y pointing down (Moonlight's points up), triggers
//! 0..255, the D-pad as a hat. Only what changed is reported, then one `SYN_REPORT`.

use super::codes::*;
use super::PadEvent;
use crate::input::{buttons, GamepadState};

/// Every key the pad has, with the Moonlight button that drives it.
pub const KEYS: [(u32, u16); 12] = [
    (buttons::A, BTN_SOUTH),
    (buttons::B, BTN_EAST),
    (buttons::X, BTN_NORTH),
    (buttons::Y, BTN_WEST),
    (buttons::LB, BTN_TL),
    (buttons::RB, BTN_TR),
    (buttons::BACK, BTN_SELECT),
    (buttons::PLAY, BTN_START),
    (buttons::SPECIAL, BTN_MODE),
    (buttons::LS_CLK, BTN_THUMBL),
    (buttons::RS_CLK, BTN_THUMBR),
    (buttons::MISC, KEY_RECORD),
];

/// An absolute axis of the pad: code, minimum, maximum, fuzz, flat (xpad's values).
pub const AXES: [(u16, i32, i32, i32, i32); 8] = [
    (ABS_X, -32768, 32767, 16, 128),
    (ABS_Y, -32768, 32767, 16, 128),
    (ABS_RX, -32768, 32767, 16, 128),
    (ABS_RY, -32768, 32767, 16, 128),
    (ABS_Z, 0, 255, 0, 0),
    (ABS_RZ, 0, 255, 0, 0),
    (ABS_HAT0X, -1, 1, 0, 0),
    (ABS_HAT0Y, -1, 1, 0, 0),
];

/// Moonlight's stick Y (up positive) as the kernel's (down positive), without overflowing at −32768.
fn flip(y: i16) -> i32 {
    (-i32::from(y)).min(32767)
}

fn hat(state: &GamepadState, neg: u32, pos: u32) -> i32 {
    i32::from(state.buttons & pos != 0) - i32::from(state.buttons & neg != 0)
}

/// The axes' values in a state, in [`AXES`] order.
fn axis_values(s: &GamepadState) -> [i32; 8] {
    [
        i32::from(s.left_stick_x),
        flip(s.left_stick_y),
        i32::from(s.right_stick_x),
        flip(s.right_stick_y),
        i32::from(s.left_trigger),
        i32::from(s.right_trigger),
        hat(s, buttons::LEFT, buttons::RIGHT),
        hat(s, buttons::UP, buttons::DOWN),
    ]
}

/// Appends to `out` the events that take the pad from `prev` (`None`: a new pad at rest) to `next`, and a
/// `SYN_REPORT` if anything changed. Allocates nothing once `out` has grown.
pub fn events(prev: Option<&GamepadState>, next: &GamepadState, out: &mut Vec<PadEvent>) {
    let start = out.len();
    let rest = GamepadState { controller: next.controller, active_mask: next.active_mask, ..Default::default() };
    let prev = prev.unwrap_or(&rest);
    for (bit, code) in KEYS {
        let (was, is) = (prev.buttons & bit != 0, next.buttons & bit != 0);
        if was != is {
            out.push(PadEvent { kind: EV_KEY, code, value: i32::from(is) });
        }
    }
    let (before, after) = (axis_values(prev), axis_values(next));
    for (i, (code, ..)) in AXES.iter().enumerate() {
        if before[i] != after[i] {
            out.push(PadEvent { kind: EV_ABS, code: *code, value: after[i] });
        }
    }
    if out.len() > start {
        out.push(PadEvent { kind: EV_SYN, code: SYN_REPORT, value: 0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(buttons: u32) -> GamepadState {
        GamepadState { controller: 0, active_mask: 1, buttons, ..Default::default() }
    }

    #[test]
    fn buttons_sticks_triggers_and_hat() {
        let mut out = Vec::new();
        let s = GamepadState {
            left_stick_x: 1000,
            left_stick_y: 32767,
            right_stick_y: -32768,
            left_trigger: 255,
            ..state(buttons::A | buttons::X | buttons::UP | buttons::RIGHT)
        };
        events(None, &s, &mut out);
        let has = |kind, code, value| out.contains(&PadEvent { kind, code, value });
        assert!(has(EV_KEY, BTN_SOUTH, 1) && has(EV_KEY, BTN_NORTH, 1));
        assert!(has(EV_ABS, ABS_X, 1000) && has(EV_ABS, ABS_Y, -32767) && has(EV_ABS, ABS_RY, 32767));
        assert!(has(EV_ABS, ABS_Z, 255) && has(EV_ABS, ABS_HAT0X, 1) && has(EV_ABS, ABS_HAT0Y, -1));
        assert_eq!(out.last(), Some(&PadEvent { kind: EV_SYN, code: SYN_REPORT, value: 0 }));
        assert_eq!(out.len(), 9);
        // Only the change, then a report; nothing at all for no change.
        out.clear();
        events(Some(&s), &GamepadState { buttons: buttons::X | buttons::UP | buttons::RIGHT, ..s }, &mut out);
        assert_eq!(
            out,
            [
                PadEvent { kind: EV_KEY, code: BTN_SOUTH, value: 0 },
                PadEvent { kind: EV_SYN, code: SYN_REPORT, value: 0 }
            ]
        );
        out.clear();
        events(Some(&s), &s, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn every_key_is_distinct_and_at_rest_nothing_is_sent() {
        let mut codes: Vec<u16> = KEYS.iter().map(|k| k.1).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), KEYS.len());
        let mut out = Vec::new();
        events(None, &state(0), &mut out);
        assert!(out.is_empty());
    }
}
