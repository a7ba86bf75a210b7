//! One virtual Xbox One pad through `/dev/uinput` (the `evdev` crate), on a thread of its own: it writes
//! the events of each state it is sent ([`lumen_core::gamepad::xbox`]) and answers the kernel's
//! force-feedback requests (upload, erase, play, gain), turning them into motor levels
//! ([`lumen_core::gamepad::rumble`]) reported through `on_rumble` whenever they change.

use std::os::fd::AsFd;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use evdev::uinput::VirtualDevice;
use evdev::{
    AbsInfo, AbsoluteAxisCode, AttributeSet, EventSummary, EventType, FFEffectCode, FFEffectKind, InputEvent, InputId,
    KeyCode, UInputCode, UinputAbsSetup,
};
use lumen_core::gamepad::rumble::{Levels, Rumble, RumbleEffect, MAX_EFFECTS};
use lumen_core::gamepad::{xbox, PadEvent};
use lumen_core::input::GamepadState;
use rustix::event::{poll, PollFd, PollFlags, Timespec};

/// Xbox One controller (as Wolf announces it: SDL and Steam know this id).
const VENDOR: u16 = 0x045e;
const PRODUCT: u16 = 0x02ea;
const VERSION: u16 = 0x0408;

/// Creates the pad `name` (`lumen <session> pad <n>`; `phys` is not set yet, see below).
pub fn create(name: &str, phys: &str) -> std::io::Result<VirtualDevice> {
    let keys: AttributeSet<KeyCode> = xbox::KEYS.iter().map(|(_, code)| KeyCode(*code)).collect();
    let mut b = VirtualDevice::builder()?
        .name(name)
        .input_id(InputId::new(evdev::BusType::BUS_USB, VENDOR, PRODUCT, VERSION))
        .with_keys(&keys)?;
    // `phys` (`lumen/<session>/<n>`, for a udev rule that confines the session's pads) needs UI_SET_PHYS,
    // which the evdev crate's `with_phys` gets wrong (EINVAL under Debian's 6.1 kernel): the name carries
    // the session for now.
    let _ = phys;
    for (code, min, max, fuzz, flat) in xbox::AXES {
        let info = AbsInfo::new(0, min, max, fuzz, flat, 0);
        b = b.with_absolute_axis(&UinputAbsSetup::new(AbsoluteAxisCode(code), info))?;
    }
    let ff: AttributeSet<FFEffectCode> = [FFEffectCode::FF_RUMBLE, FFEffectCode::FF_GAIN].into_iter().collect();
    b.with_ff(&ff)?.with_ff_effects_max(MAX_EFFECTS as u32).build()
}

/// Runs the pad until `states` closes: writes the states it receives, answers force feedback.
pub fn run(
    mut dev: VirtualDevice,
    states: Receiver<super::PadInput>,
    wake: std::os::fd::OwnedFd,
    mut on_rumble: impl FnMut(Levels),
) {
    if let Err(e) = rustix::io::ioctl_fionbio(dev.as_fd(), true) {
        tracing::warn!(error = %e, "gamepad: the device cannot be non-blocking; force feedback is off");
    }
    let mut prev: Option<GamepadState> = None;
    let mut events: Vec<PadEvent> = Vec::with_capacity(32);
    let mut batch: Vec<InputEvent> = Vec::with_capacity(32);
    let mut rumble = Rumble::default();
    let mut sent: Levels = (0, 0);
    let mut ids: Vec<bool> = vec![false; MAX_EFFECTS];
    // The rumble tracker's clock: time since the pad was made.
    let epoch = Instant::now();
    loop {
        // Wait for a state (the wake fd), a force-feedback request, or the next change of an effect.
        let now = epoch.elapsed();
        let timeout = rumble.next_change(now).map(|t| t.saturating_sub(now));
        let ts = timeout.map(|d| Timespec { tv_sec: d.as_secs() as i64, tv_nsec: i64::from(d.subsec_nanos()) });
        let mut fds = [PollFd::new(&dev, PollFlags::IN), PollFd::new(&wake, PollFlags::IN)];
        let _ = poll(&mut fds, ts.as_ref());
        let mut drain = [0u8; 8];
        let _ = rustix::io::read(&wake, &mut drain);
        loop {
            match states.try_recv() {
                Ok(super::PadInput::State(s)) => {
                    events.clear();
                    xbox::events(prev.as_ref(), &s, &mut events);
                    prev = Some(s);
                    if events.is_empty() {
                        continue;
                    }
                    batch.clear();
                    // The crate's emit adds its own SYN_REPORT.
                    batch.extend(
                        events
                            .iter()
                            .filter(|e| e.kind != lumen_core::gamepad::codes::EV_SYN)
                            .map(|e| InputEvent::new(EventType(e.kind).0, e.code, e.value)),
                    );
                    if let Err(e) = dev.emit(&batch) {
                        tracing::warn!(error = %e, "gamepad: writing events failed");
                    }
                }
                // An Xbox pad has no touchpad, motion sensors or battery to report.
                Ok(_) => {}
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    if sent != (0, 0) {
                        on_rumble((0, 0));
                    }
                    return;
                }
            }
        }
        feedback(&mut dev, &mut rumble, &mut ids, epoch);
        let now = rumble.levels(epoch.elapsed());
        if now != sent {
            sent = now;
            on_rumble(now);
        }
    }
}

/// Answers what the kernel queued on the device: effect uploads and erasures, plays and stops, the gain.
fn feedback(dev: &mut VirtualDevice, rumble: &mut Rumble, ids: &mut [bool], epoch: Instant) {
    let events: Vec<InputEvent> = match dev.fetch_events() {
        Ok(it) => it.collect(),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
        Err(e) => {
            tracing::debug!(error = %e, "gamepad: reading force feedback");
            return;
        }
    };
    for ev in events {
        match ev.destructure() {
            EventSummary::UInput(up, UInputCode::UI_FF_UPLOAD, ..) => {
                let Ok(mut up) = dev.process_ff_upload(up) else { continue };
                let mut id = up.effect_id();
                if id < 0 || id as usize >= MAX_EFFECTS {
                    // A new effect: the first free slot.
                    id = ids.iter().position(|used| !used).map(|i| i as i16).unwrap_or(-1);
                }
                let effect = up.effect();
                let accepted = match (id, effect.kind) {
                    (i, FFEffectKind::Rumble { strong_magnitude, weak_magnitude }) if i >= 0 => {
                        ids[i as usize] = true;
                        rumble.upload(
                            i as usize,
                            RumbleEffect {
                                strong: strong_magnitude,
                                weak: weak_magnitude,
                                length: Duration::from_millis(u64::from(effect.replay.length)),
                                delay: Duration::from_millis(u64::from(effect.replay.delay)),
                            },
                        )
                    }
                    _ => false,
                };
                up.set_effect_id(id);
                up.set_retval(if accepted { 0 } else { -22 });
            }
            EventSummary::UInput(er, UInputCode::UI_FF_ERASE, ..) => {
                let Ok(mut er) = dev.process_ff_erase(er) else { continue };
                let id = er.effect_id() as usize;
                if id < MAX_EFFECTS {
                    ids[id] = false;
                    rumble.erase(id);
                }
                er.set_retval(0);
            }
            EventSummary::ForceFeedback(_, code, value) if code == FFEffectCode::FF_GAIN => {
                rumble.set_gain(value.clamp(0, 0xFFFF) as u16);
            }
            EventSummary::ForceFeedback(_, code, value) => {
                rumble.play(usize::from(code.0), value.max(0) as u32, epoch.elapsed());
            }
            _ => {}
        }
    }
}
