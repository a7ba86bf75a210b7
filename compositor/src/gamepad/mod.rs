//! The session's gamepads: one virtual Xbox One pad per controller the client connects (uinput, see
//! [`uinput`]), created when the controller arrives or first reports, removed when the client's active mask
//! drops it or the client leaves. Each pad runs on a thread of its own; games' rumble comes back through
//! `on_rumble` (controller, low-frequency motor, high-frequency motor). Where the kernel has no uinput (this
//! build machine's has none) the session logs once why pads are off and everything else goes on.

pub mod uinput;

use std::os::fd::OwnedFd;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use lumen_core::input::{GamepadState, InputEvent};
use rustix::event::{eventfd, EventfdFlags};

/// Controller slots a client may use.
pub const SLOTS: usize = 16;
/// States queued per pad before the oldest input is dropped (a pad thread that cannot keep up).
const QUEUE: usize = 64;
/// Where uinput lives.
const UINPUT: &str = "/dev/uinput";

/// Rumble from a game: (controller, low-frequency motor, high-frequency motor), 0..=0xFFFF each.
pub type OnRumble = Arc<dyn Fn(u16, u16, u16) + Send + Sync>;

struct Pad {
    tx: Option<SyncSender<GamepadState>>,
    wake: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

impl Pad {
    fn send(&self, s: GamepadState) {
        if let Some(tx) = &self.tx {
            if let Err(TrySendError::Full(_)) = tx.try_send(s) {
                tracing::warn!(controller = s.controller, "gamepad: the pad is behind; a state was dropped");
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
    }
}

/// The session's pads.
pub struct Pads {
    session: u64,
    /// `None`: pads are off (the reason was logged).
    pads: Option<Vec<Option<Pad>>>,
    on_rumble: OnRumble,
}

impl Pads {
    /// Pads for `session`; checks that uinput can be used (and logs why not).
    pub fn new(session: u64, on_rumble: OnRumble) -> Self {
        let usable = std::fs::OpenOptions::new().read(true).write(true).open(UINPUT);
        let pads = match usable {
            Ok(_) => Some((0..SLOTS).map(|_| None).collect()),
            Err(e) => {
                tracing::warn!(session, path = UINPUT, error = %e,
                    "gamepads are off for this session: virtual pads need uinput (a kernel with \
                     CONFIG_INPUT_UINPUT, and access to {UINPUT}); keyboard, mouse, touch and pen work");
                None
            }
        };
        Self { session, pads, on_rumble }
    }

    /// Whether virtual pads can be made.
    pub fn enabled(&self) -> bool {
        self.pads.is_some()
    }

    /// Takes a controller event of the client (others are ignored).
    pub fn input(&mut self, ev: &InputEvent) {
        let Some(pads) = self.pads.as_mut() else { return };
        match ev {
            InputEvent::ControllerArrival { controller, .. } => {
                ensure(pads, self.session, usize::from(*controller), &self.on_rumble);
            }
            InputEvent::Gamepad(s) => {
                for (i, slot) in pads.iter_mut().enumerate() {
                    if s.active_mask & (1 << i) == 0 && slot.is_some() {
                        tracing::info!(session = self.session, controller = i, "gamepad removed");
                        *slot = None;
                    }
                }
                if s.active_mask & (1 << s.controller) == 0 {
                    return;
                }
                if let Some(pad) = ensure(pads, self.session, usize::from(s.controller), &self.on_rumble) {
                    pad.send(*s);
                }
            }
            _ => {}
        }
    }

    /// Removes every pad (the client left).
    pub fn clear(&mut self) {
        if let Some(pads) = self.pads.as_mut() {
            for (i, slot) in pads.iter_mut().enumerate() {
                if slot.take().is_some() {
                    tracing::info!(session = self.session, controller = i, "gamepad removed");
                }
            }
        }
    }
}

/// The pad of slot `i`, created if needed (`None` if it cannot be).
fn ensure<'a>(pads: &'a mut [Option<Pad>], session: u64, i: usize, on_rumble: &OnRumble) -> Option<&'a Pad> {
    let slot = pads.get_mut(i)?;
    if slot.is_none() {
        match spawn(session, i, on_rumble.clone()) {
            Ok(p) => *slot = Some(p),
            Err(e) => {
                tracing::warn!(session, controller = i, error = %e, "gamepad: the virtual pad was not created");
                return None;
            }
        }
    }
    slot.as_ref()
}

fn spawn(session: u64, i: usize, on_rumble: OnRumble) -> std::io::Result<Pad> {
    let name = format!("lumen {session} pad {i}");
    let dev = uinput::create(&name, &format!("lumen/{session}/{i}"))?;
    let wake = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
    let thread_wake = wake.try_clone()?;
    let (tx, rx) = sync_channel(QUEUE);
    let controller = i as u16;
    let thread = std::thread::Builder::new()
        .name(format!("lumen-pad-{i}"))
        .spawn(move || uinput::run(dev, rx, thread_wake, |(low, high)| on_rumble(controller, low, high)))?;
    tracing::info!(session, controller = i, name, "gamepad connected: a virtual Xbox One pad");
    Ok(Pad { tx: Some(tx), wake, thread: Some(thread) })
}
