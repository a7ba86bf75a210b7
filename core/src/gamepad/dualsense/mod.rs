//! A DualSense without I/O: the descriptor and feature reports the kernel's `hid-playstation` asks for
//! ([`device`]), the input report built from the client's controller data ([`report`]), and the output
//! report turned into feedback for the client ([`output`]). The worker's uhid backend
//! (`compositor/src/gamepad/uhid.rs`) moves the bytes.

pub mod device;
pub mod output;
pub mod report;

pub use report::DualSenseState;
