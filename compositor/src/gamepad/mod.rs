//! The session's gamepads: one virtual pad per controller the client connects, created when the controller
//! arrives or first reports, removed when the client's active mask drops it or the client leaves. A
//! controller that reports PlayStation type, a touchpad, motion sensors or an RGB LED becomes a DualSense
//! through uhid ([`dualsense`], [`uhid`]), any other an Xbox One pad through uinput ([`uinput`]); `--gamepad`
//! overrides the choice. Each pad runs on a thread of its own; feedback from games (rumble, light bar,
//! motion reports on/off, trigger effects) comes back through `on_feedback`. Where the kernel has neither
//! uinput nor uhid (this build machine's has none) the session logs once why pads are off and everything
//! else goes on.

pub mod confine;
pub mod dualsense;
pub mod uhid;
pub mod uinput;
mod unshare;

use std::os::fd::OwnedFd;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use lumen_core::gamepad::{PadFeedback, PadKind};
use lumen_core::input::{
    BatteryState, ControllerCaps, ControllerType, GamepadState, InputEvent, MotionType, TouchEventType,
};
use rustix::event::{eventfd, EventfdFlags};

/// Controller slots a client may use.
pub const SLOTS: usize = 16;
/// Inputs queued per pad before the newest is dropped (a pad thread that cannot keep up).
const QUEUE: usize = 64;
/// Where uinput lives.
const UINPUT: &str = "/dev/uinput";

/// Feedback from a game for a controller of the client.
pub type OnFeedback = Arc<dyn Fn(PadFeedback) + Send + Sync>;

/// `--gamepad`: which virtual pad a client controller becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PadChoice {
    /// By what the client reports (type and capabilities).
    #[default]
    Auto,
    /// Always an Xbox One pad (uinput).
    Xbox,
    /// Always a DualSense (uhid).
    Dualsense,
}

impl PadChoice {
    /// The command-line value.
    pub fn name(self) -> &'static str {
        match self {
            PadChoice::Auto => "auto",
            PadChoice::Xbox => "xbox",
            PadChoice::Dualsense => "dualsense",
        }
    }

    fn kind(self, arrival: Option<(ControllerType, ControllerCaps)>) -> PadKind {
        match self {
            PadChoice::Auto => PadKind::for_controller(arrival),
            PadChoice::Xbox => PadKind::Xbox,
            PadChoice::Dualsense => PadKind::DualSense,
        }
    }
}

/// What a pad's thread is sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PadInput {
    /// Buttons, sticks, triggers.
    State(GamepadState),
    /// A touchpad contact (DualSense only).
    Touch {
        /// Phase.
        event: TouchEventType,
        /// The client's finger id.
        pointer: u32,
        /// 0..=1 across.
        x: f32,
        /// 0..=1 down.
        y: f32,
    },
    /// A motion sample (DualSense only).
    Motion {
        /// Which sensor.
        sensor: MotionType,
        /// X.
        x: f32,
        /// Y.
        y: f32,
        /// Z.
        z: f32,
    },
    /// The battery (DualSense only).
    Battery {
        /// Charging state.
        state: BatteryState,
        /// Charge in percent.
        percent: Option<u8>,
    },
}

struct Pad {
    tx: Option<SyncSender<PadInput>>,
    wake: OwnedFd,
    thread: Option<JoinHandle<()>>,
    /// The pad's nodes shown to the session's apps (a thread waits for the driver to make them).
    exposed: Option<JoinHandle<confine::Exposed>>,
}

impl Pad {
    fn send(&self, controller: usize, i: PadInput) {
        if let Some(tx) = &self.tx {
            if let Err(TrySendError::Full(_)) = tx.try_send(i) {
                tracing::warn!(controller, "gamepad: the pad is behind; an input was dropped");
            }
        }
        let _ = rustix::io::write(&self.wake, &1u64.to_ne_bytes());
    }
}

impl Drop for Pad {
    fn drop(&mut self) {
        self.tx = None;
        let _ = rustix::io::write(&self.wake, &1u64.to_ne_bytes());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(t) = self.exposed.take() {
            drop(t.join());
        }
    }
}

/// Whether this process can make virtual pads at all (uinput or uhid can be opened).
pub fn possible() -> bool {
    let usable = |path: &str| std::fs::OpenOptions::new().read(true).write(true).open(path).is_ok();
    usable(UINPUT) || usable(uhid::UHID)
}

/// What the kernel offers for virtual pads.
#[derive(Debug, Clone, Copy)]
struct Backends {
    uinput: bool,
    uhid: bool,
}

/// The session's pads.
pub struct Pads {
    session: u64,
    choice: PadChoice,
    /// `None`: pads are off (the reason was logged).
    backends: Option<Backends>,
    pads: Vec<Option<Pad>>,
    /// What each slot's controller said on arrival.
    arrivals: [Option<(ControllerType, ControllerCaps)>; SLOTS],
    on_feedback: OnFeedback,
}

impl Pads {
    /// Pads for `session`; checks that uinput and uhid can be used (and logs why not).
    pub fn new(session: u64, choice: PadChoice, on_feedback: OnFeedback) -> Self {
        let usable = |path: &str| std::fs::OpenOptions::new().read(true).write(true).open(path);
        let (ui, uh) = (usable(UINPUT), usable(uhid::UHID));
        let backends = match (&ui, &uh) {
            (Err(e), Err(h)) => {
                tracing::warn!(session, error = %e, uhid_error = %h,
                    "gamepads are off for this session: virtual pads need uinput (a kernel with \
                     CONFIG_INPUT_UINPUT, and access to {UINPUT}) or uhid ({}); keyboard, mouse, touch and pen work",
                    uhid::UHID);
                None
            }
            _ => {
                if let Err(e) = &uh {
                    tracing::info!(session, error = %e, "gamepads: no uhid, so DualSense pads become Xbox pads");
                }
                if let Err(e) = &ui {
                    tracing::info!(session, error = %e, "gamepads: no uinput, so Xbox pads become DualSense pads");
                }
                if confine::isolated() {
                    tracing::info!(session, "gamepads: each pad is visible only to this session's apps");
                } else {
                    tracing::warn!(
                        session,
                        "gamepads: this session's pads are visible to every app of its user \
                        (the session has no /dev/input of its own; see the worker's start)"
                    );
                }
                Some(Backends { uinput: ui.is_ok(), uhid: uh.is_ok() })
            }
        };
        Self {
            session,
            choice,
            backends,
            pads: (0..SLOTS).map(|_| None).collect(),
            arrivals: [None; SLOTS],
            on_feedback,
        }
    }

    /// Whether virtual pads can be made.
    pub fn enabled(&self) -> bool {
        self.backends.is_some()
    }

    /// Takes a controller event of the client (others are ignored).
    pub fn input(&mut self, ev: &InputEvent) {
        if self.backends.is_none() {
            return;
        }
        match *ev {
            InputEvent::ControllerArrival { controller, kind, capabilities, .. } => {
                let i = usize::from(controller);
                if i < SLOTS {
                    self.arrivals[i] = Some((kind, capabilities));
                    self.ensure(i);
                }
            }
            InputEvent::Gamepad(s) => {
                for i in 0..SLOTS {
                    if s.active_mask & (1 << i) == 0 && self.pads[i].is_some() {
                        tracing::info!(session = self.session, controller = i, "gamepad removed");
                        self.pads[i] = None;
                        self.arrivals[i] = None;
                    }
                }
                if s.active_mask & (1 << s.controller) != 0 {
                    self.send(usize::from(s.controller), PadInput::State(s));
                }
            }
            InputEvent::ControllerTouch { controller, event, pointer_id, x, y, .. } => {
                self.send(usize::from(controller), PadInput::Touch { event, pointer: pointer_id, x, y });
            }
            InputEvent::ControllerMotion { controller, motion, x, y, z } => {
                self.send(usize::from(controller), PadInput::Motion { sensor: motion, x, y, z });
            }
            InputEvent::ControllerBattery { controller, state, percentage } => {
                self.send(usize::from(controller), PadInput::Battery { state, percent: percentage });
            }
            _ => {}
        }
    }

    /// Removes every pad (the client left).
    pub fn clear(&mut self) {
        for (i, slot) in self.pads.iter_mut().enumerate() {
            if slot.take().is_some() {
                tracing::info!(session = self.session, controller = i, "gamepad removed");
            }
        }
        self.arrivals = [None; SLOTS];
    }

    fn send(&mut self, i: usize, input: PadInput) {
        if let Some(pad) = self.ensure(i) {
            pad.send(i, input);
        }
    }

    /// The pad of slot `i`, created if needed (`None` if it cannot be).
    fn ensure(&mut self, i: usize) -> Option<&Pad> {
        let backends = self.backends?;
        if i >= SLOTS {
            return None;
        }
        if self.pads[i].is_none() {
            let arrival = self.arrivals[i];
            let kind = match (self.choice.kind(arrival), backends) {
                (PadKind::DualSense, Backends { uhid: false, .. }) => PadKind::Xbox,
                (PadKind::Xbox, Backends { uinput: false, .. }) => PadKind::DualSense,
                (k, _) => k,
            };
            let caps = arrival.map_or(ControllerCaps(0), |a| a.1);
            match spawn(self.session, i, kind, caps, self.on_feedback.clone()) {
                Ok(p) => self.pads[i] = Some(p),
                Err(e) => {
                    tracing::warn!(session = self.session, controller = i, error = %e,
                        "gamepad: the virtual pad was not created");
                    return None;
                }
            }
        }
        self.pads[i].as_ref()
    }
}

fn spawn(session: u64, i: usize, kind: PadKind, caps: ControllerCaps, on_feedback: OnFeedback) -> std::io::Result<Pad> {
    let name = format!("lumen {session} pad {i}");
    let name_for_nodes = name.clone();
    let phys = format!("lumen/{session}/{i}");
    let wake = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
    let thread_wake = wake.try_clone()?;
    let (tx, rx) = sync_channel(QUEUE);
    let controller = i as u16;
    let builder = std::thread::Builder::new().name(format!("lumen-pad-{i}"));
    let thread = match kind {
        PadKind::Xbox => {
            let dev = uinput::create(&name, &phys)?;
            builder.spawn(move || {
                uinput::run(dev, rx, thread_wake, |(low, high)| {
                    on_feedback(PadFeedback::Rumble { controller, low, high })
                })
            })?
        }
        PadKind::DualSense => {
            let (dev, mac) = dualsense::create(&name, &phys, i as u8)?;
            builder.spawn(move || dualsense::run(dev, mac, controller, caps, rx, thread_wake, |f| on_feedback(f)))?
        }
    };
    tracing::info!(session, controller = i, name, pad = kind.describe(), "gamepad connected");
    let exposed = match confine::isolated() {
        true => {
            // A DualSense has three input devices (pad, motion sensors, touchpad), made as the driver binds.
            let count = if kind == PadKind::DualSense { 3 } else { 1 };
            let wait = std::time::Duration::from_secs(2);
            Some(
                std::thread::Builder::new()
                    .name(format!("lumen-pad-{i}-nodes"))
                    .spawn(move || confine::expose(&name_for_nodes, count, wait))?,
            )
        }
        false => None,
    };
    Ok(Pad { tx: Some(tx), wake, thread: Some(thread), exposed })
}
