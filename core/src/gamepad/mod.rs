//! Virtual gamepads without I/O: what an Xbox-style pad (the kernel's `xpad` layout, which SDL and Steam
//! map by themselves) reports for a Moonlight controller state ([`xbox`]), what a game's force-feedback
//! effects amount to on the two motors at a given moment ([`rumble`]), a DualSense's HID reports both ways
//! ([`dualsense`]), and the feedback sent back to the client ([`feedback`]). The worker's uinput and uhid
//! backends (`compositor/src/gamepad/`) move the bytes.

pub mod dualsense;
pub mod feedback;
pub mod rumble;
pub mod xbox;

pub use feedback::PadFeedback;

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

/// The virtual pad a client controller becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadKind {
    /// An Xbox One pad (uinput).
    Xbox,
    /// A DualSense (uhid and the kernel's `hid-playstation`).
    DualSense,
}

impl PadKind {
    /// By what the client said on the controller's arrival (type, capabilities): a PlayStation pad, or one
    /// with a touchpad, motion sensors or an RGB LED, is a DualSense (only it can carry those to games);
    /// anything else, or a controller that never said, an Xbox pad.
    pub fn for_controller(arrival: Option<(crate::input::ControllerType, crate::input::ControllerCaps)>) -> Self {
        use crate::input::{ControllerCaps as C, ControllerType};
        let Some((kind, caps)) = arrival else { return PadKind::Xbox };
        let rich = [C::TOUCHPAD, C::ACCEL, C::GYRO, C::RGB_LED].iter().any(|c| caps.contains(*c));
        if kind == ControllerType::PlayStation || rich {
            PadKind::DualSense
        } else {
            PadKind::Xbox
        }
    }

    /// For the log.
    pub fn describe(self) -> &'static str {
        match self {
            PadKind::Xbox => "a virtual Xbox One pad (uinput)",
            PadKind::DualSense => "a virtual DualSense (uhid)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PadKind;
    use crate::input::{ControllerCaps as C, ControllerType as T};

    #[test]
    fn the_pad_follows_what_the_client_reports() {
        assert_eq!(PadKind::for_controller(None), PadKind::Xbox);
        assert_eq!(PadKind::for_controller(Some((T::Xbox, C(C::RUMBLE.0 | C::ANALOG_TRIGGERS.0)))), PadKind::Xbox);
        assert_eq!(PadKind::for_controller(Some((T::PlayStation, C(0)))), PadKind::DualSense);
        assert_eq!(PadKind::for_controller(Some((T::Unknown, C::GYRO))), PadKind::DualSense);
        assert_eq!(PadKind::for_controller(Some((T::Nintendo, C::RGB_LED))), PadKind::DualSense);
    }
}
