//! Encoding of [`InputEvent`]s into the exact bytes a gen-7 Moonlight client sends (for lumen's own
//! client, for tests, and for the fuzz corpus).

use super::event::*;
use super::wire::*;
use super::InputError;

/// A bounds-checked writer into a caller buffer.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, b: &[u8]) {
        // Capacity was checked up front by `encode_into`.
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }
    fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }
    fn u16le(&mut self, v: u16) {
        self.put(&v.to_le_bytes());
    }
    fn i16le(&mut self, v: i16) {
        self.put(&v.to_le_bytes());
    }
    fn i16be(&mut self, v: i16) {
        self.put(&v.to_be_bytes());
    }
    fn u32le(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }
    fn f32le(&mut self, v: f32) {
        self.put(&v.to_le_bytes());
    }
}

/// The magic and body length `ev` encodes to.
fn shape(ev: &InputEvent) -> (u32, usize) {
    match ev {
        InputEvent::Key { action: KeyAction::Down, .. } => (KEY_DOWN, KEY_BODY),
        InputEvent::Key { action: KeyAction::Up, .. } => (KEY_UP, KEY_BODY),
        InputEvent::Text(t) => (UTF8_TEXT, t.as_str().len()),
        InputEvent::MouseMove { .. } => (MOUSE_MOVE_REL, MOUSE_REL_BODY),
        InputEvent::MousePosition { .. } => (MOUSE_MOVE_ABS, MOUSE_ABS_BODY),
        InputEvent::MouseButton { action: ButtonAction::Press, .. } => (MOUSE_BUTTON_DOWN, MOUSE_BUTTON_BODY),
        InputEvent::MouseButton { action: ButtonAction::Release, .. } => (MOUSE_BUTTON_UP, MOUSE_BUTTON_BODY),
        InputEvent::Scroll { .. } => (SCROLL, SCROLL_BODY),
        InputEvent::HScroll { .. } => (SS_HSCROLL, HSCROLL_BODY),
        InputEvent::Touch(_) => (SS_TOUCH, TOUCH_BODY),
        InputEvent::Pen(_) => (SS_PEN, PEN_BODY),
        InputEvent::Gamepad(_) => (MULTI_CONTROLLER, MULTI_CONTROLLER_BODY),
        InputEvent::ControllerArrival { .. } => (SS_CONTROLLER_ARRIVAL, ARRIVAL_BODY),
        InputEvent::ControllerTouch { .. } => (SS_CONTROLLER_TOUCH, CONTROLLER_TOUCH_BODY),
        InputEvent::ControllerMotion { .. } => (SS_CONTROLLER_MOTION, MOTION_BODY),
        InputEvent::ControllerBattery { .. } => (SS_CONTROLLER_BATTERY, BATTERY_BODY),
        InputEvent::HapticsEnable { .. } => (ENABLE_HAPTICS, HAPTICS_BODY),
    }
}

/// The encoded length of `ev` in bytes.
pub fn encoded_len(ev: &InputEvent) -> usize {
    HEADER_LEN + shape(ev).1
}

/// Writes `ev` into `out` as the client would (VK codes get the 0x8000 marker, like moonlight-qt) and
/// returns the number of bytes written.
pub fn encode_into(ev: &InputEvent, out: &mut [u8]) -> Result<usize, InputError> {
    let (magic, body) = shape(ev);
    let total = HEADER_LEN + body;
    if out.len() < total {
        return Err(InputError::BufferTooSmall { need: total, have: out.len() });
    }
    let mut w = Writer { buf: out, pos: 0 };
    w.put(&((4 + body) as u32).to_be_bytes());
    w.u32le(magic);
    match *ev {
        InputEvent::Key { vk, modifiers, flags, .. } => {
            w.u8(flags.0);
            w.u16le(vk | VK_MARKER);
            w.u8(modifiers.0);
            w.u16le(0);
        }
        InputEvent::Text(ref t) => w.put(t.as_str().as_bytes()),
        InputEvent::MouseMove { dx, dy } => {
            w.i16be(dx);
            w.i16be(dy);
        }
        InputEvent::MousePosition { x, y, ref_width, ref_height } => {
            w.i16be(x);
            w.i16be(y);
            w.i16be(0);
            w.i16be(ref_width);
            w.i16be(ref_height);
        }
        InputEvent::MouseButton { button, .. } => w.u8(button.to_wire()),
        InputEvent::Scroll { amount } => {
            w.i16be(amount);
            w.i16be(amount);
            w.i16be(0);
        }
        InputEvent::HScroll { amount } => w.i16be(amount),
        InputEvent::Touch(t) => {
            w.u8(t.event.to_wire());
            w.u8(0);
            w.u16le(t.rotation.unwrap_or(ROTATION_UNKNOWN));
            w.u32le(t.pointer_id);
            w.f32le(t.x);
            w.f32le(t.y);
            w.f32le(t.pressure_or_distance);
            w.f32le(t.contact_area_major);
            w.f32le(t.contact_area_minor);
        }
        InputEvent::Pen(p) => {
            w.u8(p.event.to_wire());
            w.u8(match p.tool {
                ToolType::Unknown => 0,
                ToolType::Pen => 1,
                ToolType::Eraser => 2,
            });
            w.u8(p.buttons.0);
            w.u8(0);
            w.f32le(p.x);
            w.f32le(p.y);
            w.f32le(p.pressure_or_distance);
            w.u16le(p.rotation.unwrap_or(ROTATION_UNKNOWN));
            w.u8(p.tilt.unwrap_or(TILT_UNKNOWN));
            w.u8(0);
            w.f32le(p.contact_area_major);
            w.f32le(p.contact_area_minor);
        }
        InputEvent::Gamepad(g) => {
            w.u16le(MC_HEADER_B);
            w.u16le(u16::from(g.controller));
            w.u16le(g.active_mask);
            w.u16le(MC_MID_B);
            w.u16le(g.buttons as u16);
            w.u8(g.left_trigger);
            w.u8(g.right_trigger);
            w.i16le(g.left_stick_x);
            w.i16le(g.left_stick_y);
            w.i16le(g.right_stick_x);
            w.i16le(g.right_stick_y);
            w.u16le(MC_TAIL_A);
            w.u16le((g.buttons >> 16) as u16);
            w.u16le(MC_TAIL_B);
        }
        InputEvent::ControllerArrival { controller, kind, capabilities, supported_buttons } => {
            w.u8(controller);
            w.u8(kind.to_wire());
            w.u16le(capabilities.0);
            w.u32le(supported_buttons);
        }
        InputEvent::ControllerTouch { controller, event, touchpad, pointer_id, x, y, pressure } => {
            w.u8(controller);
            w.u8(event.to_wire());
            w.u8(0);
            w.u8(touchpad);
            w.u32le(pointer_id);
            w.f32le(x);
            w.f32le(y);
            w.f32le(pressure);
        }
        InputEvent::ControllerMotion { controller, motion, x, y, z } => {
            w.u8(controller);
            w.u8(match motion {
                MotionType::Accel => 1,
                MotionType::Gyro => 2,
            });
            w.u16le(0);
            w.f32le(x);
            w.f32le(y);
            w.f32le(z);
        }
        InputEvent::ControllerBattery { controller, state, percentage } => {
            w.u8(controller);
            w.u8(match state {
                BatteryState::Unknown => 0,
                BatteryState::NotPresent => 1,
                BatteryState::Discharging => 2,
                BatteryState::Charging => 3,
                BatteryState::NotCharging => 4,
                BatteryState::Full => 5,
            });
            w.u8(percentage.unwrap_or(BATTERY_PERCENT_UNKNOWN));
            w.u8(0);
        }
        InputEvent::HapticsEnable { enabled } => w.u16le(u16::from(enabled)),
    }
    Ok(w.pos)
}
