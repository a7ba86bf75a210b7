//! Decoding of client input packets into [`InputEvent`]s.

use super::event::*;
use super::wire::*;
use super::InputError;

/// A bounds-checked little cursor over a packet body.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], InputError> {
        let end = self.pos + N;
        let s = self.buf.get(self.pos..end).ok_or(InputError::Truncated { need: end, have: self.buf.len() })?;
        self.pos = end;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, InputError> {
        Ok(self.take::<1>()?[0])
    }
    fn skip(&mut self, n: usize) -> Result<(), InputError> {
        let end = self.pos + n;
        if end > self.buf.len() {
            return Err(InputError::Truncated { need: end, have: self.buf.len() });
        }
        self.pos = end;
        Ok(())
    }
    fn u16le(&mut self) -> Result<u16, InputError> {
        Ok(u16::from_le_bytes(self.take()?))
    }
    fn i16le(&mut self) -> Result<i16, InputError> {
        Ok(i16::from_le_bytes(self.take()?))
    }
    fn i16be(&mut self) -> Result<i16, InputError> {
        Ok(i16::from_be_bytes(self.take()?))
    }
    fn u32le(&mut self) -> Result<u32, InputError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn f32le(&mut self, field: &'static str) -> Result<f32, InputError> {
        let v = f32::from_le_bytes(self.take()?);
        if v.is_finite() {
            Ok(v)
        } else {
            Err(InputError::NonFinite(field))
        }
    }
}

fn need_body(body: &[u8], need: usize) -> Result<(), InputError> {
    if body.len() < need {
        Err(InputError::Truncated { need: HEADER_LEN + need, have: HEADER_LEN + body.len() })
    } else {
        Ok(())
    }
}

fn controller_slot(v: u32, field: &'static str) -> Result<u8, InputError> {
    if v < u32::from(MAX_CONTROLLERS) {
        Ok(v as u8)
    } else {
        Err(InputError::BadField { field, value: v })
    }
}

fn touch_type(b: u8) -> Result<TouchEventType, InputError> {
    TouchEventType::from_wire(b).ok_or(InputError::BadField { field: "eventType", value: u32::from(b) })
}

fn rotation(v: u16) -> Option<u16> {
    (v != ROTATION_UNKNOWN).then_some(v)
}

/// Reads the `[size: u32 BE][magic: u32 LE]` header and checks the size against `buf`. Returns the magic
/// and the body.
pub fn split_header(buf: &[u8]) -> Result<(u32, &[u8]), InputError> {
    if buf.len() < HEADER_LEN {
        return Err(InputError::Truncated { need: HEADER_LEN, have: buf.len() });
    }
    let size = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let actual = buf.len() - 4;
    if size != actual {
        return Err(InputError::LengthMismatch { declared: size, actual });
    }
    let magic = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    Ok((magic, &buf[HEADER_LEN..]))
}

/// Decodes one whole input packet (exactly the bytes the client put in the input-data control
/// message). Every malformed input gives an [`InputError`] and a debug log line, never a panic.
pub fn decode(buf: &[u8]) -> Result<InputEvent, InputError> {
    decode_inner(buf).inspect_err(|e| tracing::debug!(error = %e, len = buf.len(), "rejecting input packet"))
}

fn decode_inner(buf: &[u8]) -> Result<InputEvent, InputError> {
    let (magic, body) = split_header(buf)?;
    let mut r = Reader::new(body);
    let ev = match magic {
        KEY_DOWN | KEY_UP => {
            need_body(body, KEY_BODY)?;
            let flags = KeyFlags(r.u8()?);
            let raw = r.u16le()?;
            let modifiers = Modifiers(r.u8()?);
            let action = if magic == KEY_DOWN { KeyAction::Down } else { KeyAction::Up };
            InputEvent::Key { action, vk: raw & !VK_MARKER, modifiers, flags }
        }
        UTF8_TEXT => {
            if body.is_empty() || body.len() > Utf8Text::CAPACITY {
                return Err(InputError::BadTextLength(body.len()));
            }
            let s = core::str::from_utf8(body).map_err(|_| InputError::BadUtf8)?;
            InputEvent::Text(Utf8Text::new(s).ok_or(InputError::BadTextLength(body.len()))?)
        }
        MOUSE_MOVE_REL => {
            need_body(body, MOUSE_REL_BODY)?;
            InputEvent::MouseMove { dx: r.i16be()?, dy: r.i16be()? }
        }
        MOUSE_MOVE_ABS => {
            need_body(body, MOUSE_ABS_BODY)?;
            let x = r.i16be()?;
            let y = r.i16be()?;
            r.skip(2)?;
            let ref_width = r.i16be()?;
            let ref_height = r.i16be()?;
            InputEvent::MousePosition { x, y, ref_width, ref_height }
        }
        MOUSE_BUTTON_DOWN | MOUSE_BUTTON_UP => {
            need_body(body, MOUSE_BUTTON_BODY)?;
            let b = r.u8()?;
            let button =
                MouseButton::from_wire(b).ok_or(InputError::BadField { field: "button", value: u32::from(b) })?;
            let action = if magic == MOUSE_BUTTON_DOWN { ButtonAction::Press } else { ButtonAction::Release };
            InputEvent::MouseButton { action, button }
        }
        SCROLL => {
            need_body(body, SCROLL_BODY)?;
            InputEvent::Scroll { amount: r.i16be()? }
        }
        SS_HSCROLL => {
            need_body(body, HSCROLL_BODY)?;
            InputEvent::HScroll { amount: r.i16be()? }
        }
        MULTI_CONTROLLER => {
            need_body(body, MULTI_CONTROLLER_BODY)?;
            let _header_b = r.u16le()?;
            let controller = controller_slot(u32::from(r.u16le()?), "controllerNumber")?;
            let active_mask = r.u16le()?;
            let _mid_b = r.u16le()?;
            let lo = r.u16le()?;
            let left_trigger = r.u8()?;
            let right_trigger = r.u8()?;
            let left_stick_x = r.i16le()?;
            let left_stick_y = r.i16le()?;
            let right_stick_x = r.i16le()?;
            let right_stick_y = r.i16le()?;
            let _tail_a = r.u16le()?;
            let hi = r.u16le()?;
            InputEvent::Gamepad(GamepadState {
                controller,
                active_mask,
                buttons: u32::from(lo) | (u32::from(hi) << 16),
                left_trigger,
                right_trigger,
                left_stick_x,
                left_stick_y,
                right_stick_x,
                right_stick_y,
            })
        }
        ENABLE_HAPTICS => {
            need_body(body, HAPTICS_BODY)?;
            InputEvent::HapticsEnable { enabled: r.u16le()? != 0 }
        }
        SS_TOUCH => {
            need_body(body, TOUCH_BODY)?;
            let event = touch_type(r.u8()?)?;
            r.skip(1)?;
            let rot = r.u16le()?;
            let pointer_id = r.u32le()?;
            InputEvent::Touch(TouchEvent {
                event,
                pointer_id,
                x: r.f32le("x")?,
                y: r.f32le("y")?,
                pressure_or_distance: r.f32le("pressureOrDistance")?,
                contact_area_major: r.f32le("contactAreaMajor")?,
                contact_area_minor: r.f32le("contactAreaMinor")?,
                rotation: rotation(rot),
            })
        }
        SS_PEN => {
            need_body(body, PEN_BODY)?;
            let event = touch_type(r.u8()?)?;
            let t = r.u8()?;
            let tool = match t {
                0 => ToolType::Unknown,
                1 => ToolType::Pen,
                2 => ToolType::Eraser,
                v => return Err(InputError::BadField { field: "toolType", value: u32::from(v) }),
            };
            let buttons = PenButtons(r.u8()?);
            r.skip(1)?;
            let x = r.f32le("x")?;
            let y = r.f32le("y")?;
            let pressure_or_distance = r.f32le("pressureOrDistance")?;
            let rot = r.u16le()?;
            let tilt = r.u8()?;
            r.skip(1)?;
            InputEvent::Pen(PenEvent {
                event,
                tool,
                buttons,
                x,
                y,
                pressure_or_distance,
                rotation: rotation(rot),
                tilt: (tilt != TILT_UNKNOWN).then_some(tilt),
                contact_area_major: r.f32le("contactAreaMajor")?,
                contact_area_minor: r.f32le("contactAreaMinor")?,
            })
        }
        SS_CONTROLLER_ARRIVAL => {
            need_body(body, ARRIVAL_BODY)?;
            let controller = controller_slot(u32::from(r.u8()?), "controllerNumber")?;
            let kind = ControllerType::from_wire(r.u8()?);
            let capabilities = ControllerCaps(r.u16le()?);
            let supported_buttons = r.u32le()?;
            InputEvent::ControllerArrival { controller, kind, capabilities, supported_buttons }
        }
        SS_CONTROLLER_TOUCH => {
            need_body(body, CONTROLLER_TOUCH_BODY)?;
            let controller = controller_slot(u32::from(r.u8()?), "controllerNumber")?;
            let event = touch_type(r.u8()?)?;
            r.skip(1)?;
            let touchpad = r.u8()?;
            let pointer_id = r.u32le()?;
            InputEvent::ControllerTouch {
                controller,
                event,
                touchpad,
                pointer_id,
                x: r.f32le("x")?,
                y: r.f32le("y")?,
                pressure: r.f32le("pressure")?,
            }
        }
        SS_CONTROLLER_MOTION => {
            need_body(body, MOTION_BODY)?;
            let controller = controller_slot(u32::from(r.u8()?), "controllerNumber")?;
            let m = r.u8()?;
            let motion = match m {
                1 => MotionType::Accel,
                2 => MotionType::Gyro,
                v => return Err(InputError::BadField { field: "motionType", value: u32::from(v) }),
            };
            r.skip(2)?;
            InputEvent::ControllerMotion { controller, motion, x: r.f32le("x")?, y: r.f32le("y")?, z: r.f32le("z")? }
        }
        SS_CONTROLLER_BATTERY => {
            need_body(body, BATTERY_BODY)?;
            let controller = controller_slot(u32::from(r.u8()?), "controllerNumber")?;
            let s = r.u8()?;
            let state = match s {
                0 => BatteryState::Unknown,
                1 => BatteryState::NotPresent,
                2 => BatteryState::Discharging,
                3 => BatteryState::Charging,
                4 => BatteryState::NotCharging,
                5 => BatteryState::Full,
                v => return Err(InputError::BadField { field: "batteryState", value: u32::from(v) }),
            };
            let p = r.u8()?;
            let percentage = match p {
                BATTERY_PERCENT_UNKNOWN => None,
                0..=100 => Some(p),
                v => return Err(InputError::BadField { field: "batteryPercentage", value: u32::from(v) }),
            };
            InputEvent::ControllerBattery { controller, state, percentage }
        }
        other => return Err(InputError::UnknownMagic(other)),
    };
    Ok(ev)
}
