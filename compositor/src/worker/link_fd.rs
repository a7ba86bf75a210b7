//! The worker's ends of its links: the descriptors the host passed at spawn (the link on 3, the audio link
//! on 4, the video ring's memfd on 5 and the video link on 6; `lumen_core::link`).
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;

/// Takes descriptor `fd`, after checking that it is open (and a socket, when `socket`). Call once per fd.
pub fn take_fd(fd: i32, socket: bool) -> std::io::Result<OwnedFd> {
    let meta = std::fs::metadata(format!("/proc/self/fd/{fd}")).map_err(|e| {
        std::io::Error::other(format!("descriptor {fd} is not open ({e}): workers are started by the host"))
    })?;
    if socket && !meta.file_type().is_socket() {
        return Err(std::io::Error::other(format!("descriptor {fd} is not a socket: workers are started by the host")));
    }
    // SAFETY: `fd` is open (checked above): one the host mapped for this process. Nothing else in the
    // worker owns it and this function is called once per descriptor, so the `OwnedFd` is its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Takes descriptor `fd` as a stream link.
pub fn take_link(fd: i32) -> std::io::Result<UnixStream> {
    take_fd(fd, true).map(UnixStream::from)
}
