//! The typed input events the host gets from a Moonlight client: plain data the compositor injects.
//!
//! Units are documented per field. Nothing here allocates; UTF-8 text is held inline.

/// One decoded input packet.
#[derive(Debug, Clone, PartialEq)]
pub enum InputEvent {
    /// A key went down or up.
    Key {
        /// Pressed or released.
        action: KeyAction,
        /// Windows virtual-key code (`VK_*`), with the client's 0x8000 marker bit masked off.
        vk: u16,
        /// Modifier state the client reports with the key.
        modifiers: Modifiers,
        /// Sunshine keyboard flags ([`KeyFlags::NON_NORMALIZED`]: `vk` follows the client's layout
        /// rather than US English).
        flags: KeyFlags,
    },
    /// Text typed on the client (one or a few UTF-8 characters per packet).
    Text(Utf8Text),
    /// Relative pointer motion in client pixels (positive x right, positive y down).
    MouseMove {
        /// Horizontal delta.
        dx: i16,
        /// Vertical delta.
        dy: i16,
    },
    /// Absolute pointer position on a reference plane of the client.
    ///
    /// The client sends `ref_width = width − 1` and `ref_height = height − 1` of its view, so the
    /// position maps to the host output as `x / ref_width * (output_width − 1)`; see
    /// [`InputEvent::scale_position`].
    MousePosition {
        /// X on the reference plane, `0..=ref_width`.
        x: i16,
        /// Y on the reference plane, `0..=ref_height`.
        y: i16,
        /// Reference width as sent (client view width − 1).
        ref_width: i16,
        /// Reference height as sent (client view height − 1).
        ref_height: i16,
    },
    /// A mouse button went down or up.
    MouseButton {
        /// Pressed or released.
        action: ButtonAction,
        /// Which button.
        button: MouseButton,
    },
    /// Vertical scroll in high-resolution units: 120 per wheel notch, positive = up (away from the user).
    Scroll {
        /// Amount in 1/120 notch.
        amount: i16,
    },
    /// Horizontal scroll in high-resolution units: 120 per notch, positive = right.
    HScroll {
        /// Amount in 1/120 notch.
        amount: i16,
    },
    /// A touch-screen contact (Sunshine extension, needs feature flag 0x1).
    Touch(TouchEvent),
    /// A pen/stylus sample (Sunshine extension, needs feature flag 0x1).
    Pen(PenEvent),
    /// The full state of one gamepad.
    Gamepad(GamepadState),
    /// A controller was connected on the client, with its type and capabilities.
    ControllerArrival {
        /// Controller slot, 0..=15.
        controller: u8,
        /// Kind of controller.
        kind: ControllerType,
        /// `LI_CCAP_*` capability bits (see [`ControllerCaps`]).
        capabilities: ControllerCaps,
        /// Button flags (the same bits as [`GamepadState::buttons`]) this controller has.
        supported_buttons: u32,
    },
    /// A touch on a controller's touchpad (Sunshine extension, needs feature flag 0x2).
    ControllerTouch {
        /// Controller slot, 0..=15.
        controller: u8,
        /// Touch phase.
        event: TouchEventType,
        /// Touchpad index (0 on the bundled client; newer clients use 1 for a second pad).
        touchpad: u8,
        /// Client-chosen id of the finger.
        pointer_id: u32,
        /// X normalised to 0.0..=1.0 across the touchpad.
        x: f32,
        /// Y normalised to 0.0..=1.0 down the touchpad.
        y: f32,
        /// Pressure 0.0..=1.0.
        pressure: f32,
    },
    /// A motion-sensor sample of a controller.
    ControllerMotion {
        /// Controller slot, 0..=15.
        controller: u8,
        /// Accelerometer (m/s²) or gyroscope (degrees/s).
        motion: MotionType,
        /// X axis.
        x: f32,
        /// Y axis.
        y: f32,
        /// Z axis.
        z: f32,
    },
    /// Battery state of a controller.
    ControllerBattery {
        /// Controller slot, 0..=15.
        controller: u8,
        /// Charging state.
        state: BatteryState,
        /// Charge in percent (0..=100), `None` when unknown (0xFF on the wire).
        percentage: Option<u8>,
    },
    /// The client asks the host to send rumble/haptics (sent once when input starts).
    HapticsEnable {
        /// Whether haptics are wanted.
        enabled: bool,
    },
}

impl InputEvent {
    /// Maps a [`InputEvent::MousePosition`] onto an output of `width` × `height` pixels, giving
    /// coordinates in `0.0..=width−1`, `0.0..=height−1`. `None` for other events or a degenerate
    /// reference plane (width or height ≤ 0).
    pub fn scale_position(&self, width: u32, height: u32) -> Option<(f64, f64)> {
        match *self {
            InputEvent::MousePosition { x, y, ref_width, ref_height } if ref_width > 0 && ref_height > 0 => {
                let fx = (f64::from(x).clamp(0.0, f64::from(ref_width))) / f64::from(ref_width);
                let fy = (f64::from(y).clamp(0.0, f64::from(ref_height))) / f64::from(ref_height);
                Some((fx * f64::from(width.saturating_sub(1)), fy * f64::from(height.saturating_sub(1))))
            }
            _ => None,
        }
    }
}

/// Key pressed or released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAction {
    /// Key down (magic 0x03).
    Down,
    /// Key up (magic 0x04).
    Up,
}

/// Mouse button pressed or released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ButtonAction {
    /// Button down (magic 0x08).
    Press,
    /// Button up (magic 0x09).
    Release,
}

/// Mouse buttons as Moonlight numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MouseButton {
    /// 1.
    Left,
    /// 2.
    Middle,
    /// 3.
    Right,
    /// 4 (back).
    X1,
    /// 5 (forward).
    X2,
}

impl MouseButton {
    /// From the wire number 1..=5.
    pub const fn from_wire(b: u8) -> Option<Self> {
        Some(match b {
            1 => MouseButton::Left,
            2 => MouseButton::Middle,
            3 => MouseButton::Right,
            4 => MouseButton::X1,
            5 => MouseButton::X2,
            _ => return None,
        })
    }

    /// The wire number 1..=5.
    pub const fn to_wire(self) -> u8 {
        match self {
            MouseButton::Left => 1,
            MouseButton::Middle => 2,
            MouseButton::Right => 3,
            MouseButton::X1 => 4,
            MouseButton::X2 => 5,
        }
    }
}

macro_rules! bits_type {
    ($(#[$m:meta])* $name:ident($t:ty) { $($(#[$cm:meta])* $c:ident = $v:expr;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub $t);
        impl $name {
            $($(#[$cm])* pub const $c: $name = $name($v);)*
            /// Whether every bit of `other` is set.
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }
        }
    };
}

bits_type!(
    /// Keyboard modifier bits.
    Modifiers(u8) {
        /// Shift.
        SHIFT = 0x01;
        /// Control.
        CTRL = 0x02;
        /// Alt.
        ALT = 0x04;
        /// Meta / Windows / Super.
        META = 0x08;
    }
);

bits_type!(
    /// Sunshine keyboard flags.
    KeyFlags(u8) {
        /// The VK code is for the client's keyboard layout, not normalised to US English.
        NON_NORMALIZED = 0x01;
    }
);

bits_type!(
    /// Pen button bits.
    PenButtons(u8) {
        /// Primary barrel button.
        PRIMARY = 0x01;
        /// Secondary barrel button.
        SECONDARY = 0x02;
        /// Tertiary button.
        TERTIARY = 0x04;
    }
);

bits_type!(
    /// Controller capability bits (`LI_CCAP_*`).
    ControllerCaps(u16) {
        /// Analog triggers (0..=255).
        ANALOG_TRIGGERS = 0x01;
        /// Can rumble.
        RUMBLE = 0x02;
        /// Can rumble its triggers.
        TRIGGER_RUMBLE = 0x04;
        /// Has a touchpad.
        TOUCHPAD = 0x08;
        /// Has an accelerometer.
        ACCEL = 0x10;
        /// Has a gyroscope.
        GYRO = 0x20;
        /// Reports battery state.
        BATTERY_STATE = 0x40;
        /// Has an RGB LED.
        RGB_LED = 0x80;
    }
);

/// Gamepad button bits of [`GamepadState::buttons`] (low 16 bits from the classic field, high 16 bits from
/// Sunshine's `buttonFlags2`).
pub mod buttons {
    /// D-pad up.
    pub const UP: u32 = 0x0001;
    /// D-pad down.
    pub const DOWN: u32 = 0x0002;
    /// D-pad left.
    pub const LEFT: u32 = 0x0004;
    /// D-pad right.
    pub const RIGHT: u32 = 0x0008;
    /// Start / menu.
    pub const PLAY: u32 = 0x0010;
    /// Back / select / view.
    pub const BACK: u32 = 0x0020;
    /// Left stick click.
    pub const LS_CLK: u32 = 0x0040;
    /// Right stick click.
    pub const RS_CLK: u32 = 0x0080;
    /// Left bumper.
    pub const LB: u32 = 0x0100;
    /// Right bumper.
    pub const RB: u32 = 0x0200;
    /// Guide / home.
    pub const SPECIAL: u32 = 0x0400;
    /// A (south).
    pub const A: u32 = 0x1000;
    /// B (east).
    pub const B: u32 = 0x2000;
    /// X (west).
    pub const X: u32 = 0x4000;
    /// Y (north).
    pub const Y: u32 = 0x8000;
    /// Extra paddle 1.
    pub const PADDLE1: u32 = 0x010000;
    /// Extra paddle 2.
    pub const PADDLE2: u32 = 0x020000;
    /// Extra paddle 3.
    pub const PADDLE3: u32 = 0x040000;
    /// Extra paddle 4.
    pub const PADDLE4: u32 = 0x080000;
    /// Touchpad click (Sony controllers).
    pub const TOUCHPAD: u32 = 0x100000;
    /// Share / mic / capture / mute button.
    pub const MISC: u32 = 0x200000;
}

/// The full state of one gamepad, as every multi-controller packet carries it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct GamepadState {
    /// Controller slot, 0..=15.
    pub controller: u8,
    /// Bit i set = controller slot i is connected on the client.
    pub active_mask: u16,
    /// Button bits, see [`buttons`].
    pub buttons: u32,
    /// Left trigger, 0 (released) ..= 255 (fully pressed).
    pub left_trigger: u8,
    /// Right trigger, 0..=255.
    pub right_trigger: u8,
    /// Left stick X, −32768 (left) ..= 32767 (right).
    pub left_stick_x: i16,
    /// Left stick Y, −32768 (down) ..= 32767 (up).
    pub left_stick_y: i16,
    /// Right stick X.
    pub right_stick_x: i16,
    /// Right stick Y.
    pub right_stick_y: i16,
}

/// Phase of a touch or pen contact (`LI_TOUCH_EVENT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TouchEventType {
    /// Hovering without contact (0x00).
    Hover,
    /// Contact began (0x01).
    Down,
    /// Contact ended (0x02).
    Up,
    /// Contact moved (0x03).
    Move,
    /// Contact cancelled (0x04).
    Cancel,
    /// Only the buttons changed (0x05, pen).
    ButtonOnly,
    /// Hover ended (0x06).
    HoverLeave,
    /// Every contact cancelled (0x07).
    CancelAll,
}

impl TouchEventType {
    /// From the wire byte.
    pub const fn from_wire(b: u8) -> Option<Self> {
        Some(match b {
            0 => Self::Hover,
            1 => Self::Down,
            2 => Self::Up,
            3 => Self::Move,
            4 => Self::Cancel,
            5 => Self::ButtonOnly,
            6 => Self::HoverLeave,
            7 => Self::CancelAll,
            _ => return None,
        })
    }

    /// The wire byte.
    pub const fn to_wire(self) -> u8 {
        match self {
            Self::Hover => 0,
            Self::Down => 1,
            Self::Up => 2,
            Self::Move => 3,
            Self::Cancel => 4,
            Self::ButtonOnly => 5,
            Self::HoverLeave => 6,
            Self::CancelAll => 7,
        }
    }
}

/// A touch-screen contact sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TouchEvent {
    /// Phase.
    pub event: TouchEventType,
    /// Client-chosen id of the finger.
    pub pointer_id: u32,
    /// X normalised to 0.0..=1.0 across the stream.
    pub x: f32,
    /// Y normalised to 0.0..=1.0 down the stream.
    pub y: f32,
    /// Pressure 0.0..=1.0 when touching, or hover distance 0.0..=1.0 when hovering; 0.0 = unknown.
    pub pressure_or_distance: f32,
    /// Contact ellipse major axis, normalised like x; 0.0 = unknown.
    pub contact_area_major: f32,
    /// Contact ellipse minor axis, normalised like y; 0.0 = unknown.
    pub contact_area_minor: f32,
    /// Rotation of the contact ellipse in degrees (0..=359); `None` = unknown (0xFFFF).
    pub rotation: Option<u16>,
}

/// Pen tool type (`LI_TOOL_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolType {
    /// Unknown (0x00).
    Unknown,
    /// Pen tip (0x01).
    Pen,
    /// Eraser (0x02).
    Eraser,
}

/// A pen/stylus sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PenEvent {
    /// Phase.
    pub event: TouchEventType,
    /// Tool.
    pub tool: ToolType,
    /// Buttons held.
    pub buttons: PenButtons,
    /// X normalised to 0.0..=1.0.
    pub x: f32,
    /// Y normalised to 0.0..=1.0.
    pub y: f32,
    /// Pressure (touching) or distance (hovering), 0.0..=1.0; 0.0 = unknown.
    pub pressure_or_distance: f32,
    /// Rotation in degrees 0..=359; `None` = unknown (0xFFFF).
    pub rotation: Option<u16>,
    /// Tilt in degrees 0..=90 from perpendicular; `None` = unknown (0xFF).
    pub tilt: Option<u8>,
    /// Contact ellipse major axis, normalised; 0.0 = unknown.
    pub contact_area_major: f32,
    /// Contact ellipse minor axis, normalised; 0.0 = unknown.
    pub contact_area_minor: f32,
}

/// Controller kind (`LI_CTYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControllerType {
    /// Unknown (0x00).
    Unknown,
    /// Xbox layout (0x01).
    Xbox,
    /// PlayStation layout (0x02).
    PlayStation,
    /// Nintendo layout (0x03).
    Nintendo,
    /// Steam controller (0x04, newer clients).
    Steam,
    /// A type this decoder does not know; treat like `Unknown`.
    Other(u8),
}

impl ControllerType {
    /// From the wire byte.
    pub const fn from_wire(b: u8) -> Self {
        match b {
            0 => Self::Unknown,
            1 => Self::Xbox,
            2 => Self::PlayStation,
            3 => Self::Nintendo,
            4 => Self::Steam,
            o => Self::Other(o),
        }
    }

    /// The wire byte.
    pub const fn to_wire(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::Xbox => 1,
            Self::PlayStation => 2,
            Self::Nintendo => 3,
            Self::Steam => 4,
            Self::Other(o) => o,
        }
    }
}

/// Motion sensor (`LI_MOTION_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MotionType {
    /// Accelerometer, m/s² (0x01).
    Accel,
    /// Gyroscope, degrees per second (0x02).
    Gyro,
}

/// Battery state (`LI_BATTERY_STATE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatteryState {
    /// Unknown (0x00).
    Unknown,
    /// No battery (0x01).
    NotPresent,
    /// Discharging (0x02).
    Discharging,
    /// Charging (0x03).
    Charging,
    /// On power, not charging (0x04).
    NotCharging,
    /// Full (0x05).
    Full,
}

/// Up to [`Utf8Text::CAPACITY`] bytes of valid UTF-8, held inline (no allocation).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Utf8Text {
    len: u8,
    bytes: [u8; Utf8Text::CAPACITY],
}

impl Utf8Text {
    /// Most bytes one text packet may carry (the client's `UTF8_TEXT_EVENT_MAX_COUNT`).
    pub const CAPACITY: usize = 32;

    /// Copies `s`; `None` if it is longer than [`Self::CAPACITY`] bytes.
    pub fn new(s: &str) -> Option<Self> {
        if s.len() > Self::CAPACITY {
            return None;
        }
        let mut bytes = [0u8; Self::CAPACITY];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Some(Self { len: s.len() as u8, bytes })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Constructed only from &str (new) or validated bytes (decoder), so always valid UTF-8.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl core::fmt::Debug for Utf8Text {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}
