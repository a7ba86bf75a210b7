//! Input from the host desktop (winit events on the nested window) into the seat, through the same calls
//! the injected input uses: keys (xkb keycode − 8 = evdev), absolute pointer in window pixels = output
//! pixels, buttons (Linux codes; a press focuses the window under the pointer) and wheel (v120), touch.

use lumen_core::input::{TouchEvent, TouchEventType};
use smithay::backend::input::{
    AbsolutePositionEvent, Axis, ButtonState, InputEvent, KeyState, KeyboardKeyEvent, PointerAxisEvent,
    PointerButtonEvent, TouchEvent as _,
};
use smithay::backend::winit::WinitInput;
use tracing::trace;

use crate::state::State;
use lumen_render::OutputId;

/// Pixels per wheel notch when the host reports only a continuous amount.
const PIXELS_PER_NOTCH: f64 = 15.0;

pub fn handle(state: &mut State, output: OutputId, event: InputEvent<WinitInput>) {
    let Some((w, h)) = state.outputs.get(&output).map(|o| (o.mode.width as i32, o.mode.height as i32)) else {
        return;
    };
    match event {
        InputEvent::Keyboard { event } => {
            let xkb = event.key_code().raw();
            if xkb < 8 {
                trace!(xkb, "keycode below the evdev range: dropped");
                return;
            }
            state.key(xkb - 8, event.state() == KeyState::Pressed);
        }
        InputEvent::PointerMotionAbsolute { event } => {
            state.pointer_absolute(output, event.x_transformed(w), event.y_transformed(h));
        }
        InputEvent::PointerButton { event } => {
            state.button(event.button_code(), event.state() == ButtonState::Pressed);
        }
        InputEvent::PointerAxis { event } => {
            for axis in [Axis::Vertical, Axis::Horizontal] {
                let v120 = event
                    .amount_v120(axis)
                    .or_else(|| event.amount(axis).map(|px| px * 120.0 / PIXELS_PER_NOTCH))
                    .unwrap_or(0.0);
                state.scroll(axis, v120.round() as i32);
            }
        }
        InputEvent::TouchDown { event } => touch(state, output, TouchEventType::Down, event.slot(), &event, w, h),
        InputEvent::TouchMotion { event } => touch(state, output, TouchEventType::Move, event.slot(), &event, w, h),
        InputEvent::TouchUp { event } => {
            let t = touch_event(TouchEventType::Up, event.slot(), 0.0, 0.0);
            state.touch(output, &t);
        }
        InputEvent::TouchCancel { event } => {
            let t = touch_event(TouchEventType::Cancel, event.slot(), 0.0, 0.0);
            state.touch(output, &t);
        }
        other => trace!(?other, "nested window event not routed to the seat"),
    }
}

fn touch(
    state: &mut State,
    output: OutputId,
    phase: TouchEventType,
    slot: smithay::backend::input::TouchSlot,
    pos: &impl AbsolutePositionEvent<WinitInput>,
    w: i32,
    h: i32,
) {
    let x = (pos.x_transformed(w) / f64::from(w.max(1))) as f32;
    let y = (pos.y_transformed(h) / f64::from(h.max(1))) as f32;
    let t = touch_event(phase, slot, x, y);
    state.touch(output, &t);
}

fn touch_event(event: TouchEventType, slot: smithay::backend::input::TouchSlot, x: f32, y: f32) -> TouchEvent {
    let id: i32 = slot.into();
    TouchEvent {
        event,
        pointer_id: id.max(0) as u32,
        x,
        y,
        pressure_or_distance: 0.0,
        contact_area_major: 0.0,
        contact_area_minor: 0.0,
        rotation: None,
    }
}
