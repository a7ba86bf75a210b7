//! Virtual pads against a real kernel: `scripts/test.sh` runs this test binary in a VM with Debian's kernel
//! (`scripts/vm-run`, which has uinput) with `LUMEN_REQUIRE_UINPUT=1`. Two client controllers become two
//! pads; an evdev reader (what a game sees) gets the buttons and axes of a scripted sequence; a rumble effect
//! a game uploads and plays comes back as the motor levels sent to the client; a pad the client drops goes.
//! It also prints the input → evdev latency of a button press. On a kernel without uinput (this build
//! machine's) it checks that pads are off and say so.

use std::sync::{Arc, Mutex};
#[path = "support/pads.rs"]
mod pads;

use std::time::Instant;

use pads::{read_until, wait_for};

use evdev::{AbsoluteAxisCode, Device, EventSummary, FFEffectData, FFEffectKind, FFReplay, FFTrigger, KeyCode};
use lumen_compositor::gamepad::{PadChoice, Pads};
use lumen_core::gamepad::PadFeedback;
use lumen_core::input::{buttons, ControllerCaps, ControllerType, GamepadState, InputEvent};

fn arrival(controller: u8) -> InputEvent {
    InputEvent::ControllerArrival {
        controller,
        kind: ControllerType::Xbox,
        capabilities: ControllerCaps(0x01),
        supported_buttons: 0xffff,
    }
}

fn pad_devices(session: u64) -> Vec<(std::path::PathBuf, Device)> {
    let prefix = format!("lumen {session} pad ");
    let mut v: Vec<_> = evdev::enumerate().filter(|(_, d)| d.name().is_some_and(|n| n.starts_with(&prefix))).collect();
    v.sort_by_key(|(_, d)| d.name().map(str::to_owned));
    v
}

#[test]
fn pads_carry_the_clients_controllers_and_games_rumble() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let rumbles: Arc<Mutex<Vec<(u16, u16, u16)>>> = Arc::default();
    let r = rumbles.clone();
    let mut pads = Pads::new(
        7,
        PadChoice::Auto,
        Arc::new(move |f| {
            if let PadFeedback::Rumble { controller, low, high } = f {
                r.lock().unwrap().push((controller, low, high));
            }
        }),
    );
    if !std::path::Path::new("/dev/uinput").exists() {
        assert!(std::env::var_os("LUMEN_REQUIRE_UINPUT").is_none(), "LUMEN_REQUIRE_UINPUT but no /dev/uinput");
        assert!(!pads.enabled(), "pads on without uinput");
        pads.input(&arrival(0)); // ignored, no panic
        eprintln!("no /dev/uinput on this kernel: pads are off (the VM run tests them)");
        return;
    }
    assert!(pads.enabled());
    pads.input(&arrival(0));
    pads.input(&arrival(1));
    let devs = wait_for("two pads", || Some(pad_devices(7)).filter(|d| d.len() == 2));
    let (_, mut dev) = devs.into_iter().next().unwrap();
    assert_eq!(dev.name(), Some("lumen 7 pad 0"));
    assert_eq!(dev.input_id().vendor(), 0x045e);
    assert!(dev.supported_keys().unwrap().contains(KeyCode::BTN_SOUTH));
    assert!(dev.supported_absolute_axes().unwrap().contains(AbsoluteAxisCode::ABS_HAT0X));

    // A scripted sequence: A down with the left stick up-right and the right trigger half pressed, then A up.
    let base = GamepadState { controller: 0, active_mask: 0b11, ..Default::default() };
    let s1 = GamepadState {
        buttons: buttons::A | buttons::UP,
        left_stick_x: 20000,
        left_stick_y: 10000,
        right_trigger: 128,
        ..base
    };
    pads.input(&InputEvent::Gamepad(s1));
    read_until(&mut dev, |e| matches!(e, EventSummary::Key(_, KeyCode::BTN_SOUTH, 1)));
    let st = dev.get_abs_state().unwrap();
    assert_eq!(st[AbsoluteAxisCode::ABS_X.0 as usize].value, 20000);
    assert_eq!(st[AbsoluteAxisCode::ABS_Y.0 as usize].value, -10000, "Y points down on the pad");
    assert_eq!(st[AbsoluteAxisCode::ABS_RZ.0 as usize].value, 128);
    assert_eq!(st[AbsoluteAxisCode::ABS_HAT0Y.0 as usize].value, -1);
    pads.input(&InputEvent::Gamepad(GamepadState { buttons: 0, ..s1 }));
    read_until(&mut dev, |e| matches!(e, EventSummary::Key(_, KeyCode::BTN_SOUTH, 0)));

    // Input → evdev latency of a button press (printed for the closing note, not checked).
    let mut lat = Vec::new();
    for i in 0..200 {
        let t0 = Instant::now();
        let pressed = i % 2 == 0;
        pads.input(&InputEvent::Gamepad(GamepadState { buttons: if pressed { buttons::B } else { 0 }, ..base }));
        let t1 = read_until(
            &mut dev,
            |e| matches!(e, EventSummary::Key(_, KeyCode::BTN_EAST, v) if *v == i32::from(pressed)),
        );
        lat.push(t1 - t0);
    }
    lat.sort();
    eprintln!(
        "input -> evdev latency of a button press: p50 {:?}, p99 {:?} (200 presses)",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100]
    );

    // A game's rumble: upload an effect (strong 0xC000, weak 0x4000, 300 ms) and play it.
    let effect = FFEffectData {
        direction: 0,
        trigger: FFTrigger { button: 0, interval: 0 },
        replay: FFReplay { length: 300, delay: 0 },
        kind: FFEffectKind::Rumble { strong_magnitude: 0xC000, weak_magnitude: 0x4000 },
    };
    let mut ff = dev.upload_ff_effect(effect).expect("the pad takes a rumble effect");
    ff.play(1).unwrap();
    wait_for("the rumble to reach the client side", || {
        rumbles.lock().unwrap().contains(&(0, 0xC000, 0x4000)).then_some(())
    });
    wait_for("the rumble to stop after its length", || {
        rumbles.lock().unwrap().last().filter(|l| **l == (0, 0, 0)).map(|_| ())
    });
    drop(ff);

    // The client drops controller 1: its pad goes; clearing removes the rest.
    pads.input(&InputEvent::Gamepad(GamepadState { active_mask: 0b01, ..base }));
    wait_for("pad 1 to go", || Some(()).filter(|_| pad_devices(7).len() == 1));
    pads.clear();
    wait_for("every pad to go", || Some(()).filter(|_| pad_devices(7).is_empty()));
}
