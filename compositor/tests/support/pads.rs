//! Waits shared by the virtual-pad tests (`gamepad_uinput.rs`, `gamepad_dualsense.rs`): polling for a state
//! to appear, and reading an evdev node until an event comes.

use std::time::{Duration, Instant};

use evdev::{Device, EventSummary};

/// Polls `probe` every 5 ms until it gives a value (panics after 10 s, naming `what`).
pub fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5)); // the poll interval of this wait
    }
}

/// Reads `dev` until an event matches `want` and returns when it was read (panics after 5 s).
pub fn read_until(dev: &mut Device, want: impl Fn(&EventSummary) -> bool) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < deadline, "the expected event never came");
        for ev in dev.fetch_events().expect("reading the node") {
            if want(&ev.destructure()) {
                return Instant::now();
            }
        }
    }
}
