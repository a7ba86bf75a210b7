//! One test per input packet type, built byte by byte from the client's layout (moonlight-common-c
//! `Input.h` / `InputStream.c`), plus encode/decode round trips and malformed-input checks.

use lumen_core::input::*;
use proptest::prelude::*;

/// `[size BE][magic LE][body]`, as the client frames every input packet.
fn pkt(magic: u32, body: &[u8]) -> Vec<u8> {
    let mut v = ((4 + body.len()) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(&magic.to_le_bytes());
    v.extend_from_slice(body);
    v
}

fn round_trip(ev: &InputEvent) {
    let mut buf = [0u8; 64];
    let n = encode_into(ev, &mut buf).unwrap();
    assert_eq!(n, encoded_len(ev));
    assert_eq!(&decode(&buf[..n]).unwrap(), ev);
}

#[test]
fn keyboard_down_with_marker_modifiers_and_flags() {
    // LiSendKeyboardEvent2(0x8041 'A', KEY_ACTION_DOWN, MODIFIER_SHIFT|CTRL, SS_KBE_FLAG_NON_NORMALIZED)
    let b = pkt(0x03, &[0x01, 0x41, 0x80, 0x03, 0, 0]);
    assert_eq!(b.len(), 14);
    let ev = decode(&b).unwrap();
    assert_eq!(
        ev,
        InputEvent::Key {
            action: KeyAction::Down,
            vk: 0x41,
            modifiers: Modifiers(Modifiers::SHIFT.0 | Modifiers::CTRL.0),
            flags: KeyFlags::NON_NORMALIZED
        }
    );
    let up = decode(&pkt(0x04, &[0, 0x5b, 0x00, 0x08, 0, 0])).unwrap();
    assert!(matches!(up, InputEvent::Key { action: KeyAction::Up, vk: 0x5b, .. }));
    round_trip(&ev);
}

#[test]
fn utf8_text() {
    let ev = decode(&pkt(0x17, "é".as_bytes())).unwrap();
    match &ev {
        InputEvent::Text(t) => assert_eq!(t.as_str(), "é"),
        other => panic!("{other:?}"),
    }
    round_trip(&ev);
    assert_eq!(decode(&pkt(0x17, &[0xff])), Err(InputError::BadUtf8));
    assert_eq!(decode(&pkt(0x17, &[])), Err(InputError::BadTextLength(0)));
    assert_eq!(decode(&pkt(0x17, &[b'a'; 33])), Err(InputError::BadTextLength(33)));
}

#[test]
fn mouse_relative_is_big_endian() {
    // LiSendMouseMoveEvent(-1, 300): deltaX/deltaY BE16, magic 0x07 (gen 5+).
    let ev = decode(&pkt(0x07, &[0xff, 0xff, 0x01, 0x2c])).unwrap();
    assert_eq!(ev, InputEvent::MouseMove { dx: -1, dy: 300 });
    round_trip(&ev);
}

#[test]
fn mouse_absolute_with_reference_plane() {
    // LiSendMousePositionEvent(640, 360, 1280, 720): x, y, unused, width-1, height-1, all BE16.
    let ev = decode(&pkt(0x05, &[0x02, 0x80, 0x01, 0x68, 0, 0, 0x04, 0xff, 0x02, 0xcf])).unwrap();
    assert_eq!(ev, InputEvent::MousePosition { x: 640, y: 360, ref_width: 1279, ref_height: 719 });
    let (x, y) = ev.scale_position(1920, 1080).unwrap();
    assert!((x - 640.0 / 1279.0 * 1919.0).abs() < 1e-9 && (y - 360.0 / 719.0 * 1079.0).abs() < 1e-9);
    let edge = InputEvent::MousePosition { x: 1279, y: 719, ref_width: 1279, ref_height: 719 };
    assert_eq!(edge.scale_position(1920, 1080), Some((1919.0, 1079.0)));
    let degenerate = InputEvent::MousePosition { x: 1, y: 1, ref_width: 0, ref_height: 5 };
    assert_eq!(degenerate.scale_position(10, 10), None);
    round_trip(&ev);
}

#[test]
fn mouse_buttons_one_to_five() {
    // BUTTON_ACTION_PRESS 0x07 + 1 = 0x08, RELEASE 0x08 + 1 = 0x09 on gen 5+.
    for (wire, b) in [
        (1, MouseButton::Left),
        (2, MouseButton::Middle),
        (3, MouseButton::Right),
        (4, MouseButton::X1),
        (5, MouseButton::X2),
    ] {
        assert_eq!(
            decode(&pkt(0x08, &[wire])).unwrap(),
            InputEvent::MouseButton { action: ButtonAction::Press, button: b }
        );
        let up = decode(&pkt(0x09, &[wire])).unwrap();
        assert_eq!(up, InputEvent::MouseButton { action: ButtonAction::Release, button: b });
        round_trip(&up);
    }
    assert!(matches!(decode(&pkt(0x08, &[6])), Err(InputError::BadField { field: "button", value: 6 })));
}

#[test]
fn vertical_and_horizontal_high_res_scroll() {
    // LiSendScrollEvent(-1) → LiSendHighResScrollEvent(-120): amt1 = amt2 = BE16, zero.
    let ev = decode(&pkt(0x0A, &[0xff, 0x88, 0xff, 0x88, 0, 0])).unwrap();
    assert_eq!(ev, InputEvent::Scroll { amount: -120 });
    round_trip(&ev);
    // LiSendHighResHScrollEvent(30): BE16, Sunshine magic.
    let h = decode(&pkt(0x5500_0001, &[0x00, 0x1e])).unwrap();
    assert_eq!(h, InputEvent::HScroll { amount: 30 });
    round_trip(&h);
}

fn f(v: f32) -> [u8; 4] {
    v.to_le_bytes()
}

#[test]
fn touch() {
    // eventType, zero, rotation LE16, pointerId LE32, x, y, pressure, major, minor as LE floats.
    let mut body = vec![0x01, 0, 0x5a, 0x00];
    body.extend_from_slice(&7u32.to_le_bytes());
    for v in [0.25f32, 0.75, 0.5, 0.01, 0.02] {
        body.extend_from_slice(&f(v));
    }
    let ev = decode(&pkt(0x5500_0002, &body)).unwrap();
    assert_eq!(
        ev,
        InputEvent::Touch(TouchEvent {
            event: TouchEventType::Down,
            pointer_id: 7,
            x: 0.25,
            y: 0.75,
            pressure_or_distance: 0.5,
            contact_area_major: 0.01,
            contact_area_minor: 0.02,
            rotation: Some(90),
        })
    );
    round_trip(&ev);
    body[2] = 0xff;
    body[3] = 0xff;
    assert!(matches!(decode(&pkt(0x5500_0002, &body)).unwrap(), InputEvent::Touch(TouchEvent { rotation: None, .. })));
    body[8..12].copy_from_slice(&f(f32::NAN));
    assert_eq!(decode(&pkt(0x5500_0002, &body)), Err(InputError::NonFinite("x")));
    body[0] = 8;
    assert!(matches!(decode(&pkt(0x5500_0002, &body)), Err(InputError::BadField { field: "eventType", .. })));
}

#[test]
fn pen() {
    // eventType, toolType, penButtons, zero, x, y, pressure, rotation LE16, tilt, zero, major, minor.
    let mut body = vec![0x03, 0x02, 0x01, 0];
    for v in [0.1f32, 0.2, 0.9] {
        body.extend_from_slice(&f(v));
    }
    body.extend_from_slice(&[0x2c, 0x01, 45, 0]);
    body.extend_from_slice(&f(0.0));
    body.extend_from_slice(&f(0.0));
    let ev = decode(&pkt(0x5500_0003, &body)).unwrap();
    assert_eq!(
        ev,
        InputEvent::Pen(PenEvent {
            event: TouchEventType::Move,
            tool: ToolType::Eraser,
            buttons: PenButtons::PRIMARY,
            x: 0.1,
            y: 0.2,
            pressure_or_distance: 0.9,
            rotation: Some(300),
            tilt: Some(45),
            contact_area_major: 0.0,
            contact_area_minor: 0.0,
        })
    );
    round_trip(&ev);
    body[1] = 3;
    assert!(matches!(decode(&pkt(0x5500_0003, &body)), Err(InputError::BadField { field: "toolType", .. })));
}

#[test]
fn multi_controller_gamepad() {
    // headerB 0x1A, controllerNumber, activeGamepadMask, midB 0x14, buttonFlags, LT, RT, LSX, LSY, RSX, RSY,
    // tailA 0x9C, buttonFlags2 (Sunshine: high 16 bits), tailB 0x55; all LE.
    let mut body = Vec::new();
    for v in [0x1Au16, 2, 0b101, 0x14, 0x1001] {
        body.extend_from_slice(&v.to_le_bytes());
    }
    body.extend_from_slice(&[200, 10]);
    for v in [-32768i16, 32767, 100, -100] {
        body.extend_from_slice(&v.to_le_bytes());
    }
    for v in [0x9Cu16, 0x0010, 0x55] {
        body.extend_from_slice(&v.to_le_bytes());
    }
    assert_eq!(body.len(), 26);
    let ev = decode(&pkt(0x0C, &body)).unwrap();
    assert_eq!(
        ev,
        InputEvent::Gamepad(GamepadState {
            controller: 2,
            active_mask: 0b101,
            buttons: buttons::A | buttons::UP | buttons::TOUCHPAD,
            left_trigger: 200,
            right_trigger: 10,
            left_stick_x: -32768,
            left_stick_y: 32767,
            right_stick_x: 100,
            right_stick_y: -100,
        })
    );
    let mut out = [0u8; 64];
    let n = encode_into(&ev, &mut out).unwrap();
    assert_eq!(&out[..n], &pkt(0x0C, &body)[..], "encoder writes the client's exact bytes");
    body[2] = 16;
    assert!(matches!(decode(&pkt(0x0C, &body)), Err(InputError::BadField { field: "controllerNumber", value: 16 })));
}

#[test]
fn controller_arrival() {
    let mut body = vec![3, 0x02];
    body.extend_from_slice(&(0x08u16 | 0x10 | 0x20).to_le_bytes());
    body.extend_from_slice(&0x0010_ffffu32.to_le_bytes());
    let ev = decode(&pkt(0x5500_0004, &body)).unwrap();
    assert_eq!(
        ev,
        InputEvent::ControllerArrival {
            controller: 3,
            kind: ControllerType::PlayStation,
            capabilities: ControllerCaps(0x38),
            supported_buttons: 0x0010_ffff,
        }
    );
    assert!(ControllerCaps(0x38).contains(ControllerCaps::GYRO));
    round_trip(&ev);
}

#[test]
fn controller_touch_motion_battery() {
    let mut body = vec![1, 0x01, 0, 0];
    body.extend_from_slice(&9u32.to_le_bytes());
    for v in [0.5f32, 0.5, 1.0] {
        body.extend_from_slice(&f(v));
    }
    let ev = decode(&pkt(0x5500_0005, &body)).unwrap();
    assert_eq!(
        ev,
        InputEvent::ControllerTouch {
            controller: 1,
            event: TouchEventType::Down,
            touchpad: 0,
            pointer_id: 9,
            x: 0.5,
            y: 0.5,
            pressure: 1.0
        }
    );
    round_trip(&ev);

    let mut body = vec![0, 0x02, 0, 0];
    for v in [1.0f32, -2.0, 9.81] {
        body.extend_from_slice(&f(v));
    }
    let ev = decode(&pkt(0x5500_0006, &body)).unwrap();
    assert_eq!(ev, InputEvent::ControllerMotion { controller: 0, motion: MotionType::Gyro, x: 1.0, y: -2.0, z: 9.81 });
    round_trip(&ev);
    body[1] = 0;
    assert!(matches!(decode(&pkt(0x5500_0006, &body)), Err(InputError::BadField { field: "motionType", .. })));

    let ev = decode(&pkt(0x5500_0007, &[15, 0x03, 80, 0])).unwrap();
    assert_eq!(
        ev,
        InputEvent::ControllerBattery { controller: 15, state: BatteryState::Charging, percentage: Some(80) }
    );
    round_trip(&ev);
    let unknown = decode(&pkt(0x5500_0007, &[0, 0, 0xff, 0])).unwrap();
    assert_eq!(
        unknown,
        InputEvent::ControllerBattery { controller: 0, state: BatteryState::Unknown, percentage: None }
    );
    assert!(decode(&pkt(0x5500_0007, &[0, 6, 0, 0])).is_err());
    assert!(decode(&pkt(0x5500_0007, &[0, 1, 101, 0])).is_err());
}

#[test]
fn haptics_enable_sent_at_start() {
    assert_eq!(decode(&pkt(0x0D, &[1, 0])).unwrap(), InputEvent::HapticsEnable { enabled: true });
    round_trip(&InputEvent::HapticsEnable { enabled: false });
}

#[test]
fn framing_errors() {
    assert!(matches!(decode(&[0, 0, 0]), Err(InputError::Truncated { need: 8, have: 3 })));
    let mut b = pkt(0x07, &[0, 1, 0, 2]);
    b[3] += 1;
    assert!(matches!(decode(&b), Err(InputError::LengthMismatch { .. })));
    assert!(matches!(decode(&pkt(0x07, &[0, 1])), Err(InputError::Truncated { .. })));
    assert_eq!(decode(&pkt(0x99, &[])), Err(InputError::UnknownMagic(0x99)));
    let ev = InputEvent::MouseMove { dx: 1, dy: 1 };
    assert!(matches!(encode_into(&ev, &mut [0u8; 11]), Err(InputError::BufferTooSmall { need: 12, have: 11 })));
}

fn arb_event() -> impl Strategy<Value = InputEvent> {
    let finite = -1.0e6f32..1.0e6f32;
    prop_oneof![
        (any::<bool>(), 0u16..0x8000, any::<u8>(), any::<u8>()).prop_map(|(d, vk, m, fl)| InputEvent::Key {
            action: if d { KeyAction::Down } else { KeyAction::Up },
            vk,
            modifiers: Modifiers(m),
            flags: KeyFlags(fl)
        }),
        "\\PC{1,8}".prop_filter_map("fits", |s: String| Utf8Text::new(&s).map(InputEvent::Text)),
        (any::<i16>(), any::<i16>()).prop_map(|(dx, dy)| InputEvent::MouseMove { dx, dy }),
        (any::<i16>(), any::<i16>(), any::<i16>(), any::<i16>())
            .prop_map(|(x, y, ref_width, ref_height)| InputEvent::MousePosition { x, y, ref_width, ref_height }),
        any::<i16>().prop_map(|amount| InputEvent::Scroll { amount }),
        any::<i16>().prop_map(|amount| InputEvent::HScroll { amount }),
        (0u8..16, any::<u16>(), any::<u32>(), any::<u8>(), any::<u8>(), any::<[i16; 4]>()).prop_map(
            |(c, m, b, l, r, s)| {
                InputEvent::Gamepad(GamepadState {
                    controller: c,
                    active_mask: m,
                    buttons: b,
                    left_trigger: l,
                    right_trigger: r,
                    left_stick_x: s[0],
                    left_stick_y: s[1],
                    right_stick_x: s[2],
                    right_stick_y: s[3],
                })
            }
        ),
        (0u8..16, 0u8..8, any::<u8>(), any::<u32>(), finite.clone(), finite.clone(), finite).prop_map(
            |(controller, e, touchpad, pointer_id, x, y, pressure)| InputEvent::ControllerTouch {
                controller,
                event: TouchEventType::from_wire(e).unwrap(),
                touchpad,
                pointer_id,
                x,
                y,
                pressure
            }
        ),
    ]
}

proptest! {
    #[test]
    fn encode_decode_round_trip(ev in arb_event()) {
        let mut buf = [0u8; 64];
        let n = encode_into(&ev, &mut buf).unwrap();
        prop_assert_eq!(decode(&buf[..n]).unwrap(), ev);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode(&bytes);
    }
}
