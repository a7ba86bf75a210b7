//! Virtual gamepads without I/O: what an Xbox-style pad (the kernel's `xpad` layout, which SDL and Steam
//! map by themselves) reports for a Moonlight controller state ([`xbox`]), and what a game's force-feedback
//! effects amount to on the two motors at a given moment ([`rumble`]). The worker's uinput backend
//! (`compositor/src/gamepad/`) writes the events and reads the effects.

pub mod rumble;
pub mod xbox;

/// Linux event types and codes used here (`linux/input-event-codes.h`; named as there).
#[allow(missing_docs)]
pub mod codes {
    pub const EV_SYN: u16 = 0x00;
    pub const EV_KEY: u16 = 0x01;
    pub const EV_ABS: u16 = 0x03;
    pub const SYN_REPORT: u16 = 0;

    pub const BTN_SOUTH: u16 = 0x130;
    pub const BTN_EAST: u16 = 0x131;
    /// `BTN_X` in xpad's naming.
    pub const BTN_NORTH: u16 = 0x133;
    /// `BTN_Y` in xpad's naming.
    pub const BTN_WEST: u16 = 0x134;
    pub const BTN_TL: u16 = 0x136;
    pub const BTN_TR: u16 = 0x137;
    pub const BTN_SELECT: u16 = 0x13a;
    pub const BTN_START: u16 = 0x13b;
    pub const BTN_MODE: u16 = 0x13c;
    pub const BTN_THUMBL: u16 = 0x13d;
    pub const BTN_THUMBR: u16 = 0x13e;
    pub const KEY_RECORD: u16 = 167;

    pub const ABS_X: u16 = 0x00;
    pub const ABS_Y: u16 = 0x01;
    pub const ABS_Z: u16 = 0x02;
    pub const ABS_RX: u16 = 0x03;
    pub const ABS_RY: u16 = 0x04;
    pub const ABS_RZ: u16 = 0x05;
    pub const ABS_HAT0X: u16 = 0x10;
    pub const ABS_HAT0Y: u16 = 0x11;
}

/// One input event for the kernel: (type, code, value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PadEvent {
    /// `EV_KEY`, `EV_ABS` or `EV_SYN`.
    pub kind: u16,
    /// The key, axis or sync code.
    pub code: u16,
    /// 0/1 for keys, the position for axes.
    pub value: i32,
}
