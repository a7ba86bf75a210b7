//! One virtual DualSense through uhid ([`super::uhid`]), on a thread of its own: the kernel's
//! `hid-playstation` binds to it and makes the pad's event node, its motion-sensor and touchpad nodes, the
//! light bar and player LEDs and a hidraw node. The thread answers the driver's feature-report requests,
//! sends an input report ([`lumen_core::gamepad::dualsense::report`]) whenever the client's data changes, and
//! turns output reports (rumble, light bar, trigger effects) into feedback for the client, dropping values
//! equal to the last one sent.

use std::os::fd::OwnedFd;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;

use lumen_core::gamepad::dualsense::{device, output, DualSenseState};
use lumen_core::gamepad::PadFeedback;
use lumen_core::input::ControllerCaps;
use rustix::event::{poll, PollFd, PollFlags};

use super::uhid::{self, Device, Identity, Request};
use super::PadInput;

/// `EIO`: the answer to a feature report a DualSense does not have.
const EIO: u16 = 5;
/// Motion reports asked of the client per second (as a DualSense samples over Bluetooth, and Sunshine asks).
const MOTION_RATE_HZ: u16 = 100;

/// Creates the pad `name` for controller `slot` of the session (`phys` `lumen/<session>/<slot>`).
pub fn create(name: &str, phys: &str, slot: u8) -> std::io::Result<(Device, [u8; 6])> {
    let mac = device::mac_address(std::process::id(), slot);
    let uniq = mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
    let who = Identity {
        name,
        phys,
        uniq: &uniq,
        bus: uhid::BUS_USB,
        vendor: device::VENDOR,
        product: device::PRODUCT,
        version: device::VERSION,
    };
    Ok((Device::create(&who, device::REPORT_DESCRIPTOR)?, mac))
}

/// Runs the pad until `inputs` closes.
pub fn run(
    mut dev: Device,
    mac: [u8; 6],
    controller: u16,
    caps: ControllerCaps,
    inputs: Receiver<PadInput>,
    wake: OwnedFd,
    mut on_feedback: impl FnMut(PadFeedback),
) {
    let motion = [(ControllerCaps::ACCEL, 1u8), (ControllerCaps::GYRO, 2u8)];
    for (cap, sensor) in motion {
        if caps.contains(cap) {
            on_feedback(PadFeedback::Motion { controller, rate_hz: MOTION_RATE_HZ, sensor });
        }
    }
    let mut state = DualSenseState::new();
    let mut report = [0u8; device::INPUT_REPORT_LEN];
    let mut buf = Box::new([0u8; uhid::EVENT_LEN]);
    let mut last = Sent::default();
    let epoch = Instant::now();
    let mut started = false;
    loop {
        let mut fds = [PollFd::new(&dev, PollFlags::IN), PollFd::new(&wake, PollFlags::IN)];
        let _ = poll(&mut fds, None);
        let mut drain = [0u8; 8];
        let _ = rustix::io::read(&wake, &mut drain);
        let mut changed = false;
        loop {
            match inputs.try_recv() {
                Ok(i) => {
                    changed = true;
                    match i {
                        PadInput::State(s) => state.set_pad(s),
                        PadInput::Touch { event, pointer, x, y } => state.touch(event, pointer, x, y),
                        PadInput::Motion { sensor, x, y, z } => state.motion(sensor, x, y, z),
                        PadInput::Battery { state: b, percent } => state.battery(b, percent),
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    if last.rumble.is_some_and(|r| r != (0, 0)) {
                        on_feedback(PadFeedback::Rumble { controller, low: 0, high: 0 });
                    }
                    for (cap, sensor) in motion {
                        if caps.contains(cap) {
                            on_feedback(PadFeedback::Motion { controller, rate_hz: 0, sensor });
                        }
                    }
                    return;
                }
            }
        }
        loop {
            let req = match dev.read(&mut buf) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(controller, error = %e, "gamepad: reading the DualSense's uhid device");
                    break;
                }
            };
            let reply = match req {
                Request::Start => {
                    started = true;
                    changed = true;
                    Ok(())
                }
                Request::Open => {
                    changed = true;
                    Ok(())
                }
                Request::Stop => {
                    started = false;
                    Ok(())
                }
                Request::Output(r) => {
                    output::feedback(controller, r, |f| {
                        if last.is_new(&f) {
                            on_feedback(f);
                        }
                    });
                    Ok(())
                }
                Request::GetReport { id, report } => match device::feature_report(report, mac) {
                    Some(data) => dev.reply_get_report(id, Ok(&data)),
                    None => dev.reply_get_report(id, Err(EIO)),
                },
                Request::SetReport { id, .. } => dev.reply_set_report(id, 0),
                Request::Close | Request::Other(_) => Ok(()),
            };
            if let Err(e) = reply {
                tracing::warn!(controller, error = %e, "gamepad: answering the DualSense's driver");
            }
        }
        if changed && started {
            let us = epoch.elapsed().as_micros() as u64;
            state.write_report(us, &mut report);
            if let Err(e) = dev.input(&report) {
                tracing::warn!(controller, error = %e, "gamepad: writing the DualSense's input report");
            }
        }
    }
}

/// The last feedback of each kind sent to the client (the client wants states, not repeats).
#[derive(Default)]
struct Sent {
    rumble: Option<(u16, u16)>,
    led: Option<(u8, u8, u8)>,
    triggers: Option<PadFeedback>,
}

impl Sent {
    fn is_new(&mut self, f: &PadFeedback) -> bool {
        fn swap<T: PartialEq>(slot: &mut Option<T>, v: T) -> bool {
            let new = slot.as_ref() != Some(&v);
            *slot = Some(v);
            new
        }
        match *f {
            PadFeedback::Rumble { low, high, .. } => swap(&mut self.rumble, (low, high)),
            PadFeedback::Led { r, g, b, .. } => swap(&mut self.led, (r, g, b)),
            PadFeedback::Triggers { .. } => swap(&mut self.triggers, *f),
            PadFeedback::Motion { .. } => true,
        }
    }
}
