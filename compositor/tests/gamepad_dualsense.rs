//! A virtual DualSense against a real kernel: `scripts/vm-tests.sh` runs this test binary in a VM with
//! Debian's kernel and `hid-playstation` loaded (`LUMEN_REQUIRE_UHID=1`). A PlayStation controller with
//! touchpad, motion sensors and an RGB LED becomes a DualSense the driver binds to: the pad, its motion
//! sensors and its touchpad appear as event nodes; a button press, a motion sample, a touch and the battery
//! reach them; the driver's light bar, a game's `FF_RUMBLE` and a hidraw trigger-effect report come back as
//! feedback for the client; motion reports are asked for on arrival and stopped on removal. On a kernel
//! without uhid (this build machine's) it checks that nothing breaks.

use std::sync::{Arc, Mutex};
#[path = "support/pads.rs"]
mod pads;

use pads::{read_until, wait_for};

use evdev::{AbsoluteAxisCode, Device, EventSummary, FFEffectData, FFEffectKind, FFReplay, FFTrigger, KeyCode};
use lumen_compositor::gamepad::{PadChoice, Pads};
use lumen_core::gamepad::PadFeedback;
use lumen_core::input::{
    buttons, BatteryState, ControllerCaps as C, ControllerType, GamepadState, InputEvent, MotionType, TouchEventType,
};

const SESSION: u64 = 9;

fn nodes(prefix: &str) -> Vec<(String, Device)> {
    let mut v: Vec<_> = evdev::enumerate()
        .filter_map(|(_, d)| d.name().filter(|n| n.starts_with(prefix)).map(str::to_owned).map(|n| (n, d)))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn abs(dev: &Device, axis: AbsoluteAxisCode) -> i32 {
    dev.get_abs_state().expect("axis state")[axis.0 as usize].value
}

/// The sysfs directory (`/sys/class/<class>/<entry>`) whose file `file` mentions `needle`.
fn sysfs_entry(class: &str, file: &str, needle: &str) -> Option<std::path::PathBuf> {
    std::fs::read_dir(format!("/sys/class/{class}"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| std::fs::read_to_string(p.join(file)).is_ok_and(|s| s.contains(needle)))
}

#[test]
fn a_playstation_controller_becomes_a_dualsense_with_feedback() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let feedback: Arc<Mutex<Vec<PadFeedback>>> = Arc::default();
    let f = feedback.clone();
    let mut pads = Pads::new(SESSION, PadChoice::Auto, Arc::new(move |x| f.lock().unwrap().push(x)));
    let arrival = InputEvent::ControllerArrival {
        controller: 0,
        kind: ControllerType::PlayStation,
        capabilities: C(C::ANALOG_TRIGGERS.0 | C::RUMBLE.0 | C::TOUCHPAD.0 | C::ACCEL.0 | C::GYRO.0 | C::RGB_LED.0),
        supported_buttons: 0x3f_ffff,
    };
    if !std::path::Path::new("/dev/uhid").exists() {
        assert!(std::env::var_os("LUMEN_REQUIRE_UHID").is_none(), "LUMEN_REQUIRE_UHID but no /dev/uhid");
        pads.input(&arrival); // a pad of another kind, or none: no panic
        eprintln!("no /dev/uhid on this kernel (the VM run tests DualSense pads)");
        return;
    }
    let got = |want: PadFeedback| {
        let fb = feedback.clone();
        wait_for(&format!("{want:?}"), move || fb.lock().unwrap().contains(&want).then_some(()))
    };
    pads.input(&arrival);
    // hid-playstation binds: the pad, its motion sensors and its touchpad.
    let prefix = format!("lumen {SESSION} pad 0");
    let found = wait_for("the DualSense's three nodes", || Some(nodes(&prefix)).filter(|n| n.len() == 3));
    let mut it = found.into_iter();
    let (name, mut pad) = it.next().unwrap();
    let (motion_name, mut motion) = it.next().unwrap();
    let (touch_name, mut touch) = it.next().unwrap();
    assert_eq!((name.as_str(), pad.input_id().vendor(), pad.input_id().product()), (prefix.as_str(), 0x054c, 0x0ce6));
    assert_eq!(motion_name, format!("{prefix} Motion Sensors"));
    assert_eq!(touch_name, format!("{prefix} Touchpad"));
    // Motion reports are asked of the client; the driver's light bar at probe reaches it.
    got(PadFeedback::Motion { controller: 0, rate_hz: 100, sensor: 1 });
    got(PadFeedback::Motion { controller: 0, rate_hz: 100, sensor: 2 });
    got(PadFeedback::Led { controller: 0, r: 0, g: 0, b: 128 });

    // Cross (A) with the left stick right and L2 half way.
    let s = GamepadState {
        controller: 0,
        active_mask: 1,
        buttons: buttons::A | buttons::LEFT,
        left_trigger: 128,
        left_stick_x: 32767,
        ..Default::default()
    };
    pads.input(&InputEvent::Gamepad(s));
    read_until(&mut pad, |e| matches!(e, EventSummary::Key(_, KeyCode::BTN_SOUTH, 1)));
    assert_eq!(abs(&pad, AbsoluteAxisCode::ABS_X), 255);
    assert_eq!(abs(&pad, AbsoluteAxisCode::ABS_Z), 128);
    assert_eq!(abs(&pad, AbsoluteAxisCode::ABS_HAT0X), -1);

    // Motion: 1 g up Y, 10 deg/s about X (the driver reports 1/8192 g and 1/1024 deg/s).
    pads.input(&InputEvent::ControllerMotion { controller: 0, motion: MotionType::Accel, x: 0.0, y: 9.80665, z: 0.0 });
    pads.input(&InputEvent::ControllerMotion { controller: 0, motion: MotionType::Gyro, x: 10.0, y: 0.0, z: 0.0 });
    read_until(&mut motion, |e| matches!(e, EventSummary::AbsoluteAxis(_, AbsoluteAxisCode::ABS_RX, 10240)));
    assert_eq!(abs(&motion, AbsoluteAxisCode::ABS_Y), 8192);

    // A finger in the middle of the touchpad.
    pads.input(&InputEvent::ControllerTouch {
        controller: 0,
        event: TouchEventType::Down,
        touchpad: 0,
        pointer_id: 5,
        x: 0.5,
        y: 0.5,
        pressure: 1.0,
    });
    read_until(&mut touch, |e| matches!(e, EventSummary::Key(_, KeyCode::BTN_TOUCH, 1)));
    assert_eq!(abs(&touch, AbsoluteAxisCode::ABS_X), 960);
    assert_eq!(abs(&touch, AbsoluteAxisCode::ABS_Y), 540);

    // The battery: charging at 57 % (the driver reports tens + 5).
    pads.input(&InputEvent::ControllerBattery { controller: 0, state: BatteryState::Charging, percentage: Some(57) });
    let battery = wait_for("the pad's battery", || sysfs_entry("power_supply", "uevent", "ps-controller-battery"));
    wait_for("the battery level", || {
        std::fs::read_to_string(battery.join("capacity")).ok().filter(|c| c.trim() == "55")
    });

    // A game's rumble on the pad's node (strong 0xC000, weak 0x4000): the driver scales to 0..255.
    let effect = FFEffectData {
        direction: 0,
        trigger: FFTrigger { button: 0, interval: 0 },
        replay: FFReplay { length: 500, delay: 0 },
        kind: FFEffectKind::Rumble { strong_magnitude: 0xC000, weak_magnitude: 0x4000 },
    };
    let mut ff = pad.upload_ff_effect(effect).expect("the pad takes a rumble effect");
    ff.play(1).unwrap();
    got(PadFeedback::Rumble { controller: 0, low: 0xC0C0, high: 0x4040 });
    drop(ff);

    // The light bar through the LED class, as a desktop would set it.
    let input_dir =
        wait_for("the pad's input device in sysfs", || sysfs_entry("input", "name", &format!("{prefix}\n")));
    let input = input_dir.file_name().unwrap().to_string_lossy().into_owned();
    let led = std::path::PathBuf::from(format!("/sys/class/leds/{input}:rgb:indicator"));
    std::fs::write(led.join("multi_intensity"), "255 64 0").expect("setting the light bar colour");
    std::fs::write(led.join("brightness"), "255").expect("setting the light bar brightness");
    got(PadFeedback::Led { controller: 0, r: 255, g: 64, b: 0 });

    // A trigger effect written through hidraw (as SDL does): report 0x02 with both trigger flags.
    let hidraw =
        wait_for("the pad's hidraw node", || sysfs_entry("hidraw", "device/uevent", &format!("HID_NAME={prefix}\n")));
    let mut report = [0u8; 63];
    report[0] = 0x02;
    report[1] = 0x0C;
    report[11] = 0x26;
    report[12..22].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    report[22] = 0x21;
    report[23] = 0x7F;
    let node = format!("/dev/{}", hidraw.file_name().unwrap().to_string_lossy());
    std::fs::write(&node, report).expect("writing the hidraw report");
    let mut left = [0u8; 10];
    left[0] = 0x7F;
    got(PadFeedback::Triggers {
        controller: 0,
        flags: 0x0C,
        type_left: 0x21,
        type_right: 0x26,
        left,
        right: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    });

    // The client drops the controller: the nodes go, motion reports stop.
    pads.input(&InputEvent::Gamepad(GamepadState { active_mask: 0, ..s }));
    wait_for("the DualSense to go", || Some(()).filter(|_| nodes(&prefix).is_empty()));
    got(PadFeedback::Motion { controller: 0, rate_hz: 0, sensor: 1 });
    got(PadFeedback::Motion { controller: 0, rate_hz: 0, sensor: 2 });
}
