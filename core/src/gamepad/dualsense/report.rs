//! The DualSense's USB input report 0x01 (64 bytes) built from what a Moonlight client sends: the
//! controller state, touchpad contacts, motion samples and battery (`../shared/notes/sessions-audio-gamepads-login.md`
//! §D.2). Byte layout as `hid-playstation` reads it (id at byte 0): sticks and triggers 1–6, sequence 7,
//! buttons 8–10, gyro 16–21 and accel 22–27 (LE i16), sensor timestamp 28–31 (units of 1/3 µs), two touch
//! points 33–40, battery 53.

use super::device::{ACCEL_RAW_PER_G, GYRO_RAW_PER_DEG_S, INPUT_REPORT_ID, INPUT_REPORT_LEN};
use crate::input::{buttons, BatteryState, GamepadState, MotionType, TouchEventType};

/// Touchpad resolution of the DualSense.
pub const TOUCHPAD_WIDTH: u16 = 1920;
/// Touchpad height.
pub const TOUCHPAD_HEIGHT: u16 = 1080;
/// Standard gravity, m/s² (Moonlight's accelerometer unit includes it).
const G: f32 = 9.80665;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Contact {
    /// The client's pointer id while touching.
    pointer: Option<u32>,
    /// 7-bit tracking number of the contact.
    tracking: u8,
    x: u16,
    y: u16,
}

/// Everything a DualSense reports, kept between the client's updates.
#[derive(Debug, Clone, Default)]
pub struct DualSenseState {
    pad: GamepadState,
    contacts: [Contact; 2],
    next_tracking: u8,
    gyro: [i16; 3],
    accel: [i16; 3],
    /// Battery byte: low nibble charge/10, high nibble 0 discharging, 1 charging, 2 full.
    battery: u8,
    seq: u8,
}

impl DualSenseState {
    /// A pad at rest: centred sticks, no contact, resting flat (1 g on Y), full battery.
    pub fn new() -> Self {
        let mut s = Self { battery: 0x20 | 10, ..Self::default() };
        s.motion(MotionType::Accel, 0.0, G, 0.0);
        s
    }

    /// The buttons, sticks and triggers.
    pub fn set_pad(&mut self, pad: GamepadState) {
        self.pad = pad;
    }

    /// A touchpad contact; `x`, `y` in 0..=1 across the pad. Two contacts at most (more are ignored).
    pub fn touch(&mut self, event: TouchEventType, pointer: u32, x: f32, y: f32) {
        let pos = |v: f32, size: u16| (v.clamp(0.0, 1.0) * f32::from(size - 1)).round() as u16;
        match event {
            TouchEventType::Down | TouchEventType::Move => {
                let slot = match self.contacts.iter().position(|c| c.pointer == Some(pointer)) {
                    Some(i) => i,
                    None => {
                        let Some(i) = self.contacts.iter().position(|c| c.pointer.is_none()) else { return };
                        self.contacts[i].tracking = self.next_tracking;
                        self.next_tracking = (self.next_tracking + 1) & 0x7F;
                        i
                    }
                };
                let c = &mut self.contacts[slot];
                c.pointer = Some(pointer);
                c.x = pos(x, TOUCHPAD_WIDTH);
                c.y = pos(y, TOUCHPAD_HEIGHT);
            }
            TouchEventType::Up | TouchEventType::Cancel => {
                for c in self.contacts.iter_mut().filter(|c| c.pointer == Some(pointer)) {
                    c.pointer = None;
                }
            }
            TouchEventType::CancelAll => self.contacts.iter_mut().for_each(|c| c.pointer = None),
            TouchEventType::Hover | TouchEventType::HoverLeave | TouchEventType::ButtonOnly => {}
        }
    }

    /// A motion sample in Moonlight's units (m/s² including gravity; degrees per second), SDL's axes
    /// (which are the DualSense's own).
    pub fn motion(&mut self, sensor: MotionType, x: f32, y: f32, z: f32) {
        let raw = |v: f32| v.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16;
        match sensor {
            MotionType::Accel => self.accel = [x, y, z].map(|v| raw(v / G * ACCEL_RAW_PER_G)),
            MotionType::Gyro => self.gyro = [x, y, z].map(|v| raw(v * GYRO_RAW_PER_DEG_S)),
        }
    }

    /// The battery state and charge (percent; `None` unknown).
    pub fn battery(&mut self, state: BatteryState, percent: Option<u8>) {
        let level = percent.map_or(10, |p| p.min(100) / 10);
        self.battery = match state {
            BatteryState::Charging => 0x10 | level,
            BatteryState::Full | BatteryState::NotPresent | BatteryState::NotCharging => 0x20 | 10,
            BatteryState::Discharging | BatteryState::Unknown => level,
        };
    }

    /// Writes the next input report (the sequence number advances) with the sensor time `time_us`.
    pub fn write_report(&mut self, time_us: u64, out: &mut [u8; INPUT_REPORT_LEN]) {
        out.fill(0);
        out[0] = INPUT_REPORT_ID;
        let p = &self.pad;
        out[1] = stick(p.left_stick_x);
        out[2] = stick_y(p.left_stick_y);
        out[3] = stick(p.right_stick_x);
        out[4] = stick_y(p.right_stick_y);
        out[5] = p.left_trigger;
        out[6] = p.right_trigger;
        out[7] = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let b = p.buttons;
        let bit = |mask: u32, v: u8| if b & mask != 0 { v } else { 0 };
        out[8] = hat(b) | bit(buttons::X, 0x10) | bit(buttons::A, 0x20) | bit(buttons::B, 0x40) | bit(buttons::Y, 0x80);
        out[9] = bit(buttons::LB, 0x01)
            | bit(buttons::RB, 0x02)
            | if p.left_trigger > 0 { 0x04 } else { 0 }
            | if p.right_trigger > 0 { 0x08 } else { 0 }
            | bit(buttons::BACK, 0x10)
            | bit(buttons::PLAY, 0x20)
            | bit(buttons::LS_CLK, 0x40)
            | bit(buttons::RS_CLK, 0x80);
        out[10] = bit(buttons::SPECIAL, 0x01) | bit(buttons::TOUCHPAD, 0x02) | bit(buttons::MISC, 0x04);
        for (i, v) in self.gyro.iter().chain(self.accel.iter()).enumerate() {
            out[16 + 2 * i..18 + 2 * i].copy_from_slice(&v.to_le_bytes());
        }
        out[28..32].copy_from_slice(&((time_us.wrapping_mul(3)) as u32).to_le_bytes());
        for (i, c) in self.contacts.iter().enumerate() {
            let at = 33 + 4 * i;
            out[at] = c.tracking | if c.pointer.is_some() { 0 } else { 0x80 };
            out[at + 1] = c.x as u8;
            out[at + 2] = ((c.x >> 8) as u8 & 0x0F) | ((c.y as u8 & 0x0F) << 4);
            out[at + 3] = (c.y >> 4) as u8;
        }
        out[53] = self.battery;
    }
}

/// A stick axis, −32768..=32767 → 0..=255 with 0x80 in the middle.
fn stick(v: i16) -> u8 {
    ((i32::from(v) + 32768) >> 8) as u8
}

/// A stick's Y: Moonlight's points up, the DualSense's down.
fn stick_y(v: i16) -> u8 {
    ((32768 - i32::from(v)) >> 8).min(255) as u8
}

/// The D-pad as the DualSense's hat: 0 = up, clockwise in eighths, 8 = released.
fn hat(b: u32) -> u8 {
    let (up, down, left, right) =
        (b & buttons::UP != 0, b & buttons::DOWN != 0, b & buttons::LEFT != 0, b & buttons::RIGHT != 0);
    match (up && !down, down && !up, right && !left, left && !right) {
        (true, _, true, _) => 1,
        (true, _, _, true) => 7,
        (true, ..) => 0,
        (_, true, true, _) => 3,
        (_, true, _, true) => 5,
        (_, true, ..) => 4,
        (.., true, _) => 2,
        (.., true) => 6,
        _ => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(s: &mut DualSenseState) -> [u8; 64] {
        let mut out = [0u8; 64];
        s.write_report(1000, &mut out);
        out
    }

    #[test]
    fn a_pad_at_rest() {
        let mut s = DualSenseState::new();
        let r = report(&mut s);
        assert_eq!(r[0], 1);
        assert_eq!(r[1..7], [0x80, 0x80, 0x80, 0x80, 0, 0]);
        assert_eq!(r[8], 8, "hat released, no face button");
        assert_eq!(i16::from_le_bytes([r[24], r[25]]), 10000, "1 g on Y");
        assert_eq!((r[33] & 0x80, r[37] & 0x80), (0x80, 0x80), "no contact");
        assert_eq!(u32::from_le_bytes([r[28], r[29], r[30], r[31]]), 3000);
        assert_eq!(r[53], 0x2A);
        assert_eq!(report(&mut s)[7], 1, "the sequence number advances");
    }

    #[test]
    fn buttons_sticks_and_triggers() {
        let mut s = DualSenseState::new();
        s.set_pad(GamepadState {
            buttons: buttons::A
                | buttons::Y
                | buttons::UP
                | buttons::RIGHT
                | buttons::LB
                | buttons::PLAY
                | buttons::SPECIAL,
            left_trigger: 0,
            right_trigger: 200,
            left_stick_x: 32767,
            left_stick_y: 32767,
            right_stick_x: -32768,
            right_stick_y: -32768,
            ..GamepadState::default()
        });
        let r = report(&mut s);
        assert_eq!(r[1..7], [0xFF, 0x00, 0x00, 0xFF, 0, 200]);
        assert_eq!(r[8], 1 | 0x20 | 0x80, "NE, cross, triangle");
        assert_eq!(r[9], 0x01 | 0x08 | 0x20, "L1, R2 pressed, options");
        assert_eq!(r[10], 0x01, "PS");
    }

    #[test]
    fn hat_directions() {
        use buttons::*;
        let cases = [
            (UP, 0),
            (UP | RIGHT, 1),
            (RIGHT, 2),
            (DOWN | RIGHT, 3),
            (DOWN, 4),
            (DOWN | LEFT, 5),
            (LEFT, 6),
            (UP | LEFT, 7),
        ];
        for (b, h) in cases {
            assert_eq!(hat(b), h, "{b:#x}");
        }
        assert_eq!(hat(UP | DOWN), 8);
    }

    #[test]
    fn touch_contacts_and_motion() {
        let mut s = DualSenseState::new();
        s.touch(TouchEventType::Down, 77, 0.5, 1.0);
        s.touch(TouchEventType::Down, 78, 0.0, 0.0);
        s.touch(TouchEventType::Down, 79, 0.3, 0.3); // a third finger: no room
        s.motion(MotionType::Gyro, 10.0, -5.0, 0.5);
        s.motion(MotionType::Accel, 0.0, 0.0, -9.80665);
        let r = report(&mut s);
        let point = |at: usize| {
            (
                r[at],
                u16::from(r[at + 1]) | (u16::from(r[at + 2] & 0x0F) << 8),
                u16::from(r[at + 2] >> 4) | (u16::from(r[at + 3]) << 4),
            )
        };
        assert_eq!(point(33), (0, 960, 1079));
        assert_eq!(point(37), (1, 0, 0));
        let le = |i: usize| i16::from_le_bytes([r[i], r[i + 1]]);
        assert_eq!([le(16), le(18), le(20)], [200, -100, 10]);
        assert_eq!([le(22), le(24), le(26)], [0, 0, -10000]);
        s.touch(TouchEventType::Up, 77, 0.0, 0.0);
        let r = report(&mut s);
        assert_eq!((r[33], r[37]), (0x80, 1), "the lifted contact keeps its number");
        s.touch(TouchEventType::Down, 80, 0.1, 0.1);
        assert_eq!(report(&mut s)[33], 2, "a new contact gets a new number");
    }

    #[test]
    fn battery_byte() {
        let mut s = DualSenseState::new();
        s.battery(BatteryState::Charging, Some(57));
        assert_eq!(report(&mut s)[53], 0x15);
        s.battery(BatteryState::Discharging, Some(100));
        assert_eq!(report(&mut s)[53], 0x0A);
        s.battery(BatteryState::Full, None);
        assert_eq!(report(&mut s)[53], 0x2A);
    }
}
