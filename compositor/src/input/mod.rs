//! Input injection: core's typed Moonlight [`InputEvent`]s drive the seat directly (no uinput, no
//! libinput). Keyboard through the VK → evdev table with modifiers synced to the client's flags; text
//! through the keymap (text-input when a character is not on it); absolute pointer scaled from the
//! client's reference plane; relative pointer honouring locked/confined pointers; buttons 1–5; v120 scroll
//! on both axes; touch; pen (tablet-v2).

pub mod text;
pub mod vk;

use std::collections::HashSet;

use lumen_core::input::{
    ButtonAction, InputEvent, KeyAction, Modifiers, MouseButton, PenEvent, ToolType, TouchEvent, TouchEventType,
};
use lumen_render::OutputId;
use smithay::backend::input::{
    Axis, AxisSource, ButtonState, KeyState, TabletToolCapabilities, TabletToolDescriptor, TabletToolType,
};
use smithay::input::keyboard::{FilterResult, Keycode};
use smithay::input::pointer::{AxisFrame, ButtonEvent, MotionEvent, RelativeMotionEvent};
use smithay::input::touch::{DownEvent, MotionEvent as TouchMotionEvent, UpEvent};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point, SERIAL_COUNTER};
use smithay::wayland::pointer_constraints::{with_pointer_constraint, PointerConstraint};
use smithay::wayland::tablet_manager::{TabletDescriptor, TabletSeatTrait};
use tracing::{debug, trace, warn};

use crate::shell;
use crate::state::State;
use text::TextKeymap;

/// Linux button codes (input-event-codes.h).
pub const BTN_LEFT: u32 = 0x110;
pub const BTN_RIGHT: u32 = 0x111;
pub const BTN_MIDDLE: u32 = 0x112;
pub const BTN_SIDE: u32 = 0x113;
pub const BTN_EXTRA: u32 = 0x114;

/// Injection state kept between events.
pub struct InputState {
    /// evdev codes currently held down through injection.
    held: HashSet<u32>,
    /// Pointer buttons currently held down through injection.
    buttons: HashSet<u32>,
    text: Option<TextKeymap>,
    /// The seat's xkb layout (restored after a one-character keymap).
    layout: String,
    pen_down: bool,
    pen_in: bool,
}

impl InputState {
    pub fn new(layout: &str) -> Self {
        let text = TextKeymap::new(layout);
        if text.is_none() {
            tracing::warn!("xkb layout {layout:?} could not be compiled; text input will use text-input only");
        }
        InputState {
            held: HashSet::new(),
            buttons: HashSet::new(),
            text,
            layout: layout.to_owned(),
            pen_down: false,
            pen_in: false,
        }
    }
}

fn is_modifier(code: u32) -> bool {
    matches!(
        code,
        vk::LEFTSHIFT
            | vk::RIGHTSHIFT
            | vk::LEFTCTRL
            | vk::RIGHTCTRL
            | vk::LEFTALT
            | vk::RIGHTALT
            | vk::LEFTMETA
            | vk::RIGHTMETA
    )
}

impl State {
    fn time_ms(&self) -> u32 {
        self.start.elapsed().as_millis() as u32
    }

    /// Inject one event as coming from the client of output `output`.
    pub fn inject(&mut self, output: OutputId, ev: &InputEvent) {
        match ev {
            InputEvent::Key { action, vk, modifiers, .. } => {
                let Some(code) = vk::vk_to_evdev(*vk) else {
                    debug!(vk = format_args!("{vk:#04x}"), "key with no evdev equivalent ignored");
                    return;
                };
                if !is_modifier(code) {
                    self.sync_modifiers(*modifiers);
                }
                self.key(code, *action == KeyAction::Down);
            }
            InputEvent::Text(t) => self.type_text(t.as_str()),
            InputEvent::MouseMove { dx, dy } => self.pointer_relative(output, f64::from(*dx), f64::from(*dy)),
            InputEvent::MousePosition { .. } => {
                let Some(out) = self.outputs.get(&output) else { return };
                // Onto the output's logical plane (its mode at scale 1, half of it at scale 2).
                let s = out.scale.max(1) as u32;
                if let Some((x, y)) = ev.scale_position(out.mode.width / s, out.mode.height / s) {
                    self.pointer_absolute(output, x, y);
                } else {
                    debug!("absolute motion with a degenerate reference plane ignored");
                }
            }
            InputEvent::MouseButton { action, button } => {
                let code = match button {
                    MouseButton::Left => BTN_LEFT,
                    MouseButton::Middle => BTN_MIDDLE,
                    MouseButton::Right => BTN_RIGHT,
                    MouseButton::X1 => BTN_SIDE,
                    MouseButton::X2 => BTN_EXTRA,
                };
                self.button(code, *action == ButtonAction::Press);
            }
            // Moonlight: positive = up / away from the user. Wayland: positive = down.
            InputEvent::Scroll { amount } => self.scroll(Axis::Vertical, -i32::from(*amount)),
            InputEvent::HScroll { amount } => self.scroll(Axis::Horizontal, i32::from(*amount)),
            InputEvent::Touch(t) => self.touch(output, t),
            InputEvent::Pen(p) => self.pen(output, p),
            other => trace!(?other, "not a seat event (gamepads are handled outside the compositor)"),
        }
    }

    /// Press or release an evdev key.
    pub fn key(&mut self, code: u32, pressed: bool) {
        let Some(kb) = self.seat.get_keyboard() else { return };
        if pressed {
            self.input.held.insert(code);
        } else if !self.input.held.remove(&code) {
            trace!(code, "release of a key that is not held");
        }
        let serial = SERIAL_COUNTER.next_serial();
        let time = self.time_ms();
        let state = if pressed { KeyState::Pressed } else { KeyState::Released };
        kb.input::<(), _>(self, Keycode::new(code + 8), state, serial, time, |_, _, _| FilterResult::Forward);
    }

    /// Make the held modifier keys match the client's modifier flags.
    fn sync_modifiers(&mut self, mods: Modifiers) {
        let groups = [
            (Modifiers::SHIFT, vk::LEFTSHIFT, vk::RIGHTSHIFT),
            (Modifiers::CTRL, vk::LEFTCTRL, vk::RIGHTCTRL),
            (Modifiers::ALT, vk::LEFTALT, vk::RIGHTALT),
            (Modifiers::META, vk::LEFTMETA, vk::RIGHTMETA),
        ];
        for (flag, left, right) in groups {
            let want = mods.contains(flag);
            let held = self.input.held.contains(&left) || self.input.held.contains(&right);
            if want && !held {
                self.key(left, true);
            } else if !want && held {
                for k in [left, right] {
                    if self.input.held.contains(&k) {
                        self.key(k, false);
                    }
                }
            }
        }
    }

    /// Type UTF-8 text: through the keymap where the character is on it, else through a one-character keymap.
    pub fn type_text(&mut self, text: &str) {
        for ch in text.chars() {
            let stroke = self.input.text.as_ref().and_then(|t| t.stroke(ch));
            match stroke {
                Some(s) => {
                    let shift_held =
                        self.input.held.contains(&vk::LEFTSHIFT) || self.input.held.contains(&vk::RIGHTSHIFT);
                    let press_shift = s.shift && !shift_held;
                    let release_shift = !s.shift && shift_held;
                    let held_shifts: Vec<u32> =
                        [vk::LEFTSHIFT, vk::RIGHTSHIFT].into_iter().filter(|k| self.input.held.contains(k)).collect();
                    if release_shift {
                        for k in &held_shifts {
                            self.key(*k, false);
                        }
                    }
                    if press_shift {
                        self.key(vk::LEFTSHIFT, true);
                    }
                    if s.altgr {
                        self.key(vk::RIGHTALT, true);
                    }
                    self.key(s.evdev, true);
                    self.key(s.evdev, false);
                    if s.altgr {
                        self.key(vk::RIGHTALT, false);
                    }
                    if press_shift {
                        self.key(vk::LEFTSHIFT, false);
                    }
                    if release_shift {
                        for k in held_shifts {
                            self.key(k, true);
                        }
                    }
                }
                None => self.type_via_keymap(ch),
            }
        }
    }

    /// Types a character that is not on the keymap: the focused client gets a keymap with the character on a
    /// spare key (evdev 240, `KEY_UNKNOWN`), the key goes down and up, and the seat's own keymap comes back (as
    /// wtype does). Events on one connection stay in order, so the client reads the new keymap before the key.
    /// Every client with a keyboard takes it (foot, GTK, Qt, Xwayland); text-input's `commit_string` does not
    /// reach clients that have not enabled text-input, and smithay 0.7 does not track enabling without an
    /// input-method client, so it cannot be chosen per client.
    fn type_via_keymap(&mut self, ch: char) {
        use smithay::input::keyboard::{xkb, XkbConfig};
        const SPARE: u32 = 240;
        let Some(kb) = self.seat.get_keyboard() else { return };
        let sym = xkb::utf32_to_keysym(ch as u32);
        if sym.raw() == 0 {
            debug!(?ch, "character without a keysym: dropped");
            return;
        }
        let layout = self.input.layout.clone();
        let keymap = format!(
            "xkb_keymap {{ xkb_keycodes {{ include \"evdev+aliases(qwerty)\" }}; xkb_types {{ include \"complete\" }}; \
             xkb_compat {{ include \"complete\" }}; xkb_symbols {{ include \"pc+{layout}+inet(evdev)\" \
             key <I248> {{ [ 0x{:x} ] }}; }}; }};",
            sym.raw()
        );
        if let Err(e) = kb.set_keymap_from_string(self, keymap) {
            warn!(?ch, error = ?e, "one-character keymap failed: character dropped");
            return;
        }
        self.key(SPARE, true);
        self.key(SPARE, false);
        if let Err(e) = kb.set_xkb_config(self, XkbConfig { layout: &layout, ..Default::default() }) {
            warn!(error = ?e, "the seat's keymap could not be restored");
        }
    }

    /// Global origin of an output.
    fn output_origin(&self, output: OutputId) -> Option<Point<f64, Logical>> {
        shell::output_rect(self, output).map(|r| r.loc.to_f64())
    }

    /// The active pointer constraint on the surface under the pointer: (locked, confined).
    fn constraint_at(&self, surface: Option<&WlSurface>) -> (bool, bool) {
        let (Some(ptr), Some(surface)) = (self.seat.get_pointer(), surface) else { return (false, false) };
        with_pointer_constraint(surface, &ptr, |c| match c {
            Some(c) if c.is_active() => match &*c {
                PointerConstraint::Locked(_) => (true, false),
                PointerConstraint::Confined(_) => (false, true),
            },
            _ => (false, false),
        })
    }

    /// Activate a pending constraint of the surface now under the pointer.
    fn maybe_activate_constraint(&mut self, surface: Option<&WlSurface>) {
        let (Some(ptr), Some(surface)) = (self.seat.get_pointer(), surface) else { return };
        with_pointer_constraint(surface, &ptr, |c| {
            if let Some(c) = c {
                if !c.is_active() {
                    c.activate();
                }
            }
        });
    }

    /// Move the pointer to (x, y) in output pixels.
    pub fn pointer_absolute(&mut self, output: OutputId, x: f64, y: f64) {
        let Some(ptr) = self.seat.get_pointer() else { return };
        let Some(origin) = self.output_origin(output) else { return };
        let current = shell::surface_under(self, ptr.current_location());
        let (locked, _) = self.constraint_at(current.as_ref().map(|(s, _)| s));
        if locked {
            trace!("absolute motion ignored: pointer is locked");
            return;
        }
        let location = origin + Point::from((x, y));
        let under = shell::surface_under(self, location);
        let serial = SERIAL_COUNTER.next_serial();
        let time = self.time_ms();
        ptr.motion(self, under.clone(), &MotionEvent { location, serial, time });
        ptr.frame(self);
        self.maybe_activate_constraint(under.as_ref().map(|(s, _)| s));
    }

    /// Relative motion: always reported as relative-pointer deltas; moves the cursor unless locked;
    /// a confined pointer stays on its surface.
    pub fn pointer_relative(&mut self, output: OutputId, dx: f64, dy: f64) {
        let Some(ptr) = self.seat.get_pointer() else { return };
        let loc = ptr.current_location();
        let under = shell::surface_under(self, loc);
        let (locked, confined) = self.constraint_at(under.as_ref().map(|(s, _)| s));
        let utime = self.start.elapsed().as_micros() as u64;
        let delta: Point<f64, Logical> = (dx, dy).into();
        ptr.relative_motion(self, under.clone(), &RelativeMotionEvent { delta, delta_unaccel: delta, utime });
        if !locked {
            let mut new = loc + delta;
            if let Some(rect) = shell::output_rect(self, output) {
                let r = rect.to_f64();
                new.x = new.x.clamp(r.loc.x, r.loc.x + r.size.w - 1.0);
                new.y = new.y.clamp(r.loc.y, r.loc.y + r.size.h - 1.0);
            }
            let new_under = shell::surface_under(self, new);
            let leaves = confined && new_under.as_ref().map(|(s, _)| s) != under.as_ref().map(|(s, _)| s);
            if !leaves {
                let serial = SERIAL_COUNTER.next_serial();
                let time = self.time_ms();
                ptr.motion(self, new_under.clone(), &MotionEvent { location: new, serial, time });
                self.maybe_activate_constraint(new_under.as_ref().map(|(s, _)| s));
            }
        }
        ptr.frame(self);
    }

    /// Releases every key and button the client holds (it left: nothing it held may leak into the next
    /// client's input).
    pub fn release_all_input(&mut self) {
        let mut keys: Vec<u32> = self.input.held.iter().copied().collect();
        keys.sort_unstable();
        let mut buttons: Vec<u32> = self.input.buttons.iter().copied().collect();
        buttons.sort_unstable();
        if !keys.is_empty() || !buttons.is_empty() {
            tracing::info!(?keys, ?buttons, "releasing what the departed client held");
        }
        for k in keys {
            self.key(k, false);
        }
        for b in buttons {
            self.button(b, false);
        }
    }

    /// Press or release a pointer button (Linux code). A press focuses the window under the pointer.
    pub fn button(&mut self, code: u32, pressed: bool) {
        let Some(ptr) = self.seat.get_pointer() else { return };
        if pressed {
            self.input.buttons.insert(code);
        } else {
            self.input.buttons.remove(&code);
        }
        if pressed {
            if let Some(w) = shell::window_under(self, ptr.current_location()) {
                shell::focus_window(self, &w);
            }
        }
        let serial = SERIAL_COUNTER.next_serial();
        let time = self.time_ms();
        let state = if pressed { ButtonState::Pressed } else { ButtonState::Released };
        ptr.button(self, &ButtonEvent { serial, time, button: code, state });
        ptr.frame(self);
    }

    /// Scroll by `v120` (120 = one wheel notch; Wayland sign: positive = down / right).
    pub fn scroll(&mut self, axis: Axis, v120: i32) {
        let Some(ptr) = self.seat.get_pointer() else { return };
        if v120 == 0 {
            return;
        }
        let time = self.time_ms();
        let frame =
            AxisFrame::new(time).source(AxisSource::Wheel).value(axis, f64::from(v120) * 15.0 / 120.0).v120(axis, v120);
        ptr.axis(self, frame);
        ptr.frame(self);
    }

    /// A touch contact; coordinates are normalised 0..1 across the output.
    pub fn touch(&mut self, output: OutputId, t: &TouchEvent) {
        let Some(touch) = self.seat.get_touch() else { return };
        let Some(rect) = shell::output_rect(self, output) else { return };
        if !(t.x.is_finite() && t.y.is_finite()) {
            debug!("touch with non-finite coordinates ignored");
            return;
        }
        let location = rect.loc.to_f64()
            + Point::from((
                f64::from(t.x.clamp(0.0, 1.0)) * f64::from(rect.size.w - 1),
                f64::from(t.y.clamp(0.0, 1.0)) * f64::from(rect.size.h - 1),
            ));
        let slot = Some(t.pointer_id).into();
        let serial = SERIAL_COUNTER.next_serial();
        let time = self.time_ms();
        match t.event {
            TouchEventType::Down => {
                let under = shell::surface_under(self, location);
                if let Some(w) = shell::window_under(self, location) {
                    shell::focus_window(self, &w);
                }
                touch.down(self, under, &DownEvent { slot, location, serial, time });
            }
            TouchEventType::Move => {
                let under = shell::surface_under(self, location);
                touch.motion(self, under, &TouchMotionEvent { slot, location, time });
            }
            TouchEventType::Up => touch.up(self, &UpEvent { slot, serial, time }),
            TouchEventType::Cancel | TouchEventType::CancelAll => touch.cancel(self),
            TouchEventType::Hover | TouchEventType::HoverLeave | TouchEventType::ButtonOnly => return,
        }
        touch.frame(self);
    }

    /// A pen sample through tablet-v2 (one virtual tablet and one tool per tool type).
    pub fn pen(&mut self, output: OutputId, p: &PenEvent) {
        let Some(rect) = shell::output_rect(self, output) else { return };
        if !(p.x.is_finite() && p.y.is_finite() && p.pressure_or_distance.is_finite()) {
            debug!("pen sample with non-finite values ignored");
            return;
        }
        let pos = rect.loc.to_f64()
            + Point::from((
                f64::from(p.x.clamp(0.0, 1.0)) * f64::from(rect.size.w - 1),
                f64::from(p.y.clamp(0.0, 1.0)) * f64::from(rect.size.h - 1),
            ));
        let dh = self.dh.clone();
        let tablet_seat = self.seat.tablet_seat();
        let desc = TabletDescriptor { name: "lumen virtual pen".into(), usb_id: None, syspath: None };
        let tablet = match tablet_seat.get_tablet(&desc) {
            Some(t) => t,
            None => tablet_seat.add_tablet::<State>(&dh, &desc),
        };
        let tool_desc = TabletToolDescriptor {
            tool_type: if p.tool == ToolType::Eraser { TabletToolType::Eraser } else { TabletToolType::Pen },
            hardware_serial: 1,
            hardware_id_wacom: 0,
            capabilities: TabletToolCapabilities::PRESSURE | TabletToolCapabilities::TILT,
        };
        let tool = match tablet_seat.get_tool(&tool_desc) {
            Some(t) => t,
            None => tablet_seat.add_tool::<State>(self, &dh, &tool_desc),
        };
        let under = shell::surface_under(self, pos);
        let serial = SERIAL_COUNTER.next_serial();
        let time = self.time_ms();
        match p.event {
            TouchEventType::HoverLeave | TouchEventType::Cancel | TouchEventType::CancelAll => {
                if self.input.pen_down {
                    tool.tip_up(time);
                    self.input.pen_down = false;
                }
                if self.input.pen_in {
                    tool.proximity_out(time);
                    self.input.pen_in = false;
                }
                return;
            }
            _ => {}
        }
        // Axis values first: motion and tip events close the tablet frame.
        if self.input.pen_down || p.event == TouchEventType::Down {
            tool.pressure(f64::from(p.pressure_or_distance.clamp(0.0, 1.0)));
        } else {
            tool.distance(f64::from(p.pressure_or_distance.clamp(0.0, 1.0)));
        }
        if let Some(t) = p.tilt {
            tool.tilt((0.0, f64::from(t)));
        }
        if !self.input.pen_in {
            let Some(focus) = under.clone() else { return };
            tool.proximity_in(pos, focus, &tablet, serial, time);
            self.input.pen_in = true;
        } else {
            tool.motion(pos, under, &tablet, serial, time);
        }
        match p.event {
            TouchEventType::Down if !self.input.pen_down => {
                tool.tip_down(serial, time);
                self.input.pen_down = true;
            }
            TouchEventType::Up if self.input.pen_down => {
                tool.tip_up(time);
                self.input.pen_down = false;
            }
            _ => {}
        }
    }
}
