//! A HID device of our own through `/dev/uhid` (`linux/uhid.h`): create it with a report descriptor, send
//! input reports, and read what the kernel asks (start/stop, open/close, output reports, feature-report
//! requests) to answer it. Every message is a `struct uhid_event` (packed: a `u32` type and a union), built
//! and parsed here as bytes at the kernel's offsets; no unsafe code.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags};

/// Where uhid lives.
pub const UHID: &str = "/dev/uhid";
/// Bytes of `struct uhid_event` (the type and the largest member, `uhid_create2_req`).
pub const EVENT_LEN: usize = 4 + 128 + 64 + 64 + 2 + 2 + 4 * 4 + DATA_MAX;
/// Largest report or descriptor (`UHID_DATA_MAX`, `HID_MAX_DESCRIPTOR_SIZE`).
const DATA_MAX: usize = 4096;
/// `BUS_USB`.
pub const BUS_USB: u16 = 0x03;

mod kind {
    pub const DESTROY: u32 = 1;
    pub const START: u32 = 2;
    pub const STOP: u32 = 3;
    pub const OPEN: u32 = 4;
    pub const CLOSE: u32 = 5;
    pub const OUTPUT: u32 = 6;
    pub const GET_REPORT: u32 = 9;
    pub const GET_REPORT_REPLY: u32 = 10;
    pub const CREATE2: u32 = 11;
    pub const INPUT2: u32 = 12;
    pub const SET_REPORT: u32 = 13;
    pub const SET_REPORT_REPLY: u32 = 14;
}

/// What identifies the device to the kernel.
pub struct Identity<'a> {
    /// Device name (at most 127 bytes are kept).
    pub name: &'a str,
    /// Physical path (`lumen/<session>/<n>`: udev rules match it).
    pub phys: &'a str,
    /// Unique id (a MAC address for a Bluetooth-style pad).
    pub uniq: &'a str,
    /// `BUS_*`.
    pub bus: u16,
    /// Vendor id.
    pub vendor: u32,
    /// Product id.
    pub product: u32,
    /// Version.
    pub version: u32,
}

/// One thing the kernel says or asks.
#[derive(Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// A driver bound and started the device.
    Start,
    /// The driver stopped it.
    Stop,
    /// Someone opened an input node (reports are wanted).
    Open,
    /// The last user closed it.
    Close,
    /// An output report (id in byte 0 for numbered reports).
    Output(&'a [u8]),
    /// A feature report is asked for; answer with [`Device::reply_get_report`] and this `id`.
    GetReport {
        /// Request id.
        id: u32,
        /// Report number.
        report: u8,
    },
    /// A report is being set; answer with [`Device::reply_set_report`].
    SetReport {
        /// Request id.
        id: u32,
        /// Report number.
        report: u8,
    },
    /// Something this layer does not use.
    Other(u32),
}

/// A uhid device; destroyed when dropped.
pub struct Device {
    fd: OwnedFd,
    out: Vec<u8>,
}

impl Device {
    /// Creates the device with report descriptor `descriptor`. The fd is non-blocking.
    pub fn create(who: &Identity<'_>, descriptor: &[u8]) -> io::Result<Self> {
        if descriptor.len() > DATA_MAX {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "report descriptor over 4096 bytes"));
        }
        let fd = rustix::fs::open(UHID, OFlags::RDWR | OFlags::CLOEXEC | OFlags::NONBLOCK, Mode::empty())?;
        let mut dev = Self { fd, out: Vec::with_capacity(EVENT_LEN) };
        dev.begin(kind::CREATE2);
        put_str(&mut dev.out, who.name, 128);
        put_str(&mut dev.out, who.phys, 64);
        put_str(&mut dev.out, who.uniq, 64);
        dev.out.extend_from_slice(&(descriptor.len() as u16).to_ne_bytes());
        dev.out.extend_from_slice(&who.bus.to_ne_bytes());
        for v in [who.vendor, who.product, who.version, 0] {
            dev.out.extend_from_slice(&v.to_ne_bytes());
        }
        dev.out.extend_from_slice(descriptor);
        dev.send()?;
        Ok(dev)
    }

    /// Sends one input report (id in byte 0 for numbered reports).
    pub fn input(&mut self, report: &[u8]) -> io::Result<()> {
        let report = &report[..report.len().min(DATA_MAX)];
        self.begin(kind::INPUT2);
        self.out.extend_from_slice(&(report.len() as u16).to_ne_bytes());
        self.out.extend_from_slice(report);
        self.send()
    }

    /// Answers a [`Request::GetReport`]: the report, or an errno (e.g. `EIO` for a report it does not have).
    pub fn reply_get_report(&mut self, id: u32, answer: Result<&[u8], u16>) -> io::Result<()> {
        self.begin(kind::GET_REPORT_REPLY);
        self.out.extend_from_slice(&id.to_ne_bytes());
        let (err, data) = match answer {
            Ok(d) => (0u16, &d[..d.len().min(DATA_MAX)]),
            Err(e) => (e, &[][..]),
        };
        self.out.extend_from_slice(&err.to_ne_bytes());
        self.out.extend_from_slice(&(data.len() as u16).to_ne_bytes());
        self.out.extend_from_slice(data);
        self.send()
    }

    /// Answers a [`Request::SetReport`] with an errno (0: done).
    pub fn reply_set_report(&mut self, id: u32, err: u16) -> io::Result<()> {
        self.begin(kind::SET_REPORT_REPLY);
        self.out.extend_from_slice(&id.to_ne_bytes());
        self.out.extend_from_slice(&err.to_ne_bytes());
        self.send()
    }

    /// Reads the next request into `buf`; `None` when there is none now.
    pub fn read<'b>(&self, buf: &'b mut [u8; EVENT_LEN]) -> io::Result<Option<Request<'b>>> {
        let n = match rustix::io::read(&self.fd, &mut buf[..]) {
            Ok(n) => n,
            Err(rustix::io::Errno::AGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(Some(parse(&buf[..n])))
    }

    fn begin(&mut self, kind: u32) {
        self.out.clear();
        self.out.extend_from_slice(&kind.to_ne_bytes());
    }

    fn send(&self) -> io::Result<()> {
        let n = rustix::io::write(&self.fd, &self.out)?;
        if n != self.out.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "uhid took part of an event"));
        }
        Ok(())
    }
}

impl AsFd for Device {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.begin(kind::DESTROY);
        let _ = self.send();
    }
}

/// `len` bytes holding `s` (cut short, NUL-terminated).
fn put_str(out: &mut Vec<u8>, s: &str, len: usize) {
    let b = &s.as_bytes()[..s.len().min(len - 1)];
    out.extend_from_slice(b);
    out.resize(out.len() + len - b.len(), 0);
}

/// One event as the kernel wrote it.
fn parse(b: &[u8]) -> Request<'_> {
    let u32at = |i: usize| b.get(i..i + 4).map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]));
    let u16at = |i: usize| b.get(i..i + 2).map(|s| u16::from_ne_bytes([s[0], s[1]]));
    let Some(kind) = u32at(0) else { return Request::Other(0) };
    match kind {
        kind::START => Request::Start,
        kind::STOP => Request::Stop,
        kind::OPEN => Request::Open,
        kind::CLOSE => Request::Close,
        kind::OUTPUT => {
            // struct uhid_output_req { data[4096]; u16 size; u8 rtype; }
            let size = u16at(4 + DATA_MAX).map_or(0, usize::from).min(DATA_MAX);
            Request::Output(b.get(4..4 + size).unwrap_or(&[]))
        }
        kind::GET_REPORT | kind::SET_REPORT => {
            let (Some(id), Some(&report)) = (u32at(4), b.get(8)) else { return Request::Other(kind) };
            if kind == kind::GET_REPORT {
                Request::GetReport { id, report }
            } else {
                Request::SetReport { id, report }
            }
        }
        k => Request::Other(k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_is_as_large_as_the_kernels() {
        // 4 (type) + 128 + 64 + 64 + 2 + 2 + 4 × 4 + 4096 (struct uhid_create2_req).
        assert_eq!(EVENT_LEN, 4376);
    }

    #[test]
    fn kernel_events_parse() {
        let mut ev = vec![0u8; EVENT_LEN];
        ev[..4].copy_from_slice(&kind::OUTPUT.to_ne_bytes());
        ev[4..7].copy_from_slice(&[2, 0x03, 0x04]);
        ev[4 + DATA_MAX..4 + DATA_MAX + 2].copy_from_slice(&3u16.to_ne_bytes());
        assert_eq!(parse(&ev), Request::Output(&[2, 3, 4]));
        ev[..4].copy_from_slice(&kind::GET_REPORT.to_ne_bytes());
        ev[4..8].copy_from_slice(&77u32.to_ne_bytes());
        ev[8] = 0x09;
        assert_eq!(parse(&ev), Request::GetReport { id: 77, report: 9 });
        assert_eq!(parse(&2u32.to_ne_bytes()), Request::Start);
        assert_eq!(parse(&[1]), Request::Other(0));
        // An output event cut short says nothing rather than read past the end.
        let mut short = vec![0u8; 8];
        short[..4].copy_from_slice(&kind::OUTPUT.to_ne_bytes());
        assert_eq!(parse(&short), Request::Output(&[]));
    }

    #[test]
    fn strings_are_cut_and_terminated() {
        let mut out = Vec::new();
        put_str(&mut out, &"x".repeat(200), 128);
        assert_eq!((out.len(), out[126], out[127]), (128, b'x', 0));
    }
}
