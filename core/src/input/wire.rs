//! Input packet type numbers ("magics") and fixed body sizes, as the gen-7 Moonlight client writes them.
//!
//! Every input packet is `[size: u32 BE][magic: u32 LE][body]`, where `size` counts the magic and the
//! body (everything after the size field).

/// Bytes of the `[size][magic]` header.
pub const HEADER_LEN: usize = 8;

/// Key down.
pub const KEY_DOWN: u32 = 0x0000_0003;
/// Key up.
pub const KEY_UP: u32 = 0x0000_0004;
/// Absolute mouse position.
pub const MOUSE_MOVE_ABS: u32 = 0x0000_0005;
/// Relative mouse move (gen 5+ number).
pub const MOUSE_MOVE_REL: u32 = 0x0000_0007;
/// Mouse button down (gen 5+: the client's action 0x07 plus one).
pub const MOUSE_BUTTON_DOWN: u32 = 0x0000_0008;
/// Mouse button up (gen 5+: the client's action 0x08 plus one).
pub const MOUSE_BUTTON_UP: u32 = 0x0000_0009;
/// Vertical scroll (gen 5+ number).
pub const SCROLL: u32 = 0x0000_000A;
/// Multi-controller gamepad state (gen 5+ number).
pub const MULTI_CONTROLLER: u32 = 0x0000_000C;
/// Haptics enable (sent once when input starts).
pub const ENABLE_HAPTICS: u32 = 0x0000_000D;
/// UTF-8 text.
pub const UTF8_TEXT: u32 = 0x0000_0017;
/// Horizontal scroll (Sunshine).
pub const SS_HSCROLL: u32 = 0x5500_0001;
/// Touch (Sunshine).
pub const SS_TOUCH: u32 = 0x5500_0002;
/// Pen (Sunshine).
pub const SS_PEN: u32 = 0x5500_0003;
/// Controller arrival (Sunshine).
pub const SS_CONTROLLER_ARRIVAL: u32 = 0x5500_0004;
/// Controller touchpad (Sunshine).
pub const SS_CONTROLLER_TOUCH: u32 = 0x5500_0005;
/// Controller motion sensor (Sunshine).
pub const SS_CONTROLLER_MOTION: u32 = 0x5500_0006;
/// Controller battery (Sunshine).
pub const SS_CONTROLLER_BATTERY: u32 = 0x5500_0007;

/// Body bytes of a keyboard packet.
pub const KEY_BODY: usize = 6;
/// Body bytes of a relative mouse packet.
pub const MOUSE_REL_BODY: usize = 4;
/// Body bytes of an absolute mouse packet.
pub const MOUSE_ABS_BODY: usize = 10;
/// Body bytes of a mouse button packet.
pub const MOUSE_BUTTON_BODY: usize = 1;
/// Body bytes of a scroll packet.
pub const SCROLL_BODY: usize = 6;
/// Body bytes of a horizontal scroll packet.
pub const HSCROLL_BODY: usize = 2;
/// Body bytes of a multi-controller packet.
pub const MULTI_CONTROLLER_BODY: usize = 26;
/// Body bytes of a haptics packet.
pub const HAPTICS_BODY: usize = 2;
/// Body bytes of a touch packet.
pub const TOUCH_BODY: usize = 28;
/// Body bytes of a pen packet.
pub const PEN_BODY: usize = 28;
/// Body bytes of a controller arrival packet.
pub const ARRIVAL_BODY: usize = 8;
/// Body bytes of a controller touch packet.
pub const CONTROLLER_TOUCH_BODY: usize = 20;
/// Body bytes of a controller motion packet.
pub const MOTION_BODY: usize = 16;
/// Body bytes of a controller battery packet.
pub const BATTERY_BODY: usize = 4;

/// Constant `headerB` of a multi-controller packet.
pub const MC_HEADER_B: u16 = 0x001A;
/// Constant `midB` of a multi-controller packet.
pub const MC_MID_B: u16 = 0x0014;
/// Constant `tailA` of a multi-controller packet.
pub const MC_TAIL_A: u16 = 0x009C;
/// Constant `tailB` of a multi-controller packet.
pub const MC_TAIL_B: u16 = 0x0055;

/// Largest controller number (slots 0..=15).
pub const MAX_CONTROLLERS: u8 = 16;
/// The marker bit clients set on keyboard VK codes.
pub const VK_MARKER: u16 = 0x8000;
/// Unknown rotation.
pub const ROTATION_UNKNOWN: u16 = 0xFFFF;
/// Unknown tilt.
pub const TILT_UNKNOWN: u8 = 0xFF;
/// Unknown battery percentage.
pub const BATTERY_PERCENT_UNKNOWN: u8 = 0xFF;
